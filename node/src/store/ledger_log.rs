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

use std::fs::{File, OpenOptions, TryLockError};
use std::io::IoSlice;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::store::BackendError;
use crate::store::backend::LogStage;

/// The name of the log file inside the database directory.
pub const LEDGER_LOG_FILE: &str = "ledger.log";

/// Pieces passed to one `pwritev` call; Linux accepts at most 1,024.
const PIECES_PER_WRITE: usize = 1024;

/// An open ledger log file.
#[derive(Debug)]
pub struct LedgerLog {
    file: File,
    path: PathBuf,
    /// The length of the log: where the next append starts. An append stores it only
    /// after its sync, and readers load it without taking `writing`, so a read does
    /// not wait for an append's sync.
    end: AtomicU64,
    /// Lock taken by appends, stages and cuts, one at a time. It guards the record of
    /// the bytes that the last stage wrote past the end, which the next append may keep.
    writing: Mutex<Option<LogStage>>,
}

impl LedgerLog {
    /// Opens the log at `path`, creating an empty one when there is none.
    pub fn open(path: &Path) -> Result<LedgerLog, BackendError> {
        let failed = |error: std::io::Error| BackendError::new("open", format!("{}: {error}", path.display()));
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(failed)?;
        // The lock lasts as long as the file is open: another process, or another
        // store in this one, fails here instead of writing the same log.
        file.try_lock().map_err(|error| {
            let message = match error {
                TryLockError::WouldBlock => format!(
                    "{} is in use by another process; stop it, or give this node its own storage.data_dir",
                    path.display()
                ),
                TryLockError::Error(error) => format!("{}: locking failed: {error}", path.display()),
            };
            BackendError::new("open", message)
        })?;
        // Synced on every open, not only on creation: a process killed between the two
        // would otherwise leave a file whose directory entry is never made durable.
        sync_parent(path).map_err(failed)?;
        let end = file.metadata().map_err(failed)?.len();
        Ok(LedgerLog { file, path: path.to_path_buf(), end: AtomicU64::new(end), writing: Mutex::new(None) })
    }

    /// Appends `bytes`, makes them durable and returns the offset where they start.
    #[cfg(test)]
    pub fn append(&self, bytes: &[u8]) -> Result<u64, BackendError> {
        self.append_pieces(&[bytes], None)
    }

    /// Appends `pieces` one after another, makes them durable and returns the offset
    /// where the append starts. With `stage`, the bytes of that stage, which must be
    /// the last one and start at the end, are kept as the append's first bytes. A
    /// failed append leaves the length as it was, so the next one overwrites it.
    pub fn append_pieces(&self, pieces: &[&[u8]], stage: Option<LogStage>) -> Result<u64, BackendError> {
        let mut staged = self.lock();
        let start = self.end.load(Ordering::Acquire);
        let kept = match stage {
            None => 0,
            Some(stage) if *staged == Some(stage) && stage.offset == start => stage.len,
            Some(stage) => {
                let message = format!(
                    "{}: the {} bytes staged at offset {} are not the tail of the log, which ends at {start}",
                    self.path.display(),
                    stage.len,
                    stage.offset
                );
                return Err(BackendError::new("append", message));
            }
        };
        *staged = None;
        let written = write_pieces(&self.file, start + kept, pieces).map_err(|error| self.error("append", error))?;
        self.file.sync_data().map_err(|error| self.error("append", error))?;
        self.end.store(start + kept + written, Ordering::Release);
        Ok(start)
    }

    /// Writes `pieces` past the end and makes them durable without moving the end, so
    /// readers do not see them and opening the store cuts them off until an append
    /// keeps them.
    pub fn stage(&self, pieces: &[&[u8]]) -> Result<LogStage, BackendError> {
        let mut staged = self.lock();
        *staged = None;
        let offset = self.end.load(Ordering::Acquire);
        let len = write_pieces(&self.file, offset, pieces).map_err(|error| self.error("stage", error))?;
        self.file.sync_data().map_err(|error| self.error("stage", error))?;
        let stage = LogStage { offset, len };
        *staged = Some(stage);
        Ok(stage)
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
        let mut staged = self.lock();
        *staged = None;
        self.file.set_len(len).map_err(|error| self.error("truncate", error))?;
        self.file.sync_all().map_err(|error| self.error("truncate", error))?;
        self.end.store(len, Ordering::Release);
        Ok(())
    }

    fn error(&self, operation: &'static str, error: std::io::Error) -> BackendError {
        BackendError::new(operation, format!("{}: {error}", self.path.display()))
    }

    fn lock(&self) -> MutexGuard<'_, Option<LogStage>> {
        // The stage record is replaced whole, so a panic cannot leave half of one.
        self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes `pieces` one after another from `offset` with vectored writes, and returns
/// how many bytes that was. The pieces are written from where they are, so a block's
/// transactions are not first copied into one buffer.
fn write_pieces(file: &File, mut offset: u64, pieces: &[&[u8]]) -> std::io::Result<u64> {
    let total: u64 = pieces.iter().map(|piece| piece.len() as u64).sum();
    for group in pieces.chunks(PIECES_PER_WRITE) {
        let mut slices: Vec<IoSlice<'_>> = group.iter().map(|piece| IoSlice::new(piece)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let written = rustix::io::pwritev(file, rest, offset)?;
            if written == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::WriteZero, "the file took no bytes"));
            }
            offset += written as u64;
            IoSlice::advance_slices(&mut rest, written);
        }
    }
    Ok(total)
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

    #[test]
    fn pieces_append_in_order_across_write_groups() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LEDGER_LOG_FILE);
        let log = LedgerLog::open(&path).unwrap();
        let pieces: Vec<Vec<u8>> = (0..2_500u32).map(|index| vec![(index % 251) as u8; (index % 7) as usize]).collect();
        let slices: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        assert_eq!(log.append(b"head").unwrap(), 0);
        assert_eq!(log.append_pieces(&slices, None).unwrap(), 4);
        let expected: Vec<u8> = b"head".iter().copied().chain(pieces.concat()).collect();
        assert_eq!(log.len(), expected.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
    }

    #[test]
    fn staged_bytes_are_kept_by_the_next_append() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LEDGER_LOG_FILE);
        let log = LedgerLog::open(&path).unwrap();
        log.append(b"old").unwrap();
        let stage = log.stage(&[b"txs-", b"of-block"]).unwrap();
        assert_eq!(stage, LogStage { offset: 3, len: 12 });
        // Staged bytes are past the end: readers do not see them.
        assert_eq!(log.len(), 3);
        assert!(log.read(3, 4).is_err());
        assert_eq!(log.append_pieces(&[b"+nodes"], Some(stage)).unwrap(), 3);
        assert_eq!(log.read(0, log.len() as usize).unwrap(), b"oldtxs-of-block+nodes");
    }

    #[test]
    fn append_refuses_a_stage_that_is_not_the_tail() {
        let directory = tempfile::tempdir().unwrap();
        let log = LedgerLog::open(&directory.path().join(LEDGER_LOG_FILE)).unwrap();
        let first = log.stage(&[b"first"]).unwrap();
        let second = log.stage(&[b"second"]).unwrap();
        let error = log.append_pieces(&[b"x"], Some(first)).unwrap_err().to_string();
        assert!(error.contains("5 bytes staged at offset 0"), "{error}");
        assert_eq!(log.len(), 0);
        // An append without the stage overwrites the staged bytes.
        log.append(b"plain").unwrap();
        let error = log.append_pieces(&[b"x"], Some(second)).unwrap_err().to_string();
        assert!(error.contains("not the tail of the log, which ends at 5"), "{error}");
        assert_eq!(log.read(0, 5).unwrap(), b"plain");
    }

    #[test]
    fn truncate_drops_the_stage() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LEDGER_LOG_FILE);
        let log = LedgerLog::open(&path).unwrap();
        log.append(b"kept").unwrap();
        let stage = log.stage(&[b"never committed"]).unwrap();
        log.truncate(4).unwrap();
        assert!(log.append_pieces(&[], Some(stage)).is_err());
        assert_eq!(log.append(b"next").unwrap(), 4);
        drop(log);
        assert_eq!(std::fs::read(&path).unwrap(), b"keptnext");
    }
}
