//! A JSON walk that rejects an object with the same key twice.
//!
//! RFC 8259 (section 4) leaves duplicate keys to the receiver: serde_json's `Value` and
//! Python's json module keep the last value, while other parsers fail or report every
//! pair. Bytes that are signed as they are must read the same in every verifier, so
//! they must not contain duplicate keys.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// Any JSON value whose objects each have distinct keys; it keeps nothing.
pub(super) struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UniqueKeys, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E: Error>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E: Error>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        // Keys borrow from the input unless they contain escapes, and most objects are
        // small, so a list is searched until it grows past `LIST_KEYS_MAX`.
        let mut list: Vec<Cow<'de, str>> = Vec::new();
        let mut set: BTreeSet<Cow<'de, str>> = BTreeSet::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let seen = match set.is_empty() {
                true => list.contains(&key),
                false => set.contains(&key),
            };
            if seen {
                return Err(A::Error::custom(format!(
                    "duplicate key `{key}`; JSON parsers disagree on which value counts, so remove one of them"
                )));
            }
            map.next_value::<UniqueKeys>()?;
            // Once the keys moved to the set, every later key goes there too: a key
            // left in the list would not be searched.
            if !set.is_empty() {
                set.insert(key);
            } else if list.len() < LIST_KEYS_MAX {
                list.push(key);
            } else {
                set.extend(list.drain(..));
                set.insert(key);
            }
        }
        Ok(UniqueKeys)
    }
}

/// The number of keys of one object searched as a list before they move to a set.
const LIST_KEYS_MAX: usize = 16;

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: Error>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }

    fn visit_string<E: Error>(self, key: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::reject_duplicate_keys;

    fn object(keys: impl IntoIterator<Item = String>) -> String {
        let fields: Vec<String> = keys.into_iter().map(|key| format!("\"{key}\": 1")).collect();
        format!("{{{}}}", fields.join(", "))
    }

    fn duplicate_of(json: &str) -> Option<String> {
        reject_duplicate_keys("test.json", json.as_bytes()).err().map(|error| error.to_string())
    }

    #[test]
    fn distinct_keys_pass_in_small_and_large_objects() {
        assert_eq!(duplicate_of(&object((0..3).map(|n| format!("k{n}")))), None);
        assert_eq!(duplicate_of(&object((0..40).map(|n| format!("k{n}")))), None);
        assert_eq!(duplicate_of(r#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}"#), None);
    }

    #[test]
    fn duplicate_found_in_list_and_set() {
        let small = duplicate_of(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert!(small.contains("duplicate key `a`"), "{small}");
        let large = duplicate_of(&object((0..30).map(|n| format!("k{n}")).chain(["k3".to_owned()]))).unwrap();
        assert!(large.contains("duplicate key `k3`"), "{large}");
        let at_edge = duplicate_of(&object((0..17).map(|n| format!("k{n}")).chain(["k16".to_owned()]))).unwrap();
        assert!(at_edge.contains("duplicate key `k16`"), "{at_edge}");
        // Keys added after the move to the set are found too.
        for repeat in [17, 20, 39] {
            let json = object((0..40).map(|n| format!("k{n}")).chain([format!("k{repeat}")]));
            let error = duplicate_of(&json).unwrap_or_else(|| panic!("k{repeat} repeated after 40 keys"));
            assert!(error.contains(&format!("duplicate key `k{repeat}`")), "{error}");
        }
    }

    #[test]
    fn escaped_key_matches_plain_key() {
        let error = duplicate_of(r#"{"ab": 1, "a\u0062": 2}"#).unwrap();
        assert!(error.contains("duplicate key `ab`"), "{error}");
        let nested = duplicate_of(r#"{"x": {"q\"": 1, "q\u0022": 2}}"#).unwrap();
        assert!(nested.contains("duplicate key `q\"`"), "{nested}");
    }
}
