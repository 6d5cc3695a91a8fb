//! The consensus state machine's entry point: [`Consensus::handle`] checks one input,
//! updates the state and returns the effects for the host.
//!
//! # Invariants
//! - An input is either rejected with an [`InputError`] and changes nothing, or it is
//!   applied and the rules of [`crate::rules`] run until none fires.
//! - Every peer message is checked for height, round range, validator index and
//!   signature before it counts.
//! - This validator never signs at a [`SignedStep`] at or before the last one it
//!   signed, including the one the host restored at start.

use tracing::{debug, warn};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::keys::SigningKey;
use vouch_protocol::signing::ChainId;

use crate::effect::{Effect, SignedStep};
use crate::error::{ConfigError, InputError};
use crate::height::{HeightState, Stored};
use crate::input::{Input, PreviousBlock};
use crate::messages::{SignedProposal, SignedVote, Value};
use crate::timeouts::{Step, TimeoutConfig};
use crate::validators::ValidatorSet;
use crate::votes::Added;

/// Maximum number of rounds past the current one for which proposals are accepted.
/// Checking a proposal's proposer computes the rotation up to its round, so this bound
/// keeps a far-future round from costing work. Gossip sends a proposal again once the
/// receiver reaches its round.
pub const PROPOSAL_ROUNDS_AHEAD_MAX: u32 = 16;

/// Maximum number of rounds past the current one for which votes are accepted. A jump
/// to a far round through the round skip rule computes the proposer rotation up to that
/// round, so the bound caps that work. A validator this far behind its peers' rounds
/// (weeks of failed rounds) needs block sync instead.
pub const VOTE_ROUNDS_AHEAD_MAX: u32 = 100_000;

/// Settings shared by all validators of a network.
#[derive(Clone, Debug)]
pub struct ConsensusConfig {
    /// The chain that every proposal and vote is signed for.
    pub chain_id: ChainId,
    pub timeouts: TimeoutConfig,
}

/// One node's consensus instance: a validator when it has a signing key in the
/// current set, otherwise an observer that follows the votes without signing.
#[derive(Debug)]
pub struct Consensus<V> {
    pub(crate) config: ConsensusConfig,
    pub(crate) key: Option<SigningKey>,
    pub(crate) last_signed: Option<SignedStep>,
    pub(crate) now_unix_ms: u64,
    pub(crate) state: Option<HeightState<V>>,
}

impl<V: Value> Consensus<V> {
    /// Builds an instance. `last_signed` is the last position this validator signed at,
    /// as the host's double-sign guard stored it; the instance never signs at or before
    /// it.
    pub fn new(
        config: ConsensusConfig,
        key: Option<SigningKey>,
        last_signed: Option<SignedStep>,
    ) -> Result<Consensus<V>, ConfigError> {
        config.timeouts.validate()?;
        Ok(Consensus { config, key, last_signed, now_unix_ms: 0, state: None })
    }

    /// Applies one input at the host's clock time `now_unix_ms` and returns the effects
    /// to perform, in order.
    ///
    /// A rejected input changes nothing. The core logs rejected peer messages (at warn
    /// for invalid ones, at debug for stale ones), so the host need not log them again.
    pub fn handle(&mut self, now_unix_ms: u64, input: Input<V>) -> Result<Vec<Effect<V>>, InputError> {
        self.now_unix_ms = now_unix_ms;
        let name = input.name();
        let mut effects = Vec::new();

        let result = match input {
            Input::StartHeight { height, validators, previous } => {
                self.start_height(height, validators, previous, &mut effects)
            }
            Input::Proposal(signed) => self.receive_proposal(signed, &mut effects),
            Input::Vote(signed) => self.receive_vote(signed, &mut effects),
            Input::Timeout(timeout) => self.on_timeout(timeout, &mut effects),
            Input::ProposalValue { height, round, value } => self.receive_value(height, round, value, &mut effects),
            Input::Verdict { height, block_hash, valid } => self.receive_verdict(height, block_hash, valid),
        };
        if let Err(error) = result {
            log_rejected(name, &error);
            return Err(error);
        }

        self.apply_rules(&mut effects);
        Ok(effects)
    }

    /// Returns the height in progress.
    pub fn height(&self) -> Option<Height> {
        self.state.as_ref().map(|state| state.height)
    }

    /// Returns the current round and step.
    pub fn round_step(&self) -> Option<(u32, Step)> {
        self.state.as_ref().map(|state| (state.round, state.step))
    }

    /// Returns the locked round and block hash, if this validator is locked.
    pub fn locked(&self) -> Option<(u32, BlockHash)> {
        let locked = self.state.as_ref()?.locked.as_ref()?;
        Some((locked.round, locked.value.block_hash()))
    }

    /// Returns the round and block hash of the latest value seen with a polka.
    pub fn valid(&self) -> Option<(u32, BlockHash)> {
        let valid = self.state.as_ref()?.valid.as_ref()?;
        Some((valid.round, valid.value.block_hash()))
    }

    /// Returns the last position this validator signed at.
    pub fn last_signed(&self) -> Option<SignedStep> {
        self.last_signed
    }

    /// Returns the block time that this height's value must carry.
    pub fn block_time_unix_ms(&self) -> Option<u64> {
        self.state.as_ref().map(|state| state.block_time_unix_ms)
    }

    fn start_height(
        &mut self,
        height: Height,
        validators: ValidatorSet,
        previous: PreviousBlock,
        effects: &mut Vec<Effect<V>>,
    ) -> Result<(), InputError> {
        let invalid = |reason: String| InputError::InvalidStart { height, reason };
        if height == Height::GENESIS {
            return Err(invalid("height 0 is the genesis state; consensus starts at height 1".to_owned()));
        }
        if let Some(current) = self.height().filter(|current| height <= *current) {
            return Err(invalid(format!("the core is already at height {current}; heights only increase")));
        }
        let block_time_unix_ms = self.block_time_after(height, previous)?;

        let own_index = self.key.as_ref().and_then(|key| validators.index_of(&key.public_key()));
        self.state = Some(HeightState::new(height, validators, block_time_unix_ms, own_index));

        // A restarted validator rejoins at the round it last signed in, where it can
        // still sign the steps after the one it signed.
        let round = self.last_signed.filter(|signed| signed.height == height).map_or(0, |signed| signed.round);
        self.start_round(round, effects);
        Ok(())
    }

    /// Returns the block time of `height` from how the previous block was decided.
    fn block_time_after(&self, height: Height, previous: PreviousBlock) -> Result<u64, InputError> {
        let invalid = |reason: String| InputError::InvalidStart { height, reason };
        match previous {
            PreviousBlock::Genesis { time_unix_ms } if height == Height(1) => Ok(time_unix_ms),
            PreviousBlock::Genesis { .. } => {
                Err(invalid("only height 1 follows the genesis; pass the previous height's commit".to_owned()))
            }
            PreviousBlock::Committed { certificate, validators } => {
                if certificate.height.next() != Some(height) {
                    return Err(invalid(format!("the previous commit is for height {}", certificate.height)));
                }
                certificate
                    .verify(&self.config.chain_id, &validators)
                    .map_err(|source| InputError::InvalidPreviousCommit { height, source })?;
                Ok(certificate
                    .next_block_time_unix_ms(&validators)
                    .expect("a verified certificate has more than 2/3 of the voting power"))
            }
        }
    }

    fn receive_proposal(&mut self, signed: SignedProposal<V>, effects: &mut Vec<Effect<V>>) -> Result<(), InputError> {
        let chain_id = &self.config.chain_id;
        let state = self.state.as_mut().ok_or(InputError::NotStarted)?;
        let proposal = &signed.proposal;
        let (height, round, index) = (proposal.height, proposal.round, proposal.proposer_index);

        if height != state.height {
            return Err(InputError::WrongHeight { what: "proposal", height, current: state.height });
        }
        if round > state.round.saturating_add(PROPOSAL_ROUNDS_AHEAD_MAX) {
            let (what, current, max) = ("proposal", state.round, PROPOSAL_ROUNDS_AHEAD_MAX);
            return Err(InputError::RoundTooFarAhead { what, round, current, max });
        }
        if let Some(pol_round) = proposal.pol_round.filter(|pol_round| *pol_round >= round) {
            return Err(InputError::InvalidPolRound { round, pol_round });
        }
        let expected = state.proposers.proposer(round);
        if index != expected {
            return Err(InputError::WrongProposer { height, round, index, expected });
        }
        let proposer = *state.validators.get(index).expect("the proposer schedule returns indexes of the set");
        signed.verify(chain_id, &proposer.public_key).map_err(|source| InputError::InvalidSignature {
            what: "proposal",
            height,
            round,
            index,
            source,
        })?;

        if state.decided {
            return Ok(());
        }
        let value = signed.proposal.value.clone();
        if let Stored::Duplicate = state.store_proposal(signed)? {
            return Ok(());
        }
        if state.proposals.get(&round).is_some_and(|stored| stored.len() > 1) {
            warn!(height = %height, round, validator = index, "proposer signed conflicting proposals");
        }
        state.votes.note_sender(round, index, proposer.voting_power);
        debug!(height = %height, round, validator = index, block_hash = %value.block_hash(), "proposal received");
        self.check_value(round, value, effects);
        Ok(())
    }

    /// Marks a value with the wrong block time invalid at once, and requests validation
    /// of any other value that has no verdict yet.
    fn check_value(&mut self, round: u32, value: V, effects: &mut Vec<Effect<V>>) {
        let state = self.state.as_mut().expect("a height is started");
        let block_hash = value.block_hash();
        if state.verdicts.contains_key(&block_hash) || state.validation_requested.contains(&block_hash) {
            return;
        }
        if value.time_unix_ms() != state.block_time_unix_ms {
            warn!(
                height = %state.height,
                round,
                block_hash = %block_hash,
                time_unix_ms = value.time_unix_ms(),
                expected_unix_ms = state.block_time_unix_ms,
                "proposed block has the wrong BFT time; it is invalid"
            );
            state.verdicts.insert(block_hash, false);
            return;
        }
        state.validation_requested.insert(block_hash);
        effects.push(Effect::ValidateValue { height: state.height, round, value });
    }

    fn receive_vote(&mut self, signed: SignedVote, effects: &mut Vec<Effect<V>>) -> Result<(), InputError> {
        let chain_id = &self.config.chain_id;
        let state = self.state.as_mut().ok_or(InputError::NotStarted)?;
        let vote = signed.vote;
        let index = vote.validator_index;

        if vote.height != state.height {
            return Err(InputError::WrongHeight { what: "vote", height: vote.height, current: state.height });
        }
        let validator = *state.validators.get(index).ok_or(InputError::UnknownValidator {
            what: "vote",
            height: vote.height,
            index,
            validators: state.validators.len(),
        })?;
        if vote.round > state.round.saturating_add(VOTE_ROUNDS_AHEAD_MAX) {
            let (what, current, max) = ("vote", state.round, VOTE_ROUNDS_AHEAD_MAX);
            return Err(InputError::RoundTooFarAhead { what, round: vote.round, current, max });
        }
        if state.votes.contains(&signed) {
            return Ok(());
        }
        state.check_future_round(vote.kind, index, vote.round)?;
        signed.verify(chain_id, &validator.public_key).map_err(|source| InputError::InvalidSignature {
            what: "vote",
            height: vote.height,
            round: vote.round,
            index,
            source,
        })?;

        if state.decided {
            return Ok(());
        }
        match state.votes.add(signed, validator.voting_power) {
            Added::Counted | Added::Duplicate | Added::Equivocation(None) => Ok(()),
            Added::Equivocation(Some(evidence)) => {
                warn!(height = %vote.height, round = vote.round, validator = index, kind = %vote.kind, "validator signed two different votes");
                effects.push(Effect::Evidence(*evidence));
                Ok(())
            }
            Added::StoreFull => Err(InputError::VoteStoreFull { height: vote.height, index }),
        }
    }

    fn receive_value(
        &mut self,
        height: Height,
        round: u32,
        value: V,
        effects: &mut Vec<Effect<V>>,
    ) -> Result<(), InputError> {
        let state = self.state.as_mut().ok_or(InputError::NotStarted)?;
        if height != state.height {
            return Err(InputError::WrongHeight { what: "proposal value", height, current: state.height });
        }
        let expected = state.value_requested == Some(round) && state.round == round && state.step == Step::Propose;
        if !expected {
            return Err(InputError::UnexpectedValue { height, round, current: state.round });
        }
        if value.time_unix_ms() != state.block_time_unix_ms {
            return Err(InputError::WrongValueTime {
                height,
                expected: state.block_time_unix_ms,
                found: value.time_unix_ms(),
            });
        }

        state.value_requested = None;
        state.verdicts.insert(value.block_hash(), true);
        self.propose(value, None, effects);
        Ok(())
    }

    fn receive_verdict(&mut self, height: Height, block_hash: BlockHash, valid: bool) -> Result<(), InputError> {
        let state = self.state.as_mut().ok_or(InputError::NotStarted)?;
        if height != state.height {
            return Err(InputError::WrongHeight { what: "verdict", height, current: state.height });
        }
        if !state.validation_requested.contains(&block_hash) {
            return Err(InputError::UnexpectedVerdict { height, block_hash });
        }
        debug!(height = %height, block_hash = %block_hash, valid, "verdict received");
        state.verdicts.entry(block_hash).or_insert(valid);
        Ok(())
    }
}

/// Logs a rejected input once: misbehaviour at warn, stale or early input at debug.
fn log_rejected(input: &str, error: &InputError) {
    match error {
        InputError::WrongHeight { .. } | InputError::RoundTooFarAhead { .. } | InputError::UnexpectedValue { .. } => {
            debug!(input, %error, "input dropped");
        }
        _ => warn!(input, %error, "input rejected"),
    }
}
