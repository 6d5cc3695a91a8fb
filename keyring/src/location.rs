//! Resolution of the keyring folder: `--keyring`, else `VOUCH_KEYRING`, else a folder
//! under the user's config folder.

use std::path::PathBuf;

use super::{Keyring, KeyringError};

/// Environment variable that names the keyring folder.
pub const KEYRING_ENV: &str = "VOUCH_KEYRING";

/// Returns the keyring folder that `vouch` uses when `--keyring` is not given:
/// `$VOUCH_KEYRING` when set and not empty, else `<user config folder>/vouch/keyring`
/// (`~/.config/vouch/keyring` on Linux).
pub fn default_dir() -> Result<PathBuf, KeyringError> {
    if let Some(dir) = std::env::var_os(KEYRING_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let config = dirs::config_dir().ok_or(KeyringError::NoConfigFolder)?;
    Ok(config.join("vouch").join("keyring"))
}

impl Keyring {
    /// Opens the keyring at `dir` when given (the `--keyring` option), else at
    /// [`default_dir`].
    pub fn open(dir: Option<PathBuf>) -> Result<Keyring, KeyringError> {
        let dir = match dir {
            Some(dir) => dir,
            None => default_dir()?,
        };
        Ok(Keyring::new(dir))
    }

    /// Opens the keyring at [`default_dir`], the one `vouch` uses without `--keyring`.
    pub fn open_default() -> Result<Keyring, KeyringError> {
        Keyring::open(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_prefers_given_folder() {
        let keyring = Keyring::open(Some(PathBuf::from("/some/keyring"))).unwrap();
        assert_eq!(keyring.dir(), std::path::Path::new("/some/keyring"));
    }

    // NOTE: the environment is process-wide, so the `VOUCH_KEYRING` branch is tested
    // through the `vouch` binary in the CLI tests instead of here.
    #[test]
    fn default_dir_ends_in_vouch_keyring() {
        if std::env::var_os(KEYRING_ENV).is_some() {
            return;
        }
        let dir = default_dir().unwrap();
        assert!(dir.ends_with("vouch/keyring"), "{}", dir.display());
    }
}
