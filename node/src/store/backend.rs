//! The narrow key-value interface that the ledger store needs from a storage engine.

use std::fmt;

/// Errors that a storage engine reports.
#[derive(Debug, thiserror::Error)]
#[error("storage {operation} failed: {message}")]
pub struct BackendError {
    /// The operation that failed, such as `get`, `scan`, `apply`, `flush`, `open` or
    /// `reopen`.
    pub operation: &'static str,
    /// The engine's description of the failure.
    pub message: String,
}

impl BackendError {
    /// Describes a failed `operation`.
    pub fn new(operation: &'static str, message: impl fmt::Display) -> BackendError {
        BackendError { operation, message: message.to_string() }
    }
}

/// One stored entry as (key, value).
pub type Entry = (Vec<u8>, Vec<u8>);

/// Key-value writes that a backend applies all together or not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    puts: Vec<(Vec<u8>, Vec<u8>)>,
    bytes: usize,
}

impl WriteBatch {
    /// Creates an empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds a write of `value` under `key`; a later write of the same key wins.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.bytes += key.len() + value.len();
        self.puts.push((key, value));
    }

    /// Returns the writes in the order they were added.
    pub fn puts(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.puts
    }

    /// Returns the writes, consuming the batch.
    pub fn into_puts(self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.puts
    }

    /// Returns the total size of keys and values in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Bytes that [`Backend::stage_log`] wrote past the end of the ledger log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogStage {
    /// Offset of the first staged byte: the end of the log when they were written.
    pub offset: u64,
    /// How many bytes were staged.
    pub len: u64,
}

/// A storage engine under the ledger store: point reads, ordered range reads, one
/// atomic batch write and a flush to stable storage.
///
/// # Contract
/// - [`Backend::apply`] makes either all or none of a batch's writes visible, also
///   after a crash at any point.
/// - After [`Backend::flush`] returns, every applied batch survives a crash.
/// - After [`Backend::append_log`] returns, the appended bytes survive a crash.
/// - After [`Backend::stage_log`] returns, the staged bytes survive a crash, and the
///   append that keeps them makes them part of the log without writing them again.
pub trait Backend: Send + Sync {
    /// Returns the value stored under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError>;

    /// Returns the entry with the greatest key in `start..=end`, if any.
    fn last_in_range(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, BackendError>;

    /// Returns up to `limit` keys from `start` (included) to `end` (excluded), in key
    /// order.
    fn keys_in_range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, BackendError>;

    /// Returns up to `limit` entries whose keys start with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError>;

    /// Calls `visit` with every key that starts with `prefix`, in key order, without
    /// keeping the entries in memory. `visit` must not call this backend: it runs while
    /// the backend holds its lock.
    fn visit_keys(&self, prefix: &[u8], visit: &mut dyn FnMut(&[u8])) -> Result<(), BackendError>;

    /// Returns whether the store has no entries at all.
    fn is_empty(&self) -> Result<bool, BackendError>;

    /// Applies every write of `batch` atomically.
    fn apply(&self, batch: WriteBatch) -> Result<(), BackendError>;

    /// Makes every applied batch durable.
    fn flush(&self) -> Result<(), BackendError>;

    /// Appends `bytes` to the ledger log, makes them durable and returns the
    /// offset where they start. The log contains the bytes of committed transactions,
    /// and the entries of a batch point into it.
    fn append_log(&self, bytes: &[u8]) -> Result<u64, BackendError> {
        self.append_log_pieces(&[bytes], None)
    }

    /// Appends `pieces` one after another as one append, makes them durable and
    /// returns the offset where the append starts. With `stage`, the staged bytes become
    /// the first bytes of the append and `pieces` follow them. The stage must be the last
    /// one and start at the end of the log, or the append fails and changes nothing.
    fn append_log_pieces(&self, pieces: &[&[u8]], stage: Option<LogStage>) -> Result<u64, BackendError>;

    /// Writes `pieces` past the end of the ledger log and makes them durable, without
    /// moving the end: reads do not reach them, and opening the store cuts them off,
    /// until the next append keeps them. A later stage, append or cut replaces them.
    fn stage_log(&self, pieces: &[&[u8]]) -> Result<LogStage, BackendError>;

    /// Reads `len` bytes of the ledger log from `offset`.
    fn read_log(&self, offset: u64, len: usize) -> Result<Vec<u8>, BackendError>;

    /// Returns the length of the ledger log in bytes.
    fn log_len(&self) -> Result<u64, BackendError>;

    /// Cuts the ledger log to `len` bytes, dropping appends that no committed
    /// batch points into.
    fn truncate_log(&self, len: u64) -> Result<(), BackendError>;

    /// Gives back memory that the engine keeps beyond its caches, for an idle node.
    /// Every applied batch stays. Returns whether anything was done: engines that free
    /// their memory themselves do nothing.
    fn release_memory(&self) -> Result<bool, BackendError> {
        Ok(false)
    }
}
