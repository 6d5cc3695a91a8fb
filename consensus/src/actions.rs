//! The actions of a rule that fires: signing and sending this validator's proposals
//! and votes behind the double-sign check, and the commit certificate of a decision.

use tracing::{debug, warn};
use vouch_protocol::chain::BlockHash;

use crate::certificate::CommitCertificate;
use crate::effect::{Effect, SignedStep};
use crate::height::HeightState;
use crate::machine::Consensus;
use crate::messages::{Proposal, Value, Vote, VoteKind};
use crate::time::vote_time;
use crate::timeouts::Step;
use crate::validators::VotingPower;
use crate::votes::Added;

impl<V: Value> Consensus<V> {
    /// Line 19: sign and broadcast a proposal of `value` in the current round, and
    /// treat it as received.
    pub(crate) fn propose(&mut self, value: V, pol_round: Option<u32>, effects: &mut Vec<Effect<V>>) {
        let state = self.state_mut();
        let Some(index) = state.own_index else {
            return;
        };
        let position = SignedStep { height: state.height, round: state.round, step: Step::Propose };
        let proposal = Proposal { height: state.height, round: state.round, pol_round, value, proposer_index: index };
        if !self.may_sign(position) {
            return;
        }
        let key = self.key.as_ref().expect("may_sign checked the key");
        let signed = proposal.sign(key, &self.config.chain_id);
        effects.push(Effect::PersistSigned(position));
        effects.push(Effect::BroadcastProposal(signed.clone()));

        let state = self.state_mut();
        let block_hash = signed.proposal.value.block_hash();
        debug!(height = %state.height, round = state.round, block_hash = %block_hash, pol_round, "proposing");
        state.verdicts.entry(block_hash).or_insert(true);
        let power = state.validators.get(index).expect("own index is in the set").voting_power;
        state.votes.note_sender(state.round, index, power);
        // A new round's proposal store is empty, so this cannot exceed the limit.
        let _ = state.store_proposal(signed);
    }

    /// Moves to the step of `kind` and, as a validator, signs and broadcasts the vote
    /// for `block_hash` (nil for `None`) and counts it.
    pub(crate) fn cast_vote(&mut self, kind: VoteKind, block_hash: Option<BlockHash>, effects: &mut Vec<Effect<V>>) {
        let now_unix_ms = self.now_unix_ms;
        let state = self.state_mut();
        let step = match kind {
            VoteKind::Prevote => Step::Prevote,
            VoteKind::Precommit => Step::Precommit,
        };
        state.step = step;
        debug!(height = %state.height, round = state.round, kind = %kind, block_hash = ?block_hash, "voting");
        let Some(index) = state.own_index else {
            return;
        };

        let vote = Vote {
            kind,
            height: state.height,
            round: state.round,
            block_hash,
            time_unix_ms: vote_time(now_unix_ms, state.block_time_unix_ms),
            validator_index: index,
        };
        let position = SignedStep { height: vote.height, round: vote.round, step };
        if !self.may_sign(position) {
            return;
        }
        let key = self.key.as_ref().expect("may_sign checked the key");
        let signed = vote.sign(key, &self.config.chain_id);
        effects.push(Effect::PersistSigned(position));
        effects.push(Effect::BroadcastVote(signed));

        let state = self.state_mut();
        let power = state.validators.get(index).expect("own index is in the set").voting_power;
        let added = state.votes.add(signed, power);
        debug_assert!(matches!(added, Added::Counted | Added::StoreFull), "own vote counted twice: {added:?}");
    }

    /// Returns whether this validator has a key and has signed nothing at or after
    /// `position`, and if so records `position` as the last signed one.
    fn may_sign(&mut self, position: SignedStep) -> bool {
        if let Some(last) = self.last_signed.filter(|last| position <= *last) {
            warn!(position = %position, last_signed = %last, "not signing: this validator already signed at or after this step");
            return false;
        }
        if self.key.is_none() {
            return false;
        }
        self.last_signed = Some(position);
        true
    }
}

impl<V: Value> HeightState<V> {
    /// Builds the certificate from the precommits for `block_hash` in `round`.
    pub(crate) fn certificate(&self, round: u32, block_hash: BlockHash) -> CommitCertificate {
        let precommits = self.votes.votes_for(round, VoteKind::Precommit, Some(block_hash));
        let power: u64 = precommits
            .iter()
            .filter_map(|signed| self.validators.get(signed.vote.validator_index))
            .map(|validator| validator.voting_power.0)
            .sum();
        assert!(
            self.validators.is_quorum(VotingPower(power)),
            "a decision needs precommits of more than 2/3 of the power"
        );
        CommitCertificate { height: self.height, round, block_hash, precommits }
    }
}
