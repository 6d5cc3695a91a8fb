//! The ledger log: one append-only file with the bytes of every committed
//! transaction and of the state tree nodes that each block adds, which the key-value
//! store points into by offset and length.
//!
//! sled 0.34 rewrites a whole leaf of up to 16 entries each time it splits or
//! consolidates one, so transactions of a few kilobytes and tree nodes of a few
//! hundred bytes stored as sled values were copied several times over and took most
//! of each block write. A block's transactions and nodes are appended once, and made
//! durable before the batch that points at them. A tail of at most one block's append
//! past the committed length belongs to a write that did not commit, and opening the
//! store cuts it off. `open.rs` lists what counts as damage instead.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::store::BackendError;

/// The name of the log file inside the database directory.
pub const LEDGER_LOG_FILE: &str = "ledger.log";

/// An open ledger log file.
#[derive(Debug)]
pub struct LedgerLog {
    file: File,
    path: PathBuf,
    /// The length of the log: where the next append starts. An append stores it only
    /// after its sync, and readers load it without taking `writing`, so a read does
    /// not wait for an append's sync.
    end: AtomicU64,
    /// Held by appends and cuts, one at a time.
    writing: Mutex<()>,
}

impl LedgerLog {
    /// Opens the log at `path`, creating an empty one when there is none.
    pub fn open(path: &Path) -> Result<LedgerLog, BackendError> {
        let failed = |error: std::io::Error| BackendError::new("open", format!("{}: {error}", path.display()));
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(failed)?;
        // Synced on every open, not only on creation: a process killed between the two
        // would otherwise leave a file whose directory entry is never made durable.
        sync_parent(path).map_err(failed)?;
        let end = file.metadata().map_err(failed)?.len();
        Ok(LedgerLog { file, path: path.to_path_buf(), end: AtomicU64::new(end), writing: Mutex::new(()) })
    }

    /// Appends `bytes`, makes them durable and returns the offset where they start.
    /// A failed append leaves the length as it was, so the next one overwrites it.
    pub fn append(&self, bytes: &[u8]) -> Result<u64, BackendError> {
        let _writing = self.lock();
        let start = self.end.load(Ordering::Acquire);
        self.file.write_all_at(bytes, start).map_err(|error| self.error("append", error))?;
        self.file.sync_data().map_err(|error| self.error("append", error))?;
        self.end.store(start + bytes.len() as u64, Ordering::Release);
        Ok(start)
    }

    /// Reads `len` bytes from `offset`, all of which an append has written.
    pub fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, BackendError> {
        let end = self.end.load(Ordering::Acquire);
        if offset.checked_add(len as u64).is_none_or(|last| last > end) {
            return Err(BackendError::new(
                "read",
                format!("{len} bytes at offset {offset} run past the end of {} ({end} bytes)", self.path.display()),
            ));
        }
        let mut bytes = vec![0; len];
        self.file.read_exact_at(&mut bytes, offset).map_err(|error| self.error("read", error))?;
        Ok(bytes)
    }

    /// Returns the length of the log in bytes.
    pub fn len(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Cuts the log to `len` bytes and makes the cut durable.
    pub fn truncate(&self, len: u64) -> Result<(), BackendError> {
        let _writing = self.lock();
        self.file.set_len(len).map_err(|error| self.error("truncate", error))?;
        self.file.sync_all().map_err(|error| self.error("truncate", error))?;
        self.end.store(len, Ordering::Release);
        Ok(())
    }

    fn error(&self, operation: &'static str, error: std::io::Error) -> BackendError {
        BackendError::new(operation, format!("{}: {error}", self.path.display()))
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guard protects no data: the length is stored only after a whole write.
        self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Makes the creation of the file at `path` durable by syncing its directory.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => File::open(parent)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_survive_reopening() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LEDGER_LOG_FILE);
        let log = LedgerLog::open(&path).unwrap();
        assert_eq!(log.append(b"first").unwrap(), 0);
        assert_eq!(log.append(b"second").unwrap(), 5);
        drop(log);

        let log = LedgerLog::open(&path).unwrap();
        assert_eq!(log.len(), 11);
        assert_eq!(log.read(5, 6).unwrap(), b"second");
        assert_eq!(log.read(0, 11).unwrap(), b"firstsecond");
    }

    #[test]
    fn read_past_end_fails() {
        let directory = tempfile::tempdir().unwrap();
        let log = LedgerLog::open(&directory.path().join(LEDGER_LOG_FILE)).unwrap();
        log.append(b"abc").unwrap();
        assert_eq!(log.read(3, 0).unwrap(), b"");
        let error = log.read(2, 2).unwrap_err().to_string();
        assert!(error.contains("2 bytes at offset 2"), "{error}");
        assert!(error.contains("(3 bytes)"), "{error}");
        assert!(log.read(u64::MAX, 1).is_err());
    }

    #[test]
    fn truncate_moves_next_append() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LEDGER_LOG_FILE);
        let log = LedgerLog::open(&path).unwrap();
        log.append(b"kept").unwrap();
        log.append(b"dropped").unwrap();
        log.truncate(4).unwrap();
        assert_eq!(log.append(b"next").unwrap(), 4);
        drop(log);
        assert_eq!(std::fs::read(&path).unwrap(), b"keptnext");
    }
}
