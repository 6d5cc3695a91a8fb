//! Reads a [`Subject`] from a JSON object only.
//!
//! A derived reader also takes an array of the fields in order, such as
//! `["app", {"sha256": "..."}]`. Other in-toto parsers refuse that, and the bytes of a
//! statement are signed as they are, so every verifier must read them alike.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, IgnoredAny, MapAccess, Visitor};

use super::Subject;

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Subject, D::Error> {
        deserializer.deserialize_map(SubjectVisitor)
    }
}

struct SubjectVisitor;

impl<'de> Visitor<'de> for SubjectVisitor {
    type Value = Subject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an in-toto subject object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Subject, A::Error> {
        let mut name: Option<String> = None;
        let mut digest: Option<BTreeMap<String, String>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" if name.is_some() => return Err(A::Error::duplicate_field("name")),
                "name" => name = Some(map.next_value()?),
                "digest" if digest.is_some() => return Err(A::Error::duplicate_field("digest")),
                "digest" => digest = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let digest = digest.ok_or_else(|| A::Error::missing_field("digest"))?;
        Ok(Subject { name: name.unwrap_or_default(), digest })
    }
}

#[cfg(test)]
mod tests {
    use super::Subject;

    fn read(json: &str) -> Result<Subject, String> {
        serde_json::from_str(json).map_err(|error| error.to_string())
    }

    #[test]
    fn object_reads_with_and_without_name() {
        let subject = read(r#"{"name": "app", "digest": {"sha256": "ab"}, "uri": "x"}"#).unwrap();
        assert_eq!(subject.name, "app");
        assert_eq!(subject.digest.get("sha256").map(String::as_str), Some("ab"));
        let unnamed = read(r#"{"digest": {"sha256": "ab"}}"#).unwrap();
        assert_eq!(unnamed.name, "");
    }

    #[test]
    fn array_of_fields_is_refused() {
        let error = read(r#"["app", {"sha256": "ab"}]"#).unwrap_err();
        assert!(error.contains("expected an in-toto subject object"), "{error}");
    }

    #[test]
    fn missing_or_repeated_fields_are_named() {
        let missing = read(r#"{"name": "app"}"#).unwrap_err();
        assert!(missing.contains("missing field `digest`"), "{missing}");
        let twice = read(r#"{"name": "a", "digest": {}, "name": "b"}"#).unwrap_err();
        assert!(twice.contains("duplicate field `name`"), "{twice}");
    }
}
