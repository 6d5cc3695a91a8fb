//! The DSSE v1 JSON form of an envelope: `payloadType`, base64 `payload` and
//! `signatures` of `{keyid, sig}`.
//!
//! Base64 is decoded and every limit is checked while the JSON is read, so a bad value
//! is reported by [`crate::input::parse_json`] with its field path and byte offset. A
//! value that is not valid base64 is then located again in the file, so its error gives
//! the offset of the failing character instead of the end of the value.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde::{Deserialize, Deserializer, Serialize};

use crate::input::{InputError, escape_control_characters};

use super::{
    DsseError, Envelope, EnvelopeSignature, KEYID_BYTES_MAX, PAYLOAD_BYTES_MAX, PAYLOAD_TYPE_BYTES_MAX,
    SIGNATURE_BYTES_MAX, SIGNATURES_MAX,
};

/// Standard-alphabet base64 that accepts input with or without `=` padding.
const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// URL-safe base64 that accepts input with or without `=` padding.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Deserialize)]
#[serde(expecting = "a DSSE envelope object")]
#[serde(rename_all = "camelCase")]
pub(super) struct EnvelopeIn {
    #[serde(deserialize_with = "payload_type")]
    payload_type: String,
    #[serde(deserialize_with = "payload")]
    payload: Vec<u8>,
    #[serde(deserialize_with = "signatures")]
    signatures: Vec<SignatureIn>,
}

#[derive(Deserialize)]
#[serde(expecting = "a DSSE signature object")]
struct SignatureIn {
    #[serde(default, deserialize_with = "keyid")]
    keyid: String,
    #[serde(deserialize_with = "sig")]
    sig: Vec<u8>,
}

impl From<EnvelopeIn> for Envelope {
    fn from(input: EnvelopeIn) -> Envelope {
        let signatures =
            input.signatures.into_iter().map(|s| EnvelopeSignature { keyid: s.keyid, sig: s.sig }).collect();
        Envelope { payload_type: input.payload_type, payload: input.payload, signatures }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EnvelopeOut<'a> {
    payload_type: &'a str,
    payload: String,
    signatures: Vec<SignatureOut<'a>>,
}

#[derive(Serialize)]
struct SignatureOut<'a> {
    keyid: &'a str,
    sig: String,
}

impl<'a> EnvelopeOut<'a> {
    /// Encodes `payload` and every `sig` as standard base64 with padding.
    pub(super) fn new(envelope: &'a Envelope) -> EnvelopeOut<'a> {
        let signatures = envelope
            .signatures
            .iter()
            .map(|s| SignatureOut { keyid: &s.keyid, sig: general_purpose::STANDARD.encode(&s.sig) })
            .collect();
        EnvelopeOut {
            payload_type: &envelope.payload_type,
            payload: general_purpose::STANDARD.encode(&envelope.payload),
            signatures,
        }
    }
}

fn payload_type<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    check_length(&text, PAYLOAD_TYPE_BYTES_MAX, "payloadType")?;
    Ok(text)
}

fn keyid<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    // DSSE makes keyid optional; some tools write null, cosign writes "".
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    check_length(&text, KEYID_BYTES_MAX, "keyid")?;
    Ok(text)
}

fn payload<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    check_length(&text, encoded_len_max(PAYLOAD_BYTES_MAX), "base64 payload")?;
    decode_base64(&text).map_err(|error| serde::de::Error::custom(format!("not valid base64: {error}")))
}

fn sig<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    check_length(&text, encoded_len_max(SIGNATURE_BYTES_MAX), "base64 signature")?;
    decode_base64(&text).map_err(|error| serde::de::Error::custom(format!("not valid base64: {error}")))
}

fn signatures<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<SignatureIn>, D::Error> {
    crate::bounded::deserialize_bounded::<D, SignatureIn, SIGNATURES_MAX>(deserializer, "signatures")
}

fn check_length<E: serde::de::Error>(text: &str, max: usize, what: &str) -> Result<(), E> {
    if text.len() > max {
        return Err(E::custom(format!("{what} is {} bytes, over the limit of {max} bytes", text.len())));
    }
    Ok(())
}

/// Returns the length of padded base64 for `bytes` bytes.
pub(super) const fn encoded_len_max(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// Decodes standard or URL-safe base64, as DSSE requires verifiers to accept both.
pub(super) fn decode_base64(text: &str) -> Result<Vec<u8>, Base64Error> {
    let url_safe = text.bytes().any(|b| b == b'-' || b == b'_');
    let standard = text.bytes().any(|b| b == b'+' || b == b'/');
    if url_safe && standard {
        return Err(Base64Error {
            position: None,
            problem: "mixes the standard (+ /) and URL-safe (- _) alphabets".to_owned(),
        });
    }
    let engine = if url_safe { &URL_SAFE_ANY_PADDING } else { &STANDARD_ANY_PADDING };
    engine.decode(text).map_err(Base64Error::from)
}

/// Error for a `payload` or `sig` value that is not valid base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Base64Error {
    /// Byte position of the offending character within the value, when one character is
    /// at fault.
    pub(super) position: Option<usize>,
    problem: String,
}

impl From<base64::DecodeError> for Base64Error {
    fn from(error: base64::DecodeError) -> Base64Error {
        let printable = |byte: u8| escape_control_characters(&char::from(byte).to_string());
        match error {
            base64::DecodeError::InvalidByte(position, byte) => Base64Error {
                position: Some(position),
                problem: format!(
                    "character `{}` at position {position} of the value is not in the base64 alphabet",
                    printable(byte)
                ),
            },
            base64::DecodeError::InvalidLastSymbol(position, byte) => Base64Error {
                position: Some(position),
                problem: format!(
                    "last character `{}` at position {position} of the value sets bits that base64 leaves zero",
                    printable(byte)
                ),
            },
            base64::DecodeError::InvalidLength(length) => {
                Base64Error { position: None, problem: format!("{length} base64 characters cannot encode whole bytes") }
            }
            base64::DecodeError::InvalidPadding => {
                Base64Error { position: None, problem: "the `=` padding is invalid".to_owned() }
            }
        }
    }
}

impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problem)
    }
}

/// Turns the error of a `payload` or `sig` value that is not valid base64 into
/// [`DsseError::InvalidBase64`] with the byte offset of the failing character in the
/// file; other errors pass through.
pub(super) fn locate_base64_error(bytes: &[u8], error: InputError) -> DsseError {
    let InputError::Field { source_name, path, offset, .. } = &error else {
        return error.into();
    };
    if path != "payload" && !path.ends_with(".sig") {
        return error.into();
    }
    let Some((start, text)) = string_value_ending_at(bytes, *offset) else {
        return error.into();
    };
    let Err(problem) = decode_base64(text) else {
        return error.into();
    };
    DsseError::InvalidBase64 {
        source_name: source_name.clone(),
        field: path.clone(),
        offset: (start + problem.position.unwrap_or(0)) as u64,
        problem: problem.to_string(),
    }
}

/// Finds the JSON string whose closing quote is at `end` or just before it (where
/// serde_json stops after reading a string), returning the offset of its first
/// character and its text. Returns None for a string with escapes, which base64 never
/// needs, because its raw bytes are then not its text.
fn string_value_ending_at(bytes: &[u8], end: u64) -> Option<(usize, &str)> {
    let end = usize::try_from(end).ok()?.min(bytes.len().checked_sub(1)?);
    let close = (end.saturating_sub(1)..=end).rev().find(|&i| bytes[i] == b'"')?;
    let open = bytes[..close].iter().rposition(|&b| b == b'"')?;
    let raw = &bytes[open + 1..close];
    if raw.contains(&b'\\') {
        return None;
    }
    Some((open + 1, std::str::from_utf8(raw).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_alphabets_with_and_without_padding() {
        let bytes = [0xfbu8, 0xff, 0xbf];
        assert_eq!(decode_base64("+/+/").unwrap(), bytes);
        assert_eq!(decode_base64("-_-_").unwrap(), bytes);
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert_eq!(decode_base64("YQ").unwrap(), b"a");
    }

    #[test]
    fn rejects_mixed_alphabets() {
        let error = decode_base64("+_+_").unwrap_err().to_string();
        assert!(error.contains("mixes"), "{error}");
    }

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        // "YR==" decodes to "a" only if the unused low bits of R are ignored.
        assert!(decode_base64("YR==").is_err());
    }

    #[test]
    fn encoded_len_covers_padding() {
        assert_eq!(encoded_len_max(0), 0);
        assert_eq!(encoded_len_max(1), 4);
        assert_eq!(encoded_len_max(3), 4);
        assert_eq!(encoded_len_max(4), 8);
    }
}
