//! One simulation run: builds the validators and the fault schedule from the seed,
//! processes events in virtual-time order, and checks every property.
//!
//! # Determinism
//! All randomness comes from one ChaCha8 generator seeded with the run's seed, events
//! are ordered by (virtual time, scheduling order), and all maps are ordered maps, so
//! a seed fixes the whole run. The trace hash covers every event processed.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tracing::debug;
use vouch_consensus::staking::{GenesisError, GenesisValidator, Staking};
use vouch_consensus::{ConsensusConfig, ProposerSchedule, ValidatorSet};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::{PublicKey, SigningKey};
use vouch_protocol::signing::ChainId;

use crate::byzantine::Byzantine;
use crate::checks::{Checker, Failure};
use crate::config::{Adversary, FaultMix, STAKE_PER_POWER, SimConfig, SimConfigError, Stakes};
use crate::network::{Network, duration_ms};
use crate::node::{Action, CommitReport, Node};
use crate::packet::Packet;
use crate::queue::{Event, EventQueue};
use crate::report::{HeightRounds, RunReport};
use crate::workload::Workload;

/// The chain id of every simulated network.
pub const CHAIN_ID: &str = "vouch-sim";

/// Runs `config` from `seed` and returns the report; every check ran on it.
pub fn run(config: &SimConfig, seed: u64) -> Result<RunReport, SimConfigError> {
    config.validate()?;
    let mut simulation = Simulation::new(config.clone(), seed);
    simulation.schedule_faults();
    simulation.start_validators();
    simulation.process_events();
    Ok(simulation.finish())
}

struct Simulation {
    config: SimConfig,
    seed: u64,
    rng: ChaCha8Rng,
    queue: EventQueue,
    network: Network,
    nodes: Vec<Node>,
    keys: Vec<SigningKey>,
    honest: Vec<bool>,
    /// Validators that run at all; the others are down for the whole run.
    online: Vec<bool>,
    /// The validator set of each height, as the first honest commit of it computed it.
    sets: BTreeMap<Height, ValidatorSet>,
    checker: Checker,
    byzantine: Byzantine,
    trace: blake3::Hasher,
    now_ms: u64,
    events: u64,
    out_of_events: bool,
    latencies_ms: Vec<u64>,
    rounds: BTreeMap<Height, u32>,
    crashes: u32,
    power_cuts: u32,
    partitions: u32,
}

impl Simulation {
    fn new(config: SimConfig, seed: u64) -> Simulation {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let chain_id = ChainId::new(CHAIN_ID).expect("the simulator's chain id is valid");
        let count = config.nodes();
        let keys: Vec<SigningKey> = (0..count).map(|index| validator_key(seed, index)).collect();
        let powers: Vec<u64> = match config.stakes {
            Stakes::Equal => vec![1; config.validators],
            Stakes::Random => (0..config.validators).map(|_| rng.random_range(1..=10u64)).collect(),
        };
        let mut honest = choose_honest(&config, &powers);
        let mut online = choose_online(&config, &honest);
        honest.resize(count, true);
        online.resize(count, true);

        let public_keys: Vec<PublicKey> = keys.iter().map(SigningKey::public_key).collect();
        let staking = genesis_staking(&config, &public_keys, &powers, &chain_id);
        let workload = workload(&config, seed, &public_keys, &honest, &online);
        let consensus_config = ConsensusConfig { chain_id: chain_id.clone(), timeouts: config.timeouts.clone() };
        let nodes = (0..count)
            .map(|index| {
                let key = validator_key(seed, index);
                Node::new(index, key, consensus_config.clone(), staking.clone(), workload.clone())
            })
            .collect();
        debug!(seed, ?powers, ?honest, ?online, faults = %config.faults, "simulation built");

        Simulation {
            network: Network::new(config.latency),
            byzantine: Byzantine::new(config.adversary, chain_id.clone(), &honest),
            checker: Checker::new(chain_id, honest.clone(), public_keys),
            sets: BTreeMap::new(),
            config,
            seed,
            rng,
            queue: EventQueue::default(),
            nodes,
            keys,
            honest,
            online,
            trace: blake3::Hasher::new(),
            now_ms: 0,
            events: 0,
            out_of_events: false,
            latencies_ms: Vec::new(),
            rounds: BTreeMap::new(),
            crashes: 0,
            power_cuts: 0,
            partitions: 0,
        }
    }

    fn faults_until_ms(&self) -> u64 {
        duration_ms(self.config.faults_until)
    }

    /// Schedules partitions, crashes and lossy links, all before the faults stop.
    fn schedule_faults(&mut self) {
        let until = self.faults_until_ms();
        let faults = self.config.faults;
        if faults.drops {
            self.network.lossy = true;
        }
        if faults.partitions {
            self.schedule_partitions(until);
        }
        if faults.crashes {
            self.schedule_crashes(until);
        }
        self.queue.push(until, Event::Heal);
    }

    fn schedule_partitions(&mut self, until: u64) {
        let mut cursor = self.rng.random_range(0..2_000u64);
        while cursor < until {
            let length = self.rng.random_range(500..=5_000u64);
            let mut side: Vec<bool> = (0..self.nodes.len()).map(|_| self.rng.random_bool(0.5)).collect();
            // Both sides keep at least one validator.
            side[0] = true;
            side[1] = false;
            self.queue.push(cursor, Event::Partition { side });
            self.queue.push((cursor + length).min(until), Event::Heal);
            cursor += length + self.rng.random_range(1_000..=4_000u64);
        }
    }

    fn schedule_crashes(&mut self, until: u64) {
        let candidates: Vec<usize> =
            (0..self.nodes.len()).filter(|index| self.honest[*index] && self.online[*index]).collect();
        for _ in 0..self.rng.random_range(1..=3u32) {
            let node = candidates[self.rng.random_range(0..candidates.len())];
            let at = self.rng.random_range(0..until.max(1));
            let down = self.rng.random_range(200..=5_000u64);
            // Half of the crashes happen in the middle of an input, a few storage
            // operations into it.
            let operations_left = self.rng.random_bool(0.5).then(|| self.rng.random_range(0..=6u64));
            self.queue.push(at, Event::Crash { node, operations_left });
            self.queue.push((at + down).min(until), Event::Restart { node });
        }
    }

    fn start_validators(&mut self) {
        for node in 0..self.nodes.len() {
            if self.online[node] {
                self.restart(node);
            }
        }
    }

    fn process_events(&mut self) {
        let time_limit = self.time_limit_ms();
        while let Some((time_ms, sequence, event)) = self.queue.pop() {
            if time_ms > time_limit {
                break;
            }
            if self.events >= self.config.events_max {
                self.out_of_events = true;
                break;
            }
            self.now_ms = time_ms;
            self.events += 1;
            self.hash_event(time_ms, sequence, &event);
            self.handle(event);
            if self.checker.safety_failed() || self.finished() {
                break;
            }
        }
    }

    /// Returns the virtual time after which a run that has not finished fails.
    fn time_limit_ms(&self) -> u64 {
        let bound = duration_ms(self.config.liveness_bound());
        self.faults_until_ms() + bound.saturating_mul(self.config.heights + 2)
    }

    /// Returns whether every running honest validator has committed the configured
    /// heights and, when faults were on, a height after they stopped.
    fn finished(&self) -> bool {
        let heights = self.config.heights;
        let stable_from_ms = self.stable_from_ms();
        let done = |node: &Node| {
            let after_faults = node.chain.last().is_some_and(|last| last.at_ms > stable_from_ms || stable_from_ms == 0);
            node.chain.len() as u64 >= heights && after_faults
        };
        let committed = (0..self.nodes.len())
            .filter(|index| self.honest[*index] && self.online[*index])
            .all(|index| done(&self.nodes[index]));
        committed && self.checker.evidence_pending() == 0
    }

    /// Returns the virtual time from which liveness is required: when the faults stop,
    /// or 0 for a run without faults.
    fn stable_from_ms(&self) -> u64 {
        if self.config.faults == FaultMix::default() { 0 } else { self.faults_until_ms() }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { to, from, packet } => {
                let actions = self.nodes[to].receive(self.now_ms, from, &packet);
                self.perform(to, actions);
            }
            Event::Timer { node, incarnation, timeout } => {
                if self.nodes[node].incarnation == incarnation {
                    let actions = self.nodes[node].timer(self.now_ms, timeout);
                    self.perform(node, actions);
                }
            }
            Event::Gossip { node, incarnation } => {
                if self.nodes[node].incarnation == incarnation && self.nodes[node].is_up() {
                    let actions = self.nodes[node].gossip();
                    self.perform(node, actions);
                    let next = self.now_ms + duration_ms(self.config.gossip_interval);
                    self.queue.push(next, Event::Gossip { node, incarnation });
                }
            }
            Event::Crash { node, operations_left } => match operations_left {
                _ if !self.nodes[node].is_up() => {}
                Some(operations) => self.nodes[node].cut_power_after(operations),
                None => self.crash(node),
            },
            Event::Restart { node } => {
                if !self.nodes[node].is_up() {
                    self.restart(node);
                } else if self.nodes[node].cancel_power_cut() {
                    debug!(
                        seed = self.seed,
                        validator = node,
                        "validator wrote nothing before its restart time; the power cut is cancelled"
                    );
                }
            }
            Event::Partition { side } => {
                debug!(seed = self.seed, ?side, time_ms = self.now_ms, "network partitioned");
                self.network.partition = Some(side);
                self.partitions += 1;
            }
            Event::Heal => {
                self.network.partition = None;
                if self.now_ms >= self.faults_until_ms() {
                    self.network.lossy = false;
                }
            }
        }
    }

    fn crash(&mut self, node: usize) {
        debug!(seed = self.seed, validator = node, time_ms = self.now_ms, "validator crashed");
        self.nodes[node].crash(&mut self.rng);
        self.crashes += 1;
    }

    /// Starts a validator's process from its storage, with a new gossip schedule. A
    /// failure to start is a failure of the run.
    fn restart(&mut self, node: usize) {
        let actions = match self.nodes[node].start(self.now_ms) {
            Ok(actions) => actions,
            Err(error) => {
                self.checker.failures.push(Failure::Restart { validator: node, reason: error.to_string() });
                return;
            }
        };
        self.perform(node, actions);
        let first = self.now_ms + self.rng.random_range(0..=duration_ms(self.config.gossip_interval));
        let incarnation = self.nodes[node].incarnation;
        self.queue.push(first, Event::Gossip { node, incarnation });
    }

    fn perform(&mut self, node: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Broadcast(packet) => self.broadcast(node, packet),
                Action::Send { to, packet } => self.send(node, to, packet),
                Action::Timer { at_ms, timeout } => {
                    let incarnation = self.nodes[node].incarnation;
                    self.queue.push(at_ms, Event::Timer { node, incarnation, timeout });
                }
                Action::Committed(report) => {
                    if self.honest[node] {
                        self.on_commit(node, *report);
                    }
                }
                Action::InvalidBlock { height, reason } => {
                    if self.honest[node] {
                        self.checker.failures.push(Failure::InvalidBlock { height, validator: node, reason });
                    }
                }
                Action::Evidence { offence, culprit } => {
                    if self.honest[node] {
                        self.checker.on_evidence(offence, &culprit, self.now_ms);
                    }
                }
                Action::PowerLost => {
                    self.power_cuts += 1;
                    self.crash(node);
                }
            }
        }
    }

    fn on_commit(&mut self, node: usize, report: CommitReport) {
        let height = report.height;
        self.checker.on_commit(node, height, &report.value, &report.certificate, &report.set);
        self.checker.on_stake(node, &report, self.now_ms);
        if !report.synced {
            self.latencies_ms.push(report.latency_ms);
        }
        self.rounds.entry(height).or_insert(report.certificate.round);
        self.sets.entry(height).or_insert(report.set);
    }

    fn broadcast(&mut self, from: usize, packet: Packet) {
        let rewritten = !self.honest[from] && matches!(packet, Packet::Proposal(_) | Packet::Vote(_));
        if !rewritten {
            self.checker.on_send(from, &packet);
            for to in (0..self.nodes.len()).filter(|to| *to != from) {
                self.route(from, to, packet.clone());
            }
            return;
        }
        let deliveries = self.byzantine.rewrite(&mut self.rng, from, &self.keys[from], packet, self.nodes.len());
        for (to, packet) in deliveries {
            self.checker.on_send(from, &packet);
            self.route(from, to, packet);
        }
    }

    fn send(&mut self, from: usize, to: usize, packet: Packet) {
        self.checker.on_send(from, &packet);
        self.route(from, to, packet);
    }

    fn route(&mut self, from: usize, to: usize, packet: Packet) {
        for arrival in self.network.route(&mut self.rng, self.now_ms, from, to) {
            self.queue.push(arrival, Event::Deliver { to, from, packet: packet.clone() });
        }
    }

    fn hash_event(&mut self, time_ms: u64, sequence: u64, event: &Event) {
        let trace = &mut self.trace;
        trace.update(&time_ms.to_le_bytes());
        trace.update(&sequence.to_le_bytes());
        match event {
            Event::Deliver { to, from, packet } => {
                trace.update(&[0, *to as u8, *from as u8]);
                packet.hash_into(trace);
            }
            Event::Timer { node, incarnation, timeout } => {
                trace.update(&[1, *node as u8]);
                trace.update(&incarnation.to_le_bytes());
                trace.update(&timeout.height.0.to_le_bytes());
                trace.update(&timeout.round.to_le_bytes());
                trace.update(&[timeout.step as u8]);
            }
            Event::Gossip { node, incarnation } => {
                trace.update(&[2, *node as u8]);
                trace.update(&incarnation.to_le_bytes());
            }
            Event::Crash { node, operations_left } => {
                trace.update(&[3, *node as u8]);
                trace.update(&operations_left.map_or(u64::MAX, |operations| operations).to_le_bytes());
            }
            Event::Restart { node } => {
                trace.update(&[4, *node as u8]);
            }
            Event::Partition { side } => {
                trace.update(&[5]);
                trace.update(&side.iter().map(|side| u8::from(*side)).collect::<Vec<u8>>());
            }
            Event::Heal => {
                trace.update(&[6]);
            }
        }
    }

    fn finish(mut self) -> RunReport {
        if self.out_of_events {
            self.checker.failures.push(Failure::EventBudget { events: self.events });
        }
        if !self.checker.safety_failed() {
            self.check_liveness();
            let bound_ms = duration_ms(self.config.evidence_bound());
            self.checker.check_evidence(self.stable_from_ms(), bound_ms);
        }
        let running = (0..self.nodes.len()).filter(|index| self.honest[*index] && self.online[*index]);
        let heights_committed = running.map(|index| self.nodes[index].chain.len() as u64).min().unwrap_or(0);
        let rounds = self.height_rounds();
        let signature_checks =
            self.checker.signature_checks + self.nodes.iter().map(|node| node.signature_checks).sum::<u64>();

        RunReport {
            seed: self.seed,
            trace_hash: *self.trace.finalize().as_bytes(),
            committed: self.checker.committed(),
            heights_committed,
            commit_latencies_ms: self.latencies_ms,
            rounds,
            events: self.events,
            virtual_ms: self.now_ms,
            failures: self.checker.failures,
            signature_checks,
            misbehaviour: self.byzantine.counts,
            crashes: self.crashes,
            power_cuts: self.power_cuts,
            partitions: self.partitions,
            stake: self.checker.stake,
            validators_last: self.sets.values().next_back().map_or(0, ValidatorSet::len),
        }
    }

    fn check_liveness(&mut self) {
        let stable_from_ms = self.stable_from_ms();
        let bound_ms = duration_ms(self.config.liveness_bound());
        for index in 0..self.nodes.len() {
            if self.honest[index] && self.online[index] {
                let times: Vec<u64> = self.nodes[index].chain.iter().map(|committed| committed.at_ms).collect();
                self.checker.check_liveness(index, &times, stable_from_ms, bound_ms, self.config.heights);
            }
        }
    }

    /// Returns the deciding round of each height with its first proposer's node index.
    fn height_rounds(&mut self) -> Vec<HeightRounds> {
        let mut rounds = Vec::new();
        for (height, round) in &self.rounds {
            let Some(set) = self.sets.get(height) else {
                continue;
            };
            let index = ProposerSchedule::new(set).proposer(0);
            let proposer = set.get(index).expect("the schedule picks a member").public_key;
            let node = self.keys.iter().position(|key| key.public_key() == proposer);
            let first_proposer = node.expect("every validator is a simulated node") as u32;
            rounds.push(HeightRounds { height: *height, round: *round, first_proposer });
        }
        rounds
    }
}

/// Returns validator `index`'s key for runs of `seed`.
fn validator_key(seed: u64, index: usize) -> SigningKey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"vouch-sim validator key");
    hasher.update(&seed.to_le_bytes());
    hasher.update(&(index as u64).to_le_bytes());
    SigningKey::from_seed(hasher.finalize().as_bytes())
}

/// Returns the stake of the genesis: each validator bonds its power in stake. A genesis
/// that gives one validator 1/3 or more of the power is allowed when the seed drew it,
/// and then the whole run allows such sets.
fn genesis_staking(config: &SimConfig, keys: &[PublicKey], powers: &[u64], chain_id: &ChainId) -> Staking {
    let validators: Vec<GenesisValidator> = keys
        .iter()
        .zip(powers)
        .map(|(public_key, power)| GenesisValidator { public_key: *public_key, self_bond: power * STAKE_PER_POWER })
        .collect();
    let build = |allowed| {
        Staking::genesis(config.staking_params(allowed), chain_id.clone(), crate::node::GENESIS_MS, &validators)
    };
    match build(false) {
        Err(GenesisError::DominantValidator { .. }) => build(true),
        other => other,
    }
    .expect("simulated genesis validators have distinct keys and stakes of 1 to 10 units")
}

/// Returns the staking workload: it acts for honest running nodes and guards the power
/// of Byzantine and offline ones.
fn workload(config: &SimConfig, seed: u64, keys: &[PublicKey], honest: &[bool], online: &[bool]) -> Workload {
    let actors = (0..keys.len()).filter(|index| honest[*index] && online[*index]).map(|index| keys[index]).collect();
    let suspects =
        (0..keys.len()).filter(|index| !honest[*index] || !online[*index]).map(|index| keys[index]).collect();
    Workload::new(seed, config.staking_operations, actors, suspects)
}

/// Returns which validators are honest. Without Byzantine faults all are. Otherwise
/// the Byzantine ones are a minority of least power under 1/3 of the total, or the
/// split-brain coalition of the highest indexes.
fn choose_honest(config: &SimConfig, powers: &[u64]) -> Vec<bool> {
    let mut honest = vec![true; powers.len()];
    if !config.faults.byzantine {
        return honest;
    }
    match config.adversary {
        Adversary::SplitBrain { count } => {
            for flag in honest.iter_mut().rev().take(count) {
                *flag = false;
            }
        }
        Adversary::Minority => {
            let total: u64 = powers.iter().sum();
            let mut by_power: Vec<usize> = (0..powers.len()).collect();
            by_power.sort_by_key(|index| (powers[*index], *index));
            let mut byzantine_power = 0;
            for index in by_power.into_iter().take((powers.len() - 1) / 3) {
                if 3 * (byzantine_power + powers[index]) >= total {
                    break;
                }
                byzantine_power += powers[index];
                honest[index] = false;
            }
        }
    }
    honest
}

/// Returns which validators run: all but `offline` honest ones of the highest indexes.
fn choose_online(config: &SimConfig, honest: &[bool]) -> Vec<bool> {
    let mut online = vec![true; honest.len()];
    let offline = (0..honest.len()).rev().filter(|index| honest[*index]).take(config.offline);
    for index in offline {
        online[index] = false;
    }
    online
}
