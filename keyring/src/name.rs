//! Key names: the handle a user types and the stem of the key's file name.
//!
//! # Invariants
//! A [`KeyName`] is 1 to [`KEY_NAME_LEN_MAX`] characters from `[A-Za-z0-9._-]` and is
//! neither `.` nor `..`, so `NAME.json` is always a plain file inside the keyring folder.

use std::fmt;

use super::KeyringError;

/// Maximum length of a key name, in characters.
pub const KEY_NAME_LEN_MAX: usize = 64;

/// A validated key name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyName(String);

impl KeyName {
    /// Parses a key name, rejecting empty, overlong and path-like names.
    pub fn parse(text: &str) -> Result<KeyName, KeyringError> {
        let invalid = |reason: String| KeyringError::InvalidName { name: text.to_owned(), reason };
        if text.is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        let length = text.chars().count();
        if length > KEY_NAME_LEN_MAX {
            return Err(invalid(format!("it has {length} characters, over the maximum of {KEY_NAME_LEN_MAX}")));
        }
        if let Some(character) = text.chars().find(|c| !is_name_char(*c)) {
            return Err(invalid(format!("character {character:?} is not allowed")));
        }
        if text == "." || text == ".." {
            return Err(invalid("it names a folder".to_owned()));
        }
        Ok(KeyName(text.to_owned()))
    }

    /// Returns the name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_allowed_characters() {
        for name in ["a", "ci-scanner", "team.reviewer_2", "A9"] {
            assert_eq!(KeyName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn length_limit_at_and_past_edge() {
        let at_limit = "k".repeat(KEY_NAME_LEN_MAX);
        assert!(KeyName::parse(&at_limit).is_ok());
        let error = KeyName::parse(&format!("{at_limit}k")).unwrap_err();
        assert!(error.to_string().contains("65 characters, over the maximum of 64"), "{error}");
    }

    #[test]
    fn rejects_paths_and_spaces() {
        for name in ["", "a/b", "../x", "..", ".", "with space", "é"] {
            let error = KeyName::parse(name).unwrap_err();
            assert!(error.to_string().contains(&format!("`{name}`")), "{error}");
        }
    }
}
