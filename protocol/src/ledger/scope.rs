//! Binding scopes: which repository names a policy binding covers, and which of several
//! matching bindings wins.
//!
//! # Grammar
//! - `*` is the default scope: it matches every name, and images seen under no name.
//! - `registry/path/*` matches every repository under that prefix, at any depth
//!   (`ghcr.io/acme/*` matches `ghcr.io/acme/api` and `ghcr.io/acme/tools/lint`).
//! - Any other pattern is an exact repository name (`ghcr.io/acme/api`).
//!
//! # Invariants
//! The most specific match wins: an exact name beats every prefix, a longer prefix
//! beats a shorter one, and the default scope loses to all. Two different patterns
//! never have equal specificity for one name, so the winner never depends on order.

use std::fmt;

/// Maximum length of a scope pattern in bytes.
pub const SCOPE_BYTES_MAX: usize = 256;

/// Errors from parsing a scope pattern.
#[derive(Debug, thiserror::Error)]
#[error("invalid scope {pattern:?}: {reason}; use `*`, `registry/path/*` or an exact repository name")]
pub struct ScopeError {
    pattern: String,
    reason: String,
}

/// A parsed scope pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `*`: every name.
    Default,
    /// `prefix/*`: every name that starts with `prefix/`.
    Prefix(String),
    /// One repository name.
    Exact(String),
}

impl Scope {
    /// Parses a pattern.
    pub fn parse(pattern: &str) -> Result<Scope, ScopeError> {
        let invalid = |reason: &str| ScopeError { pattern: pattern.to_owned(), reason: reason.to_owned() };
        if pattern.len() > SCOPE_BYTES_MAX {
            return Err(invalid(&format!("it is {} bytes, over the limit of {SCOPE_BYTES_MAX}", pattern.len())));
        }
        if pattern == "*" {
            return Ok(Scope::Default);
        }
        let (body, prefix) = match pattern.strip_suffix("/*") {
            Some(body) => (body, true),
            None => (pattern, false),
        };
        if body.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some(bad) = body.chars().find(|c| !is_name_char(*c)) {
            return Err(invalid(&format!("character {bad:?} is not allowed; `*` may only end the pattern as `/*`")));
        }
        if body.split('/').any(str::is_empty) {
            return Err(invalid("it has an empty path segment"));
        }
        Ok(if prefix { Scope::Prefix(body.to_owned()) } else { Scope::Exact(body.to_owned()) })
    }

    /// Returns whether the scope covers `name`; the empty name (an image seen under no
    /// name) is covered by the default scope only.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Scope::Default => true,
            Scope::Prefix(prefix) => {
                name.len() > prefix.len() + 1
                    && name.starts_with(prefix.as_str())
                    && name[prefix.len()..].starts_with('/')
            }
            Scope::Exact(exact) => name == exact,
        }
    }

    /// Returns the specificity: a larger value wins.
    pub fn specificity(&self) -> (u8, usize) {
        match self {
            Scope::Default => (0, 0),
            Scope::Prefix(prefix) => (1, prefix.len()),
            Scope::Exact(_) => (2, 0),
        }
    }

    /// Returns the most specific of `scopes` that matches `name`, with its index.
    pub fn most_specific<'a>(scopes: impl IntoIterator<Item = &'a Scope>, name: &str) -> Option<(usize, &'a Scope)> {
        scopes
            .into_iter()
            .enumerate()
            .filter(|(_, scope)| scope.matches(name))
            .max_by_key(|(_, scope)| scope.specificity())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Default => f.write_str("*"),
            Scope::Prefix(prefix) => write!(f, "{prefix}/*"),
            Scope::Exact(name) => f.write_str(name),
        }
    }
}

fn is_name_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '.' | '-' | '_' | '/' | ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_scope_wins_whatever_the_order() {
        let scopes: Vec<Scope> =
            ["*", "ghcr.io/*", "ghcr.io/acme/*", "ghcr.io/acme/api"].iter().map(|p| Scope::parse(p).unwrap()).collect();
        let winner = |name: &str| Scope::most_specific(&scopes, name).map(|(_, s)| s.to_string());
        assert_eq!(winner("ghcr.io/acme/api").as_deref(), Some("ghcr.io/acme/api"));
        assert_eq!(winner("ghcr.io/acme/tools/lint").as_deref(), Some("ghcr.io/acme/*"));
        assert_eq!(winner("ghcr.io/other/app").as_deref(), Some("ghcr.io/*"));
        assert_eq!(winner("docker.io/library/busybox").as_deref(), Some("*"));
        assert_eq!(winner("").as_deref(), Some("*"));
        let reversed: Vec<Scope> = scopes.iter().rev().cloned().collect();
        let reversed_winner = Scope::most_specific(&reversed, "ghcr.io/acme/x").map(|(_, s)| s.to_string());
        assert_eq!(reversed_winner.as_deref(), Some("ghcr.io/acme/*"));
    }

    #[test]
    fn prefix_skips_longer_segment_and_itself() {
        let scope = Scope::parse("ghcr.io/acme/*").unwrap();
        assert!(!scope.matches("ghcr.io/acmecorp/api"));
        assert!(!scope.matches("ghcr.io/acme"));
        assert!(!scope.matches("ghcr.io/acme/"));
        assert!(!Scope::parse("ghcr.io/acme/api").unwrap().matches(""));
    }

    #[test]
    fn bad_patterns_name_the_problem() {
        for (pattern, needle) in [
            ("", "empty"),
            ("/*", "empty"),
            ("ghcr.io/*/api", "`*` may only end"),
            ("ghcr.io//api", "empty path segment"),
            ("GHCR.io/x", "'G'"),
        ] {
            let message = Scope::parse(pattern).unwrap_err().to_string();
            assert!(message.contains(needle), "{pattern:?}: {message}");
        }
        let at_limit = "a".repeat(SCOPE_BYTES_MAX);
        assert!(Scope::parse(&at_limit).is_ok());
        let over = "a".repeat(SCOPE_BYTES_MAX + 1);
        assert!(Scope::parse(&over).unwrap_err().to_string().contains("over the limit"));
    }
}
