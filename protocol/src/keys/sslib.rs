//! The securesystemslib JSON key format that in-toto uses, and its key ids.
//!
//! A key file is `{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "<hex>"}}`,
//! sometimes with `"keyid_hash_algorithms": ["sha256", "sha512"]`, and for a private key
//! with `keyval.private` (hex of the 32-byte seed) and often a `keyid` field.
//!
//! The key id is the lowercase hex SHA-256 of the OLPC canonical JSON (sorted keys, no
//! whitespace, only `"` and `\` escaped) of `keytype`, `scheme` and `keyval.public`, plus
//! `keyid_hash_algorithms` when the file has that field. securesystemslib 1.6
//! (`compute_default_keyid`) hashes only the first three fields and does not write
//! `keyid_hash_algorithms`. in-toto's legacy key files carry that field and their ids
//! include it: the ed25519 key in in-toto attestation-verifier's test data is named
//! `fe1c6281…`, which is the hash with the field. Hashing the fields as the file writes
//! them gives the id each tool reports. Vouch writes the legacy form.

use std::fmt;

use serde::Deserialize;
use sha2::Digest as _;
use zeroize::Zeroizing;

use super::{KeyError, PublicKey, SEED_BYTES, SigningKey};
use crate::input::parse_json;

/// The only key type and signature scheme Vouch accepts.
pub const ED25519: &str = "ed25519";

/// The `keyid_hash_algorithms` value that Vouch writes, as in-toto's legacy key files.
pub const KEYID_HASH_ALGORITHMS: [&str; 2] = ["sha256", "sha512"];

/// A securesystemslib key id: 64 lowercase hex characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// Computes the key id Vouch uses for `key`: the hash of its legacy JSON form, which
    /// includes `keyid_hash_algorithms`.
    pub fn of(key: &PublicKey) -> KeyId {
        let algorithms: Vec<String> = KEYID_HASH_ALGORITHMS.iter().map(|s| (*s).to_owned()).collect();
        KeyId::hash_fields(&key.to_hex(), Some(&algorithms))
    }

    /// Parses a key id, which must be 64 lowercase hex characters.
    pub fn parse(text: &str) -> Result<KeyId, KeyError> {
        let valid = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(KeyError::InvalidField {
                source_name: "key id".to_owned(),
                field: "keyid",
                message: format!("`{text}` is not 64 lowercase hex characters"),
            });
        }
        Ok(KeyId(text.to_owned()))
    }

    /// Returns the 64 hex characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Hashes the canonical JSON of the public key fields as they appear in a key file.
    fn hash_fields(public_hex: &str, hash_algorithms: Option<&[String]>) -> KeyId {
        let canonical = canonical_key_json(public_hex, hash_algorithms);
        KeyId(hex::encode(sha2::Sha256::digest(canonical.as_bytes())))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl TryFrom<String> for KeyId {
    type Error = KeyError;

    fn try_from(text: String) -> Result<KeyId, KeyError> {
        KeyId::parse(&text)
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> String {
        id.0
    }
}

/// A key file as securesystemslib and in-toto write it; unknown fields are ignored.
#[derive(Deserialize)]
struct KeyFile {
    keytype: String,
    scheme: String,
    #[serde(default)]
    keyid: Option<String>,
    #[serde(default)]
    keyid_hash_algorithms: Option<Vec<String>>,
    keyval: KeyValue,
}

#[derive(Deserialize)]
struct KeyValue {
    public: String,
    #[serde(default)]
    private: Option<String>,
}

/// Parses a securesystemslib ed25519 public key file and computes its key id.
///
/// A private key file is accepted too; only its public half is read.
pub fn parse_public_key_json(source_name: &str, bytes: &[u8]) -> Result<(PublicKey, KeyId), KeyError> {
    let file: KeyFile = parse_json(source_name, bytes)?;
    let _private = file.keyval.private.map(Zeroizing::new);
    check_ed25519(source_name, &file.keytype, &file.scheme)?;

    let public_key = parse_public_hex(source_name, &file.keyval.public)?;
    let keyid = KeyId::hash_fields(&public_key.to_hex(), file.keyid_hash_algorithms.as_deref());
    check_declared_keyid(source_name, file.keyid.as_deref(), &keyid)?;
    Ok((public_key, keyid))
}

/// Parses a securesystemslib (legacy format) ed25519 private key file.
///
/// `keyval.private` is the hex of the 32-byte seed, or of the 64-byte seed followed by
/// the public key; `keyval.public` must be the public key of that seed.
pub fn parse_private_key_json(source_name: &str, bytes: &[u8]) -> Result<(SigningKey, KeyId), KeyError> {
    let file: KeyFile = parse_json(source_name, bytes)?;
    let private = file.keyval.private.map(Zeroizing::new);
    check_ed25519(source_name, &file.keytype, &file.scheme)?;
    let Some(private) = private else {
        return Err(KeyError::MissingPrivateKey { source_name: source_name.to_owned() });
    };

    let signing_key = parse_private_hex(source_name, &private)?;
    let declared = parse_public_hex(source_name, &file.keyval.public)?;
    let derived = signing_key.public_key();
    if declared != derived {
        return Err(KeyError::PublicKeyMismatch {
            source_name: source_name.to_owned(),
            declared: declared.to_hex(),
            derived: derived.to_hex(),
        });
    }

    let keyid = KeyId::hash_fields(&derived.to_hex(), file.keyid_hash_algorithms.as_deref());
    check_declared_keyid(source_name, file.keyid.as_deref(), &keyid)?;
    Ok((signing_key, keyid))
}

/// Writes `key` as a securesystemslib public key file in canonical JSON; its key id is
/// [`KeyId::of`].
pub fn public_key_json(key: &PublicKey) -> String {
    let algorithms: Vec<String> = KEYID_HASH_ALGORITHMS.iter().map(|s| (*s).to_owned()).collect();
    canonical_key_json(&key.to_hex(), Some(&algorithms))
}

/// Writes `key` as a securesystemslib legacy private key file with its `keyid`.
///
/// The returned string holds the private key in hex and is zeroized when dropped.
pub fn private_key_json(key: &SigningKey) -> Zeroizing<String> {
    let public = key.public_key();
    let seed_hex = Zeroizing::new(hex::encode(key.seed().as_slice()));
    let keyid = KeyId::of(&public);
    let algorithms = KEYID_HASH_ALGORITHMS.map(|name| format!("\"{name}\"")).join(",");
    Zeroizing::new(format!(
        "{{\"keyid\":\"{keyid}\",\"keyid_hash_algorithms\":[{algorithms}],\"keytype\":\"{ED25519}\",\
         \"keyval\":{{\"private\":\"{}\",\"public\":\"{}\"}},\"scheme\":\"{ED25519}\"}}",
        seed_hex.as_str(),
        public.to_hex()
    ))
}

/// Builds the canonical JSON that key ids hash: keys sorted, no whitespace.
///
/// Every value is lowercase hex or a plain ASCII name checked by the caller, except the
/// hash algorithm names, which are escaped as OLPC canonical JSON escapes them.
fn canonical_key_json(public_hex: &str, hash_algorithms: Option<&[String]>) -> String {
    let mut out = String::from("{");
    if let Some(algorithms) = hash_algorithms {
        let names: Vec<String> = algorithms.iter().map(|name| canonical_string(name)).collect();
        out.push_str(&format!("\"keyid_hash_algorithms\":[{}],", names.join(",")));
    }
    out.push_str(&format!(
        "\"keytype\":\"{ED25519}\",\"keyval\":{{\"public\":{}}},\"scheme\":\"{ED25519}\"}}",
        canonical_string(public_hex)
    ));
    out
}

/// Quotes a string as OLPC canonical JSON does: only `\` and `"` are escaped.
fn canonical_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn check_ed25519(source_name: &str, keytype: &str, scheme: &str) -> Result<(), KeyError> {
    if keytype == ED25519 && scheme == ED25519 {
        return Ok(());
    }
    Err(KeyError::UnsupportedKeyType {
        source_name: source_name.to_owned(),
        keytype: keytype.to_owned(),
        scheme: scheme.to_owned(),
    })
}

fn check_declared_keyid(source_name: &str, declared: Option<&str>, computed: &KeyId) -> Result<(), KeyError> {
    match declared {
        Some(declared) if declared != computed.as_str() => Err(KeyError::KeyIdMismatch {
            source_name: source_name.to_owned(),
            declared: declared.to_owned(),
            computed: computed.to_string(),
        }),
        _ => Ok(()),
    }
}

fn parse_public_hex(source_name: &str, text: &str) -> Result<PublicKey, KeyError> {
    let bytes = decode_lower_hex(source_name, "keyval.public", text)?;
    PublicKey::from_bytes(&bytes).map_err(|error| KeyError::InvalidKey {
        source_name: source_name.to_owned(),
        field: "keyval.public",
        error: Box::new(error),
    })
}

fn parse_private_hex(source_name: &str, text: &str) -> Result<SigningKey, KeyError> {
    let bytes = Zeroizing::new(decode_lower_hex(source_name, "keyval.private", text)?);
    let seed: &[u8; SEED_BYTES] = match bytes.len() {
        32 | 64 => bytes[..SEED_BYTES].try_into().expect("the length was checked to be 32 or 64"),
        found => {
            return Err(KeyError::InvalidField {
                source_name: source_name.to_owned(),
                field: "keyval.private",
                message: format!("expected 32 bytes (64 hex characters) of ed25519 seed, found {found} bytes"),
            });
        }
    };
    let key = SigningKey::from_seed(seed);
    if bytes.len() == 64 && bytes[SEED_BYTES..] != key.public_key().as_bytes()[..] {
        return Err(KeyError::InvalidField {
            source_name: source_name.to_owned(),
            field: "keyval.private",
            message: "the last 32 of its 64 bytes are not the public key of the first 32".to_owned(),
        });
    }
    Ok(key)
}

/// Decodes hex, naming the field and the first invalid character without echoing the value.
fn decode_lower_hex(source_name: &str, field: &'static str, text: &str) -> Result<Vec<u8>, KeyError> {
    let invalid = |message: String| KeyError::InvalidField { source_name: source_name.to_owned(), field, message };
    if let Some(position) = text.bytes().position(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(invalid(format!("character at position {position} is not lowercase hex (0-9, a-f)")));
    }
    if text.len() % 2 == 1 {
        return Err(invalid(format!("hex has an odd length {}", text.len())));
    }
    hex::decode(text).map_err(|error| invalid(error.to_string()))
}

#[cfg(test)]
mod tests {
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
        let json = format!(
            r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{public}","private":"{private}"}}}}"#
        );
        let (parsed, _) = parse_private_key_json("k.json", json.as_bytes()).unwrap();
        assert_eq!(parsed.public_key(), key.public_key());
    }

    #[test]
    fn private_key_rejects_mismatched_public() {
        let key = seed_key();
        let other = SigningKey::from_seed(&[10; SEED_BYTES]).public_key().to_hex();
        let private = hex::encode(key.seed().as_slice());
        let json = format!(
            r#"{{"keytype":"ed25519","scheme":"ed25519","keyval":{{"public":"{other}","private":"{private}"}}}}"#
        );
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
        let error =
            parse_public_key_json("k.pub", br#"{"keytype":"ed25519","scheme":"ed25519","keyval":{}}"#).unwrap_err();
        assert!(error.to_string().contains("keyval"), "{error}");
    }

    #[test]
    fn keyid_parse_rejects_uppercase() {
        assert!(KeyId::parse(&"A".repeat(64)).is_err());
        assert!(KeyId::parse(&"a".repeat(64)).is_ok());
        assert!(KeyId::parse(&"a".repeat(63)).is_err());
    }
}
