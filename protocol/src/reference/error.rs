//! Errors of image reference parsing, each naming the offending part and the fix.

use std::fmt;

use crate::digest::DigestError;

/// An error in an image reference, or a tag-only reference used where a digest is
/// needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "image reference is empty; expected `[registry/]repository[:tag][@digest]`, \
         for example `alpine:3.9` or `ghcr.io/org/app@sha256:<64 hex>`"
    )]
    Empty,

    #[error("image reference `{preview}…` is {length} bytes, longer than any valid reference ({max} bytes)")]
    TooLong { preview: String, length: usize, max: usize },

    #[error(
        "invalid reference `{reference}`: control character {character:?} at byte {position}; \
         an image reference has only printable characters"
    )]
    ControlCharacter { reference: String, character: char, position: usize },

    #[error(
        "`{0}` is an image ID (64 hex characters), not a reference; name the repository and \
         put the digest after `@`, for example `alpine@sha256:{0}`"
    )]
    ImageId(String),

    #[error("`{0}` is a digest without a repository name; write `repository@{0}`, for example `alpine@{0}`")]
    DigestWithoutName(String),

    #[error("invalid reference `{reference}`: `{tag}` is a digest written as a tag; use `{suggestion}` instead")]
    DigestAsTag { reference: String, tag: String, suggestion: String },

    #[error("invalid reference `{reference}`: tag `{tag}` {problem}")]
    InvalidTag { reference: String, tag: String, problem: TagProblem },

    #[error(
        "invalid reference `{reference}`: `@` is followed by an empty digest; \
         write `@sha256:` and 64 hex characters, or remove the `@`"
    )]
    EmptyDigest { reference: String },

    #[error("invalid reference `{reference}`: {error}")]
    InvalidDigest { reference: String, error: DigestError },

    #[error("invalid reference `{reference}`: registry host `{registry}` {problem}")]
    InvalidRegistry { reference: String, registry: String, problem: HostProblem },

    #[error("invalid reference `{reference}`: port `{port}` of registry `{registry}` {problem}")]
    InvalidPort { reference: String, registry: String, port: String, problem: PortProblem },

    #[error(
        "invalid reference `{reference}`: registry `{registry}` is not followed by a repository; write `{registry}/repository`"
    )]
    MissingRepository { reference: String, registry: String },

    #[error(
        "invalid reference `{reference}`: repository name `{repository}` must be lowercase (found {character:?}){hint}"
    )]
    UppercaseRepository { reference: String, repository: String, character: char, hint: UppercaseHint },

    #[error(
        "invalid reference `{reference}`: repository `{repository}` has an empty path component; remove the extra `/`"
    )]
    EmptyPathComponent { reference: String, repository: String },

    #[error("invalid reference `{reference}`: path component `{component}` {problem}")]
    InvalidPathComponent { reference: String, component: String, problem: PathProblem },

    #[error(
        "invalid reference `{reference}`: name `{name}` is {length} characters, over the limit of {max} \
         for registry, `/` and repository together"
    )]
    NameTooLong { reference: String, name: String, length: usize, max: usize },

    #[error(
        "`{familiar}` names a tag, which can move; pin the image by digest: `{canonical}@sha256:<digest>` \
         (find the digest with `skopeo inspect docker://{canonical} --format '{{{{.Digest}}}}'` \
         or `docker buildx imagetools inspect {canonical}`)"
    )]
    NotPinned { familiar: String, canonical: String },
}

/// The problem found in a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagProblem {
    /// `:` with nothing after it.
    Empty,
    /// The tag is longer than [`super::TAG_LENGTH_MAX`].
    TooLong { length: usize },
    /// The tag starts with `.`, `-` or a character outside the tag alphabet.
    InvalidFirstCharacter(char),
    /// A character outside letters, digits, `_`, `.` and `-`.
    InvalidCharacter(char),
}

impl fmt::Display for TagProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagProblem::Empty => f.write_str("is empty; write a tag such as `:latest` after the `:` or remove the `:`"),
            TagProblem::TooLong { length } => {
                write!(f, "is {length} characters, over the limit of {}", super::TAG_LENGTH_MAX)
            }
            TagProblem::InvalidFirstCharacter(character) => {
                write!(f, "starts with {character:?}; a tag starts with a letter, digit or `_`")
            }
            TagProblem::InvalidCharacter(character) => {
                write!(f, "contains {character:?}; a tag has only letters, digits, `_`, `.` and `-`")
            }
        }
    }
}

/// The problem found in a registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostProblem {
    /// Nothing before the port or the `/`.
    Empty,
    /// Two dots in a row, or a dot at the start or end.
    EmptyLabel,
    /// A character outside letters, digits, `-` and `.`.
    InvalidCharacter(char),
    /// A dot-separated label that starts or ends with `-`.
    LabelHyphen(String),
    /// `[` without the closing `]`.
    UnclosedBracket,
    /// `[]` with no address inside.
    EmptyIpv6,
    /// A character other than hex digits and `:` inside the brackets.
    InvalidIpv6Character(char),
    /// Text after `]` that is not `:port`.
    TextAfterIpv6(String),
}

impl fmt::Display for HostProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostProblem::Empty => f.write_str("is empty"),
            HostProblem::EmptyLabel => f.write_str("has an empty label (two dots in a row, or a dot at either end)"),
            HostProblem::InvalidCharacter(character) => {
                write!(f, "contains {character:?}; a host name has only letters, digits, `-` and `.`")
            }
            HostProblem::LabelHyphen(label) => write!(f, "has the label `{label}`, which starts or ends with `-`"),
            HostProblem::UnclosedBracket => f.write_str("opens `[` without a closing `]`"),
            HostProblem::EmptyIpv6 => f.write_str("has no IPv6 address inside `[]`"),
            HostProblem::InvalidIpv6Character(character) => write!(
                f,
                "contains {character:?} inside `[]`; an IPv6 host has only hex digits and `:` (no zone or dotted IPv4 part)"
            ),
            HostProblem::TextAfterIpv6(text) => {
                write!(f, "has `{text}` after `]`; only `:port` may follow an IPv6 address")
            }
        }
    }
}

/// The problem found in a registry port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortProblem {
    /// `:` after the host with no digits.
    Empty,
    /// A character that is not a decimal digit.
    NotNumeric(char),
    /// Zero or more than 65535.
    OutOfRange,
}

impl fmt::Display for PortProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortProblem::Empty => f.write_str("is empty; write digits after the `:` or remove it"),
            PortProblem::NotNumeric(character) => write!(f, "contains {character:?}; a port is decimal digits"),
            PortProblem::OutOfRange => f.write_str("is out of range; a port is from 1 to 65535"),
        }
    }
}

/// The problem found in a path component of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// A component with no characters.
    Empty,
    /// A character outside lowercase letters, digits and the separators `.`, `_`, `-`.
    InvalidCharacter(char),
    /// The component starts with `.`, `_` or `-`.
    StartsWithSeparator(char),
    /// The component ends with `.`, `_` or `-`.
    EndsWithSeparator(char),
    /// A run of separators other than `.`, `_`, `__` or one or more `-`.
    InvalidSeparator(String),
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = "a path component is lowercase letters and digits joined by `.`, `_`, `__` or dashes";
        match self {
            PathProblem::Empty => f.write_str("is empty"),
            PathProblem::InvalidCharacter(character) => write!(f, "contains {character:?}; {rule}"),
            PathProblem::StartsWithSeparator(character) => write!(f, "starts with {character:?}; {rule}"),
            PathProblem::EndsWithSeparator(character) => write!(f, "ends with {character:?}; {rule}"),
            PathProblem::InvalidSeparator(run) => write!(f, "contains the separator `{run}`; {rule}"),
        }
    }
}

/// The advice added to an uppercase repository error when the first component might
/// have been meant as a registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UppercaseHint {
    /// The uppercase first component, when the reference had more than one.
    pub(super) maybe_host: Option<String>,
}

impl fmt::Display for UppercaseHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.maybe_host {
            Some(host) => write!(
                f,
                "; if `{host}` is a registry host, write it with its domain or port \
                 (for example `{host}.example.com` or `{host}:5000`), because a first component \
                 without `.` or `:` names a Docker Hub namespace"
            ),
            None => Ok(()),
        }
    }
}
