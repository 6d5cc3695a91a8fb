//! A network of four validators for restart tests. Validator 0, the subject, runs
//! behind a `DurableConsensus` over `MemoryStorage` and can lose power at any storage
//! operation; the other three are bare cores. Messages are delivered in the order sent,
//! and timeouts fire in the order scheduled when no message is pending.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};

use vouch_consensus::host::{DurableConsensus, HeightStart, HostError, MemoryStorage, Recovery, WalConfig};
use vouch_consensus::{
    CommitCertificate, Consensus, Effect, Input, PreviousBlock, SignedStep, Step, Timeout, ValidatorSet, Value,
    VoteKind,
};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::Signature;

use crate::support::{GENESIS_MS, NOW_MS, TestValue, config, key, validator_set};

pub const SUBJECT: usize = 0;
pub const VALIDATORS: usize = 4;

/// Deliveries and timeouts after which a run counts as stuck.
const STEPS_MAX: usize = 20_000;

/// How much of the unsynced bytes a crash keeps.
#[derive(Clone, Copy, Debug)]
pub enum Torn {
    Nothing,
    Half,
    Everything,
}

impl Torn {
    pub const ALL: [Torn; 3] = [Torn::Nothing, Torn::Half, Torn::Everything];

    fn kept(self, unsynced: usize) -> usize {
        match self {
            Torn::Nothing => 0,
            Torn::Half => unsynced / 2,
            Torn::Everything => unsynced,
        }
    }
}

/// One validator's committed chain: the decided values with their certificates.
#[derive(Default)]
pub struct Chain {
    pub values: Vec<TestValue>,
    pub certificates: Vec<CommitCertificate>,
}

pub struct Cluster {
    powers: Vec<u64>,
    heights: usize,
    torn: Torn,
    subject: Option<DurableConsensus<TestValue, MemoryStorage>>,
    peers: Vec<Consensus<TestValue>>,
    queue: VecDeque<(usize, Input<TestValue>)>,
    timers: VecDeque<(usize, Timeout)>,
    /// Every message the peers sent, for sending again to a restarted subject.
    sent_by_peers: Vec<(Height, Input<TestValue>)>,
    pub chains: Vec<Chain>,
    /// Every signature the subject sent, by position, across restarts.
    pub subject_signed: BTreeMap<SignedStep, Signature>,
    /// Positions where the subject sent two different signatures.
    pub conflicts: Vec<SignedStep>,
    /// Evidence that the peers reported against the subject.
    pub evidence_against_subject: usize,
    pub recoveries: Vec<Recovery>,
}

impl Cluster {
    /// Builds a network that runs `heights` heights. The subject's storage loses power
    /// after `power_cut_after` operations, if set, and the crash keeps the `torn` share
    /// of its unsynced bytes.
    pub fn new(powers: &[u64], heights: usize, power_cut_after: Option<u64>, torn: Torn) -> Cluster {
        assert_eq!(powers.len(), VALIDATORS);
        let peers = (1..VALIDATORS).map(|me| Consensus::new(config(), Some(key(me)), None).unwrap()).collect();
        let mut cluster = Cluster {
            powers: powers.to_vec(),
            heights,
            torn,
            subject: None,
            peers,
            queue: VecDeque::new(),
            timers: VecDeque::new(),
            sent_by_peers: Vec::new(),
            chains: (0..VALIDATORS).map(|_| Chain::default()).collect(),
            subject_signed: BTreeMap::new(),
            conflicts: Vec::new(),
            evidence_against_subject: 0,
            recoveries: Vec::new(),
        };
        let mut storage = MemoryStorage::new();
        if let Some(operations) = power_cut_after {
            storage.cut_power_after(operations);
        }
        cluster.open_subject(storage);
        for node in 1..VALIDATORS {
            let start = cluster.start_of(node);
            cluster.deliver(node, start);
        }
        cluster
    }

    /// Returns the storage operations the subject performed so far.
    pub fn storage_operations(&self) -> u64 {
        self.subject.as_ref().expect("the subject is running").storage().operations()
    }

    /// Runs until every validator decided every height; returns false when stuck.
    pub fn run(&mut self) -> bool {
        for _ in 0..STEPS_MAX {
            if self.chains.iter().all(|chain| chain.values.len() >= self.heights) {
                return true;
            }
            if let Some((node, input)) = self.queue.pop_front() {
                self.deliver(node, input);
            } else if let Some((node, timeout)) = self.timers.pop_front() {
                self.deliver(node, Input::Timeout(timeout));
            } else {
                return false;
            }
        }
        false
    }

    pub fn subject(&self) -> &DurableConsensus<TestValue, MemoryStorage> {
        self.subject.as_ref().expect("the subject is running")
    }

    /// Returns the validator set of `height`.
    fn set_at(&self, height: Height) -> ValidatorSet {
        let mut set = validator_set(&self.powers);
        for _ in 1..height.0 {
            set = set.for_next_height();
        }
        set
    }

    /// Returns the start of the height after `node`'s last committed one.
    fn height_start(&self, node: usize) -> HeightStart {
        let chain = &self.chains[node];
        let height = Height(chain.values.len() as u64 + 1);
        let previous = match chain.certificates.last() {
            None => PreviousBlock::Genesis { time_unix_ms: GENESIS_MS },
            Some(certificate) => PreviousBlock::Committed {
                certificate: certificate.clone(),
                validators: self.set_at(Height(height.0 - 1)),
            },
        };
        HeightStart { height, validators: self.set_at(height), previous }
    }

    fn start_of(&self, node: usize) -> Input<TestValue> {
        let start = self.height_start(node);
        Input::StartHeight { height: start.height, validators: start.validators, previous: start.previous }
    }

    fn open_subject(&mut self, storage: MemoryStorage) {
        let start = self.height_start(SUBJECT);
        let opened = DurableConsensus::open(config(), Some(key(SUBJECT)), WalConfig::default(), storage, NOW_MS, start)
            .unwrap_or_else(|error| panic!("reopening the subject failed: {error}"));
        let restored = opened.consensus.core().last_signed();
        let sent = self.subject_signed.keys().next_back().copied();
        assert!(
            restored >= sent,
            "the restarted subject resumes at {restored:?}, before its sent signature at {sent:?}"
        );
        self.recoveries.push(opened.recovery);
        self.subject = Some(opened.consensus);
        self.perform(SUBJECT, opened.effects);
    }

    fn crash_subject(&mut self) {
        let mut storage = self.subject.take().expect("the subject is running").into_storage();
        let torn = self.torn;
        storage.crash(|_, unsynced| torn.kept(unsynced));
        self.open_subject(storage);

        // Restart once more without a crash: the log that the recovery left must replay.
        let storage = self.subject.take().expect("the subject is running").into_storage();
        self.open_subject(storage);

        // The peers send their messages again, as gossip does for a node that
        // reconnects; the subject's unsynced inputs were lost.
        let height = self.subject().core().height().expect("the subject started a height");
        let resent: Vec<Input<TestValue>> =
            self.sent_by_peers.iter().filter(|(at, _)| *at >= height).map(|(_, input)| input.clone()).collect();
        self.queue.extend(resent.into_iter().map(|input| (SUBJECT, input)));
    }

    fn deliver(&mut self, node: usize, input: Input<TestValue>) {
        if node != SUBJECT {
            if let Ok(effects) = self.peers[node - 1].handle(NOW_MS, input) {
                self.perform(node, effects);
            }
            return;
        }
        let result = self.subject.as_mut().expect("the subject is running").handle(NOW_MS, input);
        match result {
            Ok(effects) => self.perform(SUBJECT, effects),
            Err(error) if !error.stops_validator() => {}
            Err(HostError::Storage { .. }) => self.crash_subject(),
            Err(error) => panic!("the subject failed: {error}"),
        }
    }

    fn perform(&mut self, node: usize, effects: Vec<Effect<TestValue>>) {
        for effect in effects {
            match effect {
                Effect::PersistSigned(_) => assert_ne!(node, SUBJECT, "the durable instance performs its own persists"),
                Effect::BroadcastProposal(signed) => {
                    let position = SignedStep {
                        height: signed.proposal.height,
                        round: signed.proposal.round,
                        step: Step::Propose,
                    };
                    self.note_signed(node, position, signed.signature);
                    self.broadcast(node, signed.proposal.height, Input::Proposal(signed));
                }
                Effect::BroadcastVote(signed) => {
                    let step = if signed.vote.kind == VoteKind::Prevote { Step::Prevote } else { Step::Precommit };
                    let position = SignedStep { height: signed.vote.height, round: signed.vote.round, step };
                    self.note_signed(node, position, signed.signature);
                    self.broadcast(node, signed.vote.height, Input::Vote(signed));
                }
                Effect::ScheduleTimeout { timeout, .. } => self.timers.push_back((node, timeout)),
                Effect::RequestValue { height, round, time_unix_ms } => {
                    let value = TestValue { id: height.0 * 100 + u64::from(round) * 10 + node as u64, time_unix_ms };
                    self.queue.push_back((node, Input::ProposalValue { height, round, value }));
                }
                Effect::ValidateValue { height, value, .. } => {
                    let verdict = Input::Verdict { height, block_hash: value.block_hash(), valid: true };
                    self.queue.push_back((node, verdict));
                }
                Effect::Decide(decision) => self.commit(node, decision.value, decision.certificate),
                Effect::Evidence(evidence) => {
                    if evidence.first.vote.validator_index == SUBJECT as u32 {
                        self.evidence_against_subject += 1;
                    }
                }
            }
        }
    }

    fn note_signed(&mut self, node: usize, position: SignedStep, signature: Signature) {
        if node != SUBJECT {
            return;
        }
        let earlier = self.subject_signed.insert(position, signature);
        if earlier.is_some_and(|earlier| earlier != signature) {
            self.conflicts.push(position);
        }
    }

    fn broadcast(&mut self, from: usize, height: Height, input: Input<TestValue>) {
        if from != SUBJECT {
            self.sent_by_peers.push((height, input.clone()));
        }
        for node in (0..VALIDATORS).filter(|node| *node != from) {
            self.queue.push_back((node, input.clone()));
        }
    }

    /// Commits the decision to `node`'s chain, which survives crashes, and starts the
    /// next height unless the run is complete.
    fn commit(&mut self, node: usize, value: TestValue, certificate: CommitCertificate) {
        let chain = &mut self.chains[node];
        chain.values.push(value);
        chain.certificates.push(certificate);
        if chain.values.len() < self.heights {
            let start = self.start_of(node);
            self.queue.push_front((node, start));
        }
    }
}
