//! [`Storage`] in memory that can crash: for simulators and crash tests.
//!
//! Each file keeps its durable bytes apart from the bytes appended since its last sync.
//! [`MemoryStorage::crash`] drops the unsynced bytes of every file, keeping a prefix of
//! them as a torn tail, as a power loss does. [`MemoryStorage::cut_power_after`] makes
//! every write after a given count fail, so a test can stop a validator between any two
//! storage operations. A [`PowerSwitch`] does the same while another owner, such as a
//! [`crate::host::DurableConsensus`], owns the store.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::host::storage::Storage;

/// One file: the bytes that survive a crash, and the bytes that reads return now.
#[derive(Clone, Debug, Default)]
struct MemoryFile {
    durable: Vec<u8>,
    /// The durable bytes followed by the unsynced appends.
    current: Vec<u8>,
    /// Whether the directory entry survives a crash.
    entry_durable: bool,
}

/// The operation counter of a store and the count after which its power is cut
/// (`u64::MAX` for never), shared with its [`PowerSwitch`]es.
#[derive(Debug)]
struct Power {
    operations: AtomicU64,
    cut_after: AtomicU64,
}

impl Power {
    fn new(operations: u64, cut_after: u64) -> Arc<Power> {
        Arc::new(Power { operations: AtomicU64::new(operations), cut_after: AtomicU64::new(cut_after) })
    }
}

/// A handle that cuts the power of a [`MemoryStorage`] from outside its owner.
#[derive(Clone, Debug)]
pub struct PowerSwitch(Arc<Power>);

impl PowerSwitch {
    /// Makes every operation after the next `operations` ones fail.
    pub fn cut_after(&self, operations: u64) {
        let now = self.0.operations.load(Ordering::Relaxed);
        self.0.cut_after.store(now.saturating_add(operations), Ordering::Relaxed);
    }

    /// Returns whether the power is cut now.
    pub fn is_cut(&self) -> bool {
        self.0.operations.load(Ordering::Relaxed) >= self.0.cut_after.load(Ordering::Relaxed)
    }

    /// Cancels a cut before any operation failed from it, and returns whether there
    /// was one.
    pub fn cancel(&self) -> bool {
        let cut_after = self.0.cut_after.load(Ordering::Relaxed);
        // A failed operation is counted too, so none failed while the count is at most
        // the cut.
        let pending = cut_after != u64::MAX && self.0.operations.load(Ordering::Relaxed) <= cut_after;
        if pending {
            self.0.cut_after.store(u64::MAX, Ordering::Relaxed);
        }
        pending
    }
}

/// Files in memory with the durability contract of [`Storage`]. A clone is a separate
/// store with its own power.
#[derive(Debug)]
pub struct MemoryStorage {
    files: BTreeMap<String, MemoryFile>,
    power: Arc<Power>,
}

impl Default for MemoryStorage {
    fn default() -> MemoryStorage {
        MemoryStorage { files: BTreeMap::new(), power: Power::new(0, u64::MAX) }
    }
}

impl Clone for MemoryStorage {
    fn clone(&self) -> MemoryStorage {
        let power = Power::new(self.operations(), self.power.cut_after.load(Ordering::Relaxed));
        MemoryStorage { files: self.files.clone(), power }
    }
}

impl MemoryStorage {
    /// Returns an empty store.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// Returns the number of writes, syncs, truncations and replacements so far,
    /// counting failed ones.
    pub fn operations(&self) -> u64 {
        self.power.operations.load(Ordering::Relaxed)
    }

    /// Makes every operation after the first `operations` ones (counted from the
    /// store's creation) fail without effect, as if the power went out.
    pub fn cut_power_after(&mut self, operations: u64) {
        self.power.cut_after.store(operations, Ordering::Relaxed);
    }

    /// Returns a switch that cuts this store's power while another owner has it.
    pub fn power_switch(&self) -> PowerSwitch {
        PowerSwitch(Arc::clone(&self.power))
    }

    /// Returns whether the power is cut.
    pub fn power_is_cut(&self) -> bool {
        self.operations() >= self.power.cut_after.load(Ordering::Relaxed)
    }

    /// Returns the bytes of file `name` that survive a crash now.
    pub fn durable(&self, name: &str) -> Option<&[u8]> {
        let file = self.files.get(name)?;
        file.entry_durable.then_some(file.durable.as_slice())
    }

    /// Simulates a power loss and restores the power. Each file keeps its durable bytes
    /// plus the first `kept(name, unsynced_len)` of its unsynced bytes (clamped to their
    /// length), and a file whose directory entry was never synced survives only if
    /// some of its bytes are kept.
    pub fn crash(&mut self, mut kept: impl FnMut(&str, usize) -> usize) {
        self.files.retain(|name, file| {
            let unsynced = &file.current[file.durable.len()..];
            let keep = kept(name, unsynced.len()).min(unsynced.len());
            let mut survived = file.durable.clone();
            survived.extend_from_slice(&unsynced[..keep]);
            let exists = file.entry_durable || keep > 0;
            *file = MemoryFile { durable: survived.clone(), current: survived, entry_durable: exists };
            exists
        });
        self.power.cut_after.store(u64::MAX, Ordering::Relaxed);
    }

    /// Returns file `name` for a test to damage, changing its durable bytes as well.
    pub fn corrupt(&mut self, name: &str, change: impl FnOnce(&mut Vec<u8>)) {
        let file = self.files.entry(name.to_owned()).or_default();
        change(&mut file.current);
        file.durable = file.current.clone();
        file.entry_durable = true;
    }

    /// Counts one operation and fails it if the power is cut.
    fn operate(&mut self) -> io::Result<()> {
        let cut = self.power_is_cut();
        self.power.operations.fetch_add(1, Ordering::Relaxed);
        if cut {
            return Err(io::Error::other("simulated power loss: the storage accepts no more writes"));
        }
        Ok(())
    }

    fn file_mut(&mut self, name: &str) -> io::Result<&mut MemoryFile> {
        self.files.get_mut(name).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no file {name}")))
    }
}

impl Storage for MemoryStorage {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.files.get(name).map(|file| file.current.clone()))
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.operate()?;
        self.files.entry(name.to_owned()).or_default().current.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.operate()?;
        let file = self.file_mut(name)?;
        file.durable = file.current.clone();
        file.entry_durable = true;
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        self.operate()?;
        let file = self.file_mut(name)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(file.current.len());
        file.current.truncate(len);
        file.durable = file.current.clone();
        file.entry_durable = true;
        Ok(())
    }

    fn replace(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.operate()?;
        let file = MemoryFile { durable: bytes.to_vec(), current: bytes.to_vec(), entry_durable: true };
        self.files.insert(name.to_owned(), file);
        Ok(())
    }

    fn locate(&self, name: &str) -> String {
        format!("memory:{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_keeps_synced_and_torn_prefix() {
        let mut storage = MemoryStorage::new();
        storage.append("log", b"abc").unwrap();
        storage.sync("log").unwrap();
        storage.append("log", b"defg").unwrap();
        storage.crash(|_, unsynced| unsynced / 2);
        assert_eq!(storage.read("log").unwrap().as_deref(), Some(&b"abcde"[..]));
    }

    #[test]
    fn crash_drops_unsynced_new_file() {
        let mut storage = MemoryStorage::new();
        storage.append("log", b"abc").unwrap();
        storage.crash(|_, _| 0);
        assert_eq!(storage.read("log").unwrap(), None);
    }

    #[test]
    fn power_cut_fails_later_operations() {
        let mut storage = MemoryStorage::new();
        storage.cut_power_after(1);
        storage.append("log", b"abc").unwrap();
        assert!(storage.sync("log").is_err());
        assert!(storage.replace("guard", b"x").is_err());
        assert_eq!(storage.operations(), 3);
        storage.crash(|_, unsynced| unsynced);
        assert_eq!(storage.read("log").unwrap().as_deref(), Some(&b"abc"[..]));
        assert_eq!(storage.read("guard").unwrap(), None);
    }

    #[test]
    fn power_switch_cuts_after_more_operations() {
        let mut storage = MemoryStorage::new();
        storage.append("log", b"a").unwrap();
        let switch = storage.power_switch();
        switch.cut_after(1);
        storage.append("log", b"b").unwrap();
        assert!(storage.append("log", b"c").is_err());
        assert!(switch.is_cut());
        assert!(!switch.cancel(), "the cut already happened");

        let copy = storage.clone();
        storage.crash(|_, unsynced| unsynced);
        switch.cut_after(0);
        assert!(storage.append("log", b"d").is_err());
        assert!(copy.power_is_cut(), "a clone keeps the power state it was copied with");
        assert_eq!(storage.read("log").unwrap().as_deref(), Some(&b"ab"[..]));
    }

    #[test]
    fn power_switch_cancel_restores_power() {
        let mut storage = MemoryStorage::new();
        let switch = storage.power_switch();
        switch.cut_after(2);
        storage.append("log", b"x").unwrap();
        storage.append("log", b"x").unwrap();
        assert!(switch.is_cut());
        assert!(switch.cancel(), "no operation failed yet");
        for _ in 0..5 {
            storage.append("log", b"x").unwrap();
        }
    }
}
