//! Content digests in the `algorithm:hex` form that OCI and in-toto use.
//!
//! # Invariants
//! A [`Digest`] always holds a supported algorithm and exactly the number of lowercase
//! hex characters that algorithm produces, so two equal images have equal digests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

use crate::input::escape_control_characters;

/// A digest algorithm that Vouch accepts for image and subject digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// SHA-256, 64 hex characters; the algorithm registries use for manifests.
    Sha256,
    /// SHA-512, 128 hex characters.
    Sha512,
}

impl Algorithm {
    /// All supported algorithms, in the order subjects are matched.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

    /// Returns the algorithm's name as written before the colon.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Returns the number of hex characters of an encoded digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Looks up an algorithm by its exact lowercase name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for a string that is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest `{0}`: expected `algorithm:hex`, for example `sha256:` followed by 64 hex characters")]
    MissingSeparator(String),
    #[error("invalid digest `{digest}`: unsupported algorithm `{algorithm}`; use sha256 or sha512")]
    UnsupportedAlgorithm { digest: String, algorithm: String },
    #[error("invalid digest `{digest}`: {algorithm} needs {expected} hex characters, found {found}")]
    WrongLength { digest: String, algorithm: Algorithm, expected: usize, found: usize },
    #[error(
        "invalid digest `{digest}`: character {character:?} at position {position} is not lowercase hex (0-9, a-f)"
    )]
    InvalidHex { digest: String, character: char, position: usize },
}

/// A validated content digest such as `sha256:e3b0c442...`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses `algorithm:hex`, accepting only supported algorithms and lowercase hex of
    /// the exact length.
    pub fn parse(text: &str) -> Result<Digest, DigestError> {
        let Some((name, hex)) = text.split_once(':') else {
            return Err(DigestError::MissingSeparator(escape_control_characters(text)));
        };
        let algorithm = Algorithm::from_name(name).ok_or_else(|| DigestError::UnsupportedAlgorithm {
            digest: escape_control_characters(text),
            algorithm: escape_control_characters(name),
        })?;
        Digest::from_hex(algorithm, hex).map_err(|error| error.with_digest(text))
    }

    /// Builds a digest from an algorithm and its encoded hex value.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Digest, DigestError> {
        let full = || escape_control_characters(&format!("{algorithm}:{hex}"));
        if let Some((position, character)) = hex.char_indices().find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(DigestError::InvalidHex {
                digest: full(),
                character,
                position: algorithm.name().len() + 1 + position,
            });
        }
        if hex.len() != algorithm.hex_len() {
            return Err(DigestError::WrongLength {
                digest: full(),
                algorithm,
                expected: algorithm.hex_len(),
                found: hex.len(),
            });
        }
        Ok(Digest { algorithm, hex: hex.to_owned() })
    }

    /// Computes the digest of `bytes` with `algorithm`.
    pub fn compute(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let hex = match algorithm {
            Algorithm::Sha256 => hex::encode(sha2::Sha256::digest(bytes)),
            Algorithm::Sha512 => hex::encode(sha2::Sha512::digest(bytes)),
        };
        Digest { algorithm, hex }
    }

    /// Computes the SHA-256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest::compute(Algorithm::Sha256, bytes)
    }

    /// Returns the digest algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Returns the lowercase hex encoding without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Returns whether `bytes` hash to this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::compute(self.algorithm, bytes) == *self
    }
}

impl DigestError {
    /// Replaces the digest text in the error with the full input the caller parsed.
    fn with_digest(self, text: &str) -> DigestError {
        match self {
            DigestError::WrongLength { algorithm, expected, found, .. } => {
                DigestError::WrongLength { digest: escape_control_characters(text), algorithm, expected, found }
            }
            DigestError::InvalidHex { character, position, .. } => {
                DigestError::InvalidHex { digest: escape_control_characters(text), character, position }
            }
            other => other,
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Digest, DigestError> {
        Digest::parse(text)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn compute_matches_known_vector() {
        assert_eq!(Digest::sha256(b"").to_string(), EMPTY_SHA256);
        assert!(Digest::parse(EMPTY_SHA256).unwrap().matches(b""));
    }

    #[test]
    fn parse_round_trips_sha512() {
        let digest = Digest::compute(Algorithm::Sha512, b"abc");
        assert_eq!(Digest::parse(&digest.to_string()).unwrap(), digest);
        assert_eq!(digest.hex().len(), 128);
    }

    #[test]
    fn parse_rejects_uppercase_hex() {
        let upper = EMPTY_SHA256.to_uppercase().replacen("SHA256", "sha256", 1);
        let error = Digest::parse(&upper).unwrap_err();
        assert!(matches!(error, DigestError::InvalidHex { position: 7, character: 'E', .. }), "{error}");
    }

    #[test]
    fn parse_rejects_short_hex() {
        let error = Digest::parse("sha256:abc").unwrap_err();
        assert_eq!(error.to_string(), "invalid digest `sha256:abc`: sha256 needs 64 hex characters, found 3");
    }

    #[test]
    fn parse_rejects_unknown_algorithm() {
        let error = Digest::parse("md5:d41d8cd98f00b204e9800998ecf8427e").unwrap_err();
        assert!(error.to_string().contains("unsupported algorithm `md5`"), "{error}");
    }

    #[test]
    fn control_characters_are_escaped_in_errors() {
        for text in ["sha256\x1b[31m", "sha\n256:00", "sha256:\x1b[31mab", "sha256:ab\n"] {
            let error = Digest::parse(text).unwrap_err().to_string();
            assert!(!error.contains(|c: char| c.is_control()), "{error:?}");
            assert!(error.contains("\\u{1b}") || error.contains("\\n"), "{error}");
        }
    }

    #[test]
    fn parse_rejects_missing_colon() {
        assert!(matches!(Digest::parse("sha256"), Err(DigestError::MissingSeparator(_))));
    }
}
