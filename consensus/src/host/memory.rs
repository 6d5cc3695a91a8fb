//! [`Storage`] in memory that can crash: for simulators and crash tests.
//!
//! Each file keeps its durable bytes apart from the bytes appended since its last sync.
//! [`MemoryStorage::crash`] drops the unsynced bytes of every file, keeping a prefix of
//! them as a torn tail, as a power loss does. [`MemoryStorage::cut_power_after`] makes
//! every write after a given count fail, so a test can stop a validator between any two
//! storage operations.

use std::collections::BTreeMap;
use std::io;

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

/// Files in memory with the durability contract of [`Storage`].
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    files: BTreeMap<String, MemoryFile>,
    /// Writes, syncs, truncations and replacements performed so far.
    operations: u64,
    /// The number of operations after which every write fails.
    power_cut_after: Option<u64>,
}

impl MemoryStorage {
    /// Returns an empty store.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// Returns the number of writes, syncs, truncations and replacements so far,
    /// counting failed ones.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Makes every operation after the first `operations` ones (counted from the
    /// store's creation) fail without effect, as if the power went out.
    pub fn cut_power_after(&mut self, operations: u64) {
        self.power_cut_after = Some(operations);
    }

    /// Returns whether the power is cut.
    pub fn power_is_cut(&self) -> bool {
        self.power_cut_after.is_some_and(|limit| self.operations >= limit)
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
        self.power_cut_after = None;
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
        self.operations += 1;
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
}
