//! What block production shares between heights: the clock that vote times come from,
//! the block cadence and size limits, and the announcement of a committed block to the
//! mempool and the waiting submissions. The consensus engine (`daemon::engine`)
//! produces the blocks.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use vouch_protocol::chain::{Block, Height, TxHash};

use crate::daemon::mempool::Mempool;
use crate::daemon::waiters::{CommitWaiters, TxFate};

/// A source of wall-clock time in Unix milliseconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Returns the system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
    })
}

/// When heights start and how large their blocks are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Time between the starts of two heights while transactions wait.
    pub interval: Duration,
    /// Maximum time between the starts of two heights, after which the next height
    /// starts with an empty mempool.
    pub empty_interval: Duration,
    /// Maximum number of transactions offered to one block.
    pub txs_max: usize,
    /// Maximum total size of the transactions offered to one block, in bytes.
    pub bytes_max: usize,
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

/// Removes the `offered` transactions, those a committed block was built from, from
/// the mempool and notifies each waiter whether the block included its transaction.
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
