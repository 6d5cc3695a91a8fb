use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::*;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    height: u64,
    name: String,
    tags: BTreeMap<String, u32>,
    parent: Option<[u8; 4]>,
}

fn entry() -> Entry {
    let tags = [("b".to_owned(), 2), ("a".to_owned(), 1)].into_iter().collect();
    Entry { height: 7, name: "x".to_owned(), tags, parent: Some([1, 2, 3, 4]) }
}

/// Returns the encoding of a one-field struct holding a `String` whose length prefix is
/// `announced` but which carries only `present` bytes.
fn string_with_prefix(announced: u64, present: usize) -> Vec<u8> {
    let mut bytes = announced.to_le_bytes().to_vec();
    bytes.extend(std::iter::repeat_n(b'a', present));
    bytes
}

#[test]
fn decode_inverts_encode() {
    let bytes = encode(&entry());
    assert_eq!(decode::<Entry>(&bytes).unwrap(), entry());
}

#[test]
fn integers_are_fixed_width_little_endian() {
    assert_eq!(encode(&5u32), [5, 0, 0, 0]);
    assert_eq!(encode(&0x0102_0304_0506_0708u64), [8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(encode("ab"), [2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = encode(&entry());
    bytes.push(0);
    let error = decode::<Entry>(&bytes).unwrap_err();
    assert!(matches!(error, EncodingError::TrailingBytes { trailing: 1, .. }), "{error}");
}

#[test]
fn truncated_input_is_rejected() {
    let bytes = encode(&entry());
    let error = decode::<Entry>(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(error.to_string().contains("input ends early"), "{error}");
}

#[test]
fn unsorted_map_keys_are_non_canonical() {
    let canonical = encode(&entry());
    // The map starts after height (8), the name (8 + 1) and the map length (8). Its
    // entries are ("a", 1) then ("b", 2), each 8 + 1 + 4 bytes, and the test swaps them.
    let start = 8 + 9 + 8;
    let entry_len = 13;
    let mut swapped = canonical.clone();
    swapped[start..start + entry_len].copy_from_slice(&canonical[start + entry_len..start + 2 * entry_len]);
    swapped[start + entry_len..start + 2 * entry_len].copy_from_slice(&canonical[start..start + entry_len]);

    let error = decode::<Entry>(&swapped).unwrap_err();
    assert!(matches!(error, EncodingError::NonCanonical { offset, .. } if offset == start + 8), "{error}");
}

#[test]
fn repeated_map_keys_are_non_canonical() {
    let pairs: Vec<(String, u32)> = vec![("a".to_owned(), 1), ("a".to_owned(), 2)];
    let bytes = encode(&pairs);
    let error = decode::<BTreeMap<String, u32>>(&bytes).unwrap_err();
    assert!(matches!(error, EncodingError::NonCanonical { .. }), "{error}");
}

#[test]
fn option_bool_tags_must_be_binary() {
    assert!(decode::<Option<u8>>(&[2, 0]).is_err());
    assert!(decode::<bool>(&[2]).is_err());
    assert!(decode::<bool>(&[1]).unwrap());
}

#[test]
fn invalid_utf8_is_rejected() {
    let bytes = [1, 0, 0, 0, 0, 0, 0, 0, 0xff];
    assert!(matches!(decode::<String>(&bytes), Err(EncodingError::Invalid { .. })));
}

#[test]
fn input_limit_at_and_past_edge() {
    // A string whose encoding is exactly ENCODED_BYTES_MAX bytes decodes.
    let at_limit = "a".repeat(ENCODED_BYTES_MAX - 8);
    let bytes = encode(&at_limit);
    assert_eq!(bytes.len(), ENCODED_BYTES_MAX);
    assert_eq!(decode::<String>(&bytes).unwrap().len(), at_limit.len());
    drop(at_limit);

    let mut past = bytes;
    past.push(b'a');
    let error = decode::<String>(&past).unwrap_err();
    assert!(matches!(error, EncodingError::TooLarge { .. }), "{error}");
}

#[test]
fn huge_length_prefix_fails_without_allocating() {
    // Allocating 2^62 bytes would abort the test process, so passing shows the prefix
    // was rejected before any allocation of that size.
    for announced in [1u64 << 62, u64::MAX, (ENCODED_BYTES_MAX + 1) as u64] {
        let error = decode::<String>(&string_with_prefix(announced, 3)).unwrap_err();
        assert!(error.to_string().contains("more than the limit"), "{error}");
        let error = decode::<Vec<u64>>(&string_with_prefix(announced, 3)).unwrap_err();
        assert!(error.to_string().contains("input ends early"), "{error}");
    }
}

#[test]
fn length_prefix_at_limit_reads_on() {
    // A prefix of exactly the limit passes the claim and fails only for missing bytes.
    let error = decode::<String>(&string_with_prefix((ENCODED_BYTES_MAX - 8) as u64, 3)).unwrap_err();
    assert!(error.to_string().contains("input ends early"), "{error}");
}

#[test]
fn length_prefix_past_limit_reports_limit() {
    // Through the owned-reader path bincode claims the announced bytes against the limit.
    let bytes = string_with_prefix((ENCODED_BYTES_MAX + 1) as u64, 3);
    let error = bincode::serde::decode_from_std_read::<String, _, _>(&mut bytes.as_slice(), CONFIG).unwrap_err();
    assert!(matches!(error, bincode::error::DecodeError::LimitExceeded), "{error}");
    assert!(describe(&error).contains("more than the limit"), "{error}");
}

#[test]
fn standard_config_accepts_trailing_bytes() {
    let mut bytes = bincode::serde::encode_to_vec(7u32, bincode::config::standard()).unwrap();
    bytes.extend_from_slice(b"junk");
    let (value, read): (u32, usize) = bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(value, 7);
    assert_eq!(read, 1, "standard() reads one byte of five and reports no error");
}

#[test]
fn standard_config_accepts_overlong_varint() {
    let standard = bincode::config::standard();
    assert_eq!(bincode::serde::encode_to_vec(5u32, standard).unwrap(), [5]);
    // 251 announces a two-byte little-endian value; 5 fits in one byte, so this is overlong.
    let (value, read): (u32, usize) = bincode::serde::decode_from_slice(&[251, 5, 0], standard).unwrap();
    assert_eq!((value, read), (5, 3));
}

#[test]
fn hash_map_encoding_follows_iteration_order() {
    // Each HashMap gets its own random hasher keys, so equal maps iterate, and encode,
    // in different orders.
    let encodings: std::collections::BTreeSet<Vec<u8>> = (0..16)
        .map(|_| {
            let map: HashMap<u32, u32> = (0..32).map(|i| (i, i)).collect();
            encode(&map)
        })
        .collect();
    assert!(encodings.len() > 1, "16 equal HashMaps all encoded identically");
}

#[test]
fn serde_message_is_shown_plainly() {
    #[derive(Debug, Serialize, Deserialize)]
    #[allow(dead_code, reason = "only decoded, to reach a serde error")]
    enum Two {
        A,
        B,
    }
    let error = decode::<Two>(&5u32.to_le_bytes()).expect_err("variant 5 does not exist");
    let message = error.to_string();
    assert!(message.contains("variant index"), "{message}");
    assert!(!message.contains("OtherString"), "{message}");
}

#[test]
fn encode_after_reserves_a_prefix_and_allocates_once() {
    let value = entry();
    let plain = encode(&value);
    for reserved in [0, 1, 12] {
        let bytes = encode_after(&value, reserved);
        assert_eq!(&bytes[..reserved], vec![0; reserved].as_slice());
        assert_eq!(&bytes[reserved..], plain.as_slice());
        assert_eq!(bytes.capacity(), bytes.len(), "the buffer is sized before it is written");
    }
}
