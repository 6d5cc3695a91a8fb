//! The securesystemslib JSON key format that in-toto uses, and its key ids.
//!
//! A key file is `{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "<hex>"}}`,
//! sometimes with `"keyid_hash_algorithms": ["sha256", "sha512"]`, and for a private key
//! with `keyval.private` (hex of the 32-byte seed) and often a `keyid` field.
//!
//! The key id is the lowercase hex SHA-256 of the OLPC canonical JSON (sorted keys, no
//! whitespace, only `"` and `\` escaped) of `keytype`, `scheme` and `keyval.public`, plus
//! `keyid_hash_algorithms` when the file has that field. The two [`KeyForm`]s give two
//! ids for one key. securesystemslib 1.6 (`compute_default_keyid`) hashes only the first
//! three fields and does not write `keyid_hash_algorithms` ([`KeyForm::Modern`]).
//! in-toto's legacy key files carry that field and their ids include it
//! ([`KeyForm::Legacy`]): the ed25519 key in in-toto attestation-verifier's test data is
//! named `fe1c6281…`, which is the hash with the field. Hashing the fields as the file
//! writes them gives the id each tool reports. Vouch generates keys in the legacy form.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use zeroize::{Zeroize, Zeroizing};

use super::{KeyError, PublicKey, SEED_BYTES, SigningKey};
use crate::input::parse_json;

/// The only key type and signature scheme Vouch accepts.
pub const ED25519: &str = "ed25519";

/// The `keyid_hash_algorithms` value that Vouch writes, as in-toto's legacy key files.
pub const KEYID_HASH_ALGORITHMS: [&str; 2] = ["sha256", "sha512"];

/// The fields of a securesystemslib key object that its key id covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyForm {
    /// `keyid_hash_algorithms` with these names, hashed and written along with
    /// `keytype`, `scheme` and `keyval.public`, as in-toto's legacy key files and older
    /// securesystemslib releases write it. [`KeyForm::legacy`] gives the usual
    /// [`KEYID_HASH_ALGORITHMS`].
    Legacy(Vec<String>),
    /// Only `keytype`, `scheme` and `keyval.public`, as securesystemslib 1.6 writes it.
    Modern,
}

impl KeyForm {
    /// Returns the legacy form with [`KEYID_HASH_ALGORITHMS`], which Vouch generates.
    pub fn legacy() -> KeyForm {
        KeyForm::Legacy(KEYID_HASH_ALGORITHMS.map(str::to_owned).to_vec())
    }

    /// Returns the form of a key object whose `keyid_hash_algorithms` field is
    /// `algorithms` (`None` when the field is absent).
    pub fn from_keyid_hash_algorithms(algorithms: Option<Vec<String>>) -> KeyForm {
        match algorithms {
            Some(algorithms) => KeyForm::Legacy(algorithms),
            None => KeyForm::Modern,
        }
    }

    /// Returns the `keyid_hash_algorithms` field of this form, `None` for the modern form.
    pub fn keyid_hash_algorithms(&self) -> Option<&[String]> {
        match self {
            KeyForm::Legacy(algorithms) => Some(algorithms),
            KeyForm::Modern => None,
        }
    }
}

/// A securesystemslib key id: 64 lowercase hex characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// Computes the key id Vouch uses for the keys it generates: the id of
    /// [`KeyForm::legacy`].
    pub fn of(key: &PublicKey) -> KeyId {
        KeyId::of_form(key, &KeyForm::legacy())
    }

    /// Computes the key id of `key` written in `form`: the SHA-256 of the canonical JSON
    /// of the public key object.
    pub fn of_form(key: &PublicKey, form: &KeyForm) -> KeyId {
        let canonical = canonical_key_json(&key.to_hex(), form.keyid_hash_algorithms());
        KeyId(hex::encode(sha2::Sha256::digest(canonical.as_bytes())))
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

/// A public key read from a securesystemslib key file, with the form the file uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedPublicKey {
    /// The ed25519 public key.
    pub public_key: PublicKey,
    /// The key id of `public_key` in `form`, equal to the file's `keyid` if it has one.
    pub keyid: KeyId,
    /// The form the file is written in, so the key can be written back with the same id.
    pub form: KeyForm,
}

/// A private key read from a securesystemslib key file, with the form the file uses.
#[derive(Debug)]
pub struct ParsedPrivateKey {
    /// The ed25519 private key.
    pub signing_key: SigningKey,
    /// The key id of the public key in `form`, equal to the file's `keyid` if it has one.
    pub keyid: KeyId,
    /// The form the file is written in, so the key can be written back with the same id.
    pub form: KeyForm,
}

/// A key file as securesystemslib and in-toto write it; unknown fields are ignored.
#[derive(Deserialize)]
#[serde(expecting = "a securesystemslib key object")]
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
#[serde(expecting = "a securesystemslib key value object")]
struct KeyValue {
    public: String,
    #[serde(default)]
    private: Option<String>,
}

/// Parses a securesystemslib ed25519 public key file and computes its key id.
///
/// A private key file is accepted too; only its public half is read.
pub fn parse_public_key_json(source_name: &str, bytes: &[u8]) -> Result<(PublicKey, KeyId), KeyError> {
    let parsed = parse_public_key_json_form(source_name, bytes)?;
    Ok((parsed.public_key, parsed.keyid))
}

/// Parses a securesystemslib ed25519 public key file like [`parse_public_key_json`]
/// and also returns the form the file is written in.
pub fn parse_public_key_json_form(source_name: &str, bytes: &[u8]) -> Result<ParsedPublicKey, KeyError> {
    let file: KeyFile = parse_json(source_name, bytes)?;
    let _private = file.keyval.private.map(Zeroizing::new);
    check_ed25519(source_name, &file.keytype, &file.scheme)?;

    let public_key = parse_public_hex(source_name, &file.keyval.public)?;
    let form = KeyForm::from_keyid_hash_algorithms(file.keyid_hash_algorithms);
    let keyid = KeyId::of_form(&public_key, &form);
    check_declared_keyid(source_name, file.keyid.as_deref(), &keyid)?;
    Ok(ParsedPublicKey { public_key, keyid, form })
}

/// Parses a securesystemslib (legacy format) ed25519 private key file.
///
/// `keyval.private` is the hex of the 32-byte seed, or of the 64-byte seed followed by
/// the public key; `keyval.public` must be the public key of that seed.
pub fn parse_private_key_json(source_name: &str, bytes: &[u8]) -> Result<(SigningKey, KeyId), KeyError> {
    let parsed = parse_private_key_json_form(source_name, bytes)?;
    Ok((parsed.signing_key, parsed.keyid))
}

/// Parses a securesystemslib ed25519 private key file like [`parse_private_key_json`]
/// and also returns the form the file is written in.
///
/// A missing or empty `keyval.private` (some tools write `""` in public key files)
/// returns [`KeyError::MissingPrivateKey`].
pub fn parse_private_key_json_form(source_name: &str, bytes: &[u8]) -> Result<ParsedPrivateKey, KeyError> {
    let file: KeyFile = parse_json(source_name, bytes)?;
    let private = file.keyval.private.map(Zeroizing::new);
    check_ed25519(source_name, &file.keytype, &file.scheme)?;
    let Some(private) = private.filter(|text| !text.is_empty()) else {
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

    let form = KeyForm::from_keyid_hash_algorithms(file.keyid_hash_algorithms);
    let keyid = KeyId::of_form(&derived, &form);
    check_declared_keyid(source_name, file.keyid.as_deref(), &keyid)?;
    Ok(ParsedPrivateKey { signing_key, keyid, form })
}

/// Writes `key` as a securesystemslib public key file in the legacy form; its key id is
/// [`KeyId::of`].
pub fn public_key_json(key: &PublicKey) -> String {
    public_key_json_form(key, &KeyForm::legacy())
}

/// Writes `key` as a securesystemslib public key file in `form`, in canonical JSON
/// (sorted keys, no whitespace); its key id is [`KeyId::of_form`].
pub fn public_key_json_form(key: &PublicKey, form: &KeyForm) -> String {
    let json = PublicKeyOut {
        keyid_hash_algorithms: form.keyid_hash_algorithms(),
        keytype: ED25519,
        keyval: PublicValueOut { public: key.to_hex() },
        scheme: ED25519,
    };
    serde_json::to_string(&json).expect("a public key object has only string fields")
}

/// Writes `key` as a securesystemslib private key file in the legacy form, with its
/// `keyid`.
///
/// The returned string holds the private key in hex and is zeroized when dropped.
pub fn private_key_json(key: &SigningKey) -> Zeroizing<String> {
    private_key_json_form(key, &KeyForm::legacy())
}

/// Writes `key` as a securesystemslib private key file in `form`, with the `keyid` of
/// that form, so that tools reading it compute the same key id.
///
/// The returned string holds the private key in hex and is zeroized when dropped.
pub fn private_key_json_form(key: &SigningKey, form: &KeyForm) -> Zeroizing<String> {
    let public = key.public_key();
    let keyid = KeyId::of_form(&public, form);
    let json = PrivateKeyOut {
        keyid: keyid.as_str(),
        keyid_hash_algorithms: form.keyid_hash_algorithms(),
        keytype: ED25519,
        keyval: PrivateValueOut { private: SecretHex(hex::encode(key.seed().as_slice())), public: public.to_hex() },
        scheme: ED25519,
    };
    Zeroizing::new(serde_json::to_string(&json).expect("a private key object has only string fields"))
}

/// The public key object, fields in sorted order so serde_json writes canonical JSON.
#[derive(Serialize)]
struct PublicKeyOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    keyid_hash_algorithms: Option<&'a [String]>,
    keytype: &'a str,
    keyval: PublicValueOut,
    scheme: &'a str,
}

#[derive(Serialize)]
struct PublicValueOut {
    public: String,
}

/// The private key object, fields in sorted order.
#[derive(Serialize)]
struct PrivateKeyOut<'a> {
    keyid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyid_hash_algorithms: Option<&'a [String]>,
    keytype: &'a str,
    keyval: PrivateValueOut,
    scheme: &'a str,
}

#[derive(Serialize)]
struct PrivateValueOut {
    private: SecretHex,
    public: String,
}

/// Hex of a seed, wiped when dropped.
#[derive(Serialize)]
#[serde(transparent)]
struct SecretHex(String);

impl Drop for SecretHex {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Builds the OLPC canonical JSON that key ids hash: keys sorted, no whitespace.
///
/// Every value is lowercase hex or a fixed name, except the hash algorithm names, which
/// are escaped as OLPC canonical JSON escapes them. serde_json writes the same bytes
/// unless a name contains a control character, which OLPC leaves unescaped.
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
mod tests;
