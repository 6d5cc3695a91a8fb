//! Hostile input for the shared readers: limits at the extremes of their types, text
//! encodings other than UTF-8, and JSON that different parsers read differently.

use vouch_protocol::input::{InputError, parse_json, read_file_bounded};
use vouch_protocol::intoto::{Statement, StatementError};

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

/// A statement whose digest set names sha256 twice: one parser that keeps the first
/// value and another that keeps the last would see different images.
#[test]
fn statement_duplicate_digest_key_is_rejected() {
    let first = "a".repeat(64);
    let second = "b".repeat(64);
    let json = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"app","digest":{{"sha256":"{first}","sha256":"{second}"}}}}],"predicateType":"https://example.com/p","predicate":{{}}}}"#
    );
    let error = Statement::from_json(FILE, json.as_bytes()).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StatementError::Input(InputError::Field { .. })), "{error:?}");
    assert!(text.contains("subject[0].digest"), "{text}");
    assert!(text.contains("duplicate key `sha256`"), "{text}");
}

#[test]
fn statement_duplicate_predicate_key_is_rejected() {
    let digest = "a".repeat(64);
    let json = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"app","digest":{{"sha256":"{digest}"}}}}],"predicateType":"https://vouch.dev/review/v1","predicate":{{"decision":"approve","reason":"ok","nested":[{{"decision":"x"}}],"decision":"reject"}}}}"#
    );
    let text = Statement::from_json(FILE, json.as_bytes()).unwrap_err().to_string();
    assert!(text.contains("field `predicate`"), "{text}");
    assert!(text.contains("duplicate key `decision`"), "{text}");
}

#[test]
fn statement_same_key_in_sibling_objects_is_accepted() {
    let digest = "a".repeat(64);
    let json = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"a","digest":{{"sha256":"{digest}"}}}},{{"name":"b","digest":{{"sha256":"{digest}"}}}}],"predicateType":"https://example.com/p","predicate":{{"x":{{"k":1}},"y":{{"k":2}}}}}}"#
    );
    let statement = Statement::from_json(FILE, json.as_bytes()).expect("keys repeat only across objects");
    assert_eq!(statement.subjects.len(), 2);
}

#[test]
fn statement_nested_past_recursion_limit_is_rejected() {
    let digest = "a".repeat(64);
    let depth = 100_000;
    let json = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"a","digest":{{"sha256":"{digest}"}}}}],"predicateType":"https://example.com/p","predicate":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let text = Statement::from_json(FILE, json.as_bytes()).unwrap_err().to_string();
    assert!(text.contains("recursion limit exceeded"), "{text}");
}
