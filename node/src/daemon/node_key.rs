//! The node's consensus key in `node_key.json`: an ed25519 seed in hex, readable only
//! by its owner.
//!
//! # Invariants
//! - The file is created with mode 0600 and never replaced; the seed is never logged.
//! - A file whose `public_key` does not match its seed is rejected, so a key pasted
//!   from another node cannot sign under the wrong identity.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vouch_protocol::input::{self, InputError};
use vouch_protocol::keys::{PublicKey, SigningKey};
use zeroize::{Zeroize, Zeroizing};

/// Maximum size of a node key file in bytes; a real one is under 200 bytes.
pub const NODE_KEY_BYTES_MAX: u64 = 4096;

/// The `format` value of a node key file.
const FORMAT: &str = "vouch-node-key";

/// The only version of the node key file.
const VERSION: u32 = 1;

/// Mode of the node key file.
const KEY_FILE_MODE: u32 = 0o600;

/// Errors from reading, generating or writing the node key.
#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    #[error(transparent)]
    Read(#[from] InputError),
    #[error("node key {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot write node key {path}: {error}")]
    Write { path: PathBuf, error: std::io::Error },
    #[error("cannot read random bytes from the operating system for a new key: {0}")]
    Random(String),
}

/// The JSON shape of `node_key.json`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeKeyFile {
    format: String,
    version: u32,
    public_key: String,
    seed: String,
}

impl Drop for NodeKeyFile {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

/// Generates a new ed25519 key from the operating system's random source.
pub fn generate() -> Result<SigningKey, NodeKeyError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|error| NodeKeyError::Random(error.to_string()))?;
    Ok(SigningKey::from_seed(&seed))
}

/// Writes `key` to a new file at `path` with mode 0600; an existing file is an error.
pub fn write(path: &Path, key: &SigningKey) -> Result<(), NodeKeyError> {
    let file = NodeKeyFile {
        format: FORMAT.to_owned(),
        version: VERSION,
        public_key: key.public_key().to_hex(),
        seed: hex::encode(key.seed().as_ref()),
    };
    let mut text = Zeroizing::new(serde_json::to_string_pretty(&file).expect("the key file is plain JSON"));
    text.push('\n');

    let io = |error| NodeKeyError::Write { path: path.to_owned(), error };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, KEY_FILE_MODE);
    let mut handle = options.open(path).map_err(io)?;
    handle.write_all(text.as_bytes()).map_err(io)?;
    handle.sync_all().map_err(io)
}

/// Reads and checks the node key at `path`; logs a warning when other users may read it.
pub fn read(path: &Path) -> Result<SigningKey, NodeKeyError> {
    let invalid = |reason: String| NodeKeyError::Invalid { path: path.to_owned(), reason };
    warn_if_readable_by_others(path);

    let bytes = Zeroizing::new(input::read_file_bounded(path, NODE_KEY_BYTES_MAX)?);
    let file: NodeKeyFile = input::parse_json(&path.display().to_string(), &bytes)?;
    if file.format != FORMAT || file.version != VERSION {
        return Err(invalid(format!(
            "format is {:?} version {}, expected {FORMAT:?} version {VERSION}",
            file.format, file.version
        )));
    }

    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&file.seed, seed.as_mut())
        .map_err(|_| invalid("field `seed` is not 64 hex characters".to_owned()))?;
    let key = SigningKey::from_seed(&seed);

    let public_key =
        PublicKey::from_hex(&file.public_key).map_err(|error| invalid(format!("field `public_key`: {error}")))?;
    if public_key != key.public_key() {
        return Err(invalid(format!(
            "field `public_key` is {public_key}, but the seed's public key is {}; the file was edited or mixed up",
            key.public_key()
        )));
    }
    Ok(key)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;

    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "node key is readable by other users; run chmod 600 on it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_key_reads_back() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("node_key.json");
        let key = generate().expect("random key");
        write(&path, &key).expect("write");
        assert_eq!(read(&path).expect("read").public_key(), key.public_key());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("node_key.json");
        write(&path, &generate().expect("random key")).expect("write");
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn existing_file_is_not_replaced() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("node_key.json");
        let first = generate().expect("random key");
        write(&path, &first).expect("write");
        assert!(matches!(write(&path, &generate().expect("random key")), Err(NodeKeyError::Write { .. })));
        assert_eq!(read(&path).expect("read").public_key(), first.public_key());
    }

    #[test]
    fn mismatched_public_key_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("node_key.json");
        let other = SigningKey::from_seed(&[9; 32]).public_key();
        let text = format!(
            r#"{{"format": "vouch-node-key", "version": 1, "public_key": "{}", "seed": "{}"}}"#,
            other.to_hex(),
            hex::encode([7u8; 32])
        );
        std::fs::write(&path, text).expect("write");
        let message = read(&path).expect_err("mismatch").to_string();
        assert!(message.contains("public_key"), "{message}");
    }

    #[test]
    fn short_seed_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("node_key.json");
        let public = SigningKey::from_seed(&[7; 32]).public_key();
        let text = format!(
            r#"{{"format": "vouch-node-key", "version": 1, "public_key": "{}", "seed": "0707"}}"#,
            public.to_hex()
        );
        std::fs::write(&path, text).expect("write");
        let message = read(&path).expect_err("short seed").to_string();
        assert!(message.contains("seed"), "{message}");
    }

    #[test]
    fn unknown_format_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("node_key.json");
        let key = SigningKey::from_seed(&[7; 32]);
        let text = format!(
            r#"{{"format": "vouch-key", "version": 1, "public_key": "{}", "seed": "{}"}}"#,
            key.public_key().to_hex(),
            hex::encode([7u8; 32])
        );
        std::fs::write(&path, text).expect("write");
        let message = read(&path).expect_err("wrong format").to_string();
        assert!(message.contains("vouch-node-key"), "{message}");
    }
}
