//! The securesystemslib identity of a stored key: its public key JSON and key id.

use serde::Serialize;
use vouch_protocol::keys::{KeyId, SigningKey, sslib};
use zeroize::{Zeroize, Zeroizing};

use super::file::ED25519;
use super::{KeyFile, KeyringError};

/// The securesystemslib public key object, with fields in sorted order so that
/// serde_json writes the canonical JSON that key ids hash.
#[derive(Serialize)]
struct PublicKeyJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    keyid_hash_algorithms: Option<&'a [String]>,
    keytype: &'a str,
    keyval: KeyValueJson,
    scheme: &'a str,
}

#[derive(Serialize)]
struct KeyValueJson {
    public: String,
}

/// The securesystemslib private key object, fields in sorted order.
#[derive(Serialize)]
struct PrivateKeyJson<'a> {
    keyid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyid_hash_algorithms: Option<&'a [String]>,
    keytype: &'a str,
    keyval: PrivateKeyValueJson,
    scheme: &'a str,
}

#[derive(Serialize)]
struct PrivateKeyValueJson {
    private: SecretHex,
    public: String,
}

/// Hex of a seed, wiped when dropped.
#[derive(Serialize)]
#[serde(transparent)]
struct SecretHex(String);

impl Drop for SecretHex {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl KeyFile {
    /// Returns the key's securesystemslib public key JSON in canonical form, with
    /// `keyid_hash_algorithms` exactly when the key was generated or imported with it.
    pub fn public_key_json(&self) -> String {
        let json = PublicKeyJson {
            keyid_hash_algorithms: self.keyid_hash_algorithms.as_deref(),
            keytype: ED25519,
            keyval: KeyValueJson { public: hex::encode(self.public_key) },
            scheme: ED25519,
        };
        serde_json::to_string(&json).expect("a public key object has only string fields")
    }

    /// Returns the key's securesystemslib key id, the hash of [`KeyFile::public_key_json`].
    pub fn keyid(&self) -> Result<KeyId, KeyringError> {
        let (_, keyid) = sslib::parse_public_key_json(&self.source_name(), self.public_key_json().as_bytes())
            .map_err(|error| KeyringError::Key { name: self.name.clone(), error })?;
        Ok(keyid)
    }

    /// Returns `key` as a securesystemslib private key JSON with this key's `keyid` and
    /// `keyid_hash_algorithms`, so that tools reading it compute the same key id.
    pub fn private_key_json(&self, key: &SigningKey) -> Result<Zeroizing<String>, KeyringError> {
        let keyid = self.keyid()?;
        let json = PrivateKeyJson {
            keyid: keyid.as_str(),
            keyid_hash_algorithms: self.keyid_hash_algorithms.as_deref(),
            keytype: ED25519,
            keyval: PrivateKeyValueJson {
                private: SecretHex(hex::encode(&key.seed()[..])),
                public: hex::encode(self.public_key),
            },
            scheme: ED25519,
        };
        Ok(Zeroizing::new(serde_json::to_string(&json).expect("a private key object has only string fields")))
    }

    fn source_name(&self) -> String {
        format!("key `{}`", self.name)
    }
}
