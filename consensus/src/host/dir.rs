//! [`Storage`] over a directory of the local file system, with `std::fs` only.
//!
//! `sync` calls `fdatasync` on the file, and `fsync` on the directory after the file
//! was created. `replace` writes a temporary file beside the target, syncs it, renames it
//! over the target and syncs the directory, so a crash leaves the old or the new file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::host::storage::Storage;

/// The suffix of the temporary file that [`Storage::replace`] renames into place.
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Files in one directory of the local file system.
#[derive(Debug)]
pub struct DirStorage {
    dir: PathBuf,
    /// Open append handles, kept so each append costs one write call.
    appending: BTreeMap<String, File>,
    /// Files created by an append whose directory entry is not yet synced.
    created: BTreeSet<String>,
}

impl DirStorage {
    /// Opens `dir`, creating it and its parents if they are missing.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<DirStorage> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(DirStorage { dir, appending: BTreeMap::new(), created: BTreeSet::new() })
    }

    /// Returns the directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    fn append_handle(&mut self, name: &str) -> io::Result<&mut File> {
        if !self.appending.contains_key(name) {
            let path = self.path(name);
            if !path.exists() {
                self.created.insert(name.to_owned());
            }
            let file = OpenOptions::new().append(true).create(true).open(&path)?;
            self.appending.insert(name.to_owned(), file);
        }
        Ok(self.appending.get_mut(name).expect("the handle was inserted above"))
    }
}

impl Storage for DirStorage {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.append_handle(name)?.write_all(bytes)
    }

    fn sync(&mut self, name: &str) -> io::Result<()> {
        self.append_handle(name)?.sync_data()?;
        if self.created.remove(name) {
            self.sync_dir()?;
        }
        Ok(())
    }

    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.path(name))?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn replace(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let temporary = self.path(&format!("{name}{TEMPORARY_SUFFIX}"));
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);

        // The cached append handle points at the file that the rename unlinks.
        self.appending.remove(name);
        fs::rename(&temporary, self.path(name))?;
        self.created.remove(name);
        self.sync_dir()
    }

    fn locate(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_then_read_returns_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = DirStorage::open(dir.path()).unwrap();
        assert_eq!(storage.read("log").unwrap(), None);
        storage.append("log", b"abc").unwrap();
        storage.append("log", b"def").unwrap();
        storage.sync("log").unwrap();
        assert_eq!(storage.read("log").unwrap().as_deref(), Some(&b"abcdef"[..]));
    }

    #[test]
    fn replace_then_append_extends_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = DirStorage::open(dir.path()).unwrap();
        storage.append("log", b"old").unwrap();
        storage.replace("log", b"new").unwrap();
        storage.append("log", b"+").unwrap();
        assert_eq!(storage.read("log").unwrap().as_deref(), Some(&b"new+"[..]));
        assert!(!dir.path().join("log.tmp").exists(), "the temporary file was renamed");
    }

    #[test]
    fn truncate_cuts_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = DirStorage::open(dir.path()).unwrap();
        storage.append("log", b"abcdef").unwrap();
        storage.truncate("log", 2).unwrap();
        storage.append("log", b"z").unwrap();
        assert_eq!(storage.read("log").unwrap().as_deref(), Some(&b"abz"[..]));
    }
}
