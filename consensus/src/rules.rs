//! The rules of Tendermint's Algorithm 1 ("The latest gossip on BFT consensus",
//! Buchman, Kwon and Milosevic, 2018), each named by the line of the paper it
//! implements.
//!
//! "More than 2/3" and "more than 1/3" are of voting power, where the paper counts
//! messages (2f + 1 and f + 1 of n = 3f + 1). valid(v) is the application's verdict,
//! which may arrive later: a rule that needs it waits until it is known.
//!
//! # Differences from the paper
//! - The proposer also schedules the propose timeout (line 21 does so only for the
//!   others), so a round moves on if the application never returns a value.
//! - After a decision the core stops: the host commits the block and starts the next
//!   height with its validator set, where line 54 starts it at once.
//! - A value whose locked value conflicts is prevoted nil (lines 26 and 32) without
//!   waiting for the verdict, since the verdict cannot change the vote.

use tracing::{debug, info};
use vouch_protocol::chain::BlockHash;

use crate::effect::{Effect, Timeout};
use crate::height::{HeightState, RoundValue};
use crate::machine::Consensus;
use crate::messages::{Value, VoteKind};
use crate::timeouts::Step;

impl<V: Value> Consensus<V> {
    pub(crate) fn state_mut(&mut self) -> &mut HeightState<V> {
        self.state.as_mut().expect("rules run only after a height is started")
    }

    fn state_ref(&self) -> &HeightState<V> {
        self.state.as_ref().expect("rules run only after a height is started")
    }

    /// Applies the rules until none fires. Each rule that fires changes the round, the
    /// step, a once-per-round flag or the decision, so the loop ends.
    pub(crate) fn apply_rules(&mut self, effects: &mut Vec<Effect<V>>) {
        while self.state.as_ref().is_some_and(|state| !state.decided) && self.apply_one_rule(effects) {}
    }

    fn apply_one_rule(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        self.decide_on_commit(effects)
            || self.skip_to_higher_round(effects)
            || self.prevote_on_new_proposal(effects)
            || self.prevote_on_repeated_proposal(effects)
            || self.schedule_prevote_timeout(effects)
            || self.lock_on_polka(effects)
            || self.precommit_nil_on_nil_polka(effects)
            || self.schedule_precommit_timeout(effects)
    }

    /// Lines 11-21: enter `round` in the propose step, and propose if this validator is
    /// the round's proposer.
    pub(crate) fn start_round(&mut self, round: u32, effects: &mut Vec<Effect<V>>) {
        let state = self.state_mut();
        state.round = round;
        state.step = Step::Propose;
        let height = state.height;
        let proposer = state.proposers.proposer(round);
        debug!(height = %height, round, proposer, "round started");

        let duration = self.config.timeouts.duration(Step::Propose, round);
        effects.push(Effect::ScheduleTimeout { timeout: Timeout { height, round, step: Step::Propose }, duration });

        let state = self.state_mut();
        if state.own_index != Some(proposer) {
            return;
        }
        // Lines 15-16: re-propose the valid value with its polka round.
        if let Some(valid) = state.valid.clone() {
            self.propose(valid.value, Some(valid.round), effects);
            return;
        }
        // Line 18: getValue() is asynchronous; the value arrives as Input::ProposalValue.
        state.value_requested = Some(round);
        let time_unix_ms = state.block_time_unix_ms;
        effects.push(Effect::RequestValue { height, round, time_unix_ms });
    }

    /// Lines 57-67: a timeout of the current round moves the step or the round on.
    pub(crate) fn on_timeout(
        &mut self,
        timeout: Timeout,
        effects: &mut Vec<Effect<V>>,
    ) -> Result<(), crate::InputError> {
        let Some(state) = self.state.as_ref() else {
            return Err(crate::InputError::NotStarted);
        };
        if timeout.height != state.height || timeout.round != state.round || state.decided {
            return Ok(());
        }
        match (timeout.step, state.step) {
            // Line 57: OnTimeoutPropose.
            (Step::Propose, Step::Propose) => self.cast_vote(VoteKind::Prevote, None, effects),
            // Line 61: OnTimeoutPrevote.
            (Step::Prevote, Step::Prevote) => self.cast_vote(VoteKind::Precommit, None, effects),
            // Line 65: OnTimeoutPrecommit, in any step.
            (Step::Precommit, _) => match timeout.round.checked_add(1) {
                Some(next) => self.start_round(next, effects),
                None => debug!(round = timeout.round, "round limit reached; no later round to start"),
            },
            _ => {}
        }
        Ok(())
    }

    /// Line 49: a proposal of any round with precommits of more than 2/3 of the power
    /// for its value, and a valid verdict, decides the height.
    fn decide_on_commit(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        let committed = state.votes.rounds().find_map(|round| {
            let (block_hash, _) = state
                .votes
                .values(round, VoteKind::Precommit)
                .into_iter()
                .find(|(block_hash, power)| block_hash.is_some() && state.validators.is_quorum(*power))?;
            let block_hash = block_hash.expect("nil was filtered out");
            let proposal = state.proposal_for(round, block_hash)?;
            // NOTE: without the proposal the core cannot decide. The host must then fetch
            // the signed proposal of that round from peers (block sync) and feed it in.
            (state.verdict(block_hash) == Some(true)).then(|| (round, block_hash, proposal.proposal.value.clone()))
        });
        let Some((round, block_hash, value)) = committed else {
            return false;
        };
        self.decide(round, block_hash, value, effects);
        true
    }

    /// Line 55: messages of a later round from validators with more than 1/3 of the
    /// power (so at least one correct validator is there) move this one to that round.
    fn skip_to_higher_round(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        let current = state.round;
        let target = state
            .votes
            .rounds()
            .rev()
            .take_while(|round| *round > current)
            .find(|round| state.validators.is_one_third(state.votes.sender_power(*round)));
        let Some(round) = target else {
            return false;
        };
        debug!(height = %state.height, from = current, round, "skipping to a later round");
        self.start_round(round, effects);
        true
    }

    /// Line 22: a new proposal (no proof-of-lock round) in the propose step.
    fn prevote_on_new_proposal(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        if state.step != Step::Propose {
            return false;
        }
        let Some(signed) = state.first_proposal(state.round).filter(|signed| signed.proposal.pol_round.is_none())
        else {
            return false;
        };
        let block_hash = signed.proposal.value.block_hash();

        // Line 23: valid(v) and (no lock, or locked on v); otherwise line 26, nil.
        let Some(vote) = prevote_choice(state, block_hash, None) else {
            return false;
        };
        self.cast_vote(VoteKind::Prevote, vote, effects);
        true
    }

    /// Line 28: a re-proposal whose proof-of-lock round has prevotes of more than 2/3
    /// of the power for its value, in the propose step.
    fn prevote_on_repeated_proposal(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        if state.step != Step::Propose {
            return false;
        }
        let Some(signed) = state.first_proposal(state.round) else {
            return false;
        };
        let Some(pol_round) = signed.proposal.pol_round else {
            return false;
        };
        let block_hash = signed.proposal.value.block_hash();
        if !state.validators.is_quorum(state.votes.power_for(pol_round, VoteKind::Prevote, Some(block_hash))) {
            return false;
        }

        // Line 29: valid(v) and (lockedRound <= vr or locked on v); otherwise line 32.
        let Some(vote) = prevote_choice(state, block_hash, Some(pol_round)) else {
            return false;
        };
        self.cast_vote(VoteKind::Prevote, vote, effects);
        true
    }

    /// Line 34: prevotes of more than 2/3 of the power for anything, first time in the
    /// round, in the prevote step.
    fn schedule_prevote_timeout(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        let round = state.round;
        let fires = state.step == Step::Prevote
            && state.prevote_timeout_round != Some(round)
            && state.validators.is_quorum(state.votes.power_any(round, VoteKind::Prevote));
        if !fires {
            return false;
        }
        self.schedule(Step::Prevote, effects);
        self.state_mut().prevote_timeout_round = Some(round);
        true
    }

    /// Line 36: the round's proposal with prevotes of more than 2/3 of the power for
    /// its valid value, first time in the round, in the prevote step or later.
    fn lock_on_polka(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        let round = state.round;
        if state.step == Step::Propose || state.polka_round == Some(round) {
            return false;
        }
        let Some(value) = polka_value(state, round) else {
            return false;
        };
        let block_hash = value.block_hash();
        let was_prevote = state.step == Step::Prevote;

        let state = self.state_mut();
        state.polka_round = Some(round);
        // Lines 42-43: remember the value as valid, whatever the step.
        state.valid = Some(RoundValue { round, value: value.clone() });
        // Lines 37-41: lock and precommit only from the prevote step.
        if was_prevote {
            state.locked = Some(RoundValue { round, value });
            self.cast_vote(VoteKind::Precommit, Some(block_hash), effects);
        }
        true
    }

    /// Line 44: prevotes of more than 2/3 of the power for nil, in the prevote step.
    fn precommit_nil_on_nil_polka(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        let fires = state.step == Step::Prevote
            && state.validators.is_quorum(state.votes.power_for(state.round, VoteKind::Prevote, None));
        if !fires {
            return false;
        }
        self.cast_vote(VoteKind::Precommit, None, effects);
        true
    }

    /// Line 47: precommits of more than 2/3 of the power for anything, first time in
    /// the round, in any step.
    fn schedule_precommit_timeout(&mut self, effects: &mut Vec<Effect<V>>) -> bool {
        let state = self.state_ref();
        let round = state.round;
        let fires = state.precommit_timeout_round != Some(round)
            && state.validators.is_quorum(state.votes.power_any(round, VoteKind::Precommit));
        if !fires {
            return false;
        }
        self.schedule(Step::Precommit, effects);
        self.state_mut().precommit_timeout_round = Some(round);
        true
    }

    fn schedule(&mut self, step: Step, effects: &mut Vec<Effect<V>>) {
        let state = self.state_ref();
        let timeout = Timeout { height: state.height, round: state.round, step };
        let duration = self.config.timeouts.duration(step, state.round);
        effects.push(Effect::ScheduleTimeout { timeout, duration });
    }

    fn decide(&mut self, round: u32, block_hash: BlockHash, value: V, effects: &mut Vec<Effect<V>>) {
        let state = self.state_mut();
        let certificate = state.certificate(round, block_hash);
        state.decided = true;
        info!(height = %state.height, round, block_hash = %block_hash, "height decided");
        effects.push(Effect::Decide(crate::Decision { value, certificate }));
    }
}

/// Returns the value of `round`'s proposals that has prevotes of more than 2/3 of the
/// power and a valid verdict.
fn polka_value<V: Value>(state: &HeightState<V>, round: u32) -> Option<V> {
    let (block_hash, _) = state
        .votes
        .values(round, VoteKind::Prevote)
        .into_iter()
        .find(|(block_hash, power)| block_hash.is_some() && state.validators.is_quorum(*power))?;
    let block_hash = block_hash.expect("nil was filtered out");
    let signed = state.proposal_for(round, block_hash)?;
    (state.verdict(block_hash) == Some(true)).then(|| signed.proposal.value.clone())
}

/// Returns the prevote for a proposal of `block_hash`: nil when the lock rules it out
/// or the value is invalid, the hash when it is valid, and `None` while the verdict is
/// unknown.
fn prevote_choice<V: Value>(
    state: &HeightState<V>,
    block_hash: BlockHash,
    pol_round: Option<u32>,
) -> Option<Option<BlockHash>> {
    if state.lock_blocks(block_hash, pol_round) {
        return Some(None);
    }
    let valid = state.verdict(block_hash)?;
    Some(valid.then_some(block_hash))
}
