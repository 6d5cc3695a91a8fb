//! A quick byte scan that shows that JSON text, already parsed once, repeats no key in
//! any object.
//!
//! The scan only clears objects whose keys are surely distinct. It skips strings
//! with `memchr` and numbers byte by byte, and decodes nothing. A key with an escape
//! could equal another key written differently, so it makes the scan give up, as does
//! a repeated key or anything the scan did not expect. The full check in
//! `unique_keys.rs` then decides and names the key.
//!
//! The full check also decodes every value, and so rejects what a first parse into raw
//! text lets through. That covers numbers out of range, nesting deeper than
//! serde_json's limit and lone surrogates. It also covers invalid UTF-8 in the strings
//! of fields that the first parse skipped without decoding. The scan takes text that
//! is already UTF-8, and it gives up on the other cases: a number with an exponent or
//! of more than [`NUMBER_BYTES_MAX`] bytes, nesting deeper than [`DEPTH_MAX`], and
//! any surrogate escape.

use std::collections::HashSet;

/// The deepest nesting the scan follows: well below serde_json's limit of 128.
const DEPTH_MAX: usize = 64;

/// Maximum length of a number that the scan passes. A decimal without exponent fits an
/// `f64` up to 309 digits.
const NUMBER_BYTES_MAX: usize = 300;

/// Keys of one object compared as a list before they move to a set.
const LIST_KEYS_MAX: usize = 64;

/// The keys seen so far in one open object.
#[derive(Default)]
struct ObjectKeys<'a> {
    list: Vec<&'a [u8]>,
    set: HashSet<&'a [u8]>,
}

impl<'a> ObjectKeys<'a> {
    /// Records `key`, and returns false if the object already had it.
    fn insert(&mut self, key: &'a [u8]) -> bool {
        if !self.set.is_empty() {
            return self.set.insert(key);
        }
        if self.list.contains(&key) {
            return false;
        }
        self.list.push(key);
        if self.list.len() > LIST_KEYS_MAX {
            self.set.extend(self.list.drain(..));
        }
        true
    }
}

/// Returns true when `text` has no object with the same key twice, and every key is
/// written without escapes. `text` must have parsed as JSON already: on other input
/// the result means nothing. False means a repeated key, an escaped key or text the
/// scan did not follow.
pub(super) fn keys_surely_unique(text: &str) -> bool {
    let bytes = text.as_bytes();
    // One entry per open container: keys for an object, `None` for an array.
    let mut open: Vec<Option<ObjectKeys<'_>>> = Vec::new();
    let mut key_next = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' | b'[' if open.len() == DEPTH_MAX => return false,
            b'{' => {
                open.push(Some(ObjectKeys::default()));
                key_next = true;
            }
            b'[' => {
                open.push(None);
                key_next = false;
            }
            b'}' | b']' => {
                if open.pop().is_none() {
                    return false;
                }
                key_next = false;
            }
            b',' => key_next = matches!(open.last(), Some(Some(_))),
            b'"' => {
                let Some(end) = string_end(bytes, at + 1) else {
                    return false;
                };
                if key_next {
                    let key = &bytes[at + 1..end];
                    let Some(Some(keys)) = open.last_mut() else {
                        return false;
                    };
                    if key.contains(&b'\\') || !keys.insert(key) {
                        return false;
                    }
                    key_next = false;
                }
                at = end;
            }
            b'-' | b'0'..=b'9' => {
                let length = bytes[at..].iter().take_while(|byte| is_number_byte(**byte)).count();
                let number = &bytes[at..at + length];
                if length > NUMBER_BYTES_MAX || number.iter().any(|byte| matches!(byte, b'e' | b'E')) {
                    return false;
                }
                at += length - 1;
            }
            _ => {}
        }
        at += 1;
    }
    open.is_empty()
}

fn is_number_byte(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// Returns the index of the quote that closes the string whose text starts at `from`.
fn string_end(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let found = from + memchr::memchr2(b'"', b'\\', bytes.get(from..)?)?;
        if bytes[found] == b'"' {
            return Some(found);
        }
        // A backslash escapes the byte after it; `\u` digits contain no quote. A
        // surrogate escape (`\uD800` to `\uDFFF`) ends the scan.
        if let [b'u', b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F', ..] = bytes.get(found + 1..)? {
            return None;
        }
        from = found + 2;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::keys_surely_unique;
    use crate::input::{reject_duplicate_keys, reject_duplicate_keys_after_parse};

    fn full_check_passes(json: &str) -> bool {
        reject_duplicate_keys("test.json", json.as_bytes()).is_ok()
    }

    #[test]
    fn distinct_keys_at_every_depth() {
        let cases = [
            r#"{"a": 1, "b": {"a": [1, {"a": 2, "b": 3}]}, "c": "a"}"#,
            r#"[{"a": 1}, {"a": 2}, [], {}, "x", 1.5, true, false, null]"#,
            r#"{"a": "a quote \" inside", "b": "\\"}"#,
            r#"{"a": "\"b\": 1, \"a\": 2", "b": "}{]["}"#,
            r#""a plain string""#,
            "  {\n\t\"a\" :1 ,\"b\":2}  ",
        ];
        for json in cases {
            assert!(full_check_passes(json), "the full check accepts {json}");
            assert!(keys_surely_unique(json), "the scan accepts {json}");
        }
    }

    #[test]
    fn repeated_key_in_list_and_set() {
        let object = |count: usize, repeat: usize| {
            let mut fields: Vec<String> = (0..count).map(|n| format!("\"k{n}\": {n}")).collect();
            fields.push(format!("\"k{repeat}\": 0"));
            format!("{{{}}}", fields.join(", "))
        };
        for (count, repeat) in [(3, 1), (16, 15), (17, 16), (17, 0), (40, 39)] {
            let json = object(count, repeat);
            assert!(!keys_surely_unique(&json), "{count} keys, then k{repeat} again");
            assert!(!full_check_passes(&json), "the full check agrees for {count} keys");
        }
        assert!(keys_surely_unique(&object(40, 40)), "41 distinct keys");
    }

    #[test]
    fn nested_repeat_is_found() {
        let json = r#"{"a": [{"x": 1}, {"y": {"k": 1, "k": 2}}]}"#;
        assert!(!keys_surely_unique(json));
    }

    #[test]
    fn escaped_key_gives_up() {
        assert!(!keys_surely_unique(r#"{"ab": 1, "a\u0062": 2}"#), "the same key written twice");
        assert!(!keys_surely_unique(r#"{"a\"": 1}"#), "an escaped key that repeats nothing");
        assert!(full_check_passes(r#"{"a\"": 1}"#), "which the full check accepts");
    }

    #[test]
    fn what_the_full_check_may_reject_gives_up() {
        let deep = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(keys_surely_unique(&deep(64)), "nesting at the scan's limit");
        assert!(!keys_surely_unique(&deep(65)), "nesting past it");
        assert!(!keys_surely_unique(r#"{"a": 1e400}"#), "an exponent");
        assert!(!keys_surely_unique(r#"{"a": 2E-3}"#), "an upper-case exponent");
        assert!(keys_surely_unique(r#"{"a": -12.5, "b": [0, 7]}"#), "plain numbers");
        let long = format!("{{\"a\": {}}}", "9".repeat(301));
        assert!(!keys_surely_unique(&long), "301 digits");
        assert!(keys_surely_unique(&format!("{{\"a\": {}}}", "9".repeat(300))), "300 digits");
        for escape in [r#"{"a": "\ud800"}"#, r#"{"a": "x\uDC00"}"#, r#"["\uDbff\udfff"]"#] {
            assert!(!keys_surely_unique(escape), "a surrogate in {escape}");
        }
        assert!(keys_surely_unique(r#"{"a": "\u003c\u00e9\uD7FF"}"#), "escapes outside the surrogates");
    }

    #[test]
    fn invalid_utf8_goes_to_the_full_check() {
        // Strings of unknown fields reach the check without a UTF-8 check of their own.
        let cases: [&[u8]; 3] =
            [b"{\"a\": \"\xff\"}", b"{\"x\": {\"a\xff\": 1, \"a\xfe\": 2}}", b"{\"uri\": \"\xed\xa0\x80\"}"];
        for bytes in cases {
            let error = reject_duplicate_keys_after_parse("test.json", bytes).expect_err("invalid UTF-8 is rejected");
            assert!(error.to_string().contains("test.json"), "{error}");
        }
    }

    #[test]
    fn unbalanced_text_gives_up() {
        for text in ["{\"a\": 1", "}", "[1, 2", "{\"a", "\"open"] {
            assert!(!keys_surely_unique(text), "{text}");
        }
    }

    /// JSON built from a few short keys, so that objects often repeat one.
    fn json_value() -> impl Strategy<Value = String> {
        let key = prop_oneof![Just("a"), Just("b"), Just("c"), Just("a\\u0062"), Just("q\\\"")];
        let leaf = prop_oneof![
            Just("1".to_owned()),
            Just("-2.5".to_owned()),
            Just("1e400".to_owned()),
            Just("\"\\ud800\"".to_owned()),
            Just("\"s\\\"}{,\"".to_owned()),
            Just("null".to_owned())
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(|fields| {
                    let fields: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                    format!("{{{}}}", fields.join(", "))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn scan_never_passes_what_the_full_check_rejects(json in json_value()) {
            if keys_surely_unique(&json) {
                prop_assert!(full_check_passes(&json), "the scan passed {json}");
            }
            // Where the scan gives up on purpose, only the implication above holds.
            let gives_up = ["\\u0062", "q\\\"", "1e400", "\\ud800"].iter().any(|text| json.contains(text));
            if !gives_up {
                prop_assert_eq!(keys_surely_unique(&json), full_check_passes(&json), "{}", json);
            }
        }
    }
}
