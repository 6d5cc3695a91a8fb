//! Image platforms (`os/architecture[/variant]`) and how a requested platform matches
//! the platform of an index entry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The operating system, CPU architecture and optional CPU variant of an image, as in
/// the `platform` object of an OCI index entry or a Docker manifest list entry.
///
/// Fields hold the text as written; matching normalizes common aliases (see
/// [`Platform::matches`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(expecting = "an OCI platform object")]
pub struct Platform {
    /// Operating system, for example `linux` or `windows`.
    pub os: String,
    /// CPU architecture in Go's `GOARCH` spelling, for example `amd64` or `arm64`.
    pub architecture: String,
    /// CPU variant, for example `v7` for 32-bit ARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An error in a platform string such as `linux/arm64`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("platform is empty; expected `os/architecture[/variant]`, for example `linux/amd64` or `linux/arm/v7`")]
    Empty,
    #[error(
        "invalid platform `{text}`: expected `os/architecture[/variant]` (2 or 3 parts joined by `/`), \
         found {parts} parts; for example `linux/amd64` or `linux/arm/v7`"
    )]
    WrongShape { text: String, parts: usize },
    #[error("invalid platform `{text}`: the {part} is empty; expected `os/architecture[/variant]`")]
    EmptyPart { text: String, part: &'static str },
    #[error("invalid platform `{text}`: the {part} `{value}` must be lowercase, as in `linux/amd64`")]
    Uppercase { text: String, part: &'static str, value: String },
    #[error(
        "invalid platform `{text}`: the {part} `{value}` contains {character:?}; \
         use lowercase letters, digits, `.`, `_` and `-`"
    )]
    InvalidCharacter { text: String, part: &'static str, value: String, character: char },
}

/// Names of the parts of `os/architecture/variant`, in order.
const PART_NAMES: [&str; 3] = ["operating system", "architecture", "variant"];

impl Platform {
    /// Parses `os/architecture[/variant]` as written on command lines (`--platform`).
    pub fn parse(text: &str) -> Result<Platform, PlatformError> {
        if text.is_empty() {
            return Err(PlatformError::Empty);
        }
        let parts: Vec<&str> = text.split('/').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(PlatformError::WrongShape { text: text.to_owned(), parts: parts.len() });
        }
        for (part, value) in PART_NAMES.iter().zip(&parts) {
            check_part(text, part, value)?;
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|variant| (*variant).to_owned()),
        })
    }

    /// Returns whether an index entry with platform `entry` satisfies this requested
    /// platform.
    ///
    /// Operating systems must be equal. Architectures are compared after mapping the
    /// aliases `x86_64`, `aarch64`, `i386`, `armhf` and `armel` to Go's names. A request
    /// without a variant matches every variant. A request with a variant matches the
    /// entry's variant once both are written as `vN` (`7` and `armv7` become `v7`). An
    /// entry without a variant has its architecture's default: `v8` for arm64 and `v1`
    /// for amd64.
    ///
    /// NOTE: `os.version` is not read, so Windows indexes with one entry per OS build
    /// give several matches for `windows/amd64`, which resolution reports as ambiguous.
    pub fn matches(&self, entry: &Platform) -> bool {
        let (wanted_arch, wanted_variant) = normalized(&self.architecture, self.variant.as_deref());
        let (entry_arch, entry_variant) = normalized(&entry.architecture, entry.variant.as_deref());
        if self.os != entry.os || wanted_arch != entry_arch {
            return false;
        }
        let variant_requested = self.variant.is_some() || matches!(self.architecture.as_str(), "armhf" | "armel");
        !variant_requested || wanted_variant == entry_variant
    }
}

/// Checks one part of a platform string.
fn check_part(text: &str, part: &'static str, value: &str) -> Result<(), PlatformError> {
    if value.is_empty() {
        return Err(PlatformError::EmptyPart { text: text.to_owned(), part });
    }
    if value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(PlatformError::Uppercase { text: text.to_owned(), part, value: value.to_owned() });
    }
    match value.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')) {
        Some(character) => {
            Err(PlatformError::InvalidCharacter { text: text.to_owned(), part, value: value.to_owned(), character })
        }
        None => Ok(()),
    }
}

/// Maps an architecture and variant to Go's architecture name and a `vN` variant,
/// filling in the default variant of architectures that have one.
fn normalized(architecture: &str, variant: Option<&str>) -> (String, Option<String>) {
    let (architecture, alias_variant) = match architecture {
        "x86_64" | "x86-64" => ("amd64", None),
        "aarch64" => ("arm64", None),
        "i386" | "i686" => ("386", None),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v6")),
        other => (other, None),
    };
    let variant = variant.or(alias_variant).map(normalized_variant);
    let variant = variant.or_else(|| match architecture {
        "arm64" => Some("v8".to_owned()),
        "amd64" => Some("v1".to_owned()),
        _ => None,
    });
    (architecture.to_owned(), variant)
}

/// Writes `7`, `armv7` and `v7` all as `v7`.
fn normalized_variant(variant: &str) -> String {
    let bare = variant.strip_prefix("arm").unwrap_or(variant);
    let bare = bare.strip_prefix('v').unwrap_or(bare);
    format!("v{bare}")
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(text: &str) -> Result<Platform, PlatformError> {
        Platform::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(text: &str) -> Platform {
        Platform::parse(text).unwrap()
    }

    #[test]
    fn parse_accepts_two_and_three_parts() {
        assert_eq!(platform("linux/amd64").to_string(), "linux/amd64");
        assert_eq!(platform("linux/arm/v7").variant.as_deref(), Some("v7"));
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        assert_eq!(Platform::parse(""), Err(PlatformError::Empty));
        assert!(matches!(Platform::parse("linux"), Err(PlatformError::WrongShape { parts: 1, .. })));
        assert!(matches!(Platform::parse("a/b/c/d"), Err(PlatformError::WrongShape { parts: 4, .. })));
        assert!(matches!(Platform::parse("linux//v7"), Err(PlatformError::EmptyPart { part: "architecture", .. })));
        let error = Platform::parse("Linux/amd64").unwrap_err();
        assert!(error.to_string().contains("operating system `Linux` must be lowercase"), "{error}");
        let error = Platform::parse("linux/amd 64").unwrap_err();
        assert!(error.to_string().contains("architecture `amd 64` contains ' '"), "{error}");
    }

    #[test]
    fn variants_and_aliases_match() {
        assert!(platform("linux/arm/v7").matches(&platform("linux/arm/armv7")));
        assert!(platform("linux/arm/7").matches(&platform("linux/arm/v7")));
        assert!(platform("linux/arm64/v8").matches(&platform("linux/arm64")));
        assert!(platform("linux/arm64").matches(&platform("linux/arm64/v8")));
        assert!(platform("linux/x86_64").matches(&platform("linux/amd64")));
        assert!(platform("linux/arm/v7").matches(&platform("linux/armhf")));
        assert!(!platform("linux/arm/v6").matches(&platform("linux/arm/v7")));
        assert!(!platform("linux/amd64").matches(&platform("windows/amd64")));
        assert!(!platform("linux/arm64").matches(&platform("linux/arm")));
    }
}
