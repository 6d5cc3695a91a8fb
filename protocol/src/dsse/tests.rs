use super::*;
use crate::keys::SEED_BYTES;
use crate::keys::sslib::parse_public_key_json;

const IN_TOTO: &str = "application/vnd.in-toto+json";

fn signer(byte: u8) -> (KeyId, SigningKey) {
    let key = SigningKey::from_seed(&[byte; SEED_BYTES]);
    (KeyId::of(&key.public_key()), key)
}

fn trusted(keys: &[&(KeyId, SigningKey)]) -> Vec<(KeyId, PublicKey)> {
    keys.iter().map(|(id, key)| (id.clone(), key.public_key())).collect()
}

fn signed_by(keys: &[&(KeyId, SigningKey)]) -> Envelope {
    let signers: Vec<(&KeyId, &SigningKey)> = keys.iter().map(|(id, key)| (id, key)).collect();
    Envelope::sign(IN_TOTO, b"{\"hello\":1}".to_vec(), &signers).unwrap()
}

/// Reads a corpus file, or returns None (after printing why) when VOUCH_CORPUS is unset.
fn corpus(name: &str) -> Option<Vec<u8>> {
    let Some(root) = std::env::var_os("VOUCH_CORPUS") else {
        println!("skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)");
        return None;
    };
    let path = std::path::Path::new(&root).join("intoto").join(name);
    Some(crate::input::read_file_bounded(&path, ENVELOPE_BYTES_MAX as u64).unwrap())
}

fn rejections(error: DsseError) -> Vec<Rejection> {
    match error {
        DsseError::ThresholdNotMet { rejections, .. } => rejections.0,
        other => panic!("expected ThresholdNotMet, got {other}"),
    }
}

#[test]
fn pae_matches_spec_example() {
    // The example from the DSSE v1 protocol description.
    let bytes = pae("http://example.com/HelloWorld", b"hello world");
    assert_eq!(bytes, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world");
}

#[test]
fn pae_counts_bytes_not_characters() {
    assert_eq!(pae("t\u{e9}", b""), "DSSEv1 3 t\u{e9} 0 ".as_bytes());
}

#[test]
fn sign_then_verify_reports_signer() {
    let alice = signer(1);
    let envelope = signed_by(&[&alice]);
    let verified = envelope.verify(&trusted(&[&alice]), 1).unwrap();
    assert_eq!(verified.signers(), std::slice::from_ref(&alice.0));
    assert_eq!(verified.payload(), b"{\"hello\":1}");
    assert_eq!(verified.payload_type(), IN_TOTO);
}

#[test]
fn json_round_trip_keeps_every_field() {
    let (alice, bob) = (signer(1), signer(2));
    let envelope = signed_by(&[&alice, &bob]);
    let parsed = Envelope::from_json("e.json", envelope.to_json().as_bytes()).unwrap();
    assert_eq!(parsed, envelope);
}

#[test]
fn two_of_two_threshold_met() {
    let (alice, bob) = (signer(1), signer(2));
    let envelope = signed_by(&[&alice, &bob]);
    let verified = envelope.verify(&trusted(&[&alice, &bob]), 2).unwrap();
    assert_eq!(verified.signers(), [alice.0.clone(), bob.0.clone()]);
}

#[test]
fn same_key_twice_counts_once() {
    let alice = signer(1);
    let envelope = signed_by(&[&alice, &alice]);
    let bob = signer(2);
    let error = envelope.verify(&trusted(&[&alice, &bob]), 2).unwrap_err();
    assert_eq!(rejections(error), [Rejection::Duplicate { index: 1, keyid: alice.0.to_string() }]);
}

#[test]
fn same_key_under_two_keyids_counts_once() {
    let alice = signer(1);
    let other_id = KeyId::parse(&"0".repeat(64)).unwrap();
    let keys = vec![(alice.0.clone(), alice.1.public_key()), (other_id, alice.1.public_key())];
    let envelope = signed_by(&[&alice]);
    let error = envelope.verify(&keys, 2).unwrap_err();
    assert!(matches!(error, DsseError::InvalidThreshold { threshold: 2, trusted: 1 }), "{error}");
}

#[test]
fn empty_keyid_is_tried_against_all_keys() {
    let (alice, bob) = (signer(1), signer(2));
    let mut envelope = signed_by(&[&bob]);
    envelope.signatures[0].keyid.clear();
    let verified = envelope.verify(&trusted(&[&alice, &bob]), 1).unwrap();
    assert_eq!(verified.signers(), std::slice::from_ref(&bob.0));
}

#[test]
fn unknown_keyid_is_tried_against_all_keys() {
    let (alice, bob) = (signer(1), signer(2));
    let mut envelope = signed_by(&[&bob]);
    envelope.signatures[0].keyid = "SHA256:not-a-sslib-keyid".to_owned();
    let verified = envelope.verify(&trusted(&[&alice, &bob]), 1).unwrap();
    assert_eq!(verified.signers(), std::slice::from_ref(&bob.0));
}

#[test]
fn tampered_payload_is_rejected() {
    let alice = signer(1);
    let mut envelope = signed_by(&[&alice]);
    envelope.payload.push(b' ');
    let error = envelope.verify(&trusted(&[&alice]), 1).unwrap_err();
    assert!(error.to_string().contains("payload or payloadType changed"), "{error}");
    assert_eq!(rejections(error), [Rejection::Invalid { index: 0, keyid: alice.0.to_string() }]);
}

#[test]
fn swapped_payload_type_is_rejected() {
    let alice = signer(1);
    let mut envelope = signed_by(&[&alice]);
    envelope.payload_type = "application/json".to_owned();
    assert!(envelope.verify(&trusted(&[&alice]), 1).is_err());
}

#[test]
fn untrusted_signer_is_rejected() {
    let (alice, mallory) = (signer(1), signer(3));
    let envelope = signed_by(&[&mallory]);
    let error = envelope.verify(&trusted(&[&alice]), 1).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("verifies with none of the 1 trusted keys"), "{text}");
}

#[test]
fn threshold_zero_is_invalid() {
    let alice = signer(1);
    let error = signed_by(&[&alice]).verify(&trusted(&[&alice]), 0).unwrap_err();
    assert!(matches!(error, DsseError::InvalidThreshold { threshold: 0, .. }), "{error}");
}

#[test]
fn unsigned_envelope_is_rejected() {
    let alice = signer(1);
    let envelope = signed_by(&[]);
    assert!(matches!(envelope.verify(&trusted(&[&alice]), 1), Err(DsseError::Unsigned)));
}

#[test]
fn url_safe_base64_is_accepted() {
    let alice = signer(1);
    let envelope = Envelope::sign(IN_TOTO, vec![0xfb, 0xff, 0xbf, 0xfe], &[(&alice.0, &alice.1)]).unwrap();
    let json = envelope.to_json();
    let standard_payload = "+/+//g==";
    assert!(json.contains(standard_payload), "{json}");
    let url_safe = json.replace(standard_payload, "-_-__g");
    let parsed = Envelope::from_json("e.json", url_safe.as_bytes()).unwrap();
    assert!(parsed.verify(&trusted(&[&alice]), 1).is_ok());
}

#[test]
fn missing_or_null_keyid_parses_as_empty() {
    let json = br#"{"payloadType":"t","payload":"YQ==","signatures":[{"sig":"YQ=="},{"keyid":null,"sig":"YQ=="}]}"#;
    let envelope = Envelope::from_json("e.json", json).unwrap();
    assert_eq!(envelope.signatures[0].keyid, "");
    assert_eq!(envelope.signatures[1].keyid, "");
}

#[test]
fn bad_base64_names_field_and_offset() {
    let json = br#"{"payloadType":"t","payload":"YQ==","signatures":[{"keyid":"","sig":"not base64!"}]}"#;
    let error = Envelope::from_json("e.json", json).unwrap_err();
    let text = error.to_string();
    let bad_offset = json.iter().position(|&b| b == b' ').unwrap();
    assert!(
        text.starts_with(&format!("e.json: field `signatures[0].sig` at byte {bad_offset} is not valid base64")),
        "{text}"
    );
    assert!(text.contains("character ` ` at position 3 of the value"), "{text}");
    assert!(!text.contains("Invalid symbol"), "{text}");
}

#[test]
fn bad_base64_payload_names_file_offset() {
    let json = b"{\n  \"payloadType\": \"t\",\n  \"payload\": \"YWJj!ZGVm\",\n  \"signatures\": []\n}\n";
    let text = Envelope::from_json("e.json", json).unwrap_err().to_string();
    let bad_offset = json.iter().position(|&b| b == b'!').unwrap();
    assert!(text.starts_with(&format!("e.json: field `payload` at byte {bad_offset} is not valid base64")), "{text}");
    assert!(text.contains("character `!` at position 4"), "{text}");
    assert!(text.contains("standard or URL-safe base64"), "{text}");

    let short = br#"{"payloadType":"t","payload":"YWJjZ","signatures":[]}"#;
    let text = Envelope::from_json("e.json", short).unwrap_err().to_string();
    let value_offset = short.windows(5).position(|w| w == b"YWJjZ").unwrap();
    assert!(text.starts_with(&format!("e.json: field `payload` at byte {value_offset} is not valid base64")), "{text}");
}

#[test]
fn missing_payload_type_names_field() {
    let error = Envelope::from_json("e.json", br#"{"payload":"YQ==","signatures":[]}"#).unwrap_err();
    assert!(error.to_string().contains("payloadType"), "{error}");
}

#[test]
fn payload_limit_at_and_past_edge() {
    let alice = signer(1);
    let at_limit = Envelope::sign(IN_TOTO, vec![b'a'; PAYLOAD_BYTES_MAX], &[(&alice.0, &alice.1)]).unwrap();
    let json = at_limit.to_json();
    assert!(json.len() <= ENVELOPE_BYTES_MAX);
    let parsed = Envelope::from_json("big.json", json.as_bytes()).unwrap();
    assert!(parsed.verify(&trusted(&[&alice]), 1).is_ok());

    let error = Envelope::sign(IN_TOTO, vec![b'a'; PAYLOAD_BYTES_MAX + 1], &[]).unwrap_err();
    assert!(matches!(error, DsseError::PayloadTooLarge { .. }), "{error}");
}

#[test]
fn oversize_base64_payload_is_rejected_in_json() {
    let payload = "A".repeat(wire::encoded_len_max(PAYLOAD_BYTES_MAX) + 4);
    let json = format!(r#"{{"payloadType":"t","payload":"{payload}","signatures":[]}}"#);
    let error = Envelope::from_json("big.json", json.as_bytes()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("field `payload`"), "{text}");
    assert!(text.contains("over the limit"), "{text}");
}

#[test]
fn envelope_bytes_limit_at_and_past_edge() {
    let mut at_limit = br#"{"payloadType":"t","payload":"","signatures":[]}"#.to_vec();
    at_limit.resize(ENVELOPE_BYTES_MAX, b' ');
    assert!(Envelope::from_json("e.json", &at_limit).is_ok());
    at_limit.push(b' ');
    let error = Envelope::from_json("e.json", &at_limit).unwrap_err();
    assert!(matches!(error, DsseError::EnvelopeTooLarge { .. }), "{error}");
}

#[test]
fn signature_count_limit_at_and_past_edge() {
    let alice = signer(1);
    let signers: Vec<(&KeyId, &SigningKey)> = (0..SIGNATURES_MAX).map(|_| (&alice.0, &alice.1)).collect();
    let mut envelope = Envelope::sign(IN_TOTO, b"x".to_vec(), &signers).unwrap();
    assert!(Envelope::from_json("e.json", envelope.to_json().as_bytes()).is_ok());

    let error = envelope.add_signature(&alice.0, &alice.1).unwrap_err();
    assert!(matches!(error, DsseError::TooManySignatures { .. }), "{error}");

    envelope.signatures.push(envelope.signatures[0].clone());
    let error = Envelope::from_json("e.json", envelope.to_json().as_bytes()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("field `signatures`"), "{text}");
    assert!(text.contains(&format!("more than {SIGNATURES_MAX}")), "{text}");
    assert!(matches!(envelope.verify(&trusted(&[&alice]), 1), Err(DsseError::TooManySignatures { .. })));
}

#[test]
fn payload_type_limit_at_and_past_edge() {
    let at_limit = "t".repeat(PAYLOAD_TYPE_BYTES_MAX);
    assert!(Envelope::sign(&at_limit, Vec::new(), &[]).is_ok());
    let json = format!(r#"{{"payloadType":"{at_limit}t","payload":"","signatures":[]}}"#);
    let error = Envelope::from_json("e.json", json.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("payloadType"), "{error}");
}

#[test]
fn keyid_limit_at_and_past_edge() {
    let keyid = "k".repeat(KEYID_BYTES_MAX);
    let json = format!(r#"{{"payloadType":"t","payload":"","signatures":[{{"keyid":"{keyid}","sig":""}}]}}"#);
    assert!(Envelope::from_json("e.json", json.as_bytes()).is_ok());
    let json = json.replace(&keyid, &format!("{keyid}k"));
    let error = Envelope::from_json("e.json", json.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("signatures[0].keyid"), "{error}");
}

#[test]
fn signature_bytes_limit_at_and_past_edge() {
    use base64::Engine as _;
    let encode = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
    let json = |sig: String| format!(r#"{{"payloadType":"t","payload":"","signatures":[{{"sig":"{sig}"}}]}}"#);
    assert!(Envelope::from_json("e.json", json(encode(SIGNATURE_BYTES_MAX)).as_bytes()).is_ok());
    assert!(Envelope::from_json("e.json", json(encode(SIGNATURE_BYTES_MAX + 3)).as_bytes()).is_err());
}

#[test]
fn json_lines_parse_each_line() {
    let (alice, bob) = (signer(1), signer(2));
    let text = format!("{}\n\n{}\n", signed_by(&[&alice]).to_json(), signed_by(&[&bob]).to_json());
    let envelopes = Envelope::from_json_lines("a.jsonl", text.as_bytes()).unwrap();
    assert_eq!(envelopes.len(), 2);
    assert!(envelopes[1].verify(&trusted(&[&bob]), 1).is_ok());
}

#[test]
fn json_lines_error_names_line() {
    let text = format!("{}\n{{\"payloadType\":1}}\n", signed_by(&[]).to_json());
    let error = Envelope::from_json_lines("a.jsonl", text.as_bytes()).unwrap_err();
    assert!(error.to_string().starts_with("a.jsonl line 2:"), "{error}");
}

#[test]
fn json_lines_rejects_blank_file() {
    let error = Envelope::from_json_lines("a.jsonl", b"\n \n").unwrap_err();
    assert!(matches!(error, DsseError::NoEnvelopes { .. }), "{error}");
}

#[test]
fn corpus_ed25519_envelope_verifies() {
    let (Some(envelope_bytes), Some(key_bytes)) =
        (corpus("dsse-ed25519-slsa-v1-statement-v1.json"), corpus("dsse-ed25519-pubkey.json"))
    else {
        return;
    };
    let (public_key, keyid) = parse_public_key_json("dsse-ed25519-pubkey.json", &key_bytes).unwrap();
    let envelope = Envelope::from_json("envelope", &envelope_bytes).unwrap();
    assert_eq!(envelope.signatures[0].keyid, keyid.as_str());

    let verified = envelope.verify(&[(keyid.clone(), public_key)], 1).unwrap();
    assert_eq!(verified.signers(), [keyid]);
}

#[test]
fn corpus_ed25519_envelope_tampered_fails() {
    let (Some(envelope_bytes), Some(key_bytes)) =
        (corpus("dsse-ed25519-slsa-v1-statement-v1.json"), corpus("dsse-ed25519-pubkey.json"))
    else {
        return;
    };
    let (public_key, keyid) = parse_public_key_json("key", &key_bytes).unwrap();
    let trusted = vec![(keyid, public_key)];
    let mut envelope = Envelope::from_json("envelope", &envelope_bytes).unwrap();
    let last = envelope.payload.len() - 2;
    envelope.payload[last] ^= 1;
    assert!(envelope.verify(&trusted, 1).is_err());

    let mut envelope = Envelope::from_json("envelope", &envelope_bytes).unwrap();
    envelope.payload_type = "application/vnd.in-toto.v1+json".to_owned();
    let error = envelope.verify(&trusted, 1).unwrap_err();
    assert!(matches!(rejections(error)[0], Rejection::Invalid { index: 0, .. }));
}

#[test]
fn corpus_ecdsa_envelopes_are_unsupported() {
    let other_key = signer(1);
    for name in [
        "dsse-tekton-chains-slsa-v02.json",
        "dsse-cosign-custom-predicate-legacy-type.json",
        "dsse-cosign-vuln-distroless-static.json",
    ] {
        let Some(bytes) = corpus(name) else { return };
        let envelope = Envelope::from_json(name, &bytes).unwrap();
        let error = envelope.verify(&trusted(&[&other_key]), 1).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("not a 64-byte ed25519 signature"), "{name}: {text}");
        assert!(matches!(rejections(error)[0], Rejection::NotEd25519 { index: 0, .. }), "{name}");
    }
}

#[test]
fn corpus_cosign_jsonl_parses() {
    let name = "dsse-cosign-cyclonedx-centos.intoto.jsonl";
    let Some(bytes) = corpus(name) else { return };
    let envelopes = Envelope::from_json_lines(name, &bytes).unwrap();

    // Count the lines that hold JSON independently of the parser under test.
    let expected = String::from_utf8(bytes.clone()).unwrap().lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(envelopes.len(), expected);
    assert_eq!(envelopes[0].payload_type, IN_TOTO);
    assert!(envelopes[0].signatures[0].keyid.is_empty());
}

#[test]
fn json_or_lines_reads_both_forms() {
    let (alice, bob) = (signer(1), signer(2));
    let one = signed_by(&[&alice]);
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&one.to_json()).unwrap()).unwrap();
    assert_eq!(Envelope::from_json_or_lines("e.json", pretty.as_bytes()).unwrap(), std::slice::from_ref(&one));

    let lines = format!("{}\n{}\n", one.to_json(), signed_by(&[&bob]).to_json());
    assert_eq!(Envelope::from_json_or_lines("e.jsonl", lines.as_bytes()).unwrap().len(), 2);

    let broken = pretty.replace("\"payload\"", "\"payload\": 1, \"x\"");
    let error = Envelope::from_json_or_lines("e.json", broken.as_bytes()).unwrap_err();
    assert!(error.to_string().starts_with("e.json: "), "{error}");
}
