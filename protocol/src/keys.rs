//! Ed25519 keys and signatures, with the one strict rule that decides signature validity.
//!
//! # Invariants
//! - A [`PublicKey`] is always a valid curve point of large order: small-order (weak)
//!   keys are rejected when the key is built, so no registered key can sign for many
//!   messages at once.
//! - Every signature check in Vouch goes through [`PublicKey::verify`], which uses
//!   `verify_strict`. Batch verification never decides validity, because a batch can
//!   accept signatures that strict verification rejects, for example one whose `R` has a
//!   small-order component. `protocol/tests/signature_edge_cases.rs` builds two of them.
//! - A [`SigningKey`] is zeroized when dropped and never printed.

pub mod sslib;

use std::fmt;

use ed25519_dalek::Signer as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

pub use sslib::KeyId;

/// Length in bytes of an encoded ed25519 public key.
pub const PUBLIC_KEY_BYTES: usize = 32;

/// Length in bytes of an ed25519 private key seed.
pub const SEED_BYTES: usize = 32;

/// Length in bytes of an ed25519 signature (`R` then `s`).
pub const SIGNATURE_BYTES: usize = 64;

/// Errors from building keys, reading key files and verifying signatures.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid {what}: expected {expected} bytes, found {found}")]
    WrongLength { what: &'static str, expected: usize, found: usize },
    #[error("invalid ed25519 public key {public_key}: the bytes do not encode a point on the curve")]
    InvalidPoint { public_key: String },
    #[error(
        "weak ed25519 public key {public_key}: the point has small order, so one signature could verify for many messages; generate a new key"
    )]
    WeakKey { public_key: String },
    #[error("signature does not verify with ed25519 public key {public_key}")]
    InvalidSignature { public_key: String },
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{source_name}: field `{field}`: {message}")]
    InvalidField { source_name: String, field: &'static str, message: String },
    #[error("{source_name}: field `{field}`: {error}")]
    InvalidKey { source_name: String, field: &'static str, error: Box<KeyError> },
    #[error(
        "{source_name}: unsupported key type `{keytype}` with scheme `{scheme}`; Vouch signs and verifies ed25519 keys only (keytype and scheme `ed25519`)"
    )]
    UnsupportedKeyType { source_name: String, keytype: String, scheme: String },
    #[error(
        "{source_name}: field `keyval.private` is missing; this is a public key file, so pass the private key file"
    )]
    MissingPrivateKey { source_name: String },
    #[error(
        "{source_name}: `keyval.public` is {declared} but the private key belongs to public key {derived}; the file mixes two keys"
    )]
    PublicKeyMismatch { source_name: String, declared: String, derived: String },
    #[error(
        "{source_name}: field `keyid` is {declared} but the key's fields hash to {computed}; remove the field or fix the key"
    )]
    KeyIdMismatch { source_name: String, declared: String, computed: String },
}

/// An ed25519 public key that is a valid point of large order.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses a 32-byte compressed point, rejecting invalid and small-order points.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let array: &[u8; PUBLIC_KEY_BYTES] = bytes.try_into().map_err(|_| KeyError::WrongLength {
            what: "ed25519 public key",
            expected: PUBLIC_KEY_BYTES,
            found: bytes.len(),
        })?;
        let public_key = hex::encode(array);
        let key = ed25519_dalek::VerifyingKey::from_bytes(array)
            .map_err(|_| KeyError::InvalidPoint { public_key: public_key.clone() })?;
        if key.is_weak() {
            return Err(KeyError::WeakKey { public_key });
        }
        Ok(PublicKey(key))
    }

    /// Parses a public key from 64 hex characters.
    pub fn from_hex(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = hex::decode(text).map_err(|_| KeyError::WrongLength {
            what: "ed25519 public key hex",
            expected: PUBLIC_KEY_BYTES * 2,
            found: text.len(),
        })?;
        PublicKey::from_bytes(&bytes)
    }

    /// Returns the 32-byte compressed encoding.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_BYTES] {
        self.0.as_bytes()
    }

    /// Returns the lowercase hex encoding of the 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// Verifies `signature` over `message` with the strict ed25519 rule.
    ///
    /// This is the only function in Vouch that decides whether a signature is valid.
    /// `verify_strict` rejects a non-canonical `s` (at least the group order), a small-order
    /// `R` and a small-order key, so a valid signature cannot be changed into another valid
    /// one. Batch verification is never used here: it checks a random linear combination
    /// of the cofactorless equations, so it can accept signatures that this check rejects.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), KeyError> {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0.verify_strict(message, &signature).map_err(|_| KeyError::InvalidSignature { public_key: self.to_hex() })
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            serializer.serialize_bytes(self.as_bytes())
        }
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PublicKey, D::Error> {
        let bytes = deserialize_hex_or_bytes(deserializer)?;
        PublicKey::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// An ed25519 private key; its bytes are zeroized on drop and never printed.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Builds the key from its 32-byte seed (the private key as RFC 8032 defines it).
    pub fn from_seed(seed: &[u8; SEED_BYTES]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// Generates a new key from a cryptographically secure random number generator.
    pub fn generate<R: ed25519_dalek::rand_core::CryptoRng + ?Sized>(rng: &mut R) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::generate(rng))
    }

    /// Returns a copy of the 32-byte seed that is zeroized when dropped, for export.
    pub fn seed(&self) -> Zeroizing<[u8; SEED_BYTES]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// Returns the public half.
    pub fn public_key(&self) -> PublicKey {
        // A clamped secret scalar times the base point lies in the prime-order subgroup
        // and is never the identity, so the key can never be weak.
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message` as given, with no domain separation.
    ///
    /// Only the DSSE envelope code (which signs the DSSE pre-authentication encoding) and
    /// [`crate::signing`] (which signs domain-separated bytes) call this.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key().to_hex())
    }
}

/// A 64-byte ed25519 signature whose validity has not been checked yet.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_BYTES]);

impl Signature {
    /// Wraps 64 bytes; validity is decided only by [`PublicKey::verify`].
    pub fn from_bytes(bytes: [u8; SIGNATURE_BYTES]) -> Signature {
        Signature(bytes)
    }

    /// Copies a signature from a slice that must be exactly 64 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Signature, KeyError> {
        let array = bytes.try_into().map_err(|_| KeyError::WrongLength {
            what: "ed25519 signature",
            expected: SIGNATURE_BYTES,
            found: bytes.len(),
        })?;
        Ok(Signature(array))
    }

    /// Returns the 64 signature bytes.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_BYTES] {
        self.0
    }

    /// Returns the 64 signature bytes by reference.
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_BYTES] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&hex::encode(self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Signature, D::Error> {
        let bytes = deserialize_hex_or_bytes(deserializer)?;
        Signature::from_slice(&bytes).map_err(serde::de::Error::custom)
    }
}

/// Reads a hex string from human-readable formats and raw bytes from binary ones.
fn deserialize_hex_or_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    if deserializer.is_human_readable() {
        let text = String::deserialize(deserializer)?;
        hex::decode(&text).map_err(|error| serde::de::Error::custom(format!("invalid hex `{text}`: {error}")))
    } else {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> serde::de::Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_seed(&[byte; SEED_BYTES])
    }

    #[test]
    fn sign_then_verify_accepts() {
        let signer = key(1);
        let signature = signer.sign_raw(b"message");
        assert!(signer.public_key().verify(b"message", &signature).is_ok());
    }

    #[test]
    fn verify_rejects_other_message() {
        let signer = key(1);
        let signature = signer.sign_raw(b"message");
        let error = signer.public_key().verify(b"messagf", &signature).unwrap_err();
        assert!(error.to_string().contains(&signer.public_key().to_hex()), "{error}");
    }

    #[test]
    fn verify_rejects_other_key() {
        let signature = key(1).sign_raw(b"message");
        assert!(key(2).public_key().verify(b"message", &signature).is_err());
    }

    #[test]
    fn public_key_rejects_wrong_length() {
        let error = PublicKey::from_bytes(&[1; 31]).unwrap_err();
        assert!(matches!(error, KeyError::WrongLength { expected: 32, found: 31, .. }), "{error}");
    }

    #[test]
    fn public_key_rejects_identity_point() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let error = PublicKey::from_bytes(&identity).unwrap_err();
        assert!(matches!(error, KeyError::WeakKey { .. }), "{error}");
        assert!(error.to_string().contains(&hex::encode(identity)), "{error}");
    }

    #[test]
    fn public_key_rejects_point_off_curve() {
        // y = 2 has no x on the curve: (y^2 - 1) / (d y^2 + 1) is not a square mod p.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let error = PublicKey::from_bytes(&bytes).unwrap_err();
        assert!(matches!(error, KeyError::InvalidPoint { .. }), "{error}");
    }

    #[test]
    fn debug_hides_private_key() {
        let signer = key(7);
        let text = format!("{signer:?}");
        assert!(!text.contains(&hex::encode(signer.seed().as_slice())), "{text}");
        assert!(text.contains(&signer.public_key().to_hex()), "{text}");
    }

    #[test]
    fn public_key_json_uses_hex() {
        let public = key(3).public_key();
        let json = serde_json::to_string(&public).unwrap();
        assert_eq!(json, format!("\"{}\"", public.to_hex()));
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), public);
    }

    #[test]
    fn signature_rejects_wrong_length() {
        let error = Signature::from_slice(&[0; 71]).unwrap_err();
        assert!(error.to_string().contains("expected 64 bytes, found 71"), "{error}");
    }
}
