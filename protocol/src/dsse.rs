//! DSSE v1 envelopes: parsing, the pre-authentication encoding, signing and
//! threshold verification with ed25519 keys.
//!
//! # Invariants
//! - A signature is checked over `PAE(payloadType, payload)` only, so changing either
//!   field invalidates every signature.
//! - Each trusted public key counts at most once toward the threshold, however many
//!   signatures or key ids name it.
//! - Parsed envelopes respect [`ENVELOPE_BYTES_MAX`], [`PAYLOAD_BYTES_MAX`],
//!   [`SIGNATURES_MAX`], [`PAYLOAD_TYPE_BYTES_MAX`], [`KEYID_BYTES_MAX`] and
//!   [`SIGNATURE_BYTES_MAX`]; [`Envelope::verify`] checks them again because the fields
//!   are public.

mod wire;

use std::fmt;

use crate::input::{InputError, parse_json};
use crate::keys::{KeyId, PublicKey, SIGNATURE_BYTES, Signature, SigningKey};

/// Maximum size of one envelope's JSON: room for a base64 payload of
/// [`PAYLOAD_BYTES_MAX`] plus signatures.
pub const ENVELOPE_BYTES_MAX: usize = 24 * 1024 * 1024;

/// Maximum size of a decoded payload: 16 MiB, above the SBOMs and scanner reports of
/// large images seen in practice, and small enough for a ledger transaction.
pub const PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Maximum number of signatures on one envelope.
pub const SIGNATURES_MAX: usize = 32;

/// Maximum length in bytes of `payloadType`.
pub const PAYLOAD_TYPE_BYTES_MAX: usize = 256;

/// Maximum length in bytes of a signature's `keyid`.
pub const KEYID_BYTES_MAX: usize = 256;

/// Maximum size of one decoded `sig`, large enough to parse (and then reject with a
/// clear message) RSA and ECDSA signatures from other tools.
pub const SIGNATURE_BYTES_MAX: usize = 1024;

/// Errors from parsing, building or verifying an envelope.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{source_name}: envelope is {size} bytes, over the limit of {max} bytes")]
    EnvelopeTooLarge { source_name: String, size: usize, max: usize },
    #[error(
        "{source_name}: field `{field}` at byte {offset} is not valid base64: {problem}; \
         DSSE `payload` and `sig` hold standard or URL-safe base64"
    )]
    InvalidBase64 { source_name: String, field: String, offset: u64, problem: String },
    #[error("{source_name}: no envelope found; expected one JSON object per line")]
    NoEnvelopes { source_name: String },
    #[error("payload is {size} bytes, over the limit of {max} bytes")]
    PayloadTooLarge { size: usize, max: usize },
    #[error("payloadType is {size} bytes, over the limit of {max} bytes")]
    PayloadTypeTooLong { size: usize, max: usize },
    #[error("envelope has {count} signatures, over the limit of {max}")]
    TooManySignatures { count: usize, max: usize },
    #[error("signature {index}: keyid is {size} bytes, over the limit of {max} bytes")]
    KeyIdTooLong { index: usize, size: usize, max: usize },
    #[error("signature threshold {threshold} is invalid with {trusted} distinct trusted keys; use 1 to {trusted}")]
    InvalidThreshold { threshold: usize, trusted: usize },
    #[error("envelope has no signatures")]
    Unsigned,
    #[error("envelope verified with {verified} of the {threshold} trusted keys required: {rejections}")]
    ThresholdNotMet { verified: usize, threshold: usize, rejections: Rejections },
}

/// One signature of an envelope: the signer's key id (possibly empty) and the raw
/// signature bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The key id the signer wrote; DSSE makes it optional, so it may be empty.
    pub keyid: String,
    /// The decoded signature; 64 bytes for ed25519.
    pub sig: Vec<u8>,
}

/// A DSSE v1 envelope with its payload decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// How to read the payload, for example `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// The signed bytes, exactly as received.
    pub payload: Vec<u8>,
    /// Signatures over `PAE(payload_type, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// An envelope whose signatures met the threshold, with the keys that signed it.
#[derive(Debug)]
pub struct VerifiedEnvelope<'a> {
    envelope: &'a Envelope,
    signers: Vec<KeyId>,
}

impl VerifiedEnvelope<'_> {
    /// Returns the verified payload type.
    pub fn payload_type(&self) -> &str {
        &self.envelope.payload_type
    }

    /// Returns the verified payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.envelope.payload
    }

    /// Returns the key ids (from the trusted list) whose keys produced a valid signature,
    /// each once, in the order their signatures appear.
    pub fn signers(&self) -> &[KeyId] {
        &self.signers
    }
}

/// Returns the DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len());
    let mut bytes = Vec::with_capacity(header.len() + payload.len());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

impl Envelope {
    /// Builds an envelope over `payload` signed by every `(keyid, key)` in `signers`.
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signers: &[(&KeyId, &SigningKey)],
    ) -> Result<Envelope, DsseError> {
        let mut envelope = Envelope { payload_type: payload_type.to_owned(), payload, signatures: Vec::new() };
        envelope.check_limits()?;
        for (keyid, key) in signers {
            envelope.add_signature(keyid, key)?;
        }
        Ok(envelope)
    }

    /// Appends a signature by `key` under `keyid`.
    pub fn add_signature(&mut self, keyid: &KeyId, key: &SigningKey) -> Result<(), DsseError> {
        if self.signatures.len() >= SIGNATURES_MAX {
            return Err(DsseError::TooManySignatures { count: self.signatures.len() + 1, max: SIGNATURES_MAX });
        }
        let signature = key.sign_raw(&pae(&self.payload_type, &self.payload));
        self.signatures.push(EnvelopeSignature { keyid: keyid.to_string(), sig: signature.to_bytes().to_vec() });
        Ok(())
    }

    /// Parses one envelope from JSON, naming `source_name`, the field and the byte
    /// offset of any error.
    pub fn from_json(source_name: &str, bytes: &[u8]) -> Result<Envelope, DsseError> {
        if bytes.len() > ENVELOPE_BYTES_MAX {
            return Err(DsseError::EnvelopeTooLarge {
                source_name: source_name.to_owned(),
                size: bytes.len(),
                max: ENVELOPE_BYTES_MAX,
            });
        }
        let envelope: wire::EnvelopeIn =
            parse_json(source_name, bytes).map_err(|error| wire::locate_base64_error(bytes, error))?;
        Ok(envelope.into())
    }

    /// Parses JSON Lines with one envelope per line, as `cosign` writes `.jsonl` files;
    /// blank lines are skipped.
    pub fn from_json_lines(source_name: &str, bytes: &[u8]) -> Result<Vec<Envelope>, DsseError> {
        let mut envelopes = Vec::new();
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line_name = format!("{source_name} line {}", index + 1);
            envelopes.push(Envelope::from_json(&line_name, line)?);
        }
        if envelopes.is_empty() {
            return Err(DsseError::NoEnvelopes { source_name: source_name.to_owned() });
        }
        Ok(envelopes)
    }

    /// Parses a file that contains either one envelope (compact or pretty-printed JSON) or
    /// JSON Lines with one envelope per line.
    ///
    /// The file is read as JSON Lines when its first non-blank line is a whole envelope
    /// and more lines follow; otherwise it is read as one JSON document, so errors point
    /// into the document.
    pub fn from_json_or_lines(source_name: &str, bytes: &[u8]) -> Result<Vec<Envelope>, DsseError> {
        let mut lines = bytes.split(|&b| b == b'\n').filter(|line| !line.iter().all(u8::is_ascii_whitespace));
        let first = lines.next();
        let several_lines = lines.next().is_some();
        if several_lines && first.is_some_and(|line| Envelope::from_json(source_name, line).is_ok()) {
            return Envelope::from_json_lines(source_name, bytes);
        }
        Ok(vec![Envelope::from_json(source_name, bytes)?])
    }

    /// Writes the envelope as compact DSSE JSON with standard padded base64.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&wire::EnvelopeOut::new(self)).expect("an envelope of strings always serializes to JSON")
    }

    /// Returns `PAE(payload_type, payload)`, the bytes every signature covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Verifies that signatures by at least `threshold` distinct keys of `trusted` cover
    /// this envelope.
    ///
    /// A signature whose keyid names a trusted key is checked against that key only. A
    /// signature with an empty or unknown keyid (cosign writes `""`) is tried against
    /// every trusted key not yet counted.
    ///
    /// NOTE: that fallback costs up to `SIGNATURES_MAX * trusted.len()` strict
    /// verifications, and each one hashes the payload. Callers with many keys should pass
    /// only the keys of the attester the envelope claims to come from.
    pub fn verify(&self, trusted: &[(KeyId, PublicKey)], threshold: usize) -> Result<VerifiedEnvelope<'_>, DsseError> {
        self.check_limits()?;
        let distinct = count_distinct_keys(trusted);
        if threshold == 0 || threshold > distinct {
            return Err(DsseError::InvalidThreshold { threshold, trusted: distinct });
        }
        if self.signatures.is_empty() {
            return Err(DsseError::Unsigned);
        }

        let message = self.pae();
        let mut counted: Vec<&PublicKey> = Vec::new();
        let mut signers = Vec::new();
        let mut rejections = Vec::new();
        for (index, signature) in self.signatures.iter().enumerate() {
            match verify_one(&message, index, signature, trusted, &counted) {
                Ok(key_index) => {
                    counted.push(&trusted[key_index].1);
                    signers.push(trusted[key_index].0.clone());
                }
                Err(rejection) => rejections.push(rejection),
            }
        }

        if signers.len() < threshold {
            return Err(DsseError::ThresholdNotMet {
                verified: signers.len(),
                threshold,
                rejections: Rejections(rejections),
            });
        }
        Ok(VerifiedEnvelope { envelope: self, signers })
    }

    fn check_limits(&self) -> Result<(), DsseError> {
        if self.payload.len() > PAYLOAD_BYTES_MAX {
            return Err(DsseError::PayloadTooLarge { size: self.payload.len(), max: PAYLOAD_BYTES_MAX });
        }
        if self.payload_type.len() > PAYLOAD_TYPE_BYTES_MAX {
            return Err(DsseError::PayloadTypeTooLong { size: self.payload_type.len(), max: PAYLOAD_TYPE_BYTES_MAX });
        }
        if self.signatures.len() > SIGNATURES_MAX {
            return Err(DsseError::TooManySignatures { count: self.signatures.len(), max: SIGNATURES_MAX });
        }
        if let Some((index, signature)) =
            self.signatures.iter().enumerate().find(|(_, s)| s.keyid.len() > KEYID_BYTES_MAX)
        {
            return Err(DsseError::KeyIdTooLong { index, size: signature.keyid.len(), max: KEYID_BYTES_MAX });
        }
        Ok(())
    }
}

/// Checks one signature and returns the index in `trusted` of the key that made it.
fn verify_one(
    message: &[u8],
    index: usize,
    signature: &EnvelopeSignature,
    trusted: &[(KeyId, PublicKey)],
    counted: &[&PublicKey],
) -> Result<usize, Rejection> {
    let keyid = signature.keyid.clone();
    let Ok(parsed) = Signature::from_slice(&signature.sig) else {
        return Err(Rejection::NotEd25519 { index, keyid, length: signature.sig.len() });
    };

    let named = trusted.iter().position(|(id, _)| id.as_str() == signature.keyid);
    let candidates: Vec<usize> = match named {
        Some(position) => vec![position],
        None => (0..trusted.len()).collect(),
    };
    let mut already_counted = false;
    for candidate in candidates {
        let key = &trusted[candidate].1;
        if counted.contains(&key) {
            already_counted |= key.verify(message, &parsed).is_ok();
            continue;
        }
        if key.verify(message, &parsed).is_ok() {
            return Ok(candidate);
        }
    }

    Err(match (already_counted, named) {
        (true, _) => Rejection::Duplicate { index, keyid },
        (false, Some(_)) => Rejection::Invalid { index, keyid },
        (false, None) => Rejection::NoTrustedKey { index, keyid, trusted: trusted.len() },
    })
}

fn count_distinct_keys(trusted: &[(KeyId, PublicKey)]) -> usize {
    let mut keys: Vec<&[u8; 32]> = trusted.iter().map(|(_, key)| key.as_bytes()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// The reason one signature of an envelope did not count toward the threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The signature is not 64 bytes, so it is not ed25519 (ECDSA and RSA are longer).
    NotEd25519 { index: usize, keyid: String, length: usize },
    /// The keyid names a trusted key, but the signature does not verify with it.
    Invalid { index: usize, keyid: String },
    /// No trusted key verifies the signature.
    NoTrustedKey { index: usize, keyid: String, trusted: usize },
    /// The signature is valid but its key was already counted.
    Duplicate { index: usize, keyid: String },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotEd25519 { index, keyid, length } => write!(
                f,
                "signature {index} (keyid {keyid:?}) is {length} bytes, not a {SIGNATURE_BYTES}-byte ed25519 signature; \
                 it is probably ECDSA or RSA, which Vouch does not verify, so sign with an ed25519 key"
            ),
            Rejection::Invalid { index, keyid } => write!(
                f,
                "signature {index} does not verify with trusted key {keyid}; the payload or payloadType changed after signing, or the key is wrong"
            ),
            Rejection::NoTrustedKey { index, keyid, trusted } => {
                write!(f, "signature {index} (keyid {keyid:?}) verifies with none of the {trusted} trusted keys")
            }
            Rejection::Duplicate { index, keyid } => {
                write!(f, "signature {index} (keyid {keyid:?}) is by a key that was already counted")
            }
        }
    }
}

/// The reasons signatures were rejected, printed as one `; `-separated line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejections(pub Vec<Rejection>);

impl fmt::Display for Rejections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no signature was rejected");
        }
        let texts: Vec<String> = self.0.iter().map(Rejection::to_string).collect();
        f.write_str(&texts.join("; "))
    }
}

#[cfg(test)]
mod tests;
