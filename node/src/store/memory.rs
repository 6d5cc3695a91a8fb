//! A storage engine in memory that separates applied from flushed writes, so tests can
//! simulate a crash that loses everything not flushed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::store::backend::LogStage;
use crate::store::{Backend, BackendError, Entry, WriteBatch};

/// The entries that reads return, and the entries that would survive a crash.
#[derive(Debug, Default)]
struct Entries {
    visible: BTreeMap<Vec<u8>, Vec<u8>>,
    durable: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The ledger log, durable as soon as it is appended to.
    log: Vec<u8>,
    /// The last stage with its bytes, until an append keeps it or a cut drops it.
    staged: Option<(LogStage, Vec<u8>)>,
}

/// An in-memory backend; clones share the same entries.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    entries: Arc<Mutex<Entries>>,
}

impl MemoryBackend {
    /// Creates an empty backend.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// Drops every write that was applied but not flushed, as a crash would.
    pub fn simulate_crash(&self) {
        let mut entries = self.lock();
        entries.visible = entries.durable.clone();
    }

    /// Overwrites one entry in place, bypassing batches, to simulate damage on disk.
    pub fn corrupt(&self, key: &[u8], value: Option<Vec<u8>>) {
        let mut guard = self.lock();
        let entries = &mut *guard;
        for map in [&mut entries.visible, &mut entries.durable] {
            match &value {
                Some(value) => map.insert(key.to_vec(), value.clone()),
                None => map.remove(key),
            };
        }
    }

    /// Returns every visible key, in order.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        self.lock().visible.keys().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic while the lock was held leaves the maps whole (each write is one
        // insert), so a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.lock().visible.get(key).cloned())
    }

    fn last_in_range(&self, start: &[u8], end: &[u8]) -> Result<Option<Entry>, BackendError> {
        let entries = self.lock();
        let last = entries.visible.range(start.to_vec()..=end.to_vec()).next_back();
        Ok(last.map(|(key, value)| (key.clone(), value.clone())))
    }

    fn keys_in_range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, BackendError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let entries = self.lock();
        Ok(entries.visible.range(start.to_vec()..end.to_vec()).map(|(key, _)| key.clone()).take(limit).collect())
    }

    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        let entries = self.lock();
        let matching = entries.visible.range(prefix.to_vec()..).take_while(|(key, _)| key.starts_with(prefix));
        Ok(matching.take(limit).map(|(key, value)| (key.clone(), value.clone())).collect())
    }

    fn visit_keys(&self, prefix: &[u8], visit: &mut dyn FnMut(&[u8])) -> Result<(), BackendError> {
        let entries = self.lock();
        for key in
            entries.visible.range(prefix.to_vec()..).map(|(key, _)| key).take_while(|key| key.starts_with(prefix))
        {
            visit(key);
        }
        Ok(())
    }

    fn is_empty(&self) -> Result<bool, BackendError> {
        Ok(self.lock().visible.is_empty())
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), BackendError> {
        let mut entries = self.lock();
        for (key, value) in batch.into_puts() {
            entries.visible.insert(key, value);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), BackendError> {
        let mut entries = self.lock();
        entries.durable = entries.visible.clone();
        Ok(())
    }

    fn append_log_pieces(&self, pieces: &[&[u8]], stage: Option<LogStage>) -> Result<u64, BackendError> {
        let mut entries = self.lock();
        let start = entries.log.len() as u64;
        let staged = entries.staged.take();
        match (stage, staged) {
            (None, _) => {}
            (Some(stage), Some((staged, bytes))) if stage == staged && stage.offset == start => {
                entries.log.extend_from_slice(&bytes)
            }
            (Some(stage), _) => {
                let message = format!("the bytes staged at offset {} are not the tail of the log", stage.offset);
                return Err(BackendError::new("append", message));
            }
        }
        for piece in pieces {
            entries.log.extend_from_slice(piece);
        }
        Ok(start)
    }

    fn stage_log(&self, pieces: &[&[u8]]) -> Result<LogStage, BackendError> {
        let mut entries = self.lock();
        let bytes = pieces.concat();
        let stage = LogStage { offset: entries.log.len() as u64, len: bytes.len() as u64 };
        entries.staged = Some((stage, bytes));
        Ok(stage)
    }

    fn read_log(&self, offset: u64, len: usize) -> Result<Vec<u8>, BackendError> {
        let entries = self.lock();
        usize::try_from(offset)
            .ok()
            .and_then(|start| entries.log.get(start..start.checked_add(len)?))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                let end = entries.log.len();
                BackendError::new(
                    "read",
                    format!("{len} bytes at offset {offset} run past the end of the log ({end} bytes)"),
                )
            })
    }

    fn log_len(&self) -> Result<u64, BackendError> {
        Ok(self.lock().log.len() as u64)
    }

    fn truncate_log(&self, len: u64) -> Result<(), BackendError> {
        let mut entries = self.lock();
        let len = usize::try_from(len).map_err(|error| BackendError::new("truncate", error))?;
        entries.log.truncate(len);
        entries.staged = None;
        Ok(())
    }
}
