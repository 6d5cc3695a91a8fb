//! Canonical binary encoding of every ledger structure: bincode 2.0.1 with one fixed
//! configuration, and a decoder that accepts only bytes that re-encode to themselves.
//!
//! # Format
//! Integers are fixed-width little-endian (`u32` is 4 bytes, `u64` 8), lengths of
//! strings, byte strings, sequences and maps are `u64` little-endian prefixes, enum
//! variants are `u32` indexes, `Option` and `bool` are one byte (0 or 1). Structs are
//! their fields in declaration order, with no names or tags.
//!
//! # Invariants
//! - [`decode`] returns a value only if [`encode`] of that value gives back exactly the
//!   input bytes, so each value has one encoding and a hash or signature over the
//!   received bytes is a hash or signature over the value.
//! - Input longer than [`ENCODED_BYTES_MAX`] is rejected before decoding. A string
//!   length prefix over that limit is rejected before any allocation. A sequence length
//!   prefix makes serde reserve at most 1 MiB (its cautious size hint), and the missing
//!   elements then end the decode.
//!
//! # Rules for encoded types
//! - Maps only as `BTreeMap` or as vectors sorted by key. A `HashMap` encodes in its
//!   iteration order, which differs between two maps with the same entries
//!   (`hash_map_encoding_follows_iteration_order` in the tests shows it).
//! - No floats: `f32`/`f64` have several encodings of equal values (`0.0` and `-0.0`,
//!   NaN payloads). Use fixed-point integers.
//! - No `#[serde(flatten)]`, untagged enums or `serde_json::Value`: bincode cannot
//!   decode them because they need a self-describing format.
//!
//! # Why not `bincode::config::standard()`
//! The tests in this module measured these facts about bincode 2.0.1's `standard()`
//! configuration: `decode_from_slice` accepts trailing bytes and only returns how many
//! it read (`standard_config_accepts_trailing_bytes`), and it decodes an overlong varint
//! (the value 5 written as the 3-byte form `251, 5, 0`) as 5
//! (`standard_config_accepts_overlong_varint`), so two byte strings decode to one value.
//! Fixed-width integers have one encoding each, and the re-encoding check catches the
//! rest (unsorted or duplicate map keys).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Maximum size of one encoded value, and of the containers a length prefix may
/// announce: 64 MiB, above a block of transactions that each carry an envelope of up
/// to [`crate::dsse::ENVELOPE_BYTES_MAX`].
pub const ENCODED_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The one bincode configuration used for everything signed, hashed or stored.
const CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Fixint,
    bincode::config::Limit<ENCODED_BYTES_MAX>,
> = bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<ENCODED_BYTES_MAX>();

/// Errors from decoding bytes that are not the canonical encoding of a value.
#[derive(Debug, thiserror::Error)]
pub enum EncodingError {
    #[error("encoded value is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("invalid encoding of {type_name}: {message}")]
    Invalid { type_name: &'static str, message: String },
    #[error("invalid encoding of {type_name}: {trailing} trailing bytes after the value, which ends at byte {read}")]
    TrailingBytes { type_name: &'static str, read: usize, trailing: usize },
    #[error(
        "non-canonical encoding of {type_name}: the value re-encodes differently from byte {offset} on (for example map keys out of order or repeated)"
    )]
    NonCanonical { type_name: &'static str, offset: usize },
}

/// Encodes `value` with the canonical configuration.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, CONFIG)
        .expect("ledger types serialize with known lengths and no self-describing features")
}

/// Encodes `value` after `reserved` zero bytes, into a vector allocated once at its
/// final size, which the caller fills the reserved bytes of (a frame header, for
/// example). [`encode`] grows its vector while it writes, which copies a large value
/// several times; this measures the encoding first instead.
pub fn encode_after<T: Serialize + ?Sized>(value: &T, reserved: usize) -> Vec<u8> {
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, CONFIG)
        .expect("ledger types serialize with known lengths and no self-describing features");
    let mut bytes = Vec::with_capacity(reserved + size.bytes_written);
    bytes.resize(reserved, 0);
    bincode::serde::encode_into_std_write(value, &mut bytes, CONFIG)
        .expect("ledger types serialize with known lengths and no self-describing features");
    bytes
}

/// Decodes the canonical encoding of a `T`, rejecting oversize input, trailing bytes and
/// any bytes that do not re-encode identically.
pub fn decode<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Result<T, EncodingError> {
    let type_name = std::any::type_name::<T>();
    if bytes.len() > ENCODED_BYTES_MAX {
        return Err(EncodingError::TooLarge { size: bytes.len(), max: ENCODED_BYTES_MAX });
    }

    let (value, read): (T, usize) = bincode::serde::decode_from_slice(bytes, CONFIG)
        .map_err(|error| EncodingError::Invalid { type_name, message: describe(&error) })?;
    if read != bytes.len() {
        return Err(EncodingError::TrailingBytes { type_name, read, trailing: bytes.len() - read });
    }

    let again = encode(&value);
    if again != bytes {
        let offset = again.iter().zip(bytes).position(|(a, b)| a != b).unwrap_or(again.len().min(bytes.len()));
        return Err(EncodingError::NonCanonical { type_name, offset });
    }
    Ok(value)
}

/// Words bincode's decode errors as a reader of this format expects.
fn describe(error: &bincode::error::DecodeError) -> String {
    match error {
        bincode::error::DecodeError::LimitExceeded => {
            format!("a length prefix announces more than the limit of {ENCODED_BYTES_MAX} bytes")
        }
        bincode::error::DecodeError::UnexpectedEnd { additional } => {
            format!("input ends early; at least {additional} more bytes are needed")
        }
        // serde's messages arrive wrapped; their Display shows the wrapper's Debug form.
        bincode::error::DecodeError::OtherString(message) => message.clone(),
        bincode::error::DecodeError::Other(message) => (*message).to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
