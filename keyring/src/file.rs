//! The versioned JSON format of one key file (`NAME.json`), described in docs/KEYS.md.
//!
//! # Invariants
//! A [`KeyFile`] read from disk has the expected format and version, a name equal to
//! its file name, a valid ed25519 public key and, for an unencrypted key, a seed whose
//! public key is that public key.

use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use vouch_protocol::keys::{PublicKey, SigningKey};
use zeroize::{Zeroize, Zeroizing};

use super::crypto::{KdfParams, NONCE_LEN, SALT_LEN, SEED_LEN, SealedSeed};
use super::{KeyName, KeyringError};

/// Value of the `format` field of every key file.
pub const KEY_FILE_FORMAT: &str = "vouch-key";
/// The key file version this build writes and reads.
pub const KEY_FILE_VERSION: u32 = 1;
/// The only key type and signature scheme the keyring holds.
pub const ED25519: &str = "ed25519";
/// Maximum number of entries of `keyid_hash_algorithms`.
pub const KEYID_HASH_ALGORITHMS_MAX: usize = 8;
/// Maximum length of one hash algorithm name in `keyid_hash_algorithms`.
pub const HASH_ALGORITHM_NAME_LEN_MAX: usize = 32;
/// Argon2 version 0x13 (19), the current one.
const ARGON2_VERSION: u32 = 19;

/// What a key file holds besides the public key.
pub enum Secret {
    /// Only a public key, imported to verify signatures.
    PublicOnly,
    /// A seed stored in clear (`--no-passphrase`).
    Unencrypted(Zeroizing<[u8; SEED_LEN]>),
    /// A seed encrypted with a passphrase.
    Encrypted(SealedSeed),
}

/// One key of the keyring, validated.
pub struct KeyFile {
    /// The key's name, equal to the file stem.
    pub name: KeyName,
    /// When the key was generated or imported.
    pub created: SystemTime,
    /// The ed25519 public key.
    pub public_key: [u8; 32],
    /// The `keyid_hash_algorithms` field of the key's securesystemslib form, which the
    /// key id covers when present: kept as imported so the key id stays the one the
    /// key's other users compute.
    pub keyid_hash_algorithms: Option<Vec<String>>,
    /// The private part, if any.
    pub secret: Secret,
}

/// Hex text of a secret that is wiped from memory when dropped.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct SecretHex(String);

impl Drop for SecretHex {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a Vouch key file object")]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    format: String,
    version: u32,
    name: String,
    created: String,
    keytype: String,
    scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid_hash_algorithms: Option<Vec<String>>,
    public: String,
    private: Option<PrivateJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a Vouch private key object")]
#[serde(tag = "protection", deny_unknown_fields)]
enum PrivateJson {
    #[serde(rename = "none")]
    Unencrypted { seed: SecretHex },
    #[serde(rename = "argon2id-xchacha20poly1305")]
    Encrypted { kdf: KdfJson, nonce: String, ciphertext: String },
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a Vouch key derivation object")]
#[serde(deny_unknown_fields)]
struct KdfJson {
    algorithm: String,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

impl KeyFile {
    /// Parses and validates the bytes of the key file at `path`, expected to hold `name`.
    pub fn from_json(path: &Path, name: &KeyName, bytes: &[u8]) -> Result<KeyFile, KeyringError> {
        let json: KeyFileJson = vouch_protocol::input::parse_json(&path.display().to_string(), bytes)?;
        let malformed = |field: &str, reason: String| KeyringError::Malformed {
            path: path.to_owned(),
            field: field.to_owned(),
            reason,
        };

        if json.format != KEY_FILE_FORMAT {
            return Err(malformed("format", format!("found {:?}, expected {KEY_FILE_FORMAT:?}", json.format)));
        }
        if json.version != KEY_FILE_VERSION {
            return Err(malformed(
                "version",
                format!("found {}, this vouch reads version {KEY_FILE_VERSION}; use a newer vouch", json.version),
            ));
        }
        if json.name != name.as_str() {
            return Err(malformed(
                "name",
                format!("found {:?} in the file named {name}.json; rename the file to {}.json", json.name, json.name),
            ));
        }
        for (field, value) in [("keytype", &json.keytype), ("scheme", &json.scheme)] {
            if value != ED25519 {
                return Err(malformed(field, format!("found {value:?}, the keyring holds only {ED25519:?} keys")));
            }
        }
        let created = humantime::parse_rfc3339(&json.created).map_err(|error| {
            malformed("created", format!("{:?} is not an RFC 3339 UTC time: {error}", json.created))
        })?;
        let public_key: [u8; 32] = decode_hex(&json.public).map_err(|reason| malformed("public", reason))?;
        PublicKey::from_bytes(&public_key).map_err(|error| malformed("public", error.to_string()))?;
        if let Some(algorithms) = &json.keyid_hash_algorithms {
            validate_keyid_hash_algorithms(algorithms).map_err(|reason| malformed("keyid_hash_algorithms", reason))?;
        }

        let secret = match json.private {
            None => Secret::PublicOnly,
            Some(PrivateJson::Unencrypted { seed }) => {
                let seed = Zeroizing::new(
                    decode_hex::<SEED_LEN>(&seed.0).map_err(|reason| malformed("private.seed", reason))?,
                );
                if public_key_of(&seed) != public_key {
                    return Err(malformed(
                        "private.seed",
                        "seed of another key than `public`; the file was modified".to_owned(),
                    ));
                }
                Secret::Unencrypted(seed)
            }
            Some(PrivateJson::Encrypted { kdf, nonce, ciphertext }) => Secret::Encrypted(
                sealed_from_json(&kdf, &nonce, &ciphertext).map_err(|(field, reason)| malformed(field, reason))?,
            ),
        };
        Ok(KeyFile {
            name: name.clone(),
            created,
            public_key,
            keyid_hash_algorithms: json.keyid_hash_algorithms,
            secret,
        })
    }

    /// Serializes the key file as pretty JSON; the buffer is wiped when dropped
    /// because it may hold a seed.
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let private = match &self.secret {
            Secret::PublicOnly => None,
            Secret::Unencrypted(seed) => Some(PrivateJson::Unencrypted { seed: SecretHex(hex::encode(&seed[..])) }),
            Secret::Encrypted(sealed) => Some(sealed_to_json(sealed)),
        };
        let json = KeyFileJson {
            format: KEY_FILE_FORMAT.to_owned(),
            version: KEY_FILE_VERSION,
            name: self.name.to_string(),
            created: humantime::format_rfc3339_seconds(self.created).to_string(),
            keytype: ED25519.to_owned(),
            scheme: ED25519.to_owned(),
            keyid_hash_algorithms: self.keyid_hash_algorithms.clone(),
            public: hex::encode(self.public_key),
            private,
        };
        let mut bytes =
            Zeroizing::new(serde_json::to_vec_pretty(&json).expect("a key file has only string and integer fields"));
        bytes.push(b'\n');
        bytes
    }
}

/// Checks a `keyid_hash_algorithms` list: at most [`KEYID_HASH_ALGORITHMS_MAX`]
/// names of 1 to [`HASH_ALGORITHM_NAME_LEN_MAX`] characters from `[a-z0-9-]`, which
/// securesystemslib's canonical JSON and serde_json write identically.
pub fn validate_keyid_hash_algorithms(algorithms: &[String]) -> Result<(), String> {
    if algorithms.len() > KEYID_HASH_ALGORITHMS_MAX {
        return Err(format!("lists {} algorithms, over the maximum of {KEYID_HASH_ALGORITHMS_MAX}", algorithms.len()));
    }
    let valid = |name: &String| {
        (1..=HASH_ALGORITHM_NAME_LEN_MAX).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match algorithms.iter().find(|name| !valid(name)) {
        Some(name) => Err(format!(
            "{name:?} is not a hash algorithm name (1 to {HASH_ALGORITHM_NAME_LEN_MAX} characters from a-z, 0-9 and -)"
        )),
        None => Ok(()),
    }
}

/// Derives the ed25519 public key of a seed.
pub fn public_key_of(seed: &[u8; SEED_LEN]) -> [u8; 32] {
    *SigningKey::from_seed(seed).public_key().as_bytes()
}

fn sealed_to_json(sealed: &SealedSeed) -> PrivateJson {
    PrivateJson::Encrypted {
        kdf: KdfJson {
            algorithm: "argon2id".to_owned(),
            version: ARGON2_VERSION,
            memory_kib: sealed.kdf.memory_kib,
            iterations: sealed.kdf.iterations,
            parallelism: sealed.kdf.parallelism,
            salt: hex::encode(sealed.salt),
        },
        nonce: hex::encode(sealed.nonce),
        ciphertext: hex::encode(&sealed.ciphertext),
    }
}

/// Reads the encrypted form, returning the offending field and reason on failure.
fn sealed_from_json(kdf: &KdfJson, nonce: &str, ciphertext: &str) -> Result<SealedSeed, (&'static str, String)> {
    if kdf.algorithm != "argon2id" {
        return Err(("private.kdf.algorithm", format!("found {:?}, expected \"argon2id\"", kdf.algorithm)));
    }
    if kdf.version != ARGON2_VERSION {
        return Err(("private.kdf.version", format!("found {}, expected {ARGON2_VERSION}", kdf.version)));
    }
    let params = KdfParams { memory_kib: kdf.memory_kib, iterations: kdf.iterations, parallelism: kdf.parallelism };
    params.validate().map_err(|error| ("private.kdf", error.to_string()))?;
    let salt: [u8; SALT_LEN] = decode_hex(&kdf.salt).map_err(|reason| ("private.kdf.salt", reason))?;
    let nonce: [u8; NONCE_LEN] = decode_hex(nonce).map_err(|reason| ("private.nonce", reason))?;
    let ciphertext = hex::decode(ciphertext).map_err(|error| ("private.ciphertext", format!("not hex: {error}")))?;
    Ok(SealedSeed { kdf: params, salt, nonce, ciphertext })
}

/// Decodes lowercase or uppercase hex of exactly `N` bytes.
fn decode_hex<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|error| {
        format!("expected {} hex characters ({N} bytes), found {} characters: {error}", 2 * N, text.len())
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto;

    fn sample(secret: Secret, public_key: [u8; 32]) -> KeyFile {
        let keyid_hash_algorithms = Some(vec!["sha256".to_owned(), "sha512".to_owned()]);
        KeyFile {
            name: KeyName::parse("alice").unwrap(),
            created: SystemTime::UNIX_EPOCH,
            public_key,
            keyid_hash_algorithms,
            secret,
        }
    }

    fn reread(file: &KeyFile) -> Result<KeyFile, KeyringError> {
        KeyFile::from_json(Path::new("alice.json"), &file.name, &file.to_json())
    }

    #[test]
    fn unencrypted_round_trip() {
        let seed = [9u8; 32];
        let file = sample(Secret::Unencrypted(Zeroizing::new(seed)), public_key_of(&seed));
        let back = reread(&file).unwrap();
        assert!(matches!(back.secret, Secret::Unencrypted(s) if *s == seed));
        assert_eq!(back.public_key, file.public_key);
    }

    #[test]
    fn encrypted_round_trip() {
        let seed = [9u8; 32];
        let public_key = public_key_of(&seed);
        let kdf = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
        let sealed = crypto::seal(&seed, b"pw", kdf, &crypto::associated_data("alice", &public_key)).unwrap();
        let back = reread(&sample(Secret::Encrypted(sealed.clone()), public_key)).unwrap();
        assert!(matches!(back.secret, Secret::Encrypted(s) if s == sealed));
    }

    #[test]
    fn seed_of_other_key_is_rejected() {
        let file = sample(Secret::Unencrypted(Zeroizing::new([9u8; 32])), public_key_of(&[8u8; 32]));
        let error = reread(&file).err().unwrap();
        assert!(error.to_string().contains("field `private.seed`"), "{error}");
    }

    #[test]
    fn name_must_match_file_name() {
        let seed = [9u8; 32];
        let file = sample(Secret::Unencrypted(Zeroizing::new(seed)), public_key_of(&seed));
        let other = KeyName::parse("bob").unwrap();
        let error = KeyFile::from_json(Path::new("bob.json"), &other, &file.to_json()).err().unwrap();
        assert!(error.to_string().contains("rename the file to alice.json"), "{error}");
    }

    #[test]
    fn keyid_hash_algorithms_limits() {
        let names = |count: usize, name: &str| vec![name.to_owned(); count];
        assert!(validate_keyid_hash_algorithms(&names(KEYID_HASH_ALGORITHMS_MAX, "sha256")).is_ok());
        assert!(validate_keyid_hash_algorithms(&names(KEYID_HASH_ALGORITHMS_MAX + 1, "sha256")).is_err());
        assert!(validate_keyid_hash_algorithms(&names(1, &"a".repeat(HASH_ALGORITHM_NAME_LEN_MAX))).is_ok());
        assert!(validate_keyid_hash_algorithms(&names(1, &"a".repeat(HASH_ALGORITHM_NAME_LEN_MAX + 1))).is_err());
        let error = validate_keyid_hash_algorithms(&names(1, "Sha256")).unwrap_err();
        assert!(error.contains("\"Sha256\" is not a hash algorithm name"), "{error}");
    }

    #[test]
    fn unknown_version_is_rejected() {
        let seed = [9u8; 32];
        let file = sample(Secret::PublicOnly, public_key_of(&seed));
        let text = String::from_utf8(file.to_json().to_vec()).unwrap().replace("\"version\": 1", "\"version\": 2");
        let error = KeyFile::from_json(Path::new("alice.json"), &file.name, text.as_bytes()).err().unwrap();
        assert!(error.to_string().contains("field `version`: found 2"), "{error}");
    }

    proptest::proptest! {
        /// A key file with any one byte changed is either rejected or still reads as
        /// the same key; reading never panics.
        #[test]
        fn changed_byte_never_panics(position in 0usize..400, byte in proptest::prelude::any::<u8>()) {
            let seed = [9u8; 32];
            let file = sample(Secret::Unencrypted(Zeroizing::new(seed)), public_key_of(&seed));
            let mut bytes = file.to_json().to_vec();
            let position = position % bytes.len();
            bytes[position] = byte;
            if let Ok(back) = KeyFile::from_json(Path::new("alice.json"), &file.name, &bytes) {
                proptest::prop_assert_eq!(back.public_key, file.public_key);
            }
        }

        /// Arbitrary bytes never make the reader panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let name = KeyName::parse("alice").unwrap();
            let _ = KeyFile::from_json(Path::new("alice.json"), &name, &bytes);
        }
    }
}
