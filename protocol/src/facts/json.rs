//! The JSON a reader decodes: a value that is already parsed, or the raw text of one.
//! The node reads each attestation's predicate from its raw text, straight into the
//! reader's types, so no `serde_json::Value` tree is built and dropped for it.
//!
//! # Invariants
//! - Both forms of the same JSON give the same facts. They give the same error message
//!   when one field is invalid: errors from raw text lose serde_json's line and
//!   column, which a decoded value does not have. With several invalid fields, raw
//!   text names the first in document order and a decoded value the first in key
//!   order.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use super::FactsError;

/// A predicate, or a part of one, to decode.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Json<'a> {
    /// A parsed value.
    Value(&'a Value),
    /// The text of one JSON value, already checked to be valid JSON.
    Raw(&'a RawValue),
}

/// JSON `null`, for an absent raw value.
pub(crate) static NULL: Value = Value::Null;

/// The kind of a JSON value, with an object's keys in sorted order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JsonKind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object(Vec<String>),
}

impl<'a> Json<'a> {
    /// Returns the raw value, or `null` when there is none.
    pub(crate) fn raw_or_null(raw: Option<&'a RawValue>) -> Json<'a> {
        raw.map_or(Json::Value(&NULL), Json::Raw)
    }

    /// Decodes the JSON into `T`, naming the path of a field that does not fit.
    pub(crate) fn deserialize<T: Deserialize<'a>>(self, source_name: &str) -> Result<T, FactsError> {
        // The path is tracked only to name the field once the plain read has failed.
        let tracked = match self {
            Json::Value(value) => {
                if let Ok(decoded) = T::deserialize(value) {
                    return Ok(decoded);
                }
                serde_path_to_error::deserialize(value).map_err(|error| (error.path().to_string(), error.into_inner()))
            }
            Json::Raw(raw) => {
                if let Ok(decoded) = serde_json::from_str(raw.get()) {
                    return Ok(decoded);
                }
                let mut deserializer = serde_json::Deserializer::from_str(raw.get());
                serde_path_to_error::deserialize(&mut deserializer)
                    .map_err(|error| (error.path().to_string(), error.into_inner()))
            }
        };
        tracked.map_err(|(path, error)| FactsError::InvalidField {
            source_name: source_name.to_owned(),
            path,
            message: message_without_position(&error),
        })
    }

    /// Returns the value's kind; an object's keys are read without decoding its values.
    pub(crate) fn kind(self) -> JsonKind {
        match self {
            Json::Value(value) => match value {
                Value::Null => JsonKind::Null,
                Value::Bool(_) => JsonKind::Bool,
                Value::Number(_) => JsonKind::Number,
                Value::String(_) => JsonKind::String,
                Value::Array(_) => JsonKind::Array,
                Value::Object(map) => {
                    // Sorted here too, in case serde_json's map keeps insertion order.
                    let mut keys: Vec<String> = map.keys().cloned().collect();
                    keys.sort_unstable();
                    JsonKind::Object(keys)
                }
            },
            Json::Raw(raw) => raw_kind(raw.get()),
        }
    }
}

impl JsonKind {
    /// Returns whether the value is an object with the key `key`.
    pub(crate) fn has_key(&self, key: &str) -> bool {
        matches!(self, JsonKind::Object(keys) if keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok())
    }
}

/// Returns the kind of valid JSON text from its first character.
fn raw_kind(text: &str) -> JsonKind {
    match text.trim_start().as_bytes().first() {
        Some(b'n') | None => JsonKind::Null,
        Some(b't' | b'f') => JsonKind::Bool,
        Some(b'"') => JsonKind::String,
        Some(b'[') => JsonKind::Array,
        Some(b'{') => {
            // A `BTreeMap` keeps the keys sorted and once each, as a parsed object does.
            let keys: BTreeMap<String, IgnoredAny> = serde_json::from_str(text).unwrap_or_default();
            JsonKind::Object(keys.into_keys().collect())
        }
        Some(_) => JsonKind::Number,
    }
}

/// Returns serde_json's message without the line and column it adds to errors about
/// text.
fn message_without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if error.line() == 0 {
        return text;
    }
    let position = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&position).map_or(text.clone(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("valid JSON")
    }

    #[test]
    fn kinds_agree_between_forms() {
        let texts = [
            "null",
            "true",
            "false",
            "12",
            "-0.5",
            "\"text\"",
            "[1, 2]",
            " {\"b\": {\"x\": 1}, \"a\": [], \"c\": null}",
            "{}",
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            let raw = raw(text);
            assert_eq!(Json::Value(&value).kind(), Json::Raw(&raw).kind(), "{text}");
        }
        let raw = raw(r#"{"SchemaVersion": 2, "Results": []}"#);
        let kind = Json::Raw(&raw).kind();
        assert!(kind.has_key("Results"));
        assert!(kind.has_key("SchemaVersion"));
        assert!(!kind.has_key("matches"));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        name: String,
        count: u32,
    }

    #[test]
    fn errors_agree_between_forms() {
        let texts = [r#"{"name": "a", "count": -1}"#, r#"{"name": 3, "count": 1}"#, r#"{"count": 1}"#, "[]"];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            let raw = raw(text);
            let from_value = Json::Value(&value).deserialize::<Sample>("sample").unwrap_err().to_string();
            let from_raw = Json::Raw(&raw).deserialize::<Sample>("sample").unwrap_err().to_string();
            assert_eq!(from_value, from_raw, "{text}");
            assert!(!from_raw.contains("line 1"), "{from_raw}");
        }
        let raw = raw(r#"{"name": "a", "count": 1}"#);
        let decoded: Sample = Json::Raw(&raw).deserialize("sample").unwrap();
        assert_eq!(decoded, Sample { name: "a".to_owned(), count: 1 });
    }
}
