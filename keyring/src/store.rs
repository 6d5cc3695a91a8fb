//! The keyring folder: one `NAME.json` file per key, written atomically with owner-only
//! permissions.
//!
//! # Invariants
//! The folder is created with mode 0700 and key files with mode 0600 at creation, never
//! widened afterwards. A key file appears complete or not at all: it is written to a
//! temporary file in the same folder, synced, then linked (new key) or renamed
//! (`--force`) into place.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use std::time::SystemTime;

use vouch_protocol::keys::SigningKey;
use vouch_protocol::keys::sslib::KEYID_HASH_ALGORITHMS;
use zeroize::Zeroizing;

use super::file::KeyFile;
use super::{KeyKind, KeyName, KeyringError, Protection};

/// Largest key file read, in bytes; a real key file is under 1 KiB.
pub const KEY_FILE_BYTES_MAX: u64 = 64 * 1024;
/// Mode of the keyring folder.
const DIR_MODE: u32 = 0o700;
/// Mode of key files and exported private keys.
pub const SECRET_FILE_MODE: u32 = 0o600;

/// A keyring folder on disk.
pub struct Keyring {
    dir: PathBuf,
}

impl Keyring {
    /// Opens the keyring at `dir`, which need not exist until a key is saved.
    pub fn new(dir: PathBuf) -> Keyring {
        warn_if_group_or_world_accessible(&dir, DIR_MODE);
        Keyring { dir }
    }

    /// Returns the keyring folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the path of the file that stores (or would store) key `name`.
    pub fn key_path(&self, name: &KeyName) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Loads and validates key `name`.
    pub fn load(&self, name: &KeyName) -> Result<KeyFile, KeyringError> {
        let path = self.key_path(name);
        if !path.exists() {
            return Err(KeyringError::NotFound { name: name.clone(), dir: self.dir.clone() });
        }
        // Opening a FIFO or a device would block or read without end, so only regular
        // files (or symbolic links to them) are read.
        let metadata = fs::metadata(&path).map_err(|error| KeyringError::io(&path, error))?;
        if !metadata.is_file() {
            return Err(KeyringError::NotAFile { path });
        }
        warn_if_group_or_world_accessible(&path, SECRET_FILE_MODE);
        let bytes = Zeroizing::new(vouch_protocol::input::read_file_bounded(&path, KEY_FILE_BYTES_MAX)?);
        KeyFile::from_json(&path, name, &bytes)
    }

    /// Loads every key, sorted by name; a file that fails to load is returned as an
    /// error in its place so the others are still listed.
    pub fn list(&self) -> Result<Vec<Result<KeyFile, KeyringError>>, KeyringError> {
        self.check_folder()?;
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(KeyringError::io(&self.dir, error)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| KeyringError::io(&self.dir, error))?;
            let file_name = entry.file_name();
            let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Ok(name) = KeyName::parse(stem) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names.iter().map(|name| self.load(name)).collect())
    }

    /// Writes `key` to its file; an existing key is replaced only when `replace` is set.
    pub fn save(&self, key: &KeyFile, replace: bool) -> Result<PathBuf, KeyringError> {
        self.create_dir()?;
        let path = self.key_path(&key.name);
        if !replace && path.exists() {
            return Err(KeyringError::AlreadyExists { name: key.name.clone(), path });
        }
        write_secret_file(&path, &key.to_json(), replace).map_err(|error| match error {
            WriteError::Exists => KeyringError::AlreadyExists { name: key.name.clone(), path: path.clone() },
            WriteError::Io(path, error) => KeyringError::Io { path, error },
        })?;
        Ok(path)
    }

    /// Stores `key` unencrypted under `name`, for development keys that programs such as
    /// `vouchd --dev` create. The key id uses the same securesystemslib form as
    /// `vouch keys generate`. Storing a key that is already there under `name` changes
    /// nothing, and a public-only file of the same key gets the private key. Any other
    /// key under `name` is kept, and the call fails with [`KeyringError::OtherKeyExists`].
    pub fn store_unencrypted(&self, name: &KeyName, key: &SigningKey) -> Result<Stored, KeyringError> {
        let algorithms = Some(KEYID_HASH_ALGORITHMS.map(str::to_owned).to_vec());
        let file =
            KeyFile::new_private(name.clone(), &key.seed(), algorithms, Protection::Unencrypted, SystemTime::now())?;
        match self.save(&file, false) {
            Ok(path) => return Ok(Stored::Created(path)),
            Err(KeyringError::AlreadyExists { .. }) => {}
            Err(error) => return Err(error),
        }

        let existing = self.load(name)?;
        let path = self.key_path(name);
        if existing.public_key != file.public_key {
            return Err(KeyringError::OtherKeyExists { name: name.clone(), path });
        }
        if existing.kind() != KeyKind::PublicOnly {
            return Ok(Stored::AlreadyPresent(path));
        }
        // The public-only file's key id form is kept, so its key id does not change.
        let upgraded = KeyFile::new_private(
            name.clone(),
            &key.seed(),
            existing.keyid_hash_algorithms,
            Protection::Unencrypted,
            existing.created,
        )?;
        let path = self.save(&upgraded, true)?;
        Ok(Stored::Created(path))
    }

    /// Removes key `name`'s file.
    pub fn delete(&self, name: &KeyName) -> Result<PathBuf, KeyringError> {
        let path = self.key_path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(path),
            Err(error) if error.kind() == ErrorKind::NotFound => {
                Err(KeyringError::NotFound { name: name.clone(), dir: self.dir.clone() })
            }
            Err(error) => Err(KeyringError::io(&path, error)),
        }
    }

    /// Fails when the keyring path exists but is not a folder (or a link to one).
    fn check_folder(&self) -> Result<(), KeyringError> {
        match fs::metadata(&self.dir) {
            Ok(metadata) if !metadata.is_dir() => Err(KeyringError::NotAFolder { dir: self.dir.clone() }),
            _ => Ok(()),
        }
    }

    /// Creates the keyring folder with mode 0700 if it is missing.
    fn create_dir(&self) -> Result<(), KeyringError> {
        self.check_folder()?;
        if self.dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = self.dir.parent() {
            fs::create_dir_all(parent).map_err(|error| KeyringError::io(parent, error))?;
        }
        let mut builder = fs::DirBuilder::new();
        set_dir_mode(&mut builder);
        match builder.create(&self.dir) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(error) => Err(KeyringError::io(&self.dir, error)),
        }
    }
}

/// Outcome of [`Keyring::store_unencrypted`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The key file was written at this path.
    Created(PathBuf),
    /// The file at this path already contained the same signing key and was left as it is.
    AlreadyPresent(PathBuf),
}

/// Error from [`write_secret_file`].
pub enum WriteError {
    /// The destination exists and replacing it was not requested.
    Exists,
    /// A filesystem call failed on the given path.
    Io(PathBuf, std::io::Error),
}

/// Writes `bytes` to `path` atomically with mode 0600. Without `replace`, fails with
/// [`WriteError::Exists`] if `path` exists, with no window in which another writer's
/// file could be overwritten.
pub fn write_secret_file(path: &Path, bytes: &[u8], replace: bool) -> Result<(), WriteError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temp = temp_path(path)?;
    // Errors name `path`, because the temporary file's name means nothing to the user.
    let result = write_synced(&temp, bytes)
        .map_err(|error| name_destination(error, path))
        .and_then(|()| publish(&temp, path, replace));
    if result.is_err() || !replace {
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(dir);
    Ok(())
}

/// Replaces the temporary file's path in `error` with the destination `path`.
fn name_destination(error: WriteError, path: &Path) -> WriteError {
    match error {
        WriteError::Io(_, error) => WriteError::Io(path.to_owned(), error),
        WriteError::Exists => WriteError::Exists,
    }
}

/// Picks an unused-looking temporary name beside `path`, hidden and not ending in
/// `.json` so that listings skip it.
fn temp_path(path: &Path) -> Result<PathBuf, WriteError> {
    let mut random = [0u8; 8];
    super::crypto::fill_random(&mut random)
        .map_err(|error| WriteError::Io(path.to_owned(), std::io::Error::other(error.to_string())))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(path.with_file_name(format!(".{file_name}.{}.tmp", hex::encode(random))))
}

/// Creates `path` (which must not exist) with mode 0600, writes and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let io = |error| WriteError::Io(path.to_owned(), error);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    set_file_mode(&mut options);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Moves the finished temporary file to its final name.
fn publish(temp: &Path, path: &Path, replace: bool) -> Result<(), WriteError> {
    if replace {
        return fs::rename(temp, path).map_err(|error| WriteError::Io(path.to_owned(), error));
    }
    // A hard link fails if `path` exists, which makes "create unless present" atomic.
    match fs::hard_link(temp, path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Err(WriteError::Exists),
        Err(error) => Err(WriteError::Io(path.to_owned(), error)),
    }
}

/// Syncs a folder so that a rename or link in it survives a crash; best effort,
/// because some filesystems do not support syncing folders.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(unix)]
fn set_dir_mode(builder: &mut fs::DirBuilder) {
    use std::os::unix::fs::DirBuilderExt;
    builder.mode(DIR_MODE);
}

#[cfg(unix)]
fn set_file_mode(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(SECRET_FILE_MODE);
}

/// Logs a warning when `path` grants group or other users any access that `expected`
/// does not.
#[cfg(unix)]
fn warn_if_group_or_world_accessible(path: &Path, expected: u32) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(metadata) = fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & !expected & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{mode:o}"),
            "other users can access this keyring path; run `chmod {expected:o} {}`",
            path.display()
        );
    }
}

// NOTE: on non-Unix systems the keyring relies on the folder's inherited access
// control; modes are neither set nor checked.
#[cfg(not(unix))]
fn set_dir_mode(_builder: &mut fs::DirBuilder) {}

#[cfg(not(unix))]
fn set_file_mode(_options: &mut OpenOptions) {}

#[cfg(not(unix))]
fn warn_if_group_or_world_accessible(_path: &Path, _expected: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> KeyName {
        KeyName::parse(text).unwrap()
    }

    #[test]
    fn store_unencrypted_creates_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(dir.path().join("keyring"));
        let key = SigningKey::from_seed(&[3u8; 32]);

        let stored = keyring.store_unencrypted(&name("dev"), &key).unwrap();
        assert_eq!(stored, Stored::Created(keyring.key_path(&name("dev"))));

        let file = keyring.load(&name("dev")).unwrap();
        assert_eq!(file.kind(), KeyKind::Unencrypted);
        assert_eq!(file.public_key, *key.public_key().as_bytes());
        assert_eq!(*file.unlock(None).unwrap().seed(), [3u8; 32]);
        let expected_form = KEYID_HASH_ALGORITHMS.map(str::to_owned).to_vec();
        assert_eq!(file.keyid_hash_algorithms, Some(expected_form));
    }

    #[test]
    fn store_unencrypted_twice_keeps_file() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(dir.path().to_owned());
        let key = SigningKey::from_seed(&[3u8; 32]);
        keyring.store_unencrypted(&name("dev"), &key).unwrap();
        let before = fs::read(keyring.key_path(&name("dev"))).unwrap();

        let stored = keyring.store_unencrypted(&name("dev"), &key).unwrap();
        assert_eq!(stored, Stored::AlreadyPresent(keyring.key_path(&name("dev"))));
        assert_eq!(fs::read(keyring.key_path(&name("dev"))).unwrap(), before);
    }

    #[test]
    fn store_unencrypted_rejects_other_key() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(dir.path().to_owned());
        keyring.store_unencrypted(&name("dev"), &SigningKey::from_seed(&[3u8; 32])).unwrap();
        let before = fs::read(keyring.key_path(&name("dev"))).unwrap();

        let error = keyring.store_unencrypted(&name("dev"), &SigningKey::from_seed(&[4u8; 32])).unwrap_err();
        assert!(matches!(error, KeyringError::OtherKeyExists { .. }), "{error}");
        assert!(error.to_string().contains("key `dev` already exists"), "{error}");
        assert_eq!(fs::read(keyring.key_path(&name("dev"))).unwrap(), before);
    }

    #[test]
    fn store_unencrypted_completes_public_only_key() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(dir.path().to_owned());
        let key = SigningKey::from_seed(&[3u8; 32]);
        let public = KeyFile::new_public(name("dev"), *key.public_key().as_bytes(), None, SystemTime::UNIX_EPOCH);
        keyring.save(&public, false).unwrap();

        keyring.store_unencrypted(&name("dev"), &key).unwrap();
        let file = keyring.load(&name("dev")).unwrap();
        assert_eq!(file.kind(), KeyKind::Unencrypted);
        assert_eq!(file.keyid_hash_algorithms, None);
        assert_eq!(file.keyid().unwrap(), public.keyid().unwrap());
    }

    #[test]
    fn store_unencrypted_keeps_unreadable_file() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::new(dir.path().to_owned());
        fs::write(keyring.key_path(&name("dev")), b"not json").unwrap();

        let error = keyring.store_unencrypted(&name("dev"), &SigningKey::from_seed(&[3u8; 32])).unwrap_err();
        assert!(error.to_string().contains("dev.json"), "{error}");
        assert_eq!(fs::read(keyring.key_path(&name("dev"))).unwrap(), b"not json");
    }
}
