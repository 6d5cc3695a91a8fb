//! Vote counting for one height: voting power per round, kind and value, with each
//! validator counted once, and detection of validators that vote twice.
//!
//! # Invariants
//! - A validator adds its power at most once per (round, kind) to the power of any
//!   value, and at most once per (round, kind, value) to that value's power. A second
//!   vote with the same block hash is a duplicate and changes nothing. A second vote with
//!   another block hash (or nil against a block) is an equivocation: it counts toward its
//!   own value only, and both signed votes are kept as evidence, reported once per
//!   (validator, round, kind).
//! - Counting an equivocating vote for its value is what the rules of Tendermint's
//!   Algorithm 1 do ("The latest gossip on BFT consensus", 2018), which count messages
//!   per value. It keeps validators live when they first saw different
//!   votes of one equivocator: otherwise a validator that saw the equivocator's nil vote
//!   first could never see the polka that another validator locked on. Safety is
//!   unchanged, because two sets of more than 2/3 of the power still share an honest
//!   validator, which votes once.
//! - Only votes whose signatures and ranges the caller has checked reach this module.
//! - At most [`VOTES_PER_HEIGHT_MAX`] votes and pieces of evidence are stored per height.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use vouch_protocol::chain::BlockHash;

use crate::messages::{SignedVote, VoteKind};
use crate::validators::VotingPower;

/// Maximum number of votes stored for one height, counting both votes of each
/// equivocation. With 256 validators this is 512 rounds of prevotes and precommits.
// NOTE: votes of old rounds are never pruned, so a height that runs past this many votes
// (hours of failed rounds with a large set) stops counting new ones and needs block sync
// to move on.
pub const VOTES_PER_HEIGHT_MAX: usize = 262_144;

/// Two conflicting signed votes by one validator at one height, round and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equivocation {
    /// The vote counted first.
    pub first: SignedVote,
    /// The later vote for another value.
    pub second: SignedVote,
}

/// The outcome of adding one vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// The vote was counted.
    Counted,
    /// The validator had already cast this vote.
    Duplicate,
    /// The validator had voted for another value; the vote counts for its own value
    /// only, and the evidence is returned the first time.
    Equivocation(Option<Box<Equivocation>>),
    /// The height's vote store is full; the vote was not counted.
    StoreFull,
}

/// The votes of one kind in one round.
#[derive(Clone, Debug, Default)]
struct Tally {
    /// The first vote of each validator.
    votes: BTreeMap<u32, SignedVote>,
    /// Later votes of equivocating validators, one per (validator, value).
    conflicting: BTreeMap<(u32, Option<BlockHash>), SignedVote>,
    power_by_value: BTreeMap<Option<BlockHash>, u64>,
    power: u64,
}

/// The votes of one round, and the power of the validators heard from in it.
#[derive(Clone, Debug, Default)]
struct RoundVotes {
    prevotes: Tally,
    precommits: Tally,
    senders: BTreeSet<u32>,
    sender_power: u64,
}

impl RoundVotes {
    fn tally(&self, kind: VoteKind) -> &Tally {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }

    fn tally_mut(&mut self, kind: VoteKind) -> &mut Tally {
        match kind {
            VoteKind::Prevote => &mut self.prevotes,
            VoteKind::Precommit => &mut self.precommits,
        }
    }
}

/// All votes of one height.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeightVotes {
    rounds: BTreeMap<u32, RoundVotes>,
    reported: BTreeSet<(u32, VoteKind, u32)>,
    stored: usize,
}

impl HeightVotes {
    /// Adds a checked vote by a validator with `power`.
    pub(crate) fn add(&mut self, signed: SignedVote, power: VotingPower) -> Added {
        let vote = signed.vote;
        let existing =
            self.rounds.get(&vote.round).and_then(|round| round.tally(vote.kind).votes.get(&vote.validator_index));
        if let Some(existing) = existing {
            if existing.vote.block_hash == vote.block_hash {
                return Added::Duplicate;
            }
            let first = *existing;
            self.count_conflicting(signed, power);
            return Added::Equivocation(self.report(first, signed));
        }
        if self.stored >= VOTES_PER_HEIGHT_MAX {
            return Added::StoreFull;
        }

        self.stored += 1;
        let round = self.rounds.entry(vote.round).or_default();
        let tally = round.tally_mut(vote.kind);
        tally.votes.insert(vote.validator_index, signed);
        *tally.power_by_value.entry(vote.block_hash).or_default() += power.0;
        tally.power += power.0;
        if round.senders.insert(vote.validator_index) {
            round.sender_power += power.0;
        }
        Added::Counted
    }

    /// Counts an equivocating vote toward its own value, once per (validator, value).
    fn count_conflicting(&mut self, signed: SignedVote, power: VotingPower) {
        let vote = signed.vote;
        if self.stored >= VOTES_PER_HEIGHT_MAX {
            return;
        }
        let tally = self.rounds.entry(vote.round).or_default().tally_mut(vote.kind);
        if tally.conflicting.insert((vote.validator_index, vote.block_hash), signed).is_none() {
            *tally.power_by_value.entry(vote.block_hash).or_default() += power.0;
            self.stored += 1;
        }
    }

    /// Records that a validator sent a valid message in `round`, for the round skip rule.
    pub(crate) fn note_sender(&mut self, round: u32, validator_index: u32, power: VotingPower) {
        let round = self.rounds.entry(round).or_default();
        if round.senders.insert(validator_index) {
            round.sender_power += power.0;
        }
    }

    /// Returns the power of the `kind` votes for `block_hash` (nil for `None`) in `round`.
    pub(crate) fn power_for(&self, round: u32, kind: VoteKind, block_hash: Option<BlockHash>) -> VotingPower {
        let power =
            self.rounds.get(&round).and_then(|votes| votes.tally(kind).power_by_value.get(&block_hash).copied());
        VotingPower(power.unwrap_or(0))
    }

    /// Returns the power of all `kind` votes in `round`, whatever their values.
    pub(crate) fn power_any(&self, round: u32, kind: VoteKind) -> VotingPower {
        VotingPower(self.rounds.get(&round).map_or(0, |votes| votes.tally(kind).power))
    }

    /// Returns the power of the validators heard from in `round` by any message.
    pub(crate) fn sender_power(&self, round: u32) -> VotingPower {
        VotingPower(self.rounds.get(&round).map_or(0, |votes| votes.sender_power))
    }

    /// Returns whether `validator_index` sent a message that counted in `round`.
    pub(crate) fn has_sender(&self, round: u32, validator_index: u32) -> bool {
        self.rounds.get(&round).is_some_and(|votes| votes.senders.contains(&validator_index))
    }

    /// Returns whether this exact signed vote is already counted, so the caller can skip
    /// verifying a gossiped copy again.
    pub(crate) fn contains(&self, signed: &SignedVote) -> bool {
        let vote = &signed.vote;
        let Some(tally) = self.rounds.get(&vote.round).map(|round| round.tally(vote.kind)) else {
            return false;
        };
        tally.votes.get(&vote.validator_index) == Some(signed)
            || tally.conflicting.get(&(vote.validator_index, vote.block_hash)) == Some(signed)
    }

    /// Returns the rounds that have any votes or senders, in increasing order.
    pub(crate) fn rounds(&self) -> impl DoubleEndedIterator<Item = u32> + '_ {
        self.rounds.keys().copied()
    }

    /// Returns the values with `kind` votes in `round`, each with its power.
    pub(crate) fn values(&self, round: u32, kind: VoteKind) -> Vec<(Option<BlockHash>, VotingPower)> {
        let Some(votes) = self.rounds.get(&round) else {
            return Vec::new();
        };
        votes.tally(kind).power_by_value.iter().map(|(hash, power)| (*hash, VotingPower(*power))).collect()
    }

    /// Returns the `kind` votes for `block_hash` in `round`, in validator index order,
    /// including equivocating validators' votes for it.
    pub(crate) fn votes_for(&self, round: u32, kind: VoteKind, block_hash: Option<BlockHash>) -> Vec<SignedVote> {
        let Some(votes) = self.rounds.get(&round) else {
            return Vec::new();
        };
        let tally = votes.tally(kind);
        let first = tally.votes.values();
        let conflicting = tally.conflicting.values();
        let by_index: BTreeMap<u32, SignedVote> = first
            .chain(conflicting)
            .filter(|signed| signed.vote.block_hash == block_hash)
            .map(|signed| (signed.vote.validator_index, *signed))
            .collect();
        by_index.into_values().collect()
    }

    /// Returns the evidence for `second` against `first` unless it was reported before.
    fn report(&mut self, first: SignedVote, second: SignedVote) -> Option<Box<Equivocation>> {
        let key = (second.vote.round, second.vote.kind, second.vote.validator_index);
        if self.stored >= VOTES_PER_HEIGHT_MAX || !self.reported.insert(key) {
            return None;
        }
        self.stored += 1;
        Some(Box::new(Equivocation { first, second }))
    }
}

#[cfg(test)]
mod tests {
    use vouch_protocol::chain::Height;
    use vouch_protocol::keys::Signature;

    use super::*;
    use crate::messages::Vote;

    fn vote(kind: VoteKind, round: u32, validator_index: u32, value: Option<u8>) -> SignedVote {
        let vote = Vote {
            kind,
            height: Height(1),
            round,
            block_hash: value.map(|byte| BlockHash([byte; 32])),
            time_unix_ms: 0,
            validator_index,
        };
        SignedVote { vote, signature: Signature::from_bytes([0; 64]) }
    }

    #[test]
    fn counts_power_per_value() {
        let mut votes = HeightVotes::default();
        assert_eq!(votes.add(vote(VoteKind::Prevote, 0, 0, Some(1)), VotingPower(5)), Added::Counted);
        assert_eq!(votes.add(vote(VoteKind::Prevote, 0, 1, Some(1)), VotingPower(3)), Added::Counted);
        assert_eq!(votes.add(vote(VoteKind::Prevote, 0, 2, None), VotingPower(2)), Added::Counted);

        assert_eq!(votes.power_for(0, VoteKind::Prevote, Some(BlockHash([1; 32]))), VotingPower(8));
        assert_eq!(votes.power_for(0, VoteKind::Prevote, None), VotingPower(2));
        assert_eq!(votes.power_any(0, VoteKind::Prevote), VotingPower(10));
        assert_eq!(votes.power_any(0, VoteKind::Precommit), VotingPower(0));
        assert_eq!(votes.sender_power(0), VotingPower(10));
    }

    #[test]
    fn duplicate_vote_counts_once() {
        let mut votes = HeightVotes::default();
        votes.add(vote(VoteKind::Precommit, 1, 0, Some(1)), VotingPower(5));
        assert_eq!(votes.add(vote(VoteKind::Precommit, 1, 0, Some(1)), VotingPower(5)), Added::Duplicate);
        assert_eq!(votes.power_any(1, VoteKind::Precommit), VotingPower(5));
    }

    #[test]
    fn conflicting_vote_is_evidence_once() {
        let mut votes = HeightVotes::default();
        let first = vote(VoteKind::Prevote, 0, 4, Some(1));
        let second = vote(VoteKind::Prevote, 0, 4, None);
        votes.add(first, VotingPower(5));

        let added = votes.add(second, VotingPower(5));
        assert_eq!(added, Added::Equivocation(Some(Box::new(Equivocation { first, second }))));
        assert_eq!(votes.add(vote(VoteKind::Prevote, 0, 4, Some(2)), VotingPower(5)), Added::Equivocation(None));
        assert_eq!(votes.power_for(0, VoteKind::Prevote, None), VotingPower(5));
        assert_eq!(votes.power_any(0, VoteKind::Prevote), VotingPower(5));
    }

    #[test]
    fn conflicting_vote_counts_for_its_value_once() {
        let mut votes = HeightVotes::default();
        votes.add(vote(VoteKind::Precommit, 0, 1, None), VotingPower(4));
        votes.add(vote(VoteKind::Precommit, 0, 2, Some(1)), VotingPower(3));
        let conflicting = vote(VoteKind::Precommit, 0, 1, Some(1));
        votes.add(conflicting, VotingPower(4));
        votes.add(conflicting, VotingPower(4));

        assert_eq!(votes.power_for(0, VoteKind::Precommit, Some(BlockHash([1; 32]))), VotingPower(7));
        assert_eq!(votes.power_for(0, VoteKind::Precommit, None), VotingPower(4));
        assert_eq!(votes.power_any(0, VoteKind::Precommit), VotingPower(7));
        assert!(votes.contains(&conflicting));
        let for_block = votes.votes_for(0, VoteKind::Precommit, Some(BlockHash([1; 32])));
        let indexes: Vec<u32> = for_block.iter().map(|signed| signed.vote.validator_index).collect();
        assert_eq!(indexes, vec![1, 2]);
    }

    #[test]
    fn prevote_and_precommit_count_sender_once() {
        let mut votes = HeightVotes::default();
        votes.add(vote(VoteKind::Prevote, 3, 0, Some(1)), VotingPower(5));
        votes.add(vote(VoteKind::Precommit, 3, 0, Some(1)), VotingPower(5));
        votes.note_sender(3, 0, VotingPower(5));
        assert_eq!(votes.sender_power(3), VotingPower(5));
    }

    #[test]
    fn votes_for_lists_in_index_order() {
        let mut votes = HeightVotes::default();
        for index in [3, 0, 2] {
            votes.add(vote(VoteKind::Precommit, 0, index, Some(1)), VotingPower(1));
        }
        votes.add(vote(VoteKind::Precommit, 0, 1, None), VotingPower(1));
        let indexes: Vec<u32> = votes
            .votes_for(0, VoteKind::Precommit, Some(BlockHash([1; 32])))
            .iter()
            .map(|signed| signed.vote.validator_index)
            .collect();
        assert_eq!(indexes, vec![0, 2, 3]);
    }

    #[test]
    fn store_rejects_votes_past_limit() {
        let mut votes = HeightVotes { stored: VOTES_PER_HEIGHT_MAX, ..HeightVotes::default() };
        assert_eq!(votes.add(vote(VoteKind::Prevote, 0, 0, Some(1)), VotingPower(1)), Added::StoreFull);
        assert_eq!(votes.power_any(0, VoteKind::Prevote), VotingPower(0));
    }
}
