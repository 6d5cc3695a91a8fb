//! The local keyring: ed25519 keys stored one per file, encrypted with a passphrase
//! unless the user opts out.
//!
//! The `vouch` command manages the keys; `vouchd --dev` places its development keys
//! here with [`Keyring::store_unencrypted`]. docs/KEYS.md describes the file format.

pub mod crypto;
mod file;
mod identity;
mod location;
mod name;
pub mod passphrase;
mod store;

use std::path::PathBuf;
use std::time::SystemTime;

use vouch_protocol::keys::SigningKey;
use zeroize::Zeroizing;

pub use crypto::KdfParams;
pub use file::{KeyFile, Secret, public_key_of, validate_keyid_hash_algorithms};
pub use location::{KEYRING_ENV, default_dir};
pub use name::KeyName;
pub use store::{Keyring, Stored, WriteError, write_secret_file};

use crypto::SEED_LEN;

/// Why a keyring operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("invalid key name `{name}`: {reason}; use 1 to 64 characters from A-Z, a-z, 0-9, `.`, `_` and `-`")]
    InvalidName { name: String, reason: String },
    #[error("no key named `{name}` in keyring {dir}; run `vouch keys list` to see the keys, or pass --keyring")]
    NotFound { name: KeyName, dir: PathBuf },
    #[error("key `{name}` already exists at {path}; pass --force to replace it or choose another name")]
    AlreadyExists { name: KeyName, path: PathBuf },
    #[error("cannot decrypt key `{name}`: wrong passphrase, or the key file was modified")]
    WrongPassphrase { name: KeyName },
    #[error("key `{name}` holds only a public key (imported for verification); import its private key to sign with it")]
    PublicOnly { name: KeyName },
    #[error("{path}: field `{field}`: {reason}")]
    Malformed { path: PathBuf, field: String, reason: String },
    #[error("encrypted seed is {found} bytes, expected {expected}; the key file was modified")]
    CiphertextLength { found: usize, expected: usize },
    #[error("invalid Argon2id parameters: {reason}")]
    InvalidKdfParams { reason: String },
    #[error("decryption failed")]
    Decryption,
    #[error("encryption failed")]
    Encryption,
    #[error("cannot read random bytes from the operating system: {0}")]
    Random(String),
    #[error(
        "keyring {dir} is not a folder; pass --keyring DIR or set VOUCH_KEYRING to a folder, or move the file away"
    )]
    NotAFolder { dir: PathBuf },
    #[error("{path} is not a regular file; move it out of the keyring folder, which holds only key files")]
    NotAFile { path: PathBuf },
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("key `{name}`: {error}")]
    Key { name: KeyName, error: vouch_protocol::keys::KeyError },
    #[error(transparent)]
    Input(#[from] vouch_protocol::InputError),
    #[error("cannot find the user's config folder (is HOME set?); pass --keyring DIR or set {KEYRING_ENV}")]
    NoConfigFolder,
    #[error("key `{name}` already exists at {path} with another public key; delete it or choose another name")]
    OtherKeyExists { name: KeyName, path: PathBuf },
    #[error(
        "key `{name}` needs a passphrase: set {env}, pass --passphrase-file FILE, or run in a terminal{hint}",
        env = passphrase::PASSPHRASE_ENV,
        hint = if *new_key { ", or pass --no-passphrase to store the key unencrypted" } else { "" }
    )]
    NoPassphrase { name: KeyName, new_key: bool },
    #[error(
        "the passphrase for key `{name}` is empty; choose a non-empty passphrase{hint}",
        hint = if *new_key { " or pass --no-passphrase" } else { "" }
    )]
    EmptyPassphrase { name: KeyName, new_key: bool },
    #[error("the two passphrases for key `{name}` differ; run the command again")]
    PassphrasesDiffer { name: KeyName },
    #[error("cannot read the passphrase from the terminal: {0}")]
    Terminal(std::io::Error),
}

impl KeyringError {
    fn io(path: &std::path::Path, error: std::io::Error) -> KeyringError {
        KeyringError::Io { path: path.to_owned(), error }
    }
}

/// How a new private key is stored.
pub enum Protection<'a> {
    /// Encrypted with a key derived from this passphrase.
    Passphrase { passphrase: &'a [u8], kdf: KdfParams },
    /// Stored in clear (`--no-passphrase`).
    Unencrypted,
}

/// Whether a key can sign and how its private part is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A private key encrypted with a passphrase.
    Encrypted,
    /// A private key stored in clear.
    Unencrypted,
    /// A public key only, for verification.
    PublicOnly,
}

impl KeyFile {
    /// Builds the file of a private key from its seed.
    pub fn new_private(
        name: KeyName,
        seed: &[u8; SEED_LEN],
        keyid_hash_algorithms: Option<Vec<String>>,
        protection: Protection<'_>,
        created: SystemTime,
    ) -> Result<KeyFile, KeyringError> {
        let public_key = public_key_of(seed);
        let secret = match protection {
            Protection::Unencrypted => Secret::Unencrypted(Zeroizing::new(*seed)),
            Protection::Passphrase { passphrase, kdf } => {
                let aad = crypto::associated_data(name.as_str(), &public_key);
                Secret::Encrypted(crypto::seal(seed, passphrase, kdf, &aad)?)
            }
        };
        Ok(KeyFile { name, created, public_key, keyid_hash_algorithms, secret })
    }

    /// Builds the file of a public-only key.
    pub fn new_public(
        name: KeyName,
        public_key: [u8; 32],
        keyid_hash_algorithms: Option<Vec<String>>,
        created: SystemTime,
    ) -> KeyFile {
        KeyFile { name, created, public_key, keyid_hash_algorithms, secret: Secret::PublicOnly }
    }

    /// Returns whether the key can sign and how it is stored.
    pub fn kind(&self) -> KeyKind {
        match self.secret {
            Secret::PublicOnly => KeyKind::PublicOnly,
            Secret::Unencrypted(_) => KeyKind::Unencrypted,
            Secret::Encrypted(_) => KeyKind::Encrypted,
        }
    }

    /// Returns the private key, decrypting it with `passphrase` when it is encrypted
    /// (the passphrase is ignored otherwise).
    pub fn unlock(&self, passphrase: Option<&[u8]>) -> Result<SigningKey, KeyringError> {
        let sealed = match &self.secret {
            Secret::PublicOnly => {
                return Err(KeyringError::PublicOnly { name: self.name.clone() });
            }
            Secret::Unencrypted(seed) => return Ok(SigningKey::from_seed(seed)),
            Secret::Encrypted(sealed) => sealed,
        };
        let aad = crypto::associated_data(self.name.as_str(), &self.public_key);
        let seed = crypto::open(sealed, passphrase.unwrap_or_default(), &aad).map_err(|error| match error {
            KeyringError::Decryption => KeyringError::WrongPassphrase { name: self.name.clone() },
            other => other,
        })?;
        let key = SigningKey::from_seed(&seed);
        if *key.public_key().as_bytes() != self.public_key {
            return Err(KeyringError::WrongPassphrase { name: self.name.clone() });
        }
        Ok(key)
    }
}
