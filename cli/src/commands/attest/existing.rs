//! Checks of the signatures already on an envelope (`--envelope`) against the public
//! keys of the keyring, before another signature is added.
//!
//! A signature is matched to keyring keys by its `keyid`, in either securesystemslib
//! form of each key (with or without `keyid_hash_algorithms`). A signature with an empty
//! `keyid`, as cosign writes it, is tried against every keyring key. A signature that
//! names a keyring key but does not verify with it makes the envelope invalid, because
//! its payload or signature changed after signing. A signature whose `keyid` names no
//! keyring key is kept unchecked.

use std::fmt;

use anyhow::bail;
use vouch_keyring::{KeyFile, KeyName, Keyring};
use vouch_protocol::dsse::{Envelope, EnvelopeSignature};
use vouch_protocol::keys::sslib::KeyForm;
use vouch_protocol::keys::{KeyId, PublicKey, Signature};

/// A keyring key that can check signatures: every key, public-only ones included.
pub struct KnownKey {
    /// The key's name in the keyring.
    pub name: KeyName,
    /// The key id in the key's own form, then in the other forms.
    keyids: Vec<KeyId>,
    public_key: PublicKey,
}

impl KnownKey {
    /// Builds the checking key of a keyring key file.
    fn from_file(file: &KeyFile) -> anyhow::Result<KnownKey> {
        let public_key = PublicKey::from_bytes(&file.public_key)?;
        let mut keyids = vec![file.keyid()?];
        for form in [KeyForm::legacy(), KeyForm::Modern] {
            let keyid = KeyId::of_form(&public_key, &form);
            if !keyids.contains(&keyid) {
                keyids.push(keyid);
            }
        }
        Ok(KnownKey { name: file.name.clone(), keyids, public_key })
    }

    fn has_keyid(&self, keyid: &str) -> bool {
        self.keyids.iter().any(|known| known.as_str() == keyid)
    }

    /// Returns whether `signature` is a valid signature of `message` by this key.
    fn verifies(&self, message: &[u8], signature: &EnvelopeSignature) -> bool {
        Signature::from_slice(&signature.sig).is_ok_and(|parsed| self.public_key.verify(message, &parsed).is_ok())
    }
}

/// Loads the checking keys of every key in `keyring`. A key file that fails to load is
/// skipped with a warning, so one broken file does not block countersigning.
pub fn known_keys(keyring: &Keyring) -> anyhow::Result<Vec<KnownKey>> {
    let mut keys = Vec::new();
    for loaded in keyring.list()? {
        match loaded.map_err(anyhow::Error::from).and_then(|file| KnownKey::from_file(&file)) {
            Ok(key) => keys.push(key),
            Err(error) => tracing::warn!("skipping a keyring key while checking existing signatures: {error:#}"),
        }
    }
    Ok(keys)
}

/// The result of checking one existing signature.
#[derive(Debug)]
pub enum Outcome {
    /// The signature verifies with this keyring key.
    Verified(KeyName),
    /// No keyring key matches the signature's `keyid`, or, for an empty `keyid`, no
    /// keyring key verifies it.
    Unknown,
}

/// One existing signature and what its check found.
#[derive(Debug)]
pub struct Checked {
    /// Position of the signature in the envelope, from 1.
    pub number: usize,
    /// The signature's `keyid`, possibly empty.
    pub keyid: String,
    /// The check's result.
    pub outcome: Outcome,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keyid = if self.keyid.is_empty() { "empty" } else { &self.keyid };
        match &self.outcome {
            Outcome::Verified(name) => write!(f, "#{} (keyid {keyid}) verified with key `{name}`", self.number),
            Outcome::Unknown => write!(f, "#{} (keyid {keyid}) not checked: no keyring key matches", self.number),
        }
    }
}

/// Checks every signature of `envelope` against `keys`.
///
/// Fails naming the key when a signature whose `keyid` names a keyring key does not
/// verify with it.
pub fn check_signatures(source_name: &str, envelope: &Envelope, keys: &[KnownKey]) -> anyhow::Result<Vec<Checked>> {
    let message = envelope.pae();
    let mut checked = Vec::new();
    for (index, signature) in envelope.signatures.iter().enumerate() {
        let outcome = check_one(source_name, index + 1, &message, signature, keys)?;
        checked.push(Checked { number: index + 1, keyid: signature.keyid.clone(), outcome });
    }
    Ok(checked)
}

/// Checks one signature against the keys its `keyid` names, or every key when the
/// `keyid` is empty.
fn check_one(
    source_name: &str,
    number: usize,
    message: &[u8],
    signature: &EnvelopeSignature,
    keys: &[KnownKey],
) -> anyhow::Result<Outcome> {
    if signature.keyid.is_empty() {
        let signer = keys.iter().find(|key| key.verifies(message, signature));
        return Ok(signer.map_or(Outcome::Unknown, |key| Outcome::Verified(key.name.clone())));
    }

    let named: Vec<&KnownKey> = keys.iter().filter(|key| key.has_keyid(&signature.keyid)).collect();
    if named.is_empty() {
        return Ok(Outcome::Unknown);
    }
    if let Some(key) = named.iter().find(|key| key.verifies(message, signature)) {
        return Ok(Outcome::Verified(key.name.clone()));
    }
    let names: Vec<String> = named.iter().map(|key| format!("`{}`", key.name)).collect();
    bail!(
        "{source_name}: existing signature #{number} (keyid {}) does not verify with keyring key {}, \
         which its keyid names; the payload or the signature was changed after signing, so the envelope is rejected",
        signature.keyid,
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use vouch_protocol::intoto::PAYLOAD_TYPE;
    use vouch_protocol::keys::SigningKey;

    use super::*;

    fn known(name: &str, seed: u8, algorithms: Option<Vec<String>>) -> (KnownKey, SigningKey) {
        let signing_key = SigningKey::from_seed(&[seed; 32]);
        let name = KeyName::parse(name).unwrap();
        let file = KeyFile::new_public(name, *signing_key.public_key().as_bytes(), algorithms, SystemTime::UNIX_EPOCH);
        (KnownKey::from_file(&file).unwrap(), signing_key)
    }

    fn envelope_by(signers: &[(&KeyId, &SigningKey)]) -> Envelope {
        Envelope::sign(PAYLOAD_TYPE, b"{}".to_vec(), signers).unwrap()
    }

    #[test]
    fn keyid_of_either_form_verifies() {
        let (alice, alice_signing) = known("alice", 1, None);
        for form in [KeyForm::legacy(), KeyForm::Modern] {
            let keyid = KeyId::of_form(&alice_signing.public_key(), &form);
            let envelope = envelope_by(&[(&keyid, &alice_signing)]);
            let checked = check_signatures("e", &envelope, std::slice::from_ref(&alice)).unwrap();
            assert!(matches!(&checked[0].outcome, Outcome::Verified(name) if name.as_str() == "alice"));
        }
    }

    #[test]
    fn unknown_keyid_is_not_checked() {
        let (alice, _) = known("alice", 1, None);
        let stranger = SigningKey::from_seed(&[9; 32]);
        let envelope = envelope_by(&[(&KeyId::of(&stranger.public_key()), &stranger)]);
        let checked = check_signatures("e", &envelope, &[alice]).unwrap();
        assert!(matches!(checked[0].outcome, Outcome::Unknown));
        assert!(checked[0].to_string().contains("not checked"), "{}", checked[0]);
    }

    #[test]
    fn empty_keyid_is_tried_against_every_key() {
        let (alice, _) = known("alice", 1, None);
        let (bob, bob_signing) = known("bob", 2, None);
        let mut envelope = envelope_by(&[(&KeyId::of(&bob_signing.public_key()), &bob_signing)]);
        envelope.signatures[0].keyid = String::new();
        let checked = check_signatures("e", &envelope, &[alice, bob]).unwrap();
        assert!(matches!(&checked[0].outcome, Outcome::Verified(name) if name.as_str() == "bob"));
        assert!(checked[0].to_string().contains("keyid empty"), "{}", checked[0]);
    }

    #[test]
    fn named_key_that_fails_rejects() {
        let (alice, alice_signing) = known("alice", 1, Some(vec!["sha256".to_owned(), "sha512".to_owned()]));
        let mut envelope = envelope_by(&[(&KeyId::of(&alice_signing.public_key()), &alice_signing)]);
        envelope.payload = b"{ }".to_vec();
        let error = check_signatures("first.json", &envelope, &[alice]).unwrap_err().to_string();
        assert!(error.contains("`alice`"), "{error}");
        assert!(error.contains("#1"), "{error}");
        assert!(error.starts_with("first.json:"), "{error}");
    }

    #[test]
    fn short_signature_by_named_key_rejects() {
        let (alice, alice_signing) = known("alice", 1, None);
        let keyid = KeyId::of_form(&alice_signing.public_key(), &KeyForm::Modern);
        let mut envelope = envelope_by(&[(&keyid, &alice_signing)]);
        envelope.signatures[0].sig.truncate(10);
        assert!(check_signatures("e", &envelope, &[alice]).is_err());
    }
}
