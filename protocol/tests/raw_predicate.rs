//! Reading a predicate from its raw JSON text gives the same facts and the same errors
//! as reading it decoded. The tests cover every JSON file of the corpus under every
//! predicate type, the statements of the corpus envelopes, and wrong shapes made here.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use serde_json::value::RawValue;
use vouch_protocol::facts::{self, Facts};
use vouch_protocol::intoto::{RawStatement, Statement};

/// One predicate type of each reader.
const TYPES: [&str; 7] = [
    "https://cosign.sigstore.dev/attestation/vuln/v1",
    "https://in-toto.io/attestation/vulns/v0.1",
    "https://cyclonedx.org/bom",
    "https://spdx.dev/Document",
    "https://slsa.dev/provenance/v0.2",
    "https://slsa.dev/provenance/v1",
    "https://vouch.dev/review/v1",
];

/// How two failed readings must agree.
#[derive(Clone, Copy)]
enum Errors {
    /// The same message: the input has at most one invalid field.
    Same,
    /// Both fail: with several invalid fields, raw text names the first in document
    /// order and a decoded value the first in key order.
    BothFail,
}

/// Reads `text` under `predicate_type` both ways, asserts that the results agree, and
/// returns whether the reading succeeded.
fn same_reading(predicate_type: &str, text: &str, label: &str, errors: Errors) -> bool {
    let value: Value = serde_json::from_str(text).unwrap_or_else(|error| panic!("{label}: {error}"));
    let raw = RawValue::from_string(text.to_owned()).expect("the text is JSON");
    let decoded = facts::from_statement(predicate_type, &value).map_err(|error| error.to_string());
    let from_raw = facts::from_raw_predicate(predicate_type, Some(&raw)).map_err(|error| error.to_string());
    match (&decoded, &from_raw, errors) {
        (Err(_), Err(_), Errors::BothFail) => {}
        _ => assert_eq!(decoded, from_raw, "{predicate_type} on {label}"),
    }
    decoded.is_ok_and(|facts| facts.is_some())
}

/// Wraps a scanner report as the `scanner.result` of a cosign vuln predicate.
fn cosign_predicate(report: &str) -> String {
    format!(r#"{{"scanner": {{"uri": "https://github.com/aquasecurity/trivy", "result": {report}}}}}"#)
}

fn json_files(folder: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(folder).unwrap_or_else(|error| panic!("{}: {error}", folder.display()));
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            json_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "json") {
            found.push(path);
        }
    }
}

#[test]
fn corpus_files_read_alike() {
    let Some(corpus) = std::env::var_os("VOUCH_CORPUS").map(PathBuf::from) else {
        println!("skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)");
        return;
    };
    let mut paths = Vec::new();
    json_files(&corpus, &mut paths);
    paths.sort();
    let mut facts_read = 0;
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        if serde_json::from_str::<Value>(&text).is_err() {
            continue;
        }
        let label = path.display().to_string();
        for predicate_type in TYPES {
            facts_read += usize::from(same_reading(predicate_type, &text, &label, Errors::BothFail));
        }
        let wrapped = cosign_predicate(&text);
        facts_read += usize::from(same_reading(TYPES[0], &wrapped, &format!("{label} in cosign"), Errors::BothFail));
    }
    // The corpus contains Trivy, Grype, CycloneDX, SPDX and SLSA documents that read.
    assert!(facts_read >= 10, "only {facts_read} readings succeeded over {} files", paths.len());
}

#[test]
fn corpus_statements_read_alike() {
    let Some(corpus) = std::env::var_os("VOUCH_CORPUS").map(PathBuf::from) else {
        println!("skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)");
        return;
    };
    let mut statements = 0;
    for entry in std::fs::read_dir(corpus.join("intoto")).expect("the corpus has an intoto folder") {
        let path = entry.expect("a folder entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let documents: Vec<&str> = match path.extension().is_some_and(|extension| extension == "jsonl") {
            true => text.lines().collect(),
            false => vec![text.as_str()],
        };
        for document in documents {
            let Ok(envelope) = serde_json::from_str::<Value>(document.trim()) else { continue };
            let Some(payload) = envelope.get("payload").and_then(Value::as_str) else { continue };
            let payload = base64::engine::general_purpose::STANDARD.decode(payload).expect("the payload is base64");

            let decoded = Statement::from_json("statement", &payload).expect("a corpus statement parses");
            let raw = RawStatement::from_json("statement", &payload).expect("a corpus statement parses raw");
            assert_eq!(decoded.subjects, raw.subjects, "{}", path.display());
            assert_eq!(decoded.predicate_type, raw.predicate_type, "{}", path.display());
            let from_value = facts::from_statement(&decoded.predicate_type, &decoded.predicate);
            let from_raw = facts::from_raw_predicate(&raw.predicate_type, raw.predicate);
            assert_eq!(
                from_value.map_err(|e| e.to_string()),
                from_raw.map_err(|e| e.to_string()),
                "{}",
                path.display()
            );
            statements += 1;
        }
    }
    assert!(statements >= 5, "only {statements} statements in the corpus envelopes");
}

#[test]
fn wrong_shapes_fail_alike() {
    let cosign_results = [
        "null",
        "true",
        "7",
        r#""a report""#,
        r#"{"Other": 1, "Keys": 2}"#,
        r#"{"SchemaVersion": 3, "Results": []}"#,
        r#"{"SchemaVersion": 2, "Results": [{"Target": 5}]}"#,
        r#"[{"Target": "legacy", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "p", "InstalledVersion": "1", "Severity": "HIGH"}]}]"#,
        r#"{"matches": [{"vulnerability": {"id": 5}}]}"#,
        r#"{"runs": [{"results": [{}], "tool": {"driver": {"name": "x"}}}]}"#,
        r#"{"runs": [{"results": [], "tool": {"driver": {"name": "Scanner", "version": "1"}}}]}"#,
    ];
    for result in cosign_results {
        same_reading(TYPES[0], &cosign_predicate(result), result, Errors::Same);
    }
    // Each has at most one invalid field for each reader, so the messages agree.
    let predicates = [
        "{}",
        "[]",
        r#"{"scanner": 1}"#,
        r#"{"scanner": {"uri": 5}}"#,
        r#"{"metadata": {"scanFinishedOn": "yesterday"}}"#,
        r#"{"decision": "maybe"}"#,
        r#"{"buildDefinition": {"buildType": 1}}"#,
        r#"{"bomFormat": "CycloneDX", "components": [{"name": 3}]}"#,
    ];
    for predicate in predicates {
        for predicate_type in TYPES {
            same_reading(predicate_type, predicate, predicate, Errors::Same);
        }
    }
    for predicate_type in TYPES {
        let decoded = facts::from_statement(predicate_type, &Value::Null).map_err(|error| error.to_string());
        let absent = facts::from_raw_predicate(predicate_type, None).map_err(|error| error.to_string());
        assert_eq!(decoded, absent, "{predicate_type} without a predicate");
    }
}

#[test]
fn raw_statement_keeps_the_statement_checks() {
    let digest = "a".repeat(64);
    let good = format!(
        r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": [{{"name": "app", "digest": {{"sha256": "{digest}"}}}}], "predicateType": "https://vouch.dev/review/v1", "predicate": {{"decision": "approve", "reason": "ok"}}}}"#
    );
    let raw = RawStatement::from_json("statement", good.as_bytes()).expect("a valid statement");
    assert_eq!(raw.predicate.map(RawValue::get), Some(r#"{"decision": "approve", "reason": "ok"}"#));
    let facts = facts::from_raw_predicate(&raw.predicate_type, raw.predicate).expect("a review reads");
    assert!(matches!(facts, Some(Facts::Review(_))), "{facts:?}");

    let without_predicate = good.replace(r#", "predicate": {"decision": "approve", "reason": "ok"}"#, "");
    let raw = RawStatement::from_json("statement", without_predicate.as_bytes()).expect("the predicate is optional");
    assert!(raw.predicate.is_none());

    let cases = [
        good.replace("Statement/v1", "Statement/v9"),
        good.replace(&format!(r#"[{{"name": "app", "digest": {{"sha256": "{digest}"}}}}]"#), "[]"),
        good.replace(&digest, "xyz"),
        good.replace(r#""predicateType": "https://vouch.dev/review/v1""#, r#""predicateType": """#),
        good.replace(r#""reason": "ok""#, r#""reason": "ok", "reason": "twice""#),
        good.replace("{\"_type\"", "[{\"_type\"") + "]",
    ];
    for case in &cases {
        let decoded = Statement::from_json("statement", case.as_bytes()).map(drop).map_err(|e| e.to_string());
        let raw = RawStatement::from_json("statement", case.as_bytes()).map(drop).map_err(|e| e.to_string());
        assert!(decoded.is_err(), "{case}");
        assert_eq!(decoded, raw, "{case}");
    }
}
/// Invalid UTF-8 in fields that no reader declares: the first parse skips those
/// strings without decoding them, so the duplicate-key check must still reject them.
#[test]
fn invalid_utf8_in_unknown_fields_is_refused() {
    let digest = "a".repeat(64);
    let subject = format!(r#"{{"name": "app", "digest": {{"sha256": "{digest}"}}"#);
    let rest =
        r#", "predicateType": "https://vouch.dev/review/v1", "predicate": {"decision": "approve", "reason": "ok"}"#;
    let statement = |subject_extra: &[u8], top_extra: &[u8]| {
        let mut bytes = br#"{"_type": "https://in-toto.io/Statement/v1", "subject": ["#.to_vec();
        bytes.extend_from_slice(subject.as_bytes());
        bytes.extend_from_slice(subject_extra);
        bytes.extend_from_slice(b"}]");
        bytes.extend_from_slice(top_extra);
        bytes.extend_from_slice(rest.as_bytes());
        bytes.push(b'}');
        bytes
    };
    let valid = statement(b"", b"");
    assert!(RawStatement::from_json("statement", &valid).is_ok());
    let cases = [
        statement(b"", b", \"x\": \"\xff\""),
        statement(b"", b", \"x\": {\"a\xff\": 1, \"a\xfe\": 2}"),
        statement(b", \"annotations\": {\"k\xc0\": \"v\", \"k\xc1\": \"w\"}", b""),
        statement(b", \"uri\": \"\xed\xa0\x80\"", b""),
    ];
    for case in &cases {
        let text = String::from_utf8_lossy(case);
        let decoded = Statement::from_json("statement", case).map(drop).map_err(|e| e.to_string());
        let raw = RawStatement::from_json("statement", case).map(drop).map_err(|e| e.to_string());
        assert!(raw.is_err(), "{text}");
        assert_eq!(decoded, raw, "{text}");
    }
}

/// A JSON array whose items line up with a statement's fields is not a statement.
#[test]
fn array_statement_is_refused() {
    let digest = "a".repeat(64);
    let array = format!(
        r#" ["https://in-toto.io/Statement/v1", [{{"name": "app", "digest": {{"sha256": "{digest}"}}}}], "https://vouch.dev/review/v1", {{"decision": "approve", "reason": "ok"}}]"#
    );
    let decoded = Statement::from_json("statement", array.as_bytes()).map(drop).map_err(|e| e.to_string());
    let raw = RawStatement::from_json("statement", array.as_bytes()).map(drop).map_err(|e| e.to_string());
    let error = raw.clone().expect_err("an array is refused");
    assert!(error.contains("found a JSON array, expected an in-toto statement object"), "{error}");
    assert_eq!(decoded, raw);

    // A subject written as an array of its fields.
    let statement = format!(
        r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": [["app", {{"sha256": "{digest}"}}]], "predicateType": "https://vouch.dev/review/v1", "predicate": {{"decision": "approve", "reason": "ok"}}}}"#
    );
    let decoded = Statement::from_json("statement", statement.as_bytes()).map(drop).map_err(|e| e.to_string());
    let raw = RawStatement::from_json("statement", statement.as_bytes()).map(drop).map_err(|e| e.to_string());
    let error = raw.clone().expect_err("an array subject is refused");
    assert!(error.contains("expected an in-toto subject object"), "{error}");
    assert!(error.contains("subject[0]"), "{error}");
    assert_eq!(decoded, raw);
}

/// Reads a statement with `predicate` both ways and asserts the same outcome.
fn same_statement_reading(predicate: &str) {
    let digest = "b".repeat(64);
    let statement = format!(
        r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": [{{"name": "app", "digest": {{"sha256": "{digest}"}}}}], "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1", "predicate": {predicate}}}"#
    );
    let decoded = Statement::from_json("statement", statement.as_bytes())
        .map_err(|error| error.to_string())
        .and_then(|s| facts::from_statement(&s.predicate_type, &s.predicate).map_err(|error| error.to_string()));
    let raw = RawStatement::from_json("statement", statement.as_bytes())
        .map_err(|error| error.to_string())
        .and_then(|s| facts::from_raw_predicate(&s.predicate_type, s.predicate).map_err(|error| error.to_string()));
    assert_eq!(decoded, raw, "{predicate}");
}

#[test]
fn hostile_statements_read_alike() {
    let report = r#"{"SchemaVersion": 2, "Results": []}"#;
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let predicates = [
        // Escaped keys pick the same reader and fields.
        r#"{"scanner": {"result": {"Sch\u0065maVersion": 2, "Results": []}}}"#.to_owned(),
        r#"{"sc\u0061nner": {"result": {"matches": []}}}"#.to_owned(),
        // A number out of range, in a field no reader uses.
        format!(r#"{{"scanner": {{"result": {report}, "extra": 1e400}}}}"#),
        // Nesting past serde_json's depth limit, in a field no reader uses.
        format!(r#"{{"scanner": {{"result": {report}, "extra": {deep}}}}}"#),
        // A lone surrogate in a string.
        format!(r#"{{"scanner": {{"uri": "\ud800", "result": {report}}}}}"#),
        // The result before an invalid field: the error path reads the text again.
        format!(r#"{{"scanner": {{"result": {report}, "uri": 5}}}}"#),
        // A duplicate key inside the predicate.
        format!(r#"{{"scanner": {{"result": {report}, "result": {report}}}}}"#),
        // What the quick key scan hands to the full check, though it is valid: a number
        // in range with an exponent, a surrogate pair, and nesting past the scan's
        // depth but within serde_json's.
        format!(r#"{{"scanner": {{"result": {report}, "extra": 2.5e5}}}}"#),
        format!(r#"{{"scanner": {{"uri": "\ud83d\ude00", "result": {report}}}}}"#),
        format!(r#"{{"scanner": {{"result": {report}, "extra": {}1{}}}}}"#, "[".repeat(100), "]".repeat(100)),
    ];
    for predicate in &predicates {
        same_statement_reading(predicate);
    }
}
