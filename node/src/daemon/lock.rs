//! The home's lock file: an advisory lock of the operating system that keeps a second
//! `vouchd` from opening the same home, with the holder's pid inside for the message.
//!
//! # Invariants
//! The lock lives as long as the [`HomeLock`] value; the operating system drops it when
//! the process exits, even after SIGKILL, so a stale file never blocks a start. The file
//! itself stays: removing it could let two processes lock two different files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file in the home.
pub const LOCK_FILE_NAME: &str = "vouchd.lock";

/// Maximum number of bytes read from a lock file to find the holder's pid.
const LOCK_FILE_BYTES_MAX: u64 = 64;

/// Errors from taking the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("home {home} is in use by vouchd process {pid} (lock {path}); stop that process or use another --home")]
    HeldBy { home: PathBuf, path: PathBuf, pid: u32 },
    #[error(
        "home {home} is in use by another process (lock {path}, no pid recorded yet); stop it or use another --home"
    )]
    HeldByUnknown { home: PathBuf, path: PathBuf },
    #[error("{path} is not a regular file (a symbolic link or another kind); remove it, and vouchd creates it again")]
    NotARegularFile { path: PathBuf },
    #[error("cannot lock {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

/// The held lock of a home.
#[derive(Debug)]
pub struct HomeLock {
    file: File,
    path: PathBuf,
}

impl HomeLock {
    /// Takes the lock of `home` without waiting, and records this process's pid in it.
    pub fn acquire(home: &Path) -> Result<HomeLock, LockError> {
        let path = home.join(LOCK_FILE_NAME);
        let io = |error| LockError::Io { path: path.clone(), error };
        // Writing the pid through a symbolic link would overwrite the file it points to.
        // NOTE: a link created between this check and the open below is still
        // followed; only a user who can write to the home can do that.
        if let Ok(metadata) = std::fs::symlink_metadata(&path)
            && !metadata.file_type().is_file()
        {
            return Err(LockError::NotARegularFile { path });
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;

        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(held_error(home, &path, &mut file)),
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }

        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(HomeLock { file, path })
    }

    /// Returns the lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for HomeLock {
    fn drop(&mut self) {
        if let Err(error) = self.file.unlock() {
            tracing::warn!(path = %self.path.display(), %error, "cannot release the home lock; process exit releases it");
        }
    }
}

/// Builds the error for a lock held by another process, naming its pid when the file
/// holds one.
fn held_error(home: &Path, path: &Path, file: &mut File) -> LockError {
    let mut text = String::new();
    let read = file.take(LOCK_FILE_BYTES_MAX).read_to_string(&mut text);
    match read.ok().and_then(|_| text.trim().parse::<u32>().ok()) {
        Some(pid) => LockError::HeldBy { home: home.to_owned(), path: path.to_owned(), pid },
        None => LockError::HeldByUnknown { home: home.to_owned(), path: path.to_owned() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let first = HomeLock::acquire(dir.path()).expect("the first lock succeeds");

        // flock locks belong to an open file, so a second open in this process conflicts
        // like another process would.
        let error = HomeLock::acquire(dir.path()).expect_err("the home is locked");
        match &error {
            LockError::HeldBy { pid, .. } => assert_eq!(*pid, std::process::id()),
            other => panic!("expected HeldBy, got {other}"),
        }
        assert!(error.to_string().contains(&std::process::id().to_string()));
        drop(first);
    }

    #[test]
    fn lock_is_released_on_drop() {
        let dir = tempfile::tempdir().expect("temporary folder");
        drop(HomeLock::acquire(dir.path()).expect("first lock"));
        let again = HomeLock::acquire(dir.path()).expect("the lock is free again");
        assert_eq!(again.path(), dir.path().join(LOCK_FILE_NAME));
    }

    #[test]
    fn stale_pid_is_overwritten() {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join(LOCK_FILE_NAME), "4000000000\nleftover text\n").expect("write");
        let _lock = HomeLock::acquire(dir.path()).expect("an unlocked file is free");
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE_NAME)).expect("read");
        assert_eq!(text, format!("{}\n", std::process::id()));
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_link_is_not_followed() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let target = dir.path().join("precious.txt");
        std::fs::write(&target, "keep me").expect("write");
        std::os::unix::fs::symlink(&target, dir.path().join(LOCK_FILE_NAME)).expect("symlink");
        let error = HomeLock::acquire(dir.path()).expect_err("a link is rejected");
        assert!(matches!(error, LockError::NotARegularFile { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep me");
    }

    #[test]
    fn holder_without_pid_is_reported() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join(LOCK_FILE_NAME);
        let holder = File::create(&path).expect("create");
        holder.try_lock().expect("lock");
        let error = HomeLock::acquire(dir.path()).expect_err("the home is locked");
        assert!(matches!(error, LockError::HeldByUnknown { .. }), "{error}");
    }
}
