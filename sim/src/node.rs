//! A simulated validator's host: its durable consensus instance over crashable
//! in-memory storage, its committed chain with the stake it leads to, its evidence
//! pool, its application, and catching up from peers' commits.
//!
//! The host turns each event into inputs for the instance and each effect into an
//! [`Action`] for the simulation: messages to send, timers to set, decisions to check.
//! Each validator computes its own validator sets from its own chain, so the checks can
//! compare them.

use std::collections::VecDeque;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use tracing::debug;
use vouch_consensus::host::{DurableConsensus, HeightStart, HostError, MemoryStorage, PowerSwitch, WalConfig};
use vouch_consensus::staking::{BlockOutcome, BlockPosition, Staking};
use vouch_consensus::{
    CommitCertificate, ConsensusConfig, Effect, Equivocation, EvidenceKey, Input, PreviousBlock, Timeout, ValidatorSet,
    Value,
};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::{PublicKey, SigningKey};

use crate::packet::{CommitMessage, Message, Packet};
use crate::pool::EvidencePool;
use crate::value::{Contents, SimBlock};
use crate::workload::Workload;

/// The genesis block time of every simulated chain.
pub const GENESIS_MS: u64 = 1_700_000_000_000;

/// The clock that hosts feed to their cores.
// NOTE: every core reads the genesis time as its clock, so honest votes carry the block
// time plus 1 ms and any certificate of a height gives the same next block time. With
// clocks that differ, two validators that decide one block with different sets of
// precommits compute different block times for the next height. They then reject each
// other's proposals, because the core takes the time from the host's certificate and
// not from one that the proposal carries.
pub const CORE_CLOCK_MS: u64 = GENESIS_MS;

/// Own messages of the current height kept for sending again; older ones are dropped.
/// Three messages a round make this about 340 rounds.
const OWN_PACKETS_MAX: usize = 1024;

/// Messages of the next height kept until the validator starts it; later ones are
/// dropped, and gossip sends them again.
const NEXT_HEIGHT_INPUTS_MAX: usize = 256;

/// A block in a validator's committed chain.
#[derive(Clone, Debug)]
pub struct Committed {
    pub value: SimBlock,
    pub certificate: CommitCertificate,
    /// The virtual time of the commit.
    pub at_ms: u64,
}

/// An operation that the simulation performs on behalf of a validator.
#[derive(Debug)]
pub enum Action {
    /// Send to every other validator.
    Broadcast(Packet),
    /// Send to one validator.
    Send { to: usize, packet: Packet },
    /// Deliver the timeout back at this virtual time.
    Timer { at_ms: u64, timeout: Timeout },
    /// The validator committed a block, by its own decision or from a peer's commit,
    /// with the set of its height.
    Committed(Box<CommitReport>),
    /// The validator decided a block that its stake rejects; it did not commit it.
    InvalidBlock { height: Height, reason: String },
    /// The validator's core reported two conflicting votes of `culprit`, and the
    /// validator put the evidence into its pool.
    Evidence { offence: EvidenceKey, culprit: PublicKey },
    /// A storage operation failed because the power went out; the process is dead.
    PowerLost,
}

/// A committed block and what it did to the stake, for the checks.
#[derive(Debug)]
pub struct CommitReport {
    pub height: Height,
    pub value: SimBlock,
    pub certificate: CommitCertificate,
    pub synced: bool,
    pub latency_ms: u64,
    /// The validator set of `height`.
    pub set: ValidatorSet,
    pub outcome: BlockOutcome,
    /// The set of `height + 2`, which the block fixed.
    pub fixed_set: ValidatorSet,
}

/// One simulated validator.
#[derive(Debug)]
pub struct Node {
    pub index: usize,
    key: SigningKey,
    config: ConsensusConfig,
    engine: Option<DurableConsensus<SimBlock, MemoryStorage>>,
    /// The storage while the validator is down.
    stored: Option<MemoryStorage>,
    /// Cuts the storage's power in the middle of an input.
    power: PowerSwitch,
    /// Bumped at each crash, so timers of an earlier run of the process are ignored.
    pub incarnation: u32,
    /// The committed chain; the application stores it durably before it starts the
    /// next height, so it survives crashes.
    pub chain: Vec<Committed>,
    /// The stake after the committed chain, which survives crashes with it.
    staking: Staking,
    /// Evidence not yet committed, stored durably.
    pool: EvidencePool,
    workload: Workload,
    /// Own signed messages of the current height, sent again at each gossip.
    own: Vec<Packet>,
    /// Proposals and votes of the next height, which arrive when a peer decided the
    /// current height first.
    next_height: Vec<Input<SimBlock>>,
    height_started_ms: u64,
    /// Signature checks the core made or will make for this validator's inputs: an
    /// upper bound, since the core skips repeated votes before checking.
    pub signature_checks: u64,
}

impl Node {
    /// Builds a validator that is down until [`Node::start`], with the genesis stake.
    pub fn new(index: usize, key: SigningKey, config: ConsensusConfig, staking: Staking, workload: Workload) -> Node {
        let storage = MemoryStorage::new();
        Node {
            index,
            key,
            config,
            engine: None,
            power: storage.power_switch(),
            stored: Some(storage),
            incarnation: 0,
            chain: Vec::new(),
            staking,
            pool: EvidencePool::default(),
            workload,
            own: Vec::new(),
            next_height: Vec::new(),
            height_started_ms: 0,
            signature_checks: 0,
        }
    }

    /// Returns whether the validator's process runs.
    pub fn is_up(&self) -> bool {
        self.engine.is_some()
    }

    /// Returns the height in progress, after the committed chain.
    pub fn height(&self) -> Height {
        Height(self.chain.len() as u64 + 1)
    }

    /// Starts the process from its storage: replays its log or starts the next height.
    pub fn start(&mut self, now_ms: u64) -> Result<Vec<Action>, HostError> {
        let storage = self.stored.take().expect("a validator that is down keeps its storage");
        let start = self.height_start();
        let key = Some(SigningKey::from_seed(&self.key.seed()));
        let opened =
            DurableConsensus::open(self.config.clone(), key, WalConfig::default(), storage, CORE_CLOCK_MS, start)?;
        debug!(validator = self.index, height = %self.height(), recovery = ?opened.recovery, "validator started");
        self.engine = Some(opened.consensus);
        self.own.clear();
        self.height_started_ms = now_ms;
        let mut actions = Vec::new();
        let mut inputs = VecDeque::new();
        self.perform(now_ms, opened.effects, &mut inputs, &mut actions);
        self.run(now_ms, inputs, &mut actions);
        Ok(actions)
    }

    /// Cuts the power: unsynced writes are lost except a random torn prefix.
    pub fn crash(&mut self, rng: &mut ChaCha8Rng) {
        let Some(engine) = self.engine.take() else {
            return;
        };
        let mut storage = engine.into_storage();
        storage.crash(|_, unsynced| rng.random_range(0..=unsynced));
        self.stored = Some(storage);
        self.incarnation += 1;
        self.own.clear();
        self.next_height.clear();
    }

    /// Makes the storage lose power after `operations` more operations, so the process
    /// dies in the middle of an input.
    pub fn cut_power_after(&self, operations: u64) {
        self.power.cut_after(operations);
    }

    /// Cancels a power cut before any storage operation failed from it, and returns
    /// whether there was one.
    pub fn cancel_power_cut(&self) -> bool {
        self.power.cancel()
    }

    /// Handles a packet from validator `from`.
    pub fn receive(&mut self, now_ms: u64, from: usize, packet: &Packet) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.is_up() {
            return actions;
        }
        let Ok(message) = packet.decode() else {
            return actions;
        };
        let (height, input) = match message {
            Message::Proposal(signed) => (signed.proposal.height, Input::Proposal(signed)),
            Message::Vote(signed) => (signed.vote.height, Input::Vote(signed)),
            Message::Status { height } => {
                if let Some(committed) = self.committed_at(height) {
                    let packet = Packet::commit(&committed.value, &committed.certificate);
                    actions.push(Action::Send { to: from, packet });
                }
                return actions;
            }
            Message::Commit(commit) => {
                self.catch_up(now_ms, commit, &mut actions);
                return actions;
            }
            Message::Evidence(evidence) => {
                self.signature_checks += 2;
                self.pool.admit(evidence, &self.config.chain_id, &self.staking, self.height());
                return actions;
            }
        };
        if height.0 == self.height().0 + 1 {
            if self.next_height.len() < NEXT_HEIGHT_INPUTS_MAX {
                self.next_height.push(input);
            }
            return actions;
        }
        self.signature_checks += 1;
        self.run(now_ms, VecDeque::from([input]), &mut actions);
        actions
    }

    /// Handles an expired timeout.
    pub fn timer(&mut self, now_ms: u64, timeout: Timeout) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.is_up() {
            self.run(now_ms, VecDeque::from([Input::Timeout(timeout)]), &mut actions);
        }
        actions
    }

    /// Returns the gossip of this validator: its status, its own messages of the
    /// current height and its pending evidence.
    pub fn gossip(&self) -> Vec<Action> {
        if !self.is_up() {
            return Vec::new();
        }
        let mut actions = vec![Action::Broadcast(Packet::Status { height: self.height() })];
        actions.extend(self.own.iter().cloned().map(Action::Broadcast));
        actions.extend(self.pool.packets().map(Action::Broadcast));
        actions
    }

    fn committed_at(&self, height: Height) -> Option<&Committed> {
        let index = usize::try_from(height.0).ok()?.checked_sub(1)?;
        self.chain.get(index)
    }

    fn height_start(&self) -> HeightStart {
        let height = self.height();
        let previous = match self.chain.last() {
            None => PreviousBlock::Genesis { time_unix_ms: GENESIS_MS },
            Some(last) => PreviousBlock::Committed {
                certificate: last.certificate.clone(),
                validators: self.set_at(last.certificate.height).clone(),
            },
        };
        HeightStart { height, validators: self.set_at(height).clone(), previous }
    }

    /// Returns the set of `height`, from the height before the last committed one up to
    /// two heights after it.
    fn set_at(&self, height: Height) -> &ValidatorSet {
        self.staking.validators_at(height).expect("the stake keeps the sets of the heights around the chain's end")
    }

    /// Returns whether `value` is valid as the next block: well formed, and its
    /// evidence and operation count accepted by the stake.
    fn accepts(&self, height: Height, value: &SimBlock) -> bool {
        if !value.is_valid_at(height) {
            return false;
        }
        let at = BlockPosition { height, time_unix_ms: value.time_unix_ms };
        self.staking.check_block(at, &value.evidence, &value.operations).is_ok()
    }

    /// Builds this validator's value for `height` and `round`.
    fn build_value(&self, height: Height, round: u32, time_unix_ms: u64) -> SimBlock {
        let at = BlockPosition { height, time_unix_ms };
        let proposer = self.index as u32;
        let contents = Contents {
            payload: height.0 << 20 | u64::from(round) << 8 | self.index as u64,
            operations: self.workload.operations(&self.staking, at, round, proposer),
            evidence: self.pool.for_block(&self.staking, at),
        };
        SimBlock::new(height, round, proposer, time_unix_ms, contents)
    }

    /// Feeds inputs, and the inputs that their effects lead to, until none is left.
    fn run(&mut self, now_ms: u64, mut inputs: VecDeque<Input<SimBlock>>, actions: &mut Vec<Action>) {
        while let Some(input) = inputs.pop_front() {
            let Some(engine) = self.engine.as_mut() else {
                return;
            };
            match engine.handle(CORE_CLOCK_MS, input) {
                Ok(effects) => self.perform(now_ms, effects, &mut inputs, actions),
                Err(error) if !error.stops_validator() => {}
                Err(HostError::Storage { .. }) if self.power.is_cut() => {
                    actions.push(Action::PowerLost);
                    return;
                }
                Err(error) => {
                    panic!("validator {} stopped on an error that no injected fault explains: {error}", self.index)
                }
            }
        }
    }

    fn perform(
        &mut self,
        now_ms: u64,
        effects: Vec<Effect<SimBlock>>,
        inputs: &mut VecDeque<Input<SimBlock>>,
        actions: &mut Vec<Action>,
    ) {
        for effect in effects {
            match effect {
                Effect::PersistSigned(_) => unreachable!("the durable instance persists signatures itself"),
                Effect::BroadcastProposal(signed) => self.send_own(Packet::proposal(&signed), actions),
                Effect::BroadcastVote(signed) => self.send_own(Packet::vote(&signed), actions),
                Effect::ScheduleTimeout { timeout, duration } => {
                    let at_ms = now_ms + crate::network::duration_ms(duration);
                    actions.push(Action::Timer { at_ms, timeout });
                }
                Effect::RequestValue { height, round, time_unix_ms } => {
                    let value = self.build_value(height, round, time_unix_ms);
                    inputs.push_back(Input::ProposalValue { height, round, value });
                }
                Effect::ValidateValue { height, value, .. } => {
                    let valid = self.accepts(height, &value);
                    inputs.push_back(Input::Verdict { height, block_hash: value.block_hash(), valid });
                }
                Effect::Decide(decision) => {
                    let commit = CommitMessage { value: decision.value, certificate: decision.certificate };
                    self.commit(now_ms, commit, false, inputs, actions);
                }
                Effect::Evidence(evidence) => self.detect(evidence, actions),
            }
        }
    }

    /// Puts evidence from the core into the pool and sends it to every peer.
    fn detect(&mut self, evidence: Equivocation, actions: &mut Vec<Action>) {
        let vote = evidence.first.vote;
        let members = self.staking.members_at(vote.height);
        let culprit =
            members.and_then(|members| members.get(vote.validator_index as usize)).map(|member| member.public_key);
        let offence = self.pool.admit(evidence, &self.config.chain_id, &self.staking, self.height());
        if let (Some(offence), Some(culprit)) = (offence, culprit) {
            debug!(validator = self.index, %offence, "double sign detected");
            actions.push(Action::Evidence { offence, culprit });
            actions.push(Action::Broadcast(Packet::evidence(&evidence)));
        }
    }

    fn send_own(&mut self, packet: Packet, actions: &mut Vec<Action>) {
        if self.own.len() >= OWN_PACKETS_MAX {
            self.own.remove(0);
        }
        self.own.push(packet.clone());
        actions.push(Action::Broadcast(packet));
    }

    /// Commits a peer's decision of the height in progress, after checking it.
    fn catch_up(&mut self, now_ms: u64, commit: CommitMessage, actions: &mut Vec<Action>) {
        let height = commit.certificate.height;
        if height != self.height() || commit.value.block_hash() != commit.certificate.block_hash {
            return;
        }
        if !self.accepts(height, &commit.value) {
            return;
        }
        self.signature_checks += commit.certificate.precommits.len() as u64;
        if commit.certificate.verify(&self.config.chain_id, self.set_at(height)).is_err() {
            return;
        }
        let mut inputs = VecDeque::new();
        self.commit(now_ms, commit, true, &mut inputs, actions);
        self.run(now_ms, inputs, actions);
        // Ask again at once, in case the peers are further ahead.
        actions.push(Action::Broadcast(Packet::Status { height: self.height() }));
    }

    /// Appends the block to the chain, applies it to the stake and queues the start of
    /// the next height.
    fn commit(
        &mut self,
        now_ms: u64,
        commit: CommitMessage,
        synced: bool,
        inputs: &mut VecDeque<Input<SimBlock>>,
        actions: &mut Vec<Action>,
    ) {
        let height = commit.certificate.height;
        debug_assert_eq!(height, self.height(), "a validator commits the height in progress");
        let set = self.set_at(height).clone();
        let at = BlockPosition { height, time_unix_ms: commit.value.time_unix_ms };
        let outcome = match self.staking.apply_block(at, &commit.value.evidence, &commit.value.operations) {
            Ok(outcome) => outcome,
            Err(error) => {
                actions.push(Action::InvalidBlock { height, reason: error.to_string() });
                return;
            }
        };
        self.pool.prune(&self.staking);
        actions.push(Action::Committed(Box::new(CommitReport {
            height,
            value: commit.value.clone(),
            certificate: commit.certificate.clone(),
            synced,
            latency_ms: now_ms - self.height_started_ms,
            set,
            outcome,
            fixed_set: self.set_at(Height(height.0 + 2)).clone(),
        })));
        self.chain.push(Committed { value: commit.value, certificate: commit.certificate, at_ms: now_ms });

        self.own.clear();
        self.height_started_ms = now_ms;
        self.signature_checks += self.chain.last().map_or(0, |last| last.certificate.precommits.len() as u64);
        let start = self.height_start();
        inputs.push_back(Input::StartHeight {
            height: start.height,
            validators: start.validators,
            previous: start.previous,
        });
        self.signature_checks += self.next_height.len() as u64;
        inputs.extend(self.next_height.drain(..));
    }
}
