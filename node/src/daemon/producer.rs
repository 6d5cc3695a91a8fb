//! The block producer of a single-validator chain: on each interval it builds a block
//! from the mempool, signs its precommit with the node key, applies it and tells the
//! waiting submissions.
//!
//! The producer runs on its own thread, because proposing and applying a block is
//! blocking work (signature checks, policy evaluation, a database flush) that must not
//! stall the HTTP API's tasks.
//!
//! # Invariants
//! - Each block's height is the previous tip's height plus one, and the app's tip
//!   after applying it is that block; a violation stops the producer.
//! - A stop request is honoured between blocks, never inside one: the block being
//!   applied is finished first.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use vouch_protocol::chain::{Block, Commit, CommitSignature, Height, Precommit, TxHash};
use vouch_protocol::keys::SigningKey;

use crate::daemon::chain::{AppError, ChainApp};
use crate::daemon::mempool::Mempool;
use crate::daemon::waiters::{CommitWaiters, TxFate};

/// The commit round of every block of a single-validator chain.
const ROUND: u32 = 0;

/// The position of this node in the validator set of a single-validator chain.
const VALIDATOR_INDEX: u32 = 0;

/// A source of wall-clock time in Unix milliseconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Returns the system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
    })
}

/// When and how large the producer builds blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Time between the starts of two blocks while transactions wait.
    pub interval: Duration,
    /// Maximum time without a block, after which an empty block is built.
    pub empty_interval: Duration,
    /// Maximum number of transactions offered to one block.
    pub txs_max: usize,
    /// Maximum total size of the transactions offered to one block, in bytes.
    pub bytes_max: usize,
}

/// The reason the producer stopped before shutdown.
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    #[error("proposing the block at height {height} failed: {source}")]
    Propose {
        height: Height,
        #[source]
        source: AppError,
    },
    #[error("applying the block at height {height} failed: {source}")]
    Apply {
        height: Height,
        #[source]
        source: AppError,
    },
    #[error("the app proposed a block at height {proposed}, but the next height is {expected}")]
    WrongHeight { expected: Height, proposed: Height },
    #[error("after applying the block at height {applied}, the app's tip is at height {tip}")]
    TipNotAdvanced { applied: Height, tip: Height },
}

/// The contents of one produced block, for logs and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducedBlock {
    /// The block's height.
    pub height: Height,
    /// The transactions the block committed.
    pub included: Vec<TxHash>,
    /// The transactions offered to the block that it left out.
    pub dropped: Vec<TxHash>,
}

/// Builds and applies blocks.
pub struct Producer {
    app: Arc<dyn ChainApp>,
    mempool: Arc<Mempool>,
    waiters: Arc<CommitWaiters>,
    key: SigningKey,
    config: ProducerConfig,
    clock: Clock,
}

impl Producer {
    /// Creates a producer that signs with `key`, the chain's only validator key.
    pub fn new(
        app: Arc<dyn ChainApp>,
        mempool: Arc<Mempool>,
        waiters: Arc<CommitWaiters>,
        key: SigningKey,
        config: ProducerConfig,
        clock: Clock,
    ) -> Producer {
        Producer { app, mempool, waiters, key, config, clock }
    }

    /// Produces blocks until `stop` receives a message or its sender is dropped.
    pub fn run(&self, stop: &Receiver<()>) -> Result<(), ProducerError> {
        tracing::info!(height = %self.app.tip().height, "block producer started");
        let mut last_block = Instant::now();
        loop {
            let since_block = last_block.elapsed();
            let wait = if self.mempool.is_empty() {
                self.config.interval.min(self.config.empty_interval.saturating_sub(since_block))
            } else {
                self.config.interval.saturating_sub(since_block)
            };
            match stop.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }

            let elapsed = last_block.elapsed();
            let due = if self.mempool.is_empty() {
                elapsed >= self.config.empty_interval
            } else {
                elapsed >= self.config.interval
            };
            if due {
                last_block = Instant::now();
                self.produce()?;
            }
        }
        tracing::info!(height = %self.app.tip().height, "block producer stopped");
        Ok(())
    }

    /// Builds, signs, applies and announces one block from the oldest waiting
    /// transactions.
    pub fn produce(&self) -> Result<ProducedBlock, ProducerError> {
        let started = Instant::now();
        let tip = self.app.tip();
        let height = tip.height.next().expect("a chain never reaches height u64::MAX");
        let offered = self.mempool.peek(self.config.txs_max, self.config.bytes_max);
        let time_unix_ms = (self.clock)().max(tip.time_unix_ms.saturating_add(1));

        let txs = offered.iter().map(|(_, tx)| tx.clone()).collect();
        let block = self
            .app
            .propose_block(txs, time_unix_ms, &self.key.public_key())
            .map_err(|source| ProducerError::Propose { height, source })?;
        if block.header.height != height {
            return Err(ProducerError::WrongHeight { expected: height, proposed: block.header.height });
        }

        let commit = self.sign_commit(&block);
        self.app.apply_block(&block, &commit).map_err(|source| ProducerError::Apply { height, source })?;
        let tip_after = self.app.tip().height;
        if tip_after != height {
            return Err(ProducerError::TipNotAdvanced { applied: height, tip: tip_after });
        }

        let produced = self.announce(height, &block, &offered);
        tracing::info!(
            height = %height,
            txs = produced.included.len(),
            dropped = produced.dropped.len(),
            hash = %commit.block_hash,
            ms = started.elapsed().as_millis() as u64,
            "committed block"
        );
        Ok(produced)
    }

    /// Signs the block's precommit as the only validator, which makes its commit.
    /// Its vote time is the clock's, and at least 1 ms after the block's time.
    fn sign_commit(&self, block: &Block) -> Commit {
        let header = &block.header;
        let time_unix_ms = (self.clock)().max(header.time_unix_ms.saturating_add(1));
        let block_hash = header.hash();
        let precommit = Precommit { height: header.height, round: ROUND, block_hash: Some(block_hash), time_unix_ms };
        let signature = precommit.sign(&self.key, self.app.chain_id());
        Commit {
            height: header.height,
            round: ROUND,
            block_hash,
            signatures: vec![CommitSignature { validator_index: VALIDATOR_INDEX, time_unix_ms, signature }],
        }
    }

    /// Removes the offered transactions from the mempool and tells their waiters.
    fn announce(
        &self,
        height: Height,
        block: &Block,
        offered: &[(TxHash, vouch_protocol::chain::Transaction)],
    ) -> ProducedBlock {
        let hashes: Vec<TxHash> = offered.iter().map(|(hash, _)| *hash).collect();
        announce(&self.mempool, &self.waiters, height, block, hashes)
    }
}

/// Removes the `offered` transactions, those a committed block was built from, from
/// the mempool and tells each waiter whether the block included its transaction.
pub(crate) fn announce(
    mempool: &Mempool,
    waiters: &CommitWaiters,
    height: Height,
    block: &Block,
    offered: Vec<TxHash>,
) -> ProducedBlock {
    let in_block: HashSet<TxHash> = block.txs.iter().map(|tx| tx.hash()).collect();
    mempool.remove(&offered);

    let mut produced = ProducedBlock { height, included: Vec::new(), dropped: Vec::new() };
    for hash in offered {
        if in_block.contains(&hash) {
            waiters.notify(&hash, TxFate::Committed { height });
            produced.included.push(hash);
        } else {
            tracing::debug!(tx = %hash, height = %height, "block left out a transaction that failed its checks");
            waiters.notify(&hash, TxFate::Dropped { height });
            produced.dropped.push(hash);
        }
    }
    produced
}
