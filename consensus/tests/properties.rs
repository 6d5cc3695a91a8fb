//! Property tests: three honest validators and one Byzantine validator with less than
//! 1/3 of the power exchange messages in an order that proptest chooses, with timeouts
//! firing at arbitrary points. Whatever the order, no two honest validators decide
//! different values, no decision or lock rests on less than 2/3 of the power, and no
//! honest validator signs twice at one position.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use support::{Fixture, GENESIS_MS, NOW_MS, TestValue, config, key, validator_set};
use vouch_consensus::{
    Consensus, Effect, Input, InputError, PreviousBlock, SignedStep, SignedVote, Step, Timeout, ValidatorSet, Value,
    VoteKind, VotingPower,
};
use vouch_protocol::chain::{BlockHash, Height};

const HONEST: usize = 3;
const BYZANTINE: usize = 3;
const ROUNDS: u32 = 4;

/// Returns whether the application accepts `value`. The rule is the same on every
/// honest validator: ids divisible by 7 are invalid.
fn is_valid(value: &TestValue) -> bool {
    !value.id.is_multiple_of(7)
}

struct Network {
    set: ValidatorSet,
    nodes: Vec<Consensus<TestValue>>,
    in_flight: Vec<(usize, Input<TestValue>)>,
    timers: Vec<(usize, Timeout)>,
    /// Per node: the prevotes it received or cast, as (validator, round, block hash).
    prevotes_seen: Vec<BTreeSet<(u32, u32, Option<BlockHash>)>>,
    /// Per node: the positions it signed at and what it signed there.
    signed: Vec<BTreeMap<SignedStep, Option<BlockHash>>>,
    decisions: Vec<Vec<(TestValue, vouch_consensus::CommitCertificate)>>,
}

impl Network {
    fn new(powers: &[u64]) -> Network {
        let set = validator_set(powers);
        let mut network = Network {
            set: set.clone(),
            nodes: (0..HONEST).map(|me| Consensus::new(config(), Some(key(me)), None).unwrap()).collect(),
            in_flight: Vec::new(),
            timers: Vec::new(),
            prevotes_seen: vec![BTreeSet::new(); HONEST],
            signed: vec![BTreeMap::new(); HONEST],
            decisions: vec![Vec::new(); HONEST],
        };
        for node in 0..HONEST {
            let start = Input::StartHeight {
                height: Height(1),
                validators: set.clone(),
                previous: PreviousBlock::Genesis { time_unix_ms: GENESIS_MS },
            };
            network.deliver(node, start);
        }
        network.queue_byzantine_messages(powers);
        network
    }

    /// Queues the Byzantine validator's conflicting messages: a different value (or nil)
    /// for each honest validator in every round, and conflicting proposals in the
    /// rounds it proposes.
    fn queue_byzantine_messages(&mut self, powers: &[u64]) {
        let byzantine = Fixture::new(powers, BYZANTINE);
        let mut schedule = vouch_consensus::ProposerSchedule::new(&self.set);
        for round in 0..ROUNDS {
            for node in 0..HONEST {
                let value = (node < 2).then(|| byzantine_value(round, node));
                for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                    let vote = byzantine.signed_vote(BYZANTINE, kind, round, value.as_ref());
                    self.in_flight.push((node, Input::Vote(vote)));
                }
                if schedule.proposer(round) == BYZANTINE as u32 {
                    let proposal = byzantine.proposal(BYZANTINE, round, &byzantine_value(round, node % 2), None);
                    self.in_flight.push((node, proposal));
                }
            }
        }
    }

    fn deliver(&mut self, node: usize, input: Input<TestValue>) {
        if let Input::Vote(signed) = &input {
            self.note_prevote(node, signed);
        }
        let name = input.name();
        match self.nodes[node].handle(NOW_MS, input) {
            Ok(effects) => self.perform(node, effects),
            Err(error) => check_rejection(name, &error),
        }
    }

    fn note_prevote(&mut self, node: usize, signed: &SignedVote) {
        let vote = signed.vote;
        if vote.kind == VoteKind::Prevote {
            self.prevotes_seen[node].insert((vote.validator_index, vote.round, vote.block_hash));
        }
    }

    fn perform(&mut self, node: usize, effects: Vec<Effect<TestValue>>) {
        let mut persisted: Option<SignedStep> = None;
        for effect in effects {
            match effect {
                Effect::PersistSigned(position) => persisted = Some(position),
                Effect::BroadcastVote(signed) => {
                    let vote = signed.vote;
                    let step = if vote.kind == VoteKind::Prevote { Step::Prevote } else { Step::Precommit };
                    let position = SignedStep { height: vote.height, round: vote.round, step };
                    assert_eq!(persisted.take(), Some(position), "node {node} sent a vote it did not persist first");
                    self.record_signed(node, position, vote.block_hash);
                    if vote.kind == VoteKind::Precommit {
                        self.check_precommit_has_polka(node, vote.round, vote.block_hash);
                    }
                    self.note_prevote(node, &signed);
                    self.broadcast(node, Input::Vote(signed));
                }
                Effect::BroadcastProposal(signed) => {
                    let position = SignedStep {
                        height: signed.proposal.height,
                        round: signed.proposal.round,
                        step: Step::Propose,
                    };
                    assert_eq!(
                        persisted.take(),
                        Some(position),
                        "node {node} sent a proposal it did not persist first"
                    );
                    self.record_signed(node, position, Some(signed.proposal.value.block_hash()));
                    self.broadcast(node, Input::Proposal(signed));
                }
                Effect::ScheduleTimeout { timeout, .. } => self.timers.push((node, timeout)),
                Effect::RequestValue { height, round, time_unix_ms } => {
                    // An application builds only values it accepts itself.
                    let mut id = 100 * (node as u64 + 1) + u64::from(round);
                    if !is_valid(&TestValue { id, time_unix_ms }) {
                        id += 1;
                    }
                    let value = TestValue { id, time_unix_ms };
                    self.in_flight.push((node, Input::ProposalValue { height, round, value }));
                }
                Effect::ValidateValue { height, value, .. } => {
                    let verdict = Input::Verdict { height, block_hash: value.block_hash(), valid: is_valid(&value) };
                    self.in_flight.push((node, verdict));
                }
                Effect::Decide(decision) => self.decisions[node].push((decision.value, decision.certificate)),
                Effect::Evidence(evidence) => {
                    assert_eq!(
                        evidence.first.vote.validator_index, BYZANTINE as u32,
                        "an honest validator equivocated"
                    );
                }
            }
        }
        assert_eq!(persisted, None, "node {node} persisted a position it did not send");
    }

    fn broadcast(&mut self, from: usize, input: Input<TestValue>) {
        for node in (0..HONEST).filter(|node| *node != from) {
            self.in_flight.push((node, input.clone()));
        }
    }

    fn record_signed(&mut self, node: usize, position: SignedStep, block_hash: Option<BlockHash>) {
        let earlier = self.signed[node].insert(position, block_hash);
        assert_eq!(earlier, None, "node {node} signed twice at {position}");
        let last = self.signed[node].keys().next_back().copied();
        assert_eq!(last, Some(position), "node {node} signed at {position} after a later position");
    }

    /// Checks the lock rule: a precommit for a value needs prevotes for it from more
    /// than 2/3 of the power among those the node has seen.
    fn check_precommit_has_polka(&self, node: usize, round: u32, block_hash: Option<BlockHash>) {
        if block_hash.is_none() {
            return;
        }
        let voters: BTreeSet<u32> = self.prevotes_seen[node]
            .iter()
            .filter(|(_, seen_round, seen_hash)| *seen_round == round && *seen_hash == block_hash)
            .map(|(validator, _, _)| *validator)
            .collect();
        let power: u64 = voters.iter().map(|index| self.set.get(*index).unwrap().voting_power.0).sum();
        assert!(
            self.set.is_quorum(VotingPower(power)),
            "node {node} precommitted in round {round} with prevote power {power}"
        );
    }

    /// Delivers the message or fires the timer that `choice` picks; returns false when
    /// nothing is left.
    fn step(&mut self, choice: usize) -> bool {
        let pending = self.in_flight.len() + self.timers.len();
        if pending == 0 {
            return false;
        }
        let pick = choice % pending;
        if pick < self.in_flight.len() {
            let (node, input) = self.in_flight.swap_remove(pick);
            self.deliver(node, input);
        } else {
            let (node, timeout) = self.timers.swap_remove(pick - self.in_flight.len());
            self.deliver(node, Input::Timeout(timeout));
        }
        true
    }

    fn check_decisions(&self) {
        let chain = support::chain_id();
        let mut decided: BTreeSet<BlockHash> = BTreeSet::new();
        for (node, decisions) in self.decisions.iter().enumerate() {
            assert!(decisions.len() <= 1, "node {node} decided {} times", decisions.len());
            for (value, certificate) in decisions {
                assert_eq!(value.block_hash(), certificate.block_hash);
                assert!(is_valid(value), "node {node} decided invalid value {value:?}");
                certificate.verify(&chain, &self.set).unwrap_or_else(|error| panic!("node {node}: {error}"));
                decided.insert(certificate.block_hash);
            }
        }
        assert!(decided.len() <= 1, "honest validators decided different values: {decided:?}");
    }
}

/// Returns the Byzantine validator's value for honest validator `node` in `round`.
fn byzantine_value(round: u32, node: usize) -> TestValue {
    TestValue { id: 1000 + 10 * u64::from(round) + node as u64, time_unix_ms: GENESIS_MS }
}

/// Accepts the rejections an honest validator may see here, and fails on any other.
fn check_rejection(input: &str, error: &InputError) {
    let expected = matches!(
        error,
        InputError::TooManyFutureRounds { .. }
            | InputError::RoundTooFarAhead { .. }
            | InputError::UnexpectedValue { .. }
            | InputError::TooManyProposals { .. }
    );
    assert!(expected, "{input} rejected: {error}");
}

/// Powers where the Byzantine validator has less than 1/3 of the total.
fn powers() -> impl Strategy<Value = Vec<u64>> {
    (1u64..=10, 1u64..=10, 1u64..=10).prop_flat_map(|(a, b, c)| {
        let honest = a + b + c;
        (1..=(honest - 1) / 2).prop_map(move |byzantine| vec![a, b, c, byzantine])
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn honest_validators_agree(powers in powers(), choices in prop::collection::vec(any::<usize>(), 50..400)) {
        let mut network = Network::new(&powers);
        for choice in choices {
            if !network.step(choice) {
                break;
            }
        }
        network.check_decisions();
    }
}

#[test]
fn network_decides_when_delivered_in_order() {
    // With every message delivered in order and no timeout fired, the first round
    // decides on every honest validator, whatever the Byzantine one sends.
    let mut network = Network::new(&[3, 3, 3, 2]);
    while !network.in_flight.is_empty() {
        let (node, input) = network.in_flight.remove(0);
        network.deliver(node, input);
    }
    network.check_decisions();
    for (node, decisions) in network.decisions.iter().enumerate() {
        assert_eq!(decisions.len(), 1, "node {node} did not decide");
    }
}
