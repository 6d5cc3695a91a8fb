//! The engine's loop: it opens the durable consensus instance from the consensus
//! folder, feeds it one input at a time, and sleeps until the next timeout or height
//! start.
//!
//! # Invariants
//! - Inputs are handled one at a time in queue order, and all effects of one input are
//!   performed before the next input is handled.
//! - A stop request is honoured between inputs, never inside one: a decided block is
//!   applied and announced before the engine stops.
//! - The next height starts only after the app has committed the previous one, which
//!   the write-ahead log's rotation relies on.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use vouch_consensus::host::{DirStorage, DurableConsensus, HeightStart, HostError, WalConfig};
use vouch_consensus::{ConsensusConfig, Input, ValidatorSet, VotingPower};
use vouch_protocol::chain::{Block, BlockHash, Height, TxHash};
use vouch_protocol::keys::{PublicKey, SigningKey};

use crate::daemon::chain::ChainApp;
use crate::daemon::engine::idle::IdleTracker;
use crate::daemon::engine::start::{self, quorum_power};
use crate::daemon::engine::timers::Timers;
use crate::daemon::engine::{EngineConfig, EngineError};
use crate::daemon::mempool::Mempool;
use crate::daemon::producer::{Clock, ProducerConfig};
use crate::daemon::waiters::CommitWaiters;

/// The consensus engine of one validator.
pub struct Engine {
    pub(super) app: Arc<dyn ChainApp>,
    pub(super) mempool: Arc<Mempool>,
    pub(super) waiters: Arc<CommitWaiters>,
    pub(super) public_key: PublicKey,
    pub(super) config: EngineConfig,
    clock: Clock,
    consensus: DurableConsensus<Block, DirStorage>,
    pub(super) timers: Timers,
    pub(super) inputs: VecDeque<Input<Block>>,
    /// The validator set of the height in progress.
    pub(super) set: ValidatorSet,
    /// The transactions that each of this validator's proposals at the height in
    /// progress was built from, by block hash.
    pub(super) offered: HashMap<BlockHash, Vec<TxHash>>,
    /// The height after the decided one, until its start is due.
    pub(super) next: Option<HeightStart>,
    /// When the height in progress started; the block cadence counts from it.
    height_started: Instant,
    /// When the idle memory release is due; `None` when it is off.
    pub(super) idle: Option<IdleTracker>,
}

impl Engine {
    /// Opens the consensus folder, starts or resumes the height after the app's tip, and
    /// performs the effects of the start or of the log's replay: a replayed decision is
    /// applied before this returns.
    pub fn open(
        app: Arc<dyn ChainApp>,
        mempool: Arc<Mempool>,
        waiters: Arc<CommitWaiters>,
        key: SigningKey,
        config: EngineConfig,
        clock: Clock,
    ) -> Result<Engine, EngineError> {
        let dir = config.dir.clone();
        let storage = DirStorage::open(&dir).map_err(|source| EngineError::OpenDir { dir: dir.clone(), source })?;
        let start = start::after_tip(app.as_ref())?;
        let (height, set) = (start.height, start.validators.clone());
        let consensus_config = ConsensusConfig { chain_id: app.chain_id().clone(), timeouts: config.timeouts.clone() };
        let public_key = key.public_key();
        let opened = DurableConsensus::open(consensus_config, Some(key), WalConfig::default(), storage, clock(), start)
            .map_err(|source| EngineError::Open { dir: dir.clone(), source })?;
        tracing::info!(height = %height, validator = %public_key, recovery = ?opened.recovery, dir = %dir.display(), "consensus engine started");

        let idle_after = config.idle.map(|idle| idle.after);
        let mut engine = Engine {
            app,
            mempool,
            waiters,
            public_key,
            config,
            clock,
            consensus: opened.consensus,
            timers: Timers::default(),
            inputs: VecDeque::new(),
            set,
            offered: HashMap::new(),
            next: None,
            height_started: Instant::now(),
            idle: idle_after.map(|after| IdleTracker::new(after, Instant::now())),
        };
        engine.log_power(height);
        engine.warn_if_signed_ahead(height);
        engine.perform(opened.effects)?;
        engine.drain()?;
        Ok(engine)
    }

    /// Runs until `stop` receives a message or its sender is dropped.
    pub fn run(mut self, stop: &Receiver<()>) -> Result<(), EngineError> {
        loop {
            let wait = self.wait_time(Instant::now());
            match stop.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
            self.step(Instant::now())?;
        }
        tracing::info!(height = %self.app.tip().height, "consensus engine stopped");
        Ok(())
    }

    /// Returns the core's height: the height in progress, or the decided one until the
    /// next height starts.
    pub fn height(&self) -> Option<Height> {
        self.consensus.core().height()
    }

    /// Feeds the expired timeouts, then the next height's start when it is due.
    fn step(&mut self, now: Instant) -> Result<(), EngineError> {
        while let Some(timeout) = self.timers.pop_expired(now) {
            tracing::info!(height = %timeout.height, round = timeout.round, step = %timeout.step, "timeout expired");
            self.inputs.push_back(Input::Timeout(timeout));
            self.drain()?;
        }
        if self.next.is_some() && self.start_due(now) {
            let start = self.next.take().expect("checked above");
            self.begin_height(start);
            self.drain()?;
        }
        Ok(())
    }

    /// Queues the start of `start`'s height and makes it the height in progress.
    fn begin_height(&mut self, start: HeightStart) {
        self.height_started = Instant::now();
        self.set = start.validators.clone();
        self.offered.clear();
        self.log_power(start.height);
        let input = Input::StartHeight { height: start.height, validators: start.validators, previous: start.previous };
        self.inputs.push_back(input);
    }

    /// Handles the queued inputs and the inputs that their effects lead to.
    pub(super) fn drain(&mut self) -> Result<(), EngineError> {
        while let Some(input) = self.inputs.pop_front() {
            let height = self.height().unwrap_or(Height::GENESIS);
            match self.consensus.handle((self.clock)(), input) {
                Ok(effects) => self.perform(effects)?,
                // The core logs each input it rejects, with the reason.
                Err(HostError::Rejected(_)) => {}
                Err(error) if !error.stops_validator() => {
                    tracing::warn!(height = %height, %error, "consensus input dropped");
                }
                Err(source) => return Err(EngineError::Consensus { height, source }),
            }
        }
        Ok(())
    }

    /// Returns whether the next height may start.
    fn start_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.height_started) >= cadence(&self.config.blocks, &self.mempool)
    }

    /// Returns how long to sleep: until the next timeout or height start, and at most
    /// `blocks.interval`, so a transaction that arrives while the mempool is empty
    /// starts a block within one interval.
    fn wait_time(&self, now: Instant) -> Duration {
        let blocks = &self.config.blocks;
        let mut wait = blocks.interval;
        if self.next.is_some() {
            let since = now.saturating_duration_since(self.height_started);
            wait = wait.min(cadence(blocks, &self.mempool).saturating_sub(since));
        }
        if let Some(deadline) = self.timers.next_deadline() {
            wait = wait.min(deadline.saturating_duration_since(now));
        }
        wait
    }

    /// Warns when the double-sign guard records a signature above `height`: the core then
    /// signs nothing until consensus passes that position, which happens after the ledger
    /// was restored from an older backup or re-created from genesis.
    fn warn_if_signed_ahead(&self, height: Height) {
        let Some(signed) = self.consensus.core().last_signed().filter(|signed| signed.height > height) else {
            return;
        };
        tracing::warn!(
            height = %height,
            last_signed = %signed,
            "the double-sign guard records a signature at a later height; this validator signs nothing until consensus passes it"
        );
    }

    /// Logs, when this validator's power alone is not a quorum, that the height waits
    /// for peers' votes, with the power it has and the power a commit needs.
    fn log_power(&self, height: Height) {
        let own = self.set.index_of(&self.public_key).and_then(|index| self.set.get(index));
        let power = own.map_or(0, |validator| validator.voting_power.0);
        let total = self.set.total_power();
        if self.set.is_quorum(VotingPower(power)) {
            return;
        }
        tracing::info!(
            height = %height,
            validator = %self.public_key,
            power,
            total_power = total.0,
            quorum_power = quorum_power(total),
            validators = self.set.len(),
            "waiting for peers: this validator's voting power alone cannot commit a block"
        );
    }
}

/// Returns the time between the starts of two heights: `blocks.interval` while
/// transactions wait, otherwise `blocks.empty_interval`.
fn cadence(blocks: &ProducerConfig, mempool: &Mempool) -> Duration {
    if mempool.is_empty() { blocks.empty_interval } else { blocks.interval }
}

/// Waits before the first height as between two heights, counting from the call, so a
/// node's first block comes one block interval after its start. Returns false when
/// `stop` ended the wait.
pub fn wait_before_first_height(stop: &Receiver<()>, mempool: &Mempool, blocks: &ProducerConfig) -> bool {
    let started = Instant::now();
    // Crash tests wait for the words "block producer started" to kill the node around
    // its first block.
    tracing::info!(
        empty_interval_ms = blocks.empty_interval.as_millis() as u64,
        "block producer started; the consensus engine opens when the first height is due"
    );
    loop {
        let elapsed = started.elapsed();
        let due = cadence(blocks, mempool);
        if elapsed >= due {
            return true;
        }
        match stop.recv_timeout(blocks.interval.min(due - elapsed)) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}
