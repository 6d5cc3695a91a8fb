//! A backend wrapper that fails one chosen step of a block write, to test that a
//! failure at any step leaves a consistent store.

use std::sync::Mutex;

use crate::store::backend::LogStage;
use crate::store::{Backend, BackendError, Entry, WriteBatch};

/// The step of the next block write that fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The batch is not applied and `apply` returns an error.
    BeforeApply,
    /// The batch is applied, then `apply` returns an error.
    AfterApply,
    /// `flush` returns an error without making anything durable.
    Flush,
    /// The ledger log append writes the first half of its bytes, then returns
    /// an error, as a write cut short by a full disk would.
    Append,
    /// Staging bytes in the ledger log fails without writing anything.
    Stage,
}

/// Wraps a backend and injects one armed [`Fault`].
pub struct FaultyBackend<B> {
    inner: B,
    armed: Mutex<Option<Fault>>,
}

impl<B: Backend> FaultyBackend<B> {
    /// Wraps `inner` with no fault armed.
    pub fn new(inner: B) -> FaultyBackend<B> {
        FaultyBackend { inner, armed: Mutex::new(None) }
    }

    /// Makes the next matching step fail once.
    pub fn arm(&self, fault: Fault) {
        *self.armed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(fault);
    }

    /// Returns the wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Disarms and returns the fault if it is `fault`.
    fn take(&self, fault: Fault) -> bool {
        let mut armed = self.armed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *armed == Some(fault) {
            *armed = None;
            return true;
        }
        false
    }
}

impl<B: Backend> Backend for FaultyBackend<B> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.get(key)
    }

    fn last_in_range(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, BackendError> {
        self.inner.last_in_range(start, end)
    }

    fn keys_in_range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, BackendError> {
        self.inner.keys_in_range(start, end, limit)
    }

    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        self.inner.scan_prefix(prefix, limit)
    }

    fn visit_keys(&self, prefix: &[u8], visit: &mut dyn FnMut(&[u8])) -> Result<(), BackendError> {
        self.inner.visit_keys(prefix, visit)
    }

    fn is_empty(&self) -> Result<bool, BackendError> {
        self.inner.is_empty()
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), BackendError> {
        if self.take(Fault::BeforeApply) {
            return Err(BackendError::new("apply", "injected fault before the batch"));
        }
        self.inner.apply(batch)?;
        if self.take(Fault::AfterApply) {
            return Err(BackendError::new("apply", "injected fault after the batch"));
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), BackendError> {
        if self.take(Fault::Flush) {
            return Err(BackendError::new("flush", "injected fault"));
        }
        self.inner.flush()
    }

    fn append_log_pieces(&self, pieces: &[&[u8]], stage: Option<LogStage>) -> Result<u64, BackendError> {
        if self.take(Fault::Append) {
            let bytes = pieces.concat();
            self.inner.append_log_pieces(&[&bytes[..bytes.len() / 2]], stage)?;
            return Err(BackendError::new("append", "injected fault after half of the bytes"));
        }
        self.inner.append_log_pieces(pieces, stage)
    }

    fn release_memory(&self) -> Result<bool, BackendError> {
        self.inner.release_memory()
    }

    fn stage_log(&self, pieces: &[&[u8]]) -> Result<LogStage, BackendError> {
        if self.take(Fault::Stage) {
            return Err(BackendError::new("stage", "injected fault"));
        }
        self.inner.stage_log(pieces)
    }

    fn read_log(&self, offset: u64, len: usize) -> Result<Vec<u8>, BackendError> {
        self.inner.read_log(offset, len)
    }

    fn log_len(&self) -> Result<u64, BackendError> {
        self.inner.log_len()
    }

    fn truncate_log(&self, len: u64) -> Result<(), BackendError> {
        self.inner.truncate_log(len)
    }
}
