use serde_json::json;

use super::*;
use crate::dsse::Envelope;
use crate::keys::{KeyId, SEED_BYTES, SigningKey};

const IMAGE: &str = "sha256:58eaf5a78d580f5dbd49d31a5b733094169b31bfdf49055b74bcac2877d8f58c";

fn subject(name: &str, digests: &[(&str, &str)]) -> Subject {
    let digest = digests.iter().map(|(a, h)| ((*a).to_owned(), (*h).to_owned())).collect();
    Subject { name: name.to_owned(), digest }
}

fn parse(value: serde_json::Value) -> Result<Statement, StatementError> {
    Statement::from_json("s.json", &serde_json::to_vec(&value).unwrap())
}

fn image() -> Digest {
    Digest::parse(IMAGE).unwrap()
}

#[test]
fn v1_statement_round_trips() {
    let hex = image().hex().to_owned();
    let statement =
        Statement::new(vec![subject("img", &[("sha256", &hex)])], "https://example.com/p/v1", json!({"a": 1})).unwrap();
    let parsed = Statement::from_json("s.json", &statement.to_json_bytes()).unwrap();
    assert_eq!(parsed, statement);
    assert_eq!(parsed.statement_type(), STATEMENT_TYPE_V1);
}

#[test]
fn json_field_names_follow_spec() {
    let hex = image().hex().to_owned();
    let statement = Statement::new(vec![subject("img", &[("sha256", &hex)])], "https://p", json!({})).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&statement.to_json_bytes()).unwrap();
    assert_eq!(value["_type"], STATEMENT_TYPE_V1);
    assert_eq!(value["subject"][0]["digest"]["sha256"], hex);
    assert_eq!(value["predicateType"], "https://p");
}

#[test]
fn v0_1_is_accepted_and_written_as_v1() {
    let statement = parse(json!({
        "_type": STATEMENT_TYPE_V0_1,
        "subject": [{"name": "img", "digest": {"sha256": image().hex()}}],
        "predicateType": "https://p",
        "predicate": {}
    }))
    .unwrap();
    assert_eq!(statement.statement_type(), STATEMENT_TYPE_V0_1);
    let again: serde_json::Value = serde_json::from_slice(&statement.to_json_bytes()).unwrap();
    assert_eq!(again["_type"], STATEMENT_TYPE_V1);
}

#[test]
fn unknown_type_is_rejected() {
    let error =
        parse(json!({"_type": "https://in-toto.io/Statement/v2", "subject": [], "predicateType": "p"})).unwrap_err();
    assert!(matches!(error, StatementError::UnknownType { .. }), "{error}");
    assert!(error.to_string().contains("Statement/v2"), "{error}");
}

#[test]
fn no_subjects_is_rejected() {
    let error = parse(json!({"_type": STATEMENT_TYPE_V1, "subject": [], "predicateType": "p"})).unwrap_err();
    assert!(matches!(error, StatementError::NoSubjects { .. }), "{error}");
}

#[test]
fn empty_digest_set_is_rejected() {
    let error =
        parse(json!({"_type": STATEMENT_TYPE_V1, "subject": [{"name": "a", "digest": {}}], "predicateType": "p"}))
            .unwrap_err();
    assert!(matches!(error, StatementError::EmptyDigestSet { index: 0, .. }), "{error}");
    assert!(error.to_string().contains("\"a\""), "{error}");
}

#[test]
fn bad_hex_names_subject_and_algorithm() {
    let error = parse(json!({
        "_type": STATEMENT_TYPE_V1,
        "subject": [{"name": "ok", "digest": {"sha256": image().hex()}}, {"name": "bad", "digest": {"sha512": "abc"}}],
        "predicateType": "p"
    }))
    .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, StatementError::InvalidSubjectDigest { index: 1, algorithm: Algorithm::Sha512, .. }),
        "{text}"
    );
    assert!(text.contains("\"bad\""), "{text}");
    assert!(text.contains("sha512"), "{text}");
}

#[test]
fn missing_predicate_type_is_rejected() {
    let error =
        parse(json!({"_type": STATEMENT_TYPE_V1, "subject": [{"digest": {"sha256": image().hex()}}]})).unwrap_err();
    assert!(matches!(error, StatementError::MissingPredicateType { .. }), "{error}");
}

#[test]
fn unsupported_algorithms_are_kept_not_matched() {
    let statement = parse(json!({
        "_type": STATEMENT_TYPE_V1,
        "subject": [{"name": "src", "digest": {"gitCommit": "not hex at all", "sha1": image().hex()}}],
        "predicateType": "p"
    }))
    .unwrap();
    assert_eq!(statement.subjects[0].digest["gitCommit"], "not hex at all");
    assert!(!statement.subject_matches(&image()));
}

#[test]
fn any_subject_and_algorithm_can_match() {
    let sha512 = Digest::compute(Algorithm::Sha512, b"x");
    let statement = Statement::new(
        vec![
            subject("a", &[("sha256", &"0".repeat(64))]),
            subject("b", &[("sha256", image().hex()), ("sha512", sha512.hex())]),
        ],
        "p",
        serde_json::Value::Null,
    )
    .unwrap();
    assert!(statement.subject_matches(&image()));
    assert!(statement.subject_matches(&sha512));
    assert!(!statement.subject_matches(&Digest::sha256(b"other")));
    assert_eq!(statement.matching_subjects(&image()).map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b"]);
}

#[test]
fn subject_limit_at_and_past_edge() {
    let one = json!({"digest": {"sha256": image().hex()}});
    let at_limit = vec![one.clone(); SUBJECTS_MAX];
    assert!(parse(json!({"_type": STATEMENT_TYPE_V1, "subject": at_limit, "predicateType": "p"})).is_ok());

    let past = vec![one; SUBJECTS_MAX + 1];
    let error = parse(json!({"_type": STATEMENT_TYPE_V1, "subject": past, "predicateType": "p"})).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("field `subject`"), "{text}");
    assert!(text.contains(&format!("more than {SUBJECTS_MAX}")), "{text}");
}

#[test]
fn from_envelope_checks_payload_type() {
    let key = SigningKey::from_seed(&[4; SEED_BYTES]);
    let keyid = KeyId::of(&key.public_key());
    let statement = Statement::new(vec![subject("a", &[("sha256", image().hex())])], "p", json!({})).unwrap();
    let trusted = [(keyid.clone(), key.public_key())];

    let envelope = Envelope::sign(PAYLOAD_TYPE, statement.to_json_bytes(), &[(&keyid, &key)]).unwrap();
    let parsed = Statement::from_envelope("e.json", &envelope.verify(&trusted, 1).unwrap()).unwrap();
    assert_eq!(parsed, statement);

    let envelope = Envelope::sign("application/json", statement.to_json_bytes(), &[(&keyid, &key)]).unwrap();
    let error = Statement::from_envelope("e.json", &envelope.verify(&trusted, 1).unwrap()).unwrap_err();
    assert!(matches!(error, StatementError::WrongPayloadType { .. }), "{error}");
}

/// Reads `subject[*].digest.sha256` with serde_json::Value walking, apart from the parser.
fn independent_subject_digests(payload: &[u8]) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
    value["subject"].as_array().unwrap().iter().map(|s| s["digest"]["sha256"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn corpus_statements_parse_and_match() {
    let Some(root) = std::env::var_os("VOUCH_CORPUS") else {
        println!("skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)");
        return;
    };
    let folder = std::path::Path::new(&root).join("intoto");
    for name in [
        "dsse-ed25519-slsa-v1-statement-v1.json",
        "dsse-tekton-chains-slsa-v02.json",
        "dsse-cosign-custom-predicate-legacy-type.json",
        "dsse-cosign-vuln-distroless-static.json",
        "dsse-cosign-cyclonedx-centos.intoto.jsonl",
    ] {
        let bytes = std::fs::read(folder.join(name)).unwrap();
        let envelope = Envelope::from_json_or_lines(name, &bytes).unwrap().remove(0);
        let statement = Statement::from_json(name, &envelope.payload).unwrap();

        let digests = independent_subject_digests(&envelope.payload);
        assert_eq!(statement.subjects.len(), digests.len(), "{name}");
        for hex in digests {
            assert!(statement.subject_matches(&Digest::from_hex(Algorithm::Sha256, &hex).unwrap()), "{name}");
        }
        assert!(!statement.subject_matches(&Digest::sha256(b"not this image")), "{name}");
    }
}
