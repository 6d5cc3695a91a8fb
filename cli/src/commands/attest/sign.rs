//! Signing the prepared statement or envelope with a keyring key.

use anyhow::{Context, bail};
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::PAYLOAD_TYPE;
use vouch_protocol::keys::{KeyId, SigningKey};

use crate::keyring::{KeyFile, KeyKind};
use crate::passphrase::{PassphraseArgs, Prompt, read_passphrase};

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
            return Err(crate::keyring::KeyringError::PublicOnly { name: key.name.clone() }.into());
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
            KeyKind::Encrypted => Some(read_passphrase(passphrase, &key.name, Prompt::Unlock)?),
            KeyKind::Unencrypted | KeyKind::PublicOnly => None,
        };
        Ok(key.unlock(passphrase.as_deref().map(Vec::as_slice))?)
    }
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
