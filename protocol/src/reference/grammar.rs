//! Checks of each part of a reference against the distribution reference grammar.
//!
//! The grammar (github.com/distribution/reference, `reference.go`):
//!
//! ```text
//! host             := domain-name | "[" ipv6-hex-and-colons "]"
//! domain-name      := domain-component ("." domain-component)*
//! domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! port             := [0-9]+
//! path-component   := [a-z0-9]+ (separator [a-z0-9]+)*
//! separator        := "." | "_" | "__" | "-"+
//! tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! ```
//!
//! Each check returns the problem found, and the caller adds the reference text.

use super::TAG_LENGTH_MAX;
use super::error::{HostProblem, PathProblem, PortProblem, TagProblem};

/// Number of decimal digits of the largest TCP port, 65535.
const PORT_DIGITS_MAX: usize = 5;

/// Checks a registry host without its port: a domain name or a bracketed IPv6 literal.
pub(super) fn check_host(host: &str) -> Result<(), HostProblem> {
    if host.is_empty() {
        return Err(HostProblem::Empty);
    }
    if let Some(inner) = host.strip_prefix('[') {
        return check_ipv6_literal(inner);
    }
    for component in host.split('.') {
        check_domain_component(component)?;
    }
    Ok(())
}

/// Checks the text after `[` of an IPv6 host: hex digits and colons, then `]`.
fn check_ipv6_literal(inner: &str) -> Result<(), HostProblem> {
    let Some(address) = inner.strip_suffix(']') else {
        return Err(HostProblem::UnclosedBracket);
    };
    if address.is_empty() {
        return Err(HostProblem::EmptyIpv6);
    }
    match address.chars().find(|c| !(c.is_ascii_hexdigit() || *c == ':')) {
        Some(character) => Err(HostProblem::InvalidIpv6Character(character)),
        None => Ok(()),
    }
}

/// Checks one dot-separated label of a domain name.
fn check_domain_component(component: &str) -> Result<(), HostProblem> {
    if component.is_empty() {
        return Err(HostProblem::EmptyLabel);
    }
    if let Some(character) = component.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Err(HostProblem::InvalidCharacter(character));
    }
    if component.starts_with('-') || component.ends_with('-') {
        return Err(HostProblem::LabelHyphen(component.to_owned()));
    }
    Ok(())
}

/// Checks a registry port: decimal digits naming a port from 1 to 65535.
pub(super) fn check_port(port: &str) -> Result<(), PortProblem> {
    if port.is_empty() {
        return Err(PortProblem::Empty);
    }
    if let Some(character) = port.chars().find(|c| !c.is_ascii_digit()) {
        return Err(PortProblem::NotNumeric(character));
    }
    if port.len() > PORT_DIGITS_MAX {
        return Err(PortProblem::OutOfRange);
    }
    let value: u32 = port.parse().map_err(|_| PortProblem::OutOfRange)?;
    if value == 0 || value > u32::from(u16::MAX) {
        return Err(PortProblem::OutOfRange);
    }
    Ok(())
}

/// Checks one slash-separated component of a repository path.
///
/// Uppercase letters are reported by the caller before this runs, because Docker
/// gives them their own message.
pub(super) fn check_path_component(component: &str) -> Result<(), PathProblem> {
    if let Some(character) = component.chars().find(|c| !is_path_character(*c)) {
        return Err(PathProblem::InvalidCharacter(character));
    }
    let bytes = component.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return Err(PathProblem::Empty);
    };
    if is_separator(first) {
        return Err(PathProblem::StartsWithSeparator(char::from(first)));
    }
    if is_separator(last) {
        return Err(PathProblem::EndsWithSeparator(char::from(last)));
    }
    check_separators(bytes)
}

/// Checks that each run of separator bytes is `.`, `_`, `__` or one or more `-`.
fn check_separators(bytes: &[u8]) -> Result<(), PathProblem> {
    let mut start = 0;
    while start < bytes.len() {
        if !is_separator(bytes[start]) {
            start += 1;
            continue;
        }
        let end = bytes[start..].iter().position(|b| !is_separator(*b)).map_or(bytes.len(), |n| start + n);
        let run = &bytes[start..end];
        let valid = matches!(run, b"." | b"_" | b"__") || run.iter().all(|b| *b == b'-');
        if !valid {
            let run = String::from_utf8_lossy(run).into_owned();
            return Err(PathProblem::InvalidSeparator(run));
        }
        start = end;
    }
    Ok(())
}

fn is_path_character(character: char) -> bool {
    matches!(character, 'a'..='z' | '0'..='9' | '.' | '_' | '-')
}

fn is_separator(byte: u8) -> bool {
    matches!(byte, b'.' | b'_' | b'-')
}

/// Checks a tag: a word character, then up to 127 word characters, `.` or `-`.
pub(super) fn check_tag(tag: &str) -> Result<(), TagProblem> {
    let Some(first) = tag.chars().next() else {
        return Err(TagProblem::Empty);
    };
    if !is_word_character(first) {
        return Err(TagProblem::InvalidFirstCharacter(first));
    }
    if let Some(character) = tag.chars().find(|c| !(is_word_character(*c) || *c == '.' || *c == '-')) {
        return Err(TagProblem::InvalidCharacter(character));
    }

    // Every character is ASCII now, so the byte length is the character count.
    if tag.len() > TAG_LENGTH_MAX {
        return Err(TagProblem::TooLong { length: tag.len() });
    }
    Ok(())
}

fn is_word_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// Returns the first uppercase ASCII letter of `text`, which a repository may not contain.
pub(super) fn first_uppercase(text: &str) -> Option<char> {
    text.chars().find(char::is_ascii_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_follow_grammar() {
        for valid in ["a.b", "a_b", "a__b", "a-b", "a---b", "a.b_c__d-e"] {
            assert_eq!(check_path_component(valid), Ok(()), "{valid}");
        }
        for (invalid, run) in [("a..b", ".."), ("a___b", "___"), ("a._b", "._"), ("a-.b", "-.")] {
            assert_eq!(check_path_component(invalid), Err(PathProblem::InvalidSeparator(run.to_owned())));
        }
    }

    #[test]
    fn port_range_edges() {
        assert_eq!(check_port("1"), Ok(()));
        assert_eq!(check_port("65535"), Ok(()));
        assert_eq!(check_port("65536"), Err(PortProblem::OutOfRange));
        assert_eq!(check_port("0"), Err(PortProblem::OutOfRange));
        assert_eq!(check_port("100000"), Err(PortProblem::OutOfRange));
    }

    #[test]
    fn tag_length_edge() {
        assert_eq!(check_tag(&"a".repeat(TAG_LENGTH_MAX)), Ok(()));
        assert_eq!(check_tag(&"a".repeat(TAG_LENGTH_MAX + 1)), Err(TagProblem::TooLong { length: TAG_LENGTH_MAX + 1 }));
    }
}
