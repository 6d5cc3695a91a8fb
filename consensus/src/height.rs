//! The state of the height in progress: round, step, locks, received proposals, votes
//! and the application's verdicts.
//!
//! # Invariants
//! - `locked` and `valid` hold values whose verdict is valid, from rounds not after
//!   `round`; `locked` changes only when this validator precommits a value.
//! - At most [`PROPOSALS_PER_ROUND_MAX`] different proposals are kept per round, all
//!   signed by that round's proposer.

use std::collections::{BTreeMap, BTreeSet};

use vouch_protocol::chain::{BlockHash, Height};

use crate::error::InputError;
use crate::messages::{SignedProposal, Value, VoteKind};
use crate::proposer::ProposerSchedule;
use crate::timeouts::Step;
use crate::validators::ValidatorSet;
use crate::votes::HeightVotes;

/// Maximum number of different proposals kept for one round. Only an equivocating
/// proposer sends more than one; keeping a few lets the core still find the value that
/// the others decided on.
pub const PROPOSALS_PER_ROUND_MAX: usize = 4;

/// Maximum number of rounds past the current one in which a validator may have votes
/// stored. A correct validator is rarely more than one round ahead, so the bound costs
/// it nothing and keeps a faulty one from filling memory with votes of far rounds.
/// Votes of any round still count toward the round skip rule.
pub const FUTURE_ROUNDS_PER_VALIDATOR_MAX: usize = 2;

/// A value with the round it was locked or found valid in.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RoundValue<V> {
    pub(crate) round: u32,
    pub(crate) value: V,
}

/// Whether a received proposal was new.
pub(crate) enum Stored {
    New,
    Duplicate,
}

/// Everything the core keeps for the height in progress.
#[derive(Debug)]
pub(crate) struct HeightState<V> {
    pub(crate) height: Height,
    pub(crate) validators: ValidatorSet,
    pub(crate) proposers: ProposerSchedule,
    /// The BFT time that this height's block must carry.
    pub(crate) block_time_unix_ms: u64,
    pub(crate) own_index: Option<u32>,
    pub(crate) round: u32,
    pub(crate) step: Step,
    pub(crate) locked: Option<RoundValue<V>>,
    pub(crate) valid: Option<RoundValue<V>>,
    pub(crate) votes: HeightVotes,
    pub(crate) proposals: BTreeMap<u32, Vec<SignedProposal<V>>>,
    pub(crate) verdicts: BTreeMap<BlockHash, bool>,
    pub(crate) validation_requested: BTreeSet<BlockHash>,
    /// The round whose value this validator asked the application for.
    pub(crate) value_requested: Option<u32>,
    /// The rounds in which the once-per-round rules have fired (paper lines 34, 36, 47).
    pub(crate) prevote_timeout_round: Option<u32>,
    pub(crate) polka_round: Option<u32>,
    pub(crate) precommit_timeout_round: Option<u32>,
    pub(crate) decided: bool,
}

impl<V: Value> HeightState<V> {
    pub(crate) fn new(
        height: Height,
        validators: ValidatorSet,
        block_time_unix_ms: u64,
        own_index: Option<u32>,
    ) -> Self {
        HeightState {
            height,
            proposers: ProposerSchedule::new(&validators),
            validators,
            block_time_unix_ms,
            own_index,
            round: 0,
            step: Step::Propose,
            locked: None,
            valid: None,
            votes: HeightVotes::default(),
            proposals: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            validation_requested: BTreeSet::new(),
            value_requested: None,
            prevote_timeout_round: None,
            polka_round: None,
            precommit_timeout_round: None,
            decided: false,
        }
    }

    /// Returns the first proposal received for `round`, the one the prevote rules use.
    pub(crate) fn first_proposal(&self, round: u32) -> Option<&SignedProposal<V>> {
        self.proposals.get(&round)?.first()
    }

    /// Returns the proposal of `round` whose value has `block_hash`.
    pub(crate) fn proposal_for(&self, round: u32, block_hash: BlockHash) -> Option<&SignedProposal<V>> {
        self.proposals.get(&round)?.iter().find(|signed| signed.proposal.value.block_hash() == block_hash)
    }

    /// Keeps a proposal whose signature and proposer were checked.
    pub(crate) fn store_proposal(&mut self, signed: SignedProposal<V>) -> Result<Stored, InputError> {
        let round = signed.proposal.round;
        let stored = self.proposals.entry(round).or_default();
        if stored.iter().any(|other| other.proposal == signed.proposal) {
            return Ok(Stored::Duplicate);
        }
        if stored.len() >= PROPOSALS_PER_ROUND_MAX {
            let index = signed.proposal.proposer_index;
            return Err(InputError::TooManyProposals {
                height: self.height,
                round,
                index,
                max: PROPOSALS_PER_ROUND_MAX,
            });
        }
        stored.push(signed);
        Ok(Stored::New)
    }

    /// Returns the application's verdict on `block_hash`, if one was received.
    pub(crate) fn verdict(&self, block_hash: BlockHash) -> Option<bool> {
        self.verdicts.get(&block_hash).copied()
    }

    /// Rejects a vote of a round past the current one when its validator already has
    /// votes in [`FUTURE_ROUNDS_PER_VALIDATOR_MAX`] other such rounds.
    pub(crate) fn check_future_round(&self, kind: VoteKind, index: u32, round: u32) -> Result<(), InputError> {
        if round <= self.round {
            return Ok(());
        }
        let rounds: Vec<u32> =
            self.votes.rounds().filter(|&other| other > self.round && self.votes.has_sender(other, index)).collect();
        if rounds.contains(&round) || rounds.len() < FUTURE_ROUNDS_PER_VALIDATOR_MAX {
            return Ok(());
        }
        Err(InputError::TooManyFutureRounds { kind, index, round, current: self.round, count: rounds.len() })
    }

    /// Returns whether the locked value, if any, keeps this validator from prevoting
    /// `block_hash` when the proposal's proof-of-lock round is `pol_round`.
    pub(crate) fn lock_blocks(&self, block_hash: BlockHash, pol_round: Option<u32>) -> bool {
        let Some(locked) = &self.locked else {
            return false;
        };
        let unlocked_by_polka = pol_round.is_some_and(|pol_round| locked.round <= pol_round);
        locked.value.block_hash() != block_hash && !unlocked_by_polka
    }
}
