//! Signing the prepared statement or envelope with a keyring key.

use std::path::Path;

use anyhow::{Context, bail};
use vouch_keyring::passphrase::Prompt;
use vouch_keyring::{KeyFile, KeyKind};
use vouch_protocol::dsse::{Envelope, PAYLOAD_BYTES_MAX};
use vouch_protocol::intoto::PAYLOAD_TYPE;
use vouch_protocol::keys::{KeyId, SigningKey};

use crate::passphrase::PassphraseArgs;

/// Input to sign: a new statement, or an envelope that gets one more signature.
pub enum Unsigned {
    /// In-toto statement bytes, signed as a new envelope's payload.
    Statement(Vec<u8>),
    /// An existing envelope whose signatures are kept.
    Envelope(Envelope),
}

/// A keyring key that can sign, checked before any input is read.
pub struct Signer {
    keyid: KeyId,
}

impl Signer {
    /// Checks that `key` contains a private key and computes its key id.
    pub fn check(key: &KeyFile) -> anyhow::Result<Signer> {
        if key.kind() == KeyKind::PublicOnly {
            return Err(vouch_keyring::KeyringError::PublicOnly { name: key.name.clone() }.into());
        }
        Ok(Signer { keyid: key.keyid()? })
    }

    /// Returns the key id written into the signature.
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// Decrypts the private key, reading a passphrase only when it is encrypted.
    pub fn unlock(&self, key: &KeyFile, passphrase: &PassphraseArgs) -> anyhow::Result<SigningKey> {
        let passphrase = match key.kind() {
            KeyKind::Encrypted => Some(passphrase.read(&key.name, Prompt::Unlock)?),
            KeyKind::Unencrypted | KeyKind::PublicOnly => None,
        };
        Ok(key.unlock(passphrase.as_deref().map(Vec::as_slice))?)
    }
}

/// Fails when a new statement is over the DSSE payload limit, so that the error comes
/// before a passphrase is read. An envelope's payload was checked when it was parsed.
pub fn check_payload_size(unsigned: &Unsigned, input: Option<&Path>) -> anyhow::Result<()> {
    let Unsigned::Statement(payload) = unsigned else {
        return Ok(());
    };
    if payload.len() <= PAYLOAD_BYTES_MAX {
        return Ok(());
    }
    let source = input.map_or_else(|| "the review options".to_owned(), |path| path.display().to_string());
    bail!(
        "the statement made from {source} is {} bytes, over the DSSE payload limit of {PAYLOAD_BYTES_MAX} bytes; \
         the predicate contains the whole input, so attest a smaller file",
        payload.len()
    )
}

/// Signs `unsigned` and checks the new signature with the key's public key.
pub fn sign(unsigned: Unsigned, keyid: &KeyId, key: &SigningKey) -> anyhow::Result<Envelope> {
    let envelope = match unsigned {
        Unsigned::Statement(payload) => {
            Envelope::sign(PAYLOAD_TYPE, payload, &[(keyid, key)]).context("cannot sign the statement")?
        }
        Unsigned::Envelope(mut envelope) => {
            if envelope.signatures.iter().any(|signature| signature.keyid == keyid.as_str()) {
                bail!("the envelope already has a signature by key id {keyid}; sign with another key");
            }
            envelope.add_signature(keyid, key).context("cannot add a signature to the envelope")?;
            envelope
        }
    };
    envelope
        .verify(&[(keyid.clone(), key.public_key())], 1)
        .context("bug: the new signature does not verify with the signing key")?;
    Ok(envelope)
}
