//! Hostile input for the shared readers: limits at the extremes of their types, text
//! encodings other than UTF-8, and JSON that different parsers read differently.

use vouch_protocol::input::{InputError, parse_json, read_file_bounded};

const FILE: &str = "input.json";

#[test]
fn size_limit_of_u64_max_reads_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, b"{}").unwrap();
    let bytes = read_file_bounded(&path, u64::MAX).expect("a limit of u64::MAX admits any file");
    assert_eq!(bytes, b"{}");
}

#[test]
fn utf8_byte_order_mark_is_named() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(b"{\n  \"name\": \"x\",\n  \"items\": [\n    {\"score\": 1}\n  ]\n}\n");
    let error = parse_json::<serde_json::Value>(FILE, &bytes).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, InputError::ByteOrderMark { encoding: "UTF-8", .. }), "{error:?}");
    assert!(text.starts_with(FILE), "{text}");
    assert!(!text.contains("log lines"), "{text}");
}

#[test]
fn utf16_input_is_named() {
    for bom in [&b"\xFF\xFE"[..], &b"\xFE\xFF"[..]] {
        let mut bytes = bom.to_vec();
        for unit in "{\"a\": 1}".encode_utf16() {
            let pair = if bom[0] == 0xFF { unit.to_le_bytes() } else { unit.to_be_bytes() };
            bytes.extend_from_slice(&pair);
        }
        let text = parse_json::<serde_json::Value>(FILE, &bytes).unwrap_err().to_string();
        assert!(text.contains("UTF-16"), "{text}");
        assert!(text.contains("UTF-8"), "{text}");
    }
}
