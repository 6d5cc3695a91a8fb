//! Container image references (`registry/repository[:tag][@digest]`), parsed and
//! normalized the way Docker and the distribution reference library do.
//!
//! Normalization follows `ParseNormalizedNamed` of github.com/distribution/reference.
//! A first path component is a registry host only if it contains `.` or `:` or is
//! `localhost`. Anything else is a Docker Hub path under `docker.io`, and a Docker Hub
//! name with one component gets the `library/` namespace. `index.docker.io` becomes
//! `docker.io`. A reference with neither tag nor digest gets the tag `latest`, as
//! `docker pull` does.
//!
//! Vouch differs from that library in these tested ways:
//! - only sha256 and sha512 digests with lowercase hex are accepted (see [`Digest`]);
//! - ports must be 1 to 65535;
//! - a digest written as a tag (`repo:sha256:…`) or alone (`sha256:…`) is rejected
//!   with the `@` fix instead of being read as a tag;
//! - the name length limit counts the registry too, as the OCI distribution
//!   specification describes client limits;
//! - an uppercase first component without `.` or `:` (`Foo/bar`) is an uppercase
//!   repository error, where the library's current `splitDockerDomain` reads it as a
//!   registry host;
//! - [`Reference::familiar`] keeps `docker.io/` when dropping it would make the first
//!   path component read as a host.
//!
//! NOTE: registry hosts keep the case they were written in, as in Docker, although
//! host names are case-insensitive. `Example.com/app` and `example.com/app` therefore
//! have different names, and scope matching must compare hosts case-insensitively.
//!
//! # Invariants
//! A [`Reference`] contains a registry that matches the host grammar, a repository whose
//! path components match the path grammar, a `registry/repository` name of at most
//! [`NAME_LENGTH_MAX`] characters, an optional valid tag, an optional [`Digest`], and
//! at least one of tag and digest. Its [`Display`](fmt::Display) form parses back to an
//! equal value.

mod error;
mod grammar;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::{Algorithm, Digest};
use crate::input::{escape_control_characters, is_terminal_control};

pub use error::{HostProblem, PathProblem, PortProblem, ReferenceError, TagProblem, UppercaseHint};

/// Registry of images named without a host, as Docker writes it.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// Older name of the Docker Hub registry, normalized to [`DEFAULT_REGISTRY`].
pub const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";

/// Docker Hub namespace of official images, added to one-component Docker Hub names.
pub const OFFICIAL_NAMESPACE: &str = "library";

/// Tag given to a reference that has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// The only registry host without `.` or `:` that is not a Docker Hub namespace.
pub const LOCALHOST: &str = "localhost";

/// Maximum length of `registry/repository` in characters. The OCI distribution
/// specification notes that many clients limit the concatenation of registry host,
/// `/` and repository name to 255 characters.
pub const NAME_LENGTH_MAX: usize = 255;

/// Maximum length of a tag in characters, from the tag grammar `[\w][\w.-]{0,127}`.
pub const TAG_LENGTH_MAX: usize = 128;

/// Length of the longest digest Vouch accepts: `sha512:` and 128 hex characters.
const DIGEST_LENGTH_MAX: usize = "sha512:".len() + 128;

/// Maximum length of the text of a valid reference. The written name may be longer
/// than its normalized form by the difference between `index.docker.io` and
/// `docker.io`, and `:` and `@` join the parts.
pub const REFERENCE_LENGTH_MAX: usize = NAME_LENGTH_MAX
    + (LEGACY_DEFAULT_REGISTRY.len() - DEFAULT_REGISTRY.len())
    + 1
    + TAG_LENGTH_MAX
    + 1
    + DIGEST_LENGTH_MAX;

/// Minimum number of hex characters of a digest in the distribution reference grammar.
const DIGEST_HEX_LENGTH_MIN: usize = 32;

/// Number of input characters shown in the error for an input over [`REFERENCE_LENGTH_MAX`].
const PREVIEW_CHARS: usize = 60;

/// A parsed and normalized container image reference.
///
/// The digest, when present, identifies the image; a tag kept next to it is only a
/// label. Compare images by [`Reference::digest`], never by tag.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// `registry/repository`, for example `docker.io/library/alpine`.
    name: String,
    /// Length of the registry prefix of `name`.
    registry_len: usize,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes a reference such as `alpine:3.9`,
    /// `ghcr.io/org/app@sha256:…` or `[::1]:5000/repo:tag`.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        check_whole_input(text)?;
        let (name_and_tag, digest) = split_digest(text)?;
        let (written_name, tag) = split_tag(text, name_and_tag)?;
        let split = split_registry(text, written_name)?;
        check_repository(text, written_name, &split)?;

        let name = split.normalized_name();
        if name.len() > NAME_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong {
                reference: text.to_owned(),
                length: name.len(),
                name,
                max: NAME_LENGTH_MAX,
            });
        }

        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (tag, _) => tag.map(str::to_owned),
        };
        Ok(Reference { registry_len: split.registry.len(), name, tag, digest })
    }

    /// Returns `registry/repository`, for example `docker.io/library/alpine`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the registry host with its port, for example `docker.io` or `[::1]:5000`.
    pub fn registry(&self) -> &str {
        &self.name[..self.registry_len]
    }

    /// Returns the repository path, for example `library/alpine`.
    pub fn repository(&self) -> &str {
        &self.name[self.registry_len + 1..]
    }

    /// Returns the tag; `latest` when the reference was written without tag or digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// Returns the digest, which identifies the image when present.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Returns the digest, or an error that shows how to pin a tag-only reference.
    pub fn pinned_digest(&self) -> Result<&Digest, ReferenceError> {
        self.digest.as_ref().ok_or_else(|| ReferenceError::NotPinned {
            familiar: self.familiar(),
            canonical: self.without_digest().to_string(),
        })
    }

    /// Returns this reference with `digest` in place of any digest it had, keeping
    /// the tag as a label.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference { digest: Some(digest), ..self.clone() }
    }

    /// Returns the short form Docker prints: without `docker.io/`, and without
    /// `library/` for official images, for example `alpine:3.9`.
    pub fn familiar(&self) -> String {
        let mut text = self.familiar_name().to_owned();
        self.write_suffix(&mut text);
        text
    }

    /// Returns the name as Docker prints it, without the default registry and namespace.
    ///
    /// Unlike Docker, the registry stays when the repository's first component would
    /// read as a host (`docker.io/0.a/b`), so the familiar form parses back to the
    /// same reference.
    fn familiar_name(&self) -> &str {
        let repository = self.repository();
        let first = repository.split('/').next().unwrap_or_default();
        if self.registry() != DEFAULT_REGISTRY || is_registry_host(first) {
            return &self.name;
        }
        match repository.strip_prefix(OFFICIAL_NAMESPACE).and_then(|rest| rest.strip_prefix('/')) {
            Some(official) if !official.contains('/') => official,
            _ => repository,
        }
    }

    fn without_digest(&self) -> Reference {
        Reference { digest: None, ..self.clone() }
    }

    /// Appends `:tag` and `@digest` when present.
    fn write_suffix(&self, text: &mut String) {
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push('@');
            text.push_str(&digest.to_string());
        }
    }
}

/// Rejects empty input, input longer than any valid reference, a bare image ID (which
/// Docker rejects too) and a bare digest (which Docker would read as a name and a tag).
fn check_whole_input(text: &str) -> Result<(), ReferenceError> {
    if text.is_empty() {
        return Err(ReferenceError::Empty);
    }
    if text.len() > REFERENCE_LENGTH_MAX {
        let preview: String = text.chars().take(PREVIEW_CHARS).collect();
        return Err(ReferenceError::TooLong {
            preview: escape_control_characters(&preview),
            length: text.len(),
            max: REFERENCE_LENGTH_MAX,
        });
    }
    // Checked before any error quotes the input, so no message carries control bytes.
    if let Some((position, character)) = text.char_indices().find(|(_, c)| is_terminal_control(*c)) {
        return Err(ReferenceError::ControlCharacter {
            reference: escape_control_characters(text),
            character,
            position,
        });
    }
    if text.len() == Algorithm::Sha256.hex_len() && is_lowercase_hex(text) {
        return Err(ReferenceError::ImageId(text.to_owned()));
    }
    if !text.contains(['/', '@']) && Digest::parse(text).is_ok() {
        return Err(ReferenceError::DigestWithoutName(text.to_owned()));
    }
    Ok(())
}

fn is_lowercase_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Splits `name[:tag]@digest` at the first `@` and parses the digest.
fn split_digest(text: &str) -> Result<(&str, Option<Digest>), ReferenceError> {
    let Some((name_and_tag, digest)) = text.split_once('@') else {
        return Ok((text, None));
    };
    if digest.is_empty() {
        return Err(ReferenceError::EmptyDigest { reference: text.to_owned() });
    }
    let digest =
        Digest::parse(digest).map_err(|error| ReferenceError::InvalidDigest { reference: text.to_owned(), error })?;
    Ok((name_and_tag, Some(digest)))
}

/// Splits `name[:tag]` at the first `:` after the last `/`, so that a registry port
/// stays in the name, and checks the tag.
fn split_tag<'a>(text: &str, name_and_tag: &'a str) -> Result<(&'a str, Option<&'a str>), ReferenceError> {
    let last_segment = name_and_tag.rfind('/').map_or(0, |slash| slash + 1);
    let Some(colon) = name_and_tag[last_segment..].find(':').map(|n| last_segment + n) else {
        return Ok((name_and_tag, None));
    };
    let (name, tag) = (&name_and_tag[..colon], &name_and_tag[colon + 1..]);

    if last_segment == 0 && name.starts_with('[') {
        return Err(ReferenceError::MissingRepository {
            reference: text.to_owned(),
            registry: name_and_tag.to_owned(),
        });
    }
    if looks_like_digest(tag) {
        return Err(ReferenceError::DigestAsTag {
            reference: text.to_owned(),
            tag: tag.to_owned(),
            suggestion: format!("{name}@{tag}"),
        });
    }
    grammar::check_tag(tag).map_err(|problem| ReferenceError::InvalidTag {
        reference: text.to_owned(),
        tag: tag.to_owned(),
        problem,
    })?;
    Ok((name, Some(tag)))
}

/// Returns whether a tag is really a digest: a known algorithm name, or any algorithm
/// name followed by at least 32 hex characters (the digest grammar's minimum).
fn looks_like_digest(tag: &str) -> bool {
    let Some((algorithm, encoded)) = tag.split_once(':') else {
        return false;
    };
    let is_name = algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
        && algorithm.chars().all(|c| c.is_ascii_alphanumeric());
    let is_hex = encoded.len() >= DIGEST_HEX_LENGTH_MIN && encoded.chars().all(|c| c.is_ascii_hexdigit());
    is_name && (Algorithm::from_name(algorithm).is_some() || is_hex)
}

/// Splits a written name into its registry and repository and applies Docker Hub
/// normalization.
fn split_registry<'a>(text: &str, name: &'a str) -> Result<SplitName<'a>, ReferenceError> {
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if is_registry_host(first) => {
            check_registry(text, first)?;
            if rest.is_empty() {
                return Err(ReferenceError::MissingRepository {
                    reference: text.to_owned(),
                    registry: first.to_owned(),
                });
            }
            (first, rest)
        }
        _ => (DEFAULT_REGISTRY, name),
    };

    let registry = if registry == LEGACY_DEFAULT_REGISTRY { DEFAULT_REGISTRY } else { registry };
    let official = registry == DEFAULT_REGISTRY && !repository.contains('/');
    Ok(SplitName { registry, repository, official })
}

/// A written name split into its normalized registry and its repository as written.
/// Parsing builds the normalized name once from these parts, without copies between.
struct SplitName<'a> {
    registry: &'a str,
    repository: &'a str,
    /// Whether the normalized repository gets the `library/` namespace.
    official: bool,
}

impl SplitName<'_> {
    /// Returns the normalized repository, for error messages.
    fn normalized_repository(&self) -> String {
        if self.official { format!("{OFFICIAL_NAMESPACE}/{}", self.repository) } else { self.repository.to_owned() }
    }

    /// Returns `registry/repository` with the `library/` namespace when it applies.
    fn normalized_name(&self) -> String {
        let namespace_len = if self.official { OFFICIAL_NAMESPACE.len() + 1 } else { 0 };
        let mut name = String::with_capacity(self.registry.len() + 1 + namespace_len + self.repository.len());
        name.push_str(self.registry);
        name.push('/');
        if self.official {
            name.push_str(OFFICIAL_NAMESPACE);
            name.push('/');
        }
        name.push_str(self.repository);
        name
    }
}

/// Returns whether a first path component names a registry host rather than a Docker
/// Hub namespace.
///
/// A component starting with `[` is checked as an IPv6 host too. The path grammar
/// rejects it either way, and the host check explains the problem better.
fn is_registry_host(first: &str) -> bool {
    first == LOCALHOST || first.contains(['.', ':']) || first.starts_with('[')
}

/// Checks a registry host and its optional port.
fn check_registry(text: &str, registry: &str) -> Result<(), ReferenceError> {
    let (host, port) = split_port(registry).map_err(|problem| invalid_registry(text, registry, problem))?;
    grammar::check_host(host).map_err(|problem| invalid_registry(text, registry, problem))?;

    if let Some(port) = port {
        grammar::check_port(port).map_err(|problem| ReferenceError::InvalidPort {
            reference: text.to_owned(),
            registry: registry.to_owned(),
            port: port.to_owned(),
            problem,
        })?;
    }
    Ok(())
}

/// Splits `host[:port]`, where an IPv6 host keeps its brackets.
fn split_port(registry: &str) -> Result<(&str, Option<&str>), HostProblem> {
    if registry.starts_with('[') {
        let Some(close) = registry.find(']') else {
            return Ok((registry, None));
        };
        let (host, rest) = registry.split_at(close + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(HostProblem::TextAfterIpv6(rest.to_owned())),
            },
        };
    }
    Ok(match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    })
}

fn invalid_registry(text: &str, registry: &str, problem: HostProblem) -> ReferenceError {
    ReferenceError::InvalidRegistry { reference: text.to_owned(), registry: registry.to_owned(), problem }
}

/// Checks every path component of the repository; the `library/` namespace that
/// normalization may add is valid by construction.
fn check_repository(text: &str, written_name: &str, split: &SplitName) -> Result<(), ReferenceError> {
    if let Some(character) = grammar::first_uppercase(split.repository) {
        let first = written_name.split_once('/').map(|(first, _)| first);
        let maybe_host = first
            .filter(|first| !is_registry_host(first) && grammar::first_uppercase(first).is_some())
            .map(str::to_owned);
        return Err(ReferenceError::UppercaseRepository {
            reference: text.to_owned(),
            repository: split.normalized_repository(),
            character,
            hint: UppercaseHint { maybe_host },
        });
    }

    for component in split.repository.split('/') {
        if component.is_empty() {
            return Err(ReferenceError::EmptyPathComponent {
                reference: text.to_owned(),
                repository: split.normalized_repository(),
            });
        }
        grammar::check_path_component(component).map_err(|problem| ReferenceError::InvalidPathComponent {
            reference: text.to_owned(),
            component: component.to_owned(),
            problem,
        })?;
    }
    Ok(())
}

impl fmt::Display for Reference {
    /// Writes the fully normalized form, for example
    /// `docker.io/library/alpine:3.9@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(text)
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Reference, D::Error> {
        let text = String::deserialize(deserializer)?;
        Reference::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn official_image_normalizes() {
        let reference = Reference::parse("alpine").unwrap();
        assert_eq!(reference.to_string(), "docker.io/library/alpine:latest");
        assert_eq!(reference.registry(), "docker.io");
        assert_eq!(reference.repository(), "library/alpine");
        assert_eq!(reference.familiar(), "alpine:latest");
    }

    #[test]
    fn tag_and_digest_are_both_kept() {
        let reference = Reference::parse(&format!("alpine:3.9@sha256:{HEX}")).unwrap();
        assert_eq!(reference.tag(), Some("3.9"));
        assert_eq!(reference.pinned_digest().unwrap().hex(), HEX);
        assert_eq!(reference.to_string(), format!("docker.io/library/alpine:3.9@sha256:{HEX}"));
    }

    #[test]
    fn tag_only_reference_is_not_pinned() {
        let error = Reference::parse("alpine:3.9").unwrap().pinned_digest().unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("`alpine:3.9` names a tag, which can move"), "{text}");
        assert!(text.contains("`docker.io/library/alpine:3.9@sha256:<digest>`"), "{text}");
        assert!(text.contains("skopeo inspect docker://docker.io/library/alpine:3.9 --format '{{.Digest}}'"), "{text}");
    }

    #[test]
    fn with_digest_pins_a_tag() {
        let digest = Digest::parse(&format!("sha256:{HEX}")).unwrap();
        let pinned = Reference::parse("ghcr.io/org/app:v1").unwrap().with_digest(digest.clone());
        assert_eq!(pinned.digest(), Some(&digest));
        assert_eq!(pinned.familiar(), format!("ghcr.io/org/app:v1@sha256:{HEX}"));
    }

    #[test]
    fn control_characters_are_escaped_in_errors() {
        let long = format!("alpine\x1b[31m{}", "a".repeat(REFERENCE_LENGTH_MAX));
        for text in ["alpine\x1b[31m:3.9", "ghcr.io/org/app\n:v1", "alpine:3.9\n\x1b[0m", long.as_str()] {
            let error = Reference::parse(text).unwrap_err().to_string();
            assert!(!error.contains(|c: char| c.is_control()), "{error:?}");
            assert!(error.contains("\\u{1b}") || error.contains("\\n"), "{error}");
        }
        let error = Reference::parse("alpine\x1b[31m:3.9").unwrap_err();
        assert!(matches!(error, ReferenceError::ControlCharacter { position: 6, character: '\x1b', .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("`alpine\\u{1b}[31m:3.9`"), "{text}");
        assert!(text.contains("at byte 6"), "{text}");
    }

    #[test]
    fn longest_reference_is_accepted() {
        let path = format!("a/{}", "b".repeat(NAME_LENGTH_MAX - DEFAULT_REGISTRY.len() - 3));
        let digest = Digest::compute(Algorithm::Sha512, b"x");
        let text = format!("{LEGACY_DEFAULT_REGISTRY}/{path}:{}@{digest}", "t".repeat(TAG_LENGTH_MAX));
        assert_eq!(text.len(), REFERENCE_LENGTH_MAX);
        assert_eq!(Reference::parse(&text).unwrap().name().len(), NAME_LENGTH_MAX);

        let longer = format!("{text}0");
        assert!(matches!(Reference::parse(&longer), Err(ReferenceError::TooLong { .. })));
    }
}
