//! Submissions waiting for their transaction's block: the consensus engine notifies
//! each one whether the block included its transaction.
//!
//! # Invariants
//! - At most `waiters_max` waits are registered at one time.
//! - A wait is registered before its transaction enters the mempool, so the engine
//!   cannot commit the transaction before the wait exists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;
use vouch_protocol::chain::{Height, TxHash};

/// What happened to a transaction that a block was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxFate {
    /// The block at this height committed it.
    Committed { height: Height },
    /// The block left it out because it failed the checks against the state then.
    Dropped { height: Height },
}

/// The registry is full.
#[derive(Debug, thiserror::Error)]
#[error("{waiting} submissions already wait for their commit, the limit; retry without \"wait\" or later")]
pub struct WaitersFull {
    /// The number of registered waits, the limit.
    pub waiting: usize,
}

/// The waits of all submissions, by transaction hash.
#[derive(Debug)]
pub struct CommitWaiters {
    waiters_max: usize,
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    by_hash: HashMap<TxHash, Vec<oneshot::Sender<TxFate>>>,
    count: usize,
    closed: bool,
}

/// One registered wait; dropping it unregisters it.
#[derive(Debug)]
pub struct CommitWait {
    receiver: oneshot::Receiver<TxFate>,
    hash: TxHash,
    waiters: Arc<CommitWaiters>,
}

impl CommitWaiters {
    /// Creates an empty registry that holds at most `waiters_max` waits.
    pub fn new(waiters_max: usize) -> CommitWaiters {
        CommitWaiters { waiters_max, inner: Mutex::new(Registry::default()) }
    }

    /// Registers a wait for `hash`.
    pub fn register(self: &Arc<Self>, hash: TxHash) -> Result<CommitWait, WaitersFull> {
        let (sender, receiver) = oneshot::channel();
        let mut registry = self.lock();
        if registry.count >= self.waiters_max {
            return Err(WaitersFull { waiting: registry.count });
        }
        // After close, the sender is dropped at once, so the wait ends as closed.
        if !registry.closed {
            registry.by_hash.entry(hash).or_default().push(sender);
            registry.count += 1;
        }
        Ok(CommitWait { receiver, hash, waiters: Arc::clone(self) })
    }

    /// Tells every wait for `hash` what happened to it.
    pub fn notify(&self, hash: &TxHash, fate: TxFate) {
        let senders = {
            let mut registry = self.lock();
            let senders = registry.by_hash.remove(hash).unwrap_or_default();
            registry.count -= senders.len();
            senders
        };
        for sender in senders {
            // The receiver is gone when its request timed out; nothing waits then.
            let _ = sender.send(fate);
        }
    }

    /// Ends every wait without a fate and refuses new ones, at shutdown.
    pub fn close(&self) {
        let mut registry = self.lock();
        registry.closed = true;
        registry.by_hash.clear();
        registry.count = 0;
    }

    /// Frees the memory the registry kept from a burst of waits.
    pub fn shrink(&self) {
        self.lock().by_hash.shrink_to_fit();
    }

    /// Returns the number of registered waits.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    /// Returns whether no wait is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn unregister_closed(&self, hash: &TxHash) {
        let mut registry = self.lock();
        let Some(senders) = registry.by_hash.get_mut(hash) else {
            return;
        };
        let before = senders.len();
        senders.retain(|sender| !sender.is_closed());
        let removed = before - senders.len();
        if senders.is_empty() {
            registry.by_hash.remove(hash);
        }
        registry.count -= removed;
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every update keeps `count` equal to the number of senders before it can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CommitWait {
    /// Waits for the fate of the transaction; `None` when the registry closed first.
    pub async fn fate(&mut self) -> Option<TxFate> {
        (&mut self.receiver).await.ok()
    }
}

impl Drop for CommitWait {
    fn drop(&mut self) {
        self.receiver.close();
        self.waiters.unregister_closed(&self.hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(byte: u8) -> TxHash {
        TxHash([byte; 32])
    }

    #[tokio::test]
    async fn notified_wait_gets_the_fate() {
        let waiters = Arc::new(CommitWaiters::new(4));
        let mut wait = waiters.register(hash(1)).expect("room");
        waiters.notify(&hash(1), TxFate::Committed { height: Height(7) });
        assert_eq!(wait.fate().await, Some(TxFate::Committed { height: Height(7) }));
        assert!(waiters.is_empty());
    }

    #[tokio::test]
    async fn two_waits_on_one_hash_both_hear() {
        let waiters = Arc::new(CommitWaiters::new(4));
        let mut first = waiters.register(hash(1)).expect("room");
        let mut second = waiters.register(hash(1)).expect("room");
        assert_eq!(waiters.len(), 2);
        waiters.notify(&hash(1), TxFate::Dropped { height: Height(2) });
        assert_eq!(first.fate().await, Some(TxFate::Dropped { height: Height(2) }));
        assert_eq!(second.fate().await, Some(TxFate::Dropped { height: Height(2) }));
    }

    #[test]
    fn limit_holds_at_the_edge() {
        let waiters = Arc::new(CommitWaiters::new(2));
        let _first = waiters.register(hash(1)).expect("first of two");
        let second = waiters.register(hash(2)).expect("second of two");
        let error = waiters.register(hash(3)).expect_err("third is over the limit");
        assert_eq!(error.waiting, 2);
        drop(second);
        waiters.register(hash(3)).expect("room again after a wait ends");
    }

    #[test]
    fn dropped_wait_is_unregistered() {
        let waiters = Arc::new(CommitWaiters::new(4));
        let first = waiters.register(hash(1)).expect("room");
        let _second = waiters.register(hash(1)).expect("room");
        drop(first);
        assert_eq!(waiters.len(), 1);
    }

    #[tokio::test]
    async fn close_ends_waits_without_fate() {
        let waiters = Arc::new(CommitWaiters::new(4));
        let mut wait = waiters.register(hash(1)).expect("room");
        waiters.close();
        assert_eq!(wait.fate().await, None);
        let mut late = waiters.register(hash(2)).expect("registering after close still answers");
        assert_eq!(late.fate().await, None);
        assert!(waiters.is_empty());
    }
}
