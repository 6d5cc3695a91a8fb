//! The securesystemslib identity of a stored key: its public key JSON and key id.

use vouch_protocol::keys::sslib::{self, KeyForm};
use vouch_protocol::keys::{KeyError, KeyId, PublicKey, SigningKey};
use zeroize::Zeroizing;

use super::{KeyFile, KeyringError};

impl KeyFile {
    /// Returns the securesystemslib form of the key: legacy (with
    /// `keyid_hash_algorithms`) exactly when the key was generated or imported with that
    /// field.
    pub fn key_form(&self) -> KeyForm {
        KeyForm::from_keyid_hash_algorithms(self.keyid_hash_algorithms.clone())
    }

    /// Returns the key's securesystemslib public key JSON in canonical form and in the
    /// key's own [`KeyForm`].
    pub fn public_key_json(&self) -> String {
        let public_key = PublicKey::from_bytes(&self.public_key)
            .expect("a KeyFile's public key is checked when the file is read or the key is built");
        sslib::public_key_json_form(&public_key, &self.key_form())
    }

    /// Returns the key's securesystemslib key id, the hash of [`KeyFile::public_key_json`].
    pub fn keyid(&self) -> Result<KeyId, KeyringError> {
        let public_key = PublicKey::from_bytes(&self.public_key)
            .map_err(|error| KeyringError::Key { name: self.name.clone(), error })?;
        Ok(KeyId::of_form(&public_key, &self.key_form()))
    }

    /// Returns `key` as a securesystemslib private key JSON with this key's `keyid` and
    /// `keyid_hash_algorithms`, so that tools reading it compute the same key id.
    pub fn private_key_json(&self, key: &SigningKey) -> Result<Zeroizing<String>, KeyringError> {
        if *key.public_key().as_bytes() != self.public_key {
            let error = KeyError::PublicKeyMismatch {
                source_name: "keyring file".to_owned(),
                declared: hex::encode(self.public_key),
                derived: key.public_key().to_hex(),
            };
            return Err(KeyringError::Key { name: self.name.clone(), error });
        }
        Ok(sslib::private_key_json_form(key, &self.key_form()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use vouch_protocol::keys::sslib::{parse_private_key_json_form, parse_public_key_json_form};

    use super::*;
    use crate::{KeyName, Protection};

    fn key_file(algorithms: Option<Vec<String>>) -> (KeyFile, SigningKey) {
        let seed = [5u8; 32];
        let name = KeyName::parse("ci").unwrap();
        let file =
            KeyFile::new_private(name, &seed, algorithms, Protection::Unencrypted, SystemTime::UNIX_EPOCH).unwrap();
        (file, SigningKey::from_seed(&seed))
    }

    #[test]
    fn keyid_follows_stored_form() {
        for algorithms in [None, Some(vec!["sha256".to_owned(), "sha512".to_owned()]), Some(vec!["sha256".to_owned()])]
        {
            let (file, key) = key_file(algorithms.clone());
            let form = KeyForm::from_keyid_hash_algorithms(algorithms);
            let public = key.public_key();
            assert_eq!(file.keyid().unwrap(), KeyId::of_form(&public, &form));

            let parsed = parse_public_key_json_form("show", file.public_key_json().as_bytes()).unwrap();
            assert_eq!(parsed.form, form);
            assert_eq!(parsed.keyid, file.keyid().unwrap());

            let exported = file.private_key_json(&key).unwrap();
            let parsed = parse_private_key_json_form("export", exported.as_bytes()).unwrap();
            assert_eq!(parsed.form, form);
            assert_eq!(parsed.keyid, file.keyid().unwrap());
        }
    }

    #[test]
    fn private_json_rejects_other_key() {
        let (file, _) = key_file(None);
        let other = SigningKey::from_seed(&[6u8; 32]);
        let error = file.private_key_json(&other).unwrap_err().to_string();
        assert!(error.contains(&other.public_key().to_hex()), "{error}");
    }
}
