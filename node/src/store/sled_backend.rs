//! The sled 0.34 storage engine behind the [`Backend`] interface.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::store::ledger_log::{LEDGER_LOG_FILE, LedgerLog};
use crate::store::sled_handle::{OpenDb, SledHandle};
use crate::store::{Backend, BackendError, Entry, LogStage, StoreError, WriteBatch};

/// sled's own default page cache size, 1 GiB; the daemon passes its configured size.
const SLED_DEFAULT_CACHE_BYTES: u64 = 1024 * 1024 * 1024;

/// Bytes written after an idle reopen at which the database opens again with its full
/// cache. A full block's batch (about 4.2 MB for 3,474 attestations) reaches it at
/// once, and the empty blocks of the dev chain (about 650 bytes each) after about two
/// hours.
pub const FULL_CACHE_AFTER_BYTES: u64 = 4 * 1024 * 1024;

/// Guard flushes after each batch: each frees up to eight expired garbage bags of
/// crossbeam-epoch, and the epoch advances between two flushes when no other thread
/// holds an old guard.
const SLED_GARBAGE_FLUSHES: usize = 64;

/// A sled database holding the whole ledger in its default tree, and the transaction
/// log beside it in the same directory.
///
/// Every table of the ledger is a key prefix in one sled tree, so one `sled::Batch`
/// covers a whole block: sled applies a batch to one tree atomically.
///
/// sled 0.34 keeps memory that it never gives back while open: pages that its segment
/// cleaner read to rewrite them, and allocations made while its cache grew. Closing and
/// opening the database again frees it, and [`Backend::release_memory`] does so once
/// enough has been written since the last open. The lock on the ledger log, held from
/// open to drop, keeps other processes out of the directory while sled's own lock is
/// released for a reopen.
///
/// The reopen of an idle release can use a smaller page cache: after a heavy load,
/// sled's segment cleaner keeps reading pages back into the cache for minutes, and a
/// small cache bounds what they hold. The batch that takes the bytes written since to
/// [`FULL_CACHE_AFTER_BYTES`] first reopens the database with its full cache.
// NOTE: that load starts with an empty cache and committed about 5% slower in a
// benchmark than with the full cache kept through the idle time.
pub struct SledBackend {
    handle: SledHandle,
    log: LedgerLog,
    path: PathBuf,
    /// Key and value bytes of the batches applied since the database was last opened.
    written: AtomicU64,
    /// The written bytes at which [`Backend::release_memory`] reopens the database;
    /// zero never reopens it.
    reopen_after_bytes: u64,
    /// The page cache size under load.
    cache_bytes: u64,
    /// The page cache size after the reopen of an idle release.
    idle_cache_bytes: u64,
}

impl SledBackend {
    /// Opens or creates the database in the directory `path`, with sled's default cache.
    ///
    /// sled 0.34 releases its directory lock from a background thread after the last
    /// handle is dropped (sled issues 1234 and 1289), so a database closed a moment ago
    /// in this process can still be locked: opening retries for up to
    /// [`crate::store::SLED_LOCK_WAIT_MAX`] while the lock is taken, then reports it.
    pub fn open(path: &Path) -> Result<SledBackend, StoreError> {
        SledBackend::open_with_cache(path, SLED_DEFAULT_CACHE_BYTES)
    }

    /// Opens or creates the database in `path` with a page cache of `cache_bytes`.
    /// [`Backend::release_memory`] does nothing until [`SledBackend::reopen_after`]
    /// sets its threshold.
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<SledBackend, StoreError> {
        let open_error = |message: String| StoreError::Open { path: path.to_path_buf(), message };
        std::fs::create_dir_all(path).map_err(|error| open_error(error.to_string()))?;
        // The log's lock comes first, so a second process stops before it touches sled.
        let log = LedgerLog::open(&path.join(LEDGER_LOG_FILE)).map_err(|error| open_error(error.message))?;
        let handle = SledHandle::open(path, cache_bytes).map_err(|error| open_error(error.to_string()))?;
        Ok(SledBackend {
            handle,
            log,
            path: path.to_path_buf(),
            written: AtomicU64::new(0),
            reopen_after_bytes: 0,
            cache_bytes,
            idle_cache_bytes: cache_bytes,
        })
    }

    /// Has [`Backend::release_memory`] reopen the database once `bytes` of batches
    /// were applied since it was last opened; zero never reopens it.
    pub fn reopen_after(mut self, bytes: u64) -> SledBackend {
        self.reopen_after_bytes = bytes;
        self
    }

    /// Sets the page cache of an idle release's reopen to `bytes`, at most the full
    /// cache. It stays until [`FULL_CACHE_AFTER_BYTES`] are written.
    pub fn idle_cache(mut self, bytes: u64) -> SledBackend {
        self.idle_cache_bytes = bytes.min(self.cache_bytes);
        self
    }

    /// Returns the page cache size of the open database.
    pub fn cache_bytes(&self) -> u64 {
        self.handle.cache_bytes()
    }

    /// Returns the database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the key and value bytes of the batches applied since the database was
    /// last opened.
    pub fn written_since_open(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Makes every applied batch durable, closes the database and opens it again with
    /// its full cache. Reads and writes wait meanwhile. If the open fails, the error is
    /// returned, and the next read or write tries again.
    pub fn reopen(&self) -> Result<(), BackendError> {
        self.reopen_with_cache(self.cache_bytes)
    }

    fn reopen_with_cache(&self, cache_bytes: u64) -> Result<(), BackendError> {
        // The count restarts while no batch can apply, under the reopen's write lock.
        let reopened = self.handle.reopen(cache_bytes, || self.written.store(0, Ordering::Relaxed));
        release_garbage();
        reopened
    }

    /// Reopens the database with its full cache before a batch of `next_bytes` that
    /// takes the bytes written since an idle reopen to [`FULL_CACHE_AFTER_BYTES`]. It
    /// runs before the batch, so a failed reopen fails the batch with nothing of it
    /// written.
    fn restore_full_cache(&self, next_bytes: u64) -> Result<(), BackendError> {
        let written = self.written_since_open();
        if self.handle.cache_bytes() >= self.cache_bytes || written + next_bytes < FULL_CACHE_AFTER_BYTES {
            return Ok(());
        }
        let started = Instant::now();
        self.reopen()?;
        let elapsed_ms = started.elapsed().as_millis();
        let cache_bytes = self.cache_bytes;
        tracing::info!(path = %self.path.display(), written, next_bytes, cache_bytes, elapsed_ms, "reopened the database with its full cache for the load");
        Ok(())
    }

    /// Returns whether the open database was recovered from files already on disk.
    #[cfg(test)]
    pub(crate) fn was_recovered(&self) -> bool {
        self.handle.was_recovered()
    }

    /// Closes the database as a failed reopen at `failed_at` leaves it, for tests.
    #[cfg(test)]
    pub(crate) fn close_as_failed(&self, failed_at: Instant) {
        self.handle.close_as_failed(failed_at);
    }

    fn db(&self) -> Result<OpenDb<'_>, BackendError> {
        self.handle.hold()
    }
}

/// Frees the old page versions that a batch left for sled's epoch-based reclamation.
///
/// sled 0.34 applies a batch under one epoch guard, so every page version that the
/// batch replaces waits in crossbeam-epoch's garbage queue, and each later operation
/// frees at most a few bags of it. With one large batch per block the queue grew
/// faster than it drained. A test program that wrote 15 batches of 24,000 entries
/// kept 670 MB resident with a 4 MiB page cache, against 28 MB for the same entries
/// inserted one by one. Pinning and flushing a guard frees expired bags, so a few
/// rounds after each batch keep the queue short. Freeing is the cost that the batch
/// deferred (about 55 ms for those 24,000 entries), not extra work.
// NOTE: `sled::pin` is hidden from sled's documentation, but public; sled 0.34 is the
// last stable line and will not change it.
fn release_garbage() {
    for _ in 0..SLED_GARBAGE_FLUSHES {
        sled::pin().flush();
    }
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        let value = self.db()?.get(key).map_err(|error| BackendError::new("get", error))?;
        Ok(value.map(|value| value.to_vec()))
    }

    fn last_in_range(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, BackendError> {
        match self.db()?.range(start..=end).next_back() {
            None => Ok(None),
            Some(Err(error)) => Err(BackendError::new("scan", error)),
            Some(Ok((key, value))) => Ok(Some((key.to_vec(), value.to_vec()))),
        }
    }

    fn keys_in_range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, BackendError> {
        let mut keys = Vec::new();
        for key in self.db()?.range(start..end).keys().take(limit) {
            keys.push(key.map_err(|error| BackendError::new("scan", error))?.to_vec());
        }
        Ok(keys)
    }

    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        let mut entries = Vec::new();
        for entry in self.db()?.scan_prefix(prefix).take(limit) {
            let (key, value) = entry.map_err(|error| BackendError::new("scan", error))?;
            entries.push((key.to_vec(), value.to_vec()));
        }
        Ok(entries)
    }

    fn visit_keys(&self, prefix: &[u8], visit: &mut dyn FnMut(&[u8])) -> Result<(), BackendError> {
        for key in self.db()?.scan_prefix(prefix).keys() {
            visit(&key.map_err(|error| BackendError::new("scan", error))?);
        }
        Ok(())
    }

    fn is_empty(&self) -> Result<bool, BackendError> {
        Ok(self.db()?.is_empty())
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), BackendError> {
        let bytes = batch.bytes() as u64;
        self.restore_full_cache(bytes)?;
        let mut sled_batch = sled::Batch::default();
        for (key, value) in batch.into_puts() {
            sled_batch.insert(key, value);
        }
        let applied = {
            let db = self.db()?;
            let applied = db.apply_batch(sled_batch).map_err(|error| BackendError::new("apply", error));
            // Counted under the hold, so that a reopen cannot reset the count in between.
            if applied.is_ok() {
                self.written.fetch_add(bytes, Ordering::Relaxed);
            }
            applied
        };
        release_garbage();
        applied
    }

    fn flush(&self) -> Result<(), BackendError> {
        self.db()?.flush().map(|_| ()).map_err(|error| BackendError::new("flush", error))
    }

    fn append_log_pieces(&self, pieces: &[&[u8]], stage: Option<LogStage>) -> Result<u64, BackendError> {
        self.log.append_pieces(pieces, stage)
    }

    fn stage_log(&self, pieces: &[&[u8]]) -> Result<LogStage, BackendError> {
        self.log.stage(pieces)
    }

    fn read_log(&self, offset: u64, len: usize) -> Result<Vec<u8>, BackendError> {
        self.log.read(offset, len)
    }

    fn log_len(&self) -> Result<u64, BackendError> {
        Ok(self.log.len())
    }

    fn truncate_log(&self, len: u64) -> Result<(), BackendError> {
        self.log.truncate(len)
    }

    fn release_memory(&self) -> Result<bool, BackendError> {
        let written = self.written_since_open();
        if self.reopen_after_bytes == 0 || written < self.reopen_after_bytes {
            return Ok(false);
        }
        let started = Instant::now();
        self.reopen_with_cache(self.idle_cache_bytes)?;
        let elapsed_ms = started.elapsed().as_millis();
        let cache_bytes = self.idle_cache_bytes;
        tracing::info!(path = %self.path.display(), written, cache_bytes, elapsed_ms, "reopened the database to release its memory");
        Ok(true)
    }
}
