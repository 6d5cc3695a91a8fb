//! The mempool: checked transactions waiting for a block, in arrival order.
//!
//! # Invariants
//! - At most `txs_max` transactions and `bytes_max` bytes wait.
//! - A transaction is admitted only after [`ChainApp::check_tx`] accepts it, and only
//!   if no transaction with the same hash waits.
//! - Transactions leave only through [`Mempool::remove`], which the engine calls
//!   with every transaction it offered to a committed block, whether the block
//!   included it or not; so a transaction is offered to at most one block.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use vouch_protocol::chain::{Transaction, TxHash};
use vouch_protocol::ledger::TX_BYTES_MAX;

use crate::daemon::chain::{ChainApp, CheckedTx, TxRejection};

/// Bounds of the mempool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Maximum number of waiting transactions.
    pub txs_max: usize,
    /// Maximum total size of the waiting transactions in bytes.
    pub bytes_max: usize,
}

/// A reason a transaction did not enter the mempool.
#[derive(Debug, thiserror::Error)]
pub enum MempoolError {
    #[error("transaction {hash} is already waiting for a block")]
    Duplicate { hash: TxHash },
    #[error("transaction is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error(
        "the mempool is full ({txs} of {txs_max} transactions, {bytes} of {bytes_max} bytes); retry after the next block"
    )]
    Full { txs: usize, txs_max: usize, bytes: usize, bytes_max: usize },
    #[error(transparent)]
    Rejected(#[from] TxRejection),
}

/// Checked transactions waiting for a block.
#[derive(Debug)]
pub struct Mempool {
    limits: MempoolLimits,
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    /// Arrival number to transaction; the smallest number arrived first.
    by_arrival: BTreeMap<u64, (TxHash, Transaction)>,
    /// Transaction hash to arrival number.
    arrivals: HashMap<TxHash, u64>,
    next_arrival: u64,
    bytes: usize,
}

impl Mempool {
    /// Creates an empty mempool.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool { limits, queue: Mutex::new(Queue::default()) }
    }

    /// Returns the largest transaction that can ever enter, in bytes.
    pub fn tx_bytes_max(&self) -> usize {
        self.limits.bytes_max.min(TX_BYTES_MAX)
    }

    /// Checks `tx` with the app and queues it.
    ///
    /// Cheap rejections (size, duplicate, capacity) come before the app's check, which
    /// runs without the mempool's lock so that submissions are checked in parallel.
    pub fn submit(&self, app: &dyn ChainApp, tx: Transaction) -> Result<CheckedTx, MempoolError> {
        let size = tx.len();
        if size > self.tx_bytes_max() {
            return Err(MempoolError::TooLarge { size, max: self.tx_bytes_max() });
        }
        let hash = tx.hash();
        self.check_room(&self.lock(), hash, size)?;

        // NOTE: the check sees only committed state, so an account's second transaction
        // (nonce n + 1) is rejected while its first still waits here.
        let checked = app.check_tx(&tx)?;

        let mut queue = self.lock();
        self.check_room(&queue, hash, size)?;
        let arrival = queue.next_arrival;
        queue.next_arrival += 1;
        queue.bytes += size;
        queue.arrivals.insert(hash, arrival);
        queue.by_arrival.insert(arrival, (hash, tx));
        Ok(checked)
    }

    /// Returns copies of the oldest transactions, at most `txs_max` of them and at most
    /// `bytes_max` bytes in total; they stay queued until [`Mempool::remove`].
    pub fn peek(&self, txs_max: usize, bytes_max: usize) -> Vec<(TxHash, Transaction)> {
        let queue = self.lock();
        let mut taken = Vec::new();
        let mut bytes = 0usize;
        for (hash, tx) in queue.by_arrival.values().take(txs_max) {
            if bytes + tx.len() > bytes_max {
                break;
            }
            bytes += tx.len();
            taken.push((*hash, tx.clone()));
        }
        taken
    }

    /// Removes the transactions with these hashes; unknown hashes are ignored.
    pub fn remove(&self, hashes: &[TxHash]) {
        let mut queue = self.lock();
        for hash in hashes {
            let Some(arrival) = queue.arrivals.remove(hash) else {
                continue;
            };
            if let Some((_, tx)) = queue.by_arrival.remove(&arrival) {
                queue.bytes -= tx.len();
            }
        }
        debug_assert_eq!(queue.arrivals.len(), queue.by_arrival.len());
    }

    /// Frees the memory the queue's index kept from a burst, once no transaction
    /// waits; does nothing otherwise.
    pub fn shrink_when_empty(&self) {
        let mut queue = self.lock();
        if queue.by_arrival.is_empty() {
            queue.arrivals = HashMap::new();
        }
    }

    /// Returns the number of waiting transactions.
    pub fn len(&self) -> usize {
        self.lock().by_arrival.len()
    }

    /// Returns whether no transaction waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the total size of the waiting transactions in bytes.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn check_room(&self, queue: &Queue, hash: TxHash, size: usize) -> Result<(), MempoolError> {
        if queue.arrivals.contains_key(&hash) {
            return Err(MempoolError::Duplicate { hash });
        }
        let txs = queue.by_arrival.len();
        if txs >= self.limits.txs_max || queue.bytes + size > self.limits.bytes_max {
            return Err(MempoolError::Full {
                txs,
                txs_max: self.limits.txs_max,
                bytes: queue.bytes,
                bytes_max: self.limits.bytes_max,
            });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue consistent: every update
        // happens after the last fallible step.
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
