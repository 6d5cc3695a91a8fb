use sha2::Digest as _;

use super::*;

const CORPUS_PUBLIC: &str = "7345b83c121ea0d9ffc3b38d69958718b8435e8cb0552f889d695586693e1b89";

fn seed_key() -> SigningKey {
    SigningKey::from_seed(&[9; SEED_BYTES])
}

#[test]
fn keyid_includes_hash_algorithms_when_present() {
    let with = format!(
        r#"{{"keytype": "ed25519", "scheme": "ed25519", "keyid_hash_algorithms": ["sha256", "sha512"], "keyval": {{"public": "{CORPUS_PUBLIC}"}}}}"#
    );
    let (_, keyid) = parse_public_key_json("key.pub", with.as_bytes()).unwrap();
    // The id that in-toto's attestation-verifier test data names this key by.
    assert_eq!(keyid.as_str(), "fe1c6281c5ff13e35286cc67e5a1fb3e6575b840a6c39ca4267d3805eb17288a");
}

#[test]
fn keyid_without_hash_algorithms_matches_sslib_1_6() {
    let without = format!(r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{CORPUS_PUBLIC}"}}}}"#);
    let (_, keyid) = parse_public_key_json("key.pub", without.as_bytes()).unwrap();
    // securesystemslib 1.6 compute_default_keyid("ed25519", "ed25519", {"public": ...}).
    assert_eq!(keyid.as_str(), "956a5cbc364625b71fb4fcc861044ab3e75ba3017af739c5774baf9391ff4090");
}

#[test]
fn public_key_json_round_trips_with_same_keyid() {
    let public = seed_key().public_key();
    let (parsed, keyid) = parse_public_key_json("out.pub", public_key_json(&public).as_bytes()).unwrap();
    assert_eq!(parsed, public);
    assert_eq!(keyid, KeyId::of(&public));
}

#[test]
fn private_key_json_round_trips() {
    let key = seed_key();
    let json = private_key_json(&key);
    let (parsed, keyid) = parse_private_key_json("out.key", json.as_bytes()).unwrap();
    assert_eq!(parsed.seed(), key.seed());
    assert_eq!(keyid, KeyId::of(&key.public_key()));
    let (public, public_keyid) = parse_public_key_json("out.key", json.as_bytes()).unwrap();
    assert_eq!(public, key.public_key());
    assert_eq!(public_keyid, keyid);
}

#[test]
fn private_key_accepts_seed_and_public_concatenated() {
    let key = seed_key();
    let public = key.public_key().to_hex();
    let private = format!("{}{public}", hex::encode(key.seed().as_slice()));
    let json =
        format!(r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{public}","private":"{private}"}}}}"#);
    let (parsed, _) = parse_private_key_json("k.json", json.as_bytes()).unwrap();
    assert_eq!(parsed.public_key(), key.public_key());
}

#[test]
fn private_key_rejects_mismatched_public() {
    let key = seed_key();
    let other = SigningKey::from_seed(&[10; SEED_BYTES]).public_key().to_hex();
    let private = hex::encode(key.seed().as_slice());
    let json =
        format!(r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{other}","private":"{private}"}}}}"#);
    let error = parse_private_key_json("k.json", json.as_bytes()).unwrap_err();
    assert!(matches!(error, KeyError::PublicKeyMismatch { .. }), "{error}");
    assert!(error.to_string().starts_with("k.json:"), "{error}");
}

#[test]
fn private_key_error_does_not_echo_secret() {
    let public = seed_key().public_key().to_hex();
    let json = format!(
        r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{public}","private":"00112233445566778899X"}}}}"#
    );
    let error = parse_private_key_json("k.json", json.as_bytes()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("keyval.private"), "{text}");
    assert!(text.contains("position 20"), "{text}");
    assert!(!text.contains("0011223344"), "{text}");
}

#[test]
fn empty_private_field_is_missing() {
    let public = seed_key().public_key().to_hex();
    let json = format!(r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{public}","private":""}}}}"#);
    let error = parse_private_key_json_form("k.pub", json.as_bytes()).unwrap_err();
    assert!(matches!(error, KeyError::MissingPrivateKey { .. }), "{error}");
    let parsed = parse_public_key_json_form("k.pub", json.as_bytes()).unwrap();
    assert_eq!(parsed.public_key, seed_key().public_key());
}

#[test]
fn private_key_parse_rejects_public_file() {
    let json = public_key_json(&seed_key().public_key());
    let error = parse_private_key_json("k.pub", json.as_bytes()).unwrap_err();
    assert!(matches!(error, KeyError::MissingPrivateKey { .. }), "{error}");
}

#[test]
fn declared_keyid_must_match() {
    let json = format!(
        r#"{{"keyid":"{}","keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{CORPUS_PUBLIC}"}}}}"#,
        "0".repeat(64)
    );
    let error = parse_public_key_json("k.pub", json.as_bytes()).unwrap_err();
    assert!(matches!(error, KeyError::KeyIdMismatch { .. }), "{error}");
}

#[test]
fn rejects_ecdsa_key() {
    let json =
        br#"{"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","keyval":{"public":"-----BEGIN PUBLIC KEY-----"}}"#;
    let error = parse_public_key_json("k.pub", json).unwrap_err();
    assert!(error.to_string().contains("unsupported key type `ecdsa`"), "{error}");
}

#[test]
fn rejects_weak_public_key_naming_field() {
    let identity = format!("01{}", "00".repeat(31));
    let json = format!(r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{identity}"}}}}"#);
    let error = parse_public_key_json("k.pub", json.as_bytes()).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("keyval.public"), "{text}");
    assert!(text.contains("weak"), "{text}");
    assert!(text.contains(&identity), "{text}");
}

#[test]
fn missing_field_names_path() {
    let error = parse_public_key_json("k.pub", br#"{"keytype":"ed25519","scheme":"ed25519","keyval":{}}"#).unwrap_err();
    assert!(error.to_string().contains("keyval"), "{error}");
}

#[test]
fn keyid_parse_rejects_uppercase() {
    assert!(KeyId::parse(&"A".repeat(64)).is_err());
    assert!(KeyId::parse(&"a".repeat(64)).is_ok());
    assert!(KeyId::parse(&"a".repeat(63)).is_err());
}

#[test]
fn keyid_of_form_gives_both_ids() {
    let public = PublicKey::from_hex(CORPUS_PUBLIC).unwrap();
    let legacy = KeyId::of_form(&public, &KeyForm::legacy());
    let modern = KeyId::of_form(&public, &KeyForm::Modern);
    // The ids from the two parse tests above: in-toto's test data and securesystemslib 1.6.
    assert_eq!(legacy.as_str(), "fe1c6281c5ff13e35286cc67e5a1fb3e6575b840a6c39ca4267d3805eb17288a");
    assert_eq!(modern.as_str(), "956a5cbc364625b71fb4fcc861044ab3e75ba3017af739c5774baf9391ff4090");
    assert_eq!(KeyId::of(&public), legacy);
}

#[test]
fn parse_reports_form_found() {
    let cases = [
        (r#""keyid_hash_algorithms":["sha256","sha512"],"#, KeyForm::legacy()),
        (r#""keyid_hash_algorithms":["sha512"],"#, KeyForm::Legacy(vec!["sha512".to_owned()])),
        (r#""keyid_hash_algorithms":[],"#, KeyForm::Legacy(Vec::new())),
        ("", KeyForm::Modern),
    ];
    for (field, expected) in cases {
        let json =
            format!(r#"{{{field}"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{CORPUS_PUBLIC}"}}}}"#);
        let parsed = parse_public_key_json_form("key.pub", json.as_bytes()).unwrap();
        assert_eq!(parsed.form, expected, "{json}");
        assert_eq!(parsed.keyid, KeyId::of_form(&parsed.public_key, &expected), "{json}");
    }
}

#[test]
fn modern_public_json_has_no_hash_algorithms() {
    let public = seed_key().public_key();
    let json = public_key_json_form(&public, &KeyForm::Modern);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(value.get("keyid_hash_algorithms").is_none(), "{json}");
    assert_eq!(value["keyval"]["public"], public.to_hex());
    let parsed = parse_public_key_json_form("out.pub", json.as_bytes()).unwrap();
    assert_eq!(parsed.form, KeyForm::Modern);
    assert_eq!(parsed.keyid, KeyId::of_form(&public, &KeyForm::Modern));
    assert_ne!(parsed.keyid, KeyId::of(&public));
}

#[test]
fn public_json_is_canonical() {
    // Canonical JSON as Python writes it: json.dumps(sort_keys=True, separators=(",", ":")).
    let public = seed_key().public_key();
    for form in [KeyForm::legacy(), KeyForm::Modern] {
        let json = public_key_json_form(&public, &form);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(json, serde_json::to_string(&value).unwrap(), "{form:?}");
        let digest = hex::encode(sha2::Sha256::digest(json.as_bytes()));
        assert_eq!(digest, KeyId::of_form(&public, &form).as_str(), "{form:?}");
    }
}

#[test]
fn private_json_form_round_trips() {
    let key = seed_key();
    for form in [KeyForm::legacy(), KeyForm::Modern, KeyForm::Legacy(vec!["sha256".to_owned()])] {
        let json = private_key_json_form(&key, &form);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let expected_keyid = KeyId::of_form(&key.public_key(), &form);
        assert_eq!(value["keyid"], expected_keyid.as_str(), "{form:?}");
        let parsed = parse_private_key_json_form("out.key", json.as_bytes()).unwrap();
        assert_eq!(parsed.form, form);
        assert_eq!(parsed.keyid, expected_keyid);
        assert_eq!(parsed.signing_key.seed(), key.seed());
    }
}

#[test]
fn control_character_name_round_trips() {
    // OLPC canonical JSON hashes the raw character; the written file escapes it.
    let form = KeyForm::Legacy(vec!["sha\n256".to_owned(), "a\"b".to_owned()]);
    let public = seed_key().public_key();
    let json = public_key_json_form(&public, &form);
    assert!(json.contains(r#""sha\n256""#), "{json}");
    let parsed = parse_public_key_json_form("out.pub", json.as_bytes()).unwrap();
    assert_eq!(parsed.form, form);
    assert_eq!(parsed.keyid, KeyId::of_form(&public, &form));
    let canonical = format!(
        "{{\"keyid_hash_algorithms\":[\"sha\n256\",\"a\\\"b\"],\"keytype\":\"ed25519\",\"keyval\":{{\"public\":\"{}\"}},\"scheme\":\"ed25519\"}}",
        public.to_hex()
    );
    assert_eq!(parsed.keyid.as_str(), hex::encode(sha2::Sha256::digest(canonical.as_bytes())));
}
