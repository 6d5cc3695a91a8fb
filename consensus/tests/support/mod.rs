//! Builders for the consensus tests: a small value type, a network of validator keys,
//! signed messages, and the effects a validator is expected to return.
#![allow(dead_code)]

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vouch_consensus::{
    CommitCertificate, Consensus, ConsensusConfig, Decision, Effect, Input, PreviousBlock, Proposal, SignedProposal,
    SignedStep, SignedVote, Step, Timeout, TimeoutConfig, Validator, ValidatorSet, Value, Vote, VoteKind, VotingPower,
};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::keys::SigningKey;
use vouch_protocol::signing::ChainId;

/// The genesis time of every test network.
pub const GENESIS_MS: u64 = 500_000;

/// The host clock of every input, after the genesis time.
pub const NOW_MS: u64 = 1_000_000;

/// A value named by a number, with a block time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestValue {
    pub id: u64,
    pub time_unix_ms: u64,
}

impl Value for TestValue {
    const BYTES_MAX: usize = 16;

    fn block_hash(&self) -> BlockHash {
        let mut hash = [0u8; 32];
        hash[..8].copy_from_slice(&self.id.to_le_bytes());
        hash[8..16].copy_from_slice(&self.time_unix_ms.to_le_bytes());
        BlockHash(hash)
    }

    fn time_unix_ms(&self) -> u64 {
        self.time_unix_ms
    }
}

/// Builds a value of height 1, which carries the genesis time.
pub fn value(id: u64) -> TestValue {
    TestValue { id, time_unix_ms: GENESIS_MS }
}

pub fn chain_id() -> ChainId {
    ChainId::new("consensus-test").unwrap()
}

pub fn key(index: usize) -> SigningKey {
    SigningKey::from_seed(&[index as u8 + 1; 32])
}

pub fn validator_set(powers: &[u64]) -> ValidatorSet {
    let validators = powers
        .iter()
        .enumerate()
        .map(|(index, &power)| Validator { public_key: key(index).public_key(), voting_power: VotingPower(power) })
        .collect();
    ValidatorSet::new(validators).unwrap()
}

pub fn config() -> ConsensusConfig {
    ConsensusConfig { chain_id: chain_id(), timeouts: TimeoutConfig::default() }
}

/// One validator's instance in a network with the given powers, and builders for the
/// messages of the others.
pub struct Fixture {
    pub powers: Vec<u64>,
    pub me: usize,
    pub height: Height,
    pub block_time_ms: u64,
    pub node: Consensus<TestValue>,
}

impl Fixture {
    /// Validator `me` of a network with `powers`, not yet started.
    pub fn new(powers: &[u64], me: usize) -> Fixture {
        Fixture::restored(powers, me, None)
    }

    /// Validator `me`, restarted after it signed at `last_signed`.
    pub fn restored(powers: &[u64], me: usize, last_signed: Option<SignedStep>) -> Fixture {
        let node = Consensus::new(config(), Some(key(me)), last_signed).unwrap();
        Fixture { powers: powers.to_vec(), me, height: Height(1), block_time_ms: GENESIS_MS, node }
    }

    pub fn set(&self) -> ValidatorSet {
        validator_set(&self.powers)
    }

    /// Feeds one input at [`NOW_MS`] and returns the effects, failing on a rejection.
    pub fn feed(&mut self, input: Input<TestValue>) -> Vec<Effect<TestValue>> {
        let name = input.name();
        self.node.handle(NOW_MS, input).unwrap_or_else(|error| panic!("{name} rejected: {error}"))
    }

    /// Feeds inputs in order and checks each one's effects against the table.
    pub fn run(&mut self, table: Vec<(Input<TestValue>, Vec<Effect<TestValue>>)>) {
        for (row, (input, expected)) in table.into_iter().enumerate() {
            let name = input.name();
            let effects = self.feed(input);
            assert_eq!(effects, expected, "row {row} ({name}): effects differ");
        }
    }

    pub fn start(&self) -> Input<TestValue> {
        Input::StartHeight {
            height: self.height,
            validators: self.set(),
            previous: PreviousBlock::Genesis { time_unix_ms: GENESIS_MS },
        }
    }

    pub fn signed_proposal(
        &self,
        from: usize,
        round: u32,
        value: &TestValue,
        pol_round: Option<u32>,
    ) -> SignedProposal<TestValue> {
        let proposal =
            Proposal { height: self.height, round, pol_round, value: value.clone(), proposer_index: from as u32 };
        proposal.sign(&key(from), &chain_id())
    }

    pub fn proposal(&self, from: usize, round: u32, value: &TestValue, pol_round: Option<u32>) -> Input<TestValue> {
        Input::Proposal(self.signed_proposal(from, round, value, pol_round))
    }

    /// Signs a vote of validator `from`, with the time an honest validator puts in at [`NOW_MS`].
    pub fn signed_vote(&self, from: usize, kind: VoteKind, round: u32, value: Option<&TestValue>) -> SignedVote {
        let vote = Vote {
            kind,
            height: self.height,
            round,
            block_hash: value.map(Value::block_hash),
            time_unix_ms: NOW_MS.max(self.block_time_ms + 1),
            validator_index: from as u32,
        };
        vote.sign(&key(from), &chain_id())
    }

    pub fn prevote(&self, from: usize, round: u32, value: Option<&TestValue>) -> Input<TestValue> {
        Input::Vote(self.signed_vote(from, VoteKind::Prevote, round, value))
    }

    pub fn precommit(&self, from: usize, round: u32, value: Option<&TestValue>) -> Input<TestValue> {
        Input::Vote(self.signed_vote(from, VoteKind::Precommit, round, value))
    }

    pub fn timeout(&self, round: u32, step: Step) -> Input<TestValue> {
        Input::Timeout(Timeout { height: self.height, round, step })
    }

    pub fn verdict(&self, value: &TestValue, valid: bool) -> Input<TestValue> {
        Input::Verdict { height: self.height, block_hash: value.block_hash(), valid }
    }

    pub fn proposal_value(&self, round: u32, value: &TestValue) -> Input<TestValue> {
        Input::ProposalValue { height: self.height, round, value: value.clone() }
    }

    // Expected effects.

    pub fn schedule(&self, round: u32, step: Step) -> Effect<TestValue> {
        let duration: Duration = TimeoutConfig::default().duration(step, round);
        Effect::ScheduleTimeout { timeout: Timeout { height: self.height, round, step }, duration }
    }

    pub fn validate(&self, round: u32, value: &TestValue) -> Effect<TestValue> {
        Effect::ValidateValue { height: self.height, round, value: value.clone() }
    }

    pub fn request_value(&self, round: u32) -> Effect<TestValue> {
        Effect::RequestValue { height: self.height, round, time_unix_ms: self.block_time_ms }
    }

    /// This validator's persisted and broadcast vote.
    pub fn my_vote(&self, kind: VoteKind, round: u32, value: Option<&TestValue>) -> Vec<Effect<TestValue>> {
        let step = match kind {
            VoteKind::Prevote => Step::Prevote,
            VoteKind::Precommit => Step::Precommit,
        };
        vec![
            Effect::PersistSigned(SignedStep { height: self.height, round, step }),
            Effect::BroadcastVote(self.signed_vote(self.me, kind, round, value)),
        ]
    }

    pub fn my_prevote(&self, round: u32, value: Option<&TestValue>) -> Vec<Effect<TestValue>> {
        self.my_vote(VoteKind::Prevote, round, value)
    }

    pub fn my_precommit(&self, round: u32, value: Option<&TestValue>) -> Vec<Effect<TestValue>> {
        self.my_vote(VoteKind::Precommit, round, value)
    }

    /// This validator's persisted and broadcast proposal.
    pub fn my_proposal(&self, round: u32, value: &TestValue, pol_round: Option<u32>) -> Vec<Effect<TestValue>> {
        vec![
            Effect::PersistSigned(SignedStep { height: self.height, round, step: Step::Propose }),
            Effect::BroadcastProposal(self.signed_proposal(self.me, round, value, pol_round)),
        ]
    }

    /// Builds the decision of `value` with the precommits of `signers` in `round`.
    pub fn decide(&self, round: u32, value: &TestValue, signers: &[usize]) -> Effect<TestValue> {
        let precommits =
            signers.iter().map(|&from| self.signed_vote(from, VoteKind::Precommit, round, Some(value))).collect();
        let certificate = CommitCertificate { height: self.height, round, block_hash: value.block_hash(), precommits };
        Effect::Decide(Decision { value: value.clone(), certificate })
    }
}

/// Joins effect lists in order.
pub fn effects<const N: usize>(parts: [Vec<Effect<TestValue>>; N]) -> Vec<Effect<TestValue>> {
    parts.into_iter().flatten().collect()
}
