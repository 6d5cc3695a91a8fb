//! Reader of Vouch's reviewer decision predicate (`https://vouch.dev/review/v1`).
//!
//! The predicate is the JSON form of [`Review`]:
//! `{"decision": "approve" | "reject", "reason": "…", "expiresAt": "RFC 3339",
//! "reviewer": "…"}`, where `expiresAt` and `reviewer` may be absent. Unknown
//! fields are rejected, so a misspelled `expiresAt` cannot silently drop an expiry.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::{FactsError, Review, json::Json};
use crate::input::parse_json;

/// Longest accepted `reason`, in bytes of UTF-8.
pub const REASON_BYTES_MAX: usize = 4096;

/// Longest accepted `reviewer`, in bytes of UTF-8.
pub const REVIEWER_BYTES_MAX: usize = 256;

/// Reads a review predicate file (the predicate alone).
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<Review, FactsError> {
    Ok(parse_json(source_name, bytes)?)
}

/// Reads a decoded review predicate.
pub fn from_value(source_name: &str, value: &Value) -> Result<Review, FactsError> {
    read(source_name, Json::Value(value))
}

/// Reads the JSON in either form; [`from_value`] reads a decoded value.
pub(crate) fn read(source_name: &str, json: Json<'_>) -> Result<Review, FactsError> {
    json.deserialize(source_name)
}

pub(crate) fn deserialize_reason<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let reason = String::deserialize(deserializer)?;
    if reason.trim().is_empty() {
        return Err(de::Error::custom("reason is empty; say why the image is approved or rejected"));
    }
    if reason.len() > REASON_BYTES_MAX {
        return Err(de::Error::custom(format!(
            "reason is {} bytes, over the limit of {REASON_BYTES_MAX} bytes; shorten it or link to a document",
            reason.len()
        )));
    }
    Ok(reason)
}

pub(crate) fn deserialize_reviewer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let Some(reviewer) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if reviewer.trim().is_empty() {
        return Err(de::Error::custom("reviewer is empty; give a name or email, or leave the field out"));
    }
    if reviewer.len() > REVIEWER_BYTES_MAX {
        return Err(de::Error::custom(format!(
            "reviewer is {} bytes, over the limit of {REVIEWER_BYTES_MAX} bytes",
            reviewer.len()
        )));
    }
    Ok(Some(reviewer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Decision;

    #[test]
    fn full_review_round_trips() {
        let bytes = br#"{"decision": "reject", "reason": "CVE-2024-3094 backdoor in xz", "expiresAt": "2025-01-01T01:00:00+01:00", "reviewer": "alice@example.com"}"#;
        let review = parse("r.json", bytes).unwrap();
        assert_eq!(review.decision, Decision::Reject);
        assert_eq!(review.expires_at.unwrap().to_string(), "2025-01-01T00:00:00Z");
        let json = serde_json::to_value(&review).unwrap();
        assert_eq!(json["expiresAt"], "2025-01-01T00:00:00Z");
        assert_eq!(from_value("r", &json).unwrap(), review);
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let review = parse("r.json", br#"{"decision": "approve", "reason": "reviewed"}"#).unwrap();
        assert_eq!(review.expires_at, None);
        assert_eq!(review.reviewer, None);
    }

    #[test]
    fn invalid_reviews_name_the_field() {
        let long_reason = format!(r#"{{"decision": "approve", "reason": "{}"}}"#, "x".repeat(REASON_BYTES_MAX + 1));
        let edge_reason = format!(r#"{{"decision": "approve", "reason": "{}"}}"#, "x".repeat(REASON_BYTES_MAX));
        assert!(parse("r.json", edge_reason.as_bytes()).is_ok());
        let long_reviewer = format!(
            r#"{{"decision": "approve", "reason": "ok", "reviewer": "{}"}}"#,
            "x".repeat(REVIEWER_BYTES_MAX + 1)
        );
        for (bytes, field) in [
            (r#"{"decision": "maybe", "reason": "x"}"#.to_owned(), "decision"),
            (r#"{"decision": "approve", "reason": " "}"#.to_owned(), "reason"),
            (long_reason, "reason"),
            (long_reviewer, "reviewer"),
            (r#"{"decision": "approve", "reason": "ok", "reviewer": ""}"#.to_owned(), "reviewer"),
            (r#"{"decision": "approve", "reason": "ok", "reviewer": " \t"}"#.to_owned(), "reviewer"),
            (r#"{"decision": "approve", "reason": "x", "expiresAt": "tomorrow"}"#.to_owned(), "expiresAt"),
        ] {
            let error = parse("r.json", bytes.as_bytes()).unwrap_err().to_string();
            assert!(error.starts_with(&format!("r.json: field `{field}`")), "{error}");
        }
        let error = parse("r.json", br#"{"decision": "approve", "reason": "x", "expires_at": "2025-01-01T00:00:00Z"}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `expires_at`"), "{error}");
    }
}
