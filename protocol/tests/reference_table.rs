//! Table and property tests of image reference parsing and normalization.

use proptest::prelude::*;
use vouch_protocol::reference::{NAME_LENGTH_MAX, REFERENCE_LENGTH_MAX, TAG_LENGTH_MAX};
use vouch_protocol::{Algorithm, Digest, Reference, ReferenceError};

const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn sha256() -> String {
    format!("sha256:{HEX}")
}

fn sha512() -> String {
    Digest::compute(Algorithm::Sha512, b"vouch").to_string()
}

/// A valid input, its normalized form and its familiar form.
struct Valid {
    input: String,
    normalized: String,
    familiar: String,
}

fn valid(input: &str, normalized: &str, familiar: &str) -> Valid {
    Valid { input: input.to_owned(), normalized: normalized.to_owned(), familiar: familiar.to_owned() }
}

fn valid_cases() -> Vec<Valid> {
    let d = sha256();
    let d512 = sha512();
    let long_tag = "t".repeat(TAG_LENGTH_MAX);
    // `docker.io/library/` is 18 characters, so this name is exactly at the limit.
    let edge_name = "a".repeat(NAME_LENGTH_MAX - "docker.io/library/".len());
    vec![
        valid("alpine", "docker.io/library/alpine:latest", "alpine:latest"),
        valid("alpine:3.9", "docker.io/library/alpine:3.9", "alpine:3.9"),
        valid("library/alpine:3.9", "docker.io/library/alpine:3.9", "alpine:3.9"),
        valid("docker.io/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
        valid("docker.io/library/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
        valid("index.docker.io/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
        valid("index.docker.io/user/app:1", "docker.io/user/app:1", "user/app:1"),
        valid("user/app", "docker.io/user/app:latest", "user/app:latest"),
        valid("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
        valid(&format!("alpine@{d}"), &format!("docker.io/library/alpine@{d}"), &format!("alpine@{d}")),
        valid(&format!("alpine:3.9@{d}"), &format!("docker.io/library/alpine:3.9@{d}"), &format!("alpine:3.9@{d}")),
        valid(&format!("alpine@{d512}"), &format!("docker.io/library/alpine@{d512}"), &format!("alpine@{d512}")),
        valid("ghcr.io/org/app:v1.2.3", "ghcr.io/org/app:v1.2.3", "ghcr.io/org/app:v1.2.3"),
        valid("quay.io/a/b/c/d:x", "quay.io/a/b/c/d:x", "quay.io/a/b/c/d:x"),
        valid("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        valid("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
        valid("localhost:5000/x:y", "localhost:5000/x:y", "localhost:5000/x:y"),
        valid("registry:5000/app", "registry:5000/app:latest", "registry:5000/app:latest"),
        valid("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest"),
        valid("[::1]/repo", "[::1]/repo:latest", "[::1]/repo:latest"),
        valid("[::1]:5000/repo:tag", "[::1]:5000/repo:tag", "[::1]:5000/repo:tag"),
        valid("[2001:db8::1]:443/a/b", "[2001:db8::1]:443/a/b:latest", "[2001:db8::1]:443/a/b:latest"),
        valid("[FE80::1]:5000/repo", "[FE80::1]:5000/repo:latest", "[FE80::1]:5000/repo:latest"),
        valid("Registry.Example.COM/app", "Registry.Example.COM/app:latest", "Registry.Example.COM/app:latest"),
        valid(
            "my-registry.example.com:65535/a",
            "my-registry.example.com:65535/a:latest",
            "my-registry.example.com:65535/a:latest",
        ),
        valid("example.com:1/a", "example.com:1/a:latest", "example.com:1/a:latest"),
        valid("a_b__c-d---e/g", "docker.io/a_b__c-d---e/g:latest", "a_b__c-d---e/g:latest"),
        valid("user/a_b__c-d---e.f", "docker.io/user/a_b__c-d---e.f:latest", "user/a_b__c-d---e.f:latest"),
        valid("alpine:_tag", "docker.io/library/alpine:_tag", "alpine:_tag"),
        valid("alpine:V1.0-RC_2", "docker.io/library/alpine:V1.0-RC_2", "alpine:V1.0-RC_2"),
        valid("alpine:sha256", "docker.io/library/alpine:sha256", "alpine:sha256"),
        // Docker reads a one-component `host:port` as a name and a tag.
        valid("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"),
        valid("example.com:5000", "docker.io/library/example.com:5000", "example.com:5000"),
        valid(
            &format!("alpine:{long_tag}"),
            &format!("docker.io/library/alpine:{long_tag}"),
            &format!("alpine:{long_tag}"),
        ),
        valid(&edge_name, &format!("docker.io/library/{edge_name}:latest"), &format!("{edge_name}:latest")),
        valid(
            &format!("localhost:5000/org/app:1@{d}"),
            &format!("localhost:5000/org/app:1@{d}"),
            &format!("localhost:5000/org/app:1@{d}"),
        ),
        valid("0/1", "docker.io/0/1:latest", "0/1:latest"),
        // Docker would print `0.a/b`, which reads back as a registry host.
        valid("docker.io/0.a/b", "docker.io/0.a/b:latest", "docker.io/0.a/b:latest"),
        valid("docker.io/localhost/b", "docker.io/localhost/b:latest", "docker.io/localhost/b:latest"),
    ]
}

/// An invalid input and the parts its error message must name.
struct Invalid {
    input: String,
    parts: Vec<String>,
}

fn invalid(input: &str, parts: &[&str]) -> Invalid {
    Invalid { input: input.to_owned(), parts: parts.iter().map(|p| (*p).to_owned()).collect() }
}

fn invalid_cases() -> Vec<Invalid> {
    let d = sha256();
    let too_long_tag = "t".repeat(TAG_LENGTH_MAX + 1);
    let past_edge_name = "a".repeat(NAME_LENGTH_MAX - "docker.io/library/".len() + 1);
    let host_name = format!("example.com/{}", "b".repeat(NAME_LENGTH_MAX - "example.com/".len() + 1));
    vec![
        invalid("", &["empty"]),
        invalid(&format!("alpine:sha256:{HEX}"), &[&format!("alpine@sha256:{HEX}"), "digest written as a tag"]),
        invalid(&format!("localhost:5000/app:sha256:{HEX}"), &[&format!("localhost:5000/app@sha256:{HEX}")]),
        invalid("alpine:sha256:abc", &["alpine@sha256:abc", "digest written as a tag"]),
        invalid(&format!("alpine:sha384:{HEX}"), &[&format!("alpine@sha384:{HEX}")]),
        invalid(&format!("sha256:{HEX}"), &[&format!("sha256:{HEX}"), "without a repository"]),
        invalid(HEX, &[HEX, "image ID"]),
        invalid("alpine:", &["alpine:", "tag ``", "empty"]),
        invalid("alpine@", &["alpine@", "empty digest"]),
        invalid("alpine:3.9@", &["alpine:3.9@", "empty digest"]),
        invalid("alpine@sha256:abc", &["sha256:abc", "64 hex"]),
        invalid("alpine@md5:d41d8cd98f00b204e9800998ecf8427e", &["md5"]),
        invalid(&format!("alpine@sha256:{}", HEX.to_uppercase()), &["not lowercase hex"]),
        invalid(&format!("alpine@{d}@{d}"), &["'@'"]),
        invalid("alpine:.tag", &["`.tag`", "starts with '.'"]),
        invalid("alpine:-tag", &["`-tag`", "starts with '-'"]),
        invalid("alpine:ta+g", &["`ta+g`", "'+'"]),
        invalid("alpine:latest:extra", &["`latest:extra`", "':'"]),
        invalid(&format!("alpine:{too_long_tag}"), &[&too_long_tag, "129 characters"]),
        invalid("Alpine", &["`library/Alpine`", "must be lowercase"]),
        invalid("docker.io/Library/alpine", &["`Library/alpine`", "must be lowercase"]),
        invalid("Foo/bar", &["`Foo/bar`", "must be lowercase", "`Foo` is a registry host"]),
        invalid("LOCALHOST/x", &["LOCALHOST/x", "must be lowercase"]),
        invalid("example.com/App", &["`App`", "must be lowercase"]),
        invalid("/alpine", &["`/alpine`", "empty path component"]),
        invalid("alpine/", &["`alpine/`", "empty path component"]),
        invalid("user//app", &["`user//app`", "empty path component"]),
        invalid("docker.io//app", &["`/app`", "empty path component"]),
        invalid("example.com/", &["`example.com`", "not followed by a repository"]),
        invalid("-alpine", &["`-alpine`", "starts with '-'"]),
        invalid("alpine-", &["`alpine-`", "ends with '-'"]),
        invalid("user/.app", &["`.app`", "starts with '.'"]),
        invalid("user/app_", &["`app_`", "ends with '_'"]),
        invalid("user/a..b", &["`a..b`", "`..`"]),
        invalid("user/a___b", &["`a___b`", "`___`"]),
        invalid("user/a.-b", &["`a.-b`", "`.-`"]),
        invalid("user/a b", &["`a b`", "' '"]),
        invalid(" alpine", &["` alpine`", "' '"]),
        invalid("user/app!", &["`app!`", "'!'"]),
        invalid("ünïcode/app", &["`ünïcode`", "'ü'"]),
        invalid("example.com/äpp", &["`äpp`", "'ä'"]),
        invalid("alpine:tägé", &["`tägé`", "'ä'"]),
        invalid("example.com:/app", &["`example.com:`", "port ``", "is empty"]),
        invalid("example.com:0/app", &["port `0`", "out of range"]),
        invalid("example.com:65536/app", &["port `65536`", "out of range"]),
        invalid("example.com:99999999999999999999/app", &["port `99999999999999999999`", "out of range"]),
        invalid("example.com:50a0/app", &["port `50a0`", "'a'"]),
        invalid("localhost:http/app", &["port `http`", "'h'"]),
        invalid("[::1]:/repo", &["`[::1]:`", "port ``"]),
        invalid("[::1]:70000/repo", &["port `70000`", "out of range"]),
        invalid("[::1/repo", &["`[::1`", "closing `]`"]),
        invalid("[]/repo", &["`[]`", "no IPv6 address"]),
        invalid("[fe80::1%eth0]:5000/repo", &["`[fe80::1%eth0]:5000`", "'%'"]),
        invalid("[::1]x/repo", &["`[::1]x`", "`x` after `]`"]),
        invalid("[::1]:5000", &["`[::1]:5000`", "not followed by a repository"]),
        invalid("ex_ample.com/app", &["`ex_ample.com`", "'_'"]),
        invalid("-example.com/app", &["`-example.com`", "`-example`"]),
        invalid("example-.com/app", &["`example-`"]),
        invalid("example..com/app", &["`example..com`", "empty label"]),
        invalid(".example.com/app", &["`.example.com`", "empty label"]),
        invalid(&past_edge_name, &[&past_edge_name, "256 characters", "over the limit of 255"]),
        invalid(&host_name, &[&host_name, "256 characters"]),
        invalid(&"a".repeat(REFERENCE_LENGTH_MAX + 1), &[&"a".repeat(60), "longer than any valid reference"]),
    ]
}

#[test]
fn table_has_enough_cases() {
    assert!(valid_cases().len() + invalid_cases().len() >= 60);
}

#[test]
fn valid_references_normalize() {
    for case in valid_cases() {
        let reference = Reference::parse(&case.input).unwrap_or_else(|e| panic!("{}: {e}", case.input));
        assert_eq!(reference.to_string(), case.normalized, "normalized form of {}", case.input);
        assert_eq!(reference.familiar(), case.familiar, "familiar form of {}", case.input);
        assert_eq!(Reference::parse(&case.normalized).as_ref(), Ok(&reference), "reparse of {}", case.normalized);
        assert_eq!(Reference::parse(&case.familiar).as_ref(), Ok(&reference), "reparse of {}", case.familiar);
    }
}

#[test]
fn invalid_references_name_the_part() {
    for case in invalid_cases() {
        let Err(error) = Reference::parse(&case.input) else {
            panic!("`{}` parsed but should be rejected", case.input);
        };
        let message = error.to_string();
        for part in &case.parts {
            assert!(message.contains(part.as_str()), "error for `{}` lacks `{part}`: {message}", case.input);
        }
    }
}

#[test]
fn digest_as_tag_is_never_a_tag() {
    let error = Reference::parse(&format!("nginx:sha256:{HEX}")).unwrap_err();
    assert!(matches!(error, ReferenceError::DigestAsTag { .. }), "{error:?}");
}

#[test]
fn parts_are_split() {
    let reference = Reference::parse(&format!("[::1]:5000/org/app:v2@{}", sha256())).unwrap();
    assert_eq!(reference.registry(), "[::1]:5000");
    assert_eq!(reference.repository(), "org/app");
    assert_eq!(reference.name(), "[::1]:5000/org/app");
    assert_eq!(reference.tag(), Some("v2"));
    assert_eq!(reference.digest().map(Digest::to_string), Some(sha256()));
}

#[test]
fn digest_only_reference_has_no_tag() {
    let reference = Reference::parse(&format!("alpine@{}", sha256())).unwrap();
    assert_eq!(reference.tag(), None);
    assert_eq!(reference.pinned_digest().map(Digest::to_string), Ok(sha256()));
}

#[test]
fn pinned_digest_error_shows_fix() {
    let error = Reference::parse("ghcr.io/org/app:v1").unwrap().pinned_digest().unwrap_err();
    let text = error.to_string();
    assert!(text.contains("`ghcr.io/org/app:v1` names a tag, which can move"), "{text}");
    assert!(text.contains("`ghcr.io/org/app:v1@sha256:<digest>`"), "{text}");
    assert!(text.contains("docker buildx imagetools inspect ghcr.io/org/app:v1"), "{text}");
}

#[test]
fn serde_uses_normalized_text() {
    let reference = Reference::parse("alpine:3.9").unwrap();
    let json = serde_json::to_string(&reference).unwrap();
    assert_eq!(json, "\"docker.io/library/alpine:3.9\"");
    assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), reference);
    assert!(serde_json::from_str::<Reference>("\"Alpine\"").is_err());
}

/// Generates a path component: lowercase alphanumeric runs joined by the grammar's separators.
fn path_component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}"
}

fn registry() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("docker.io".to_owned())),
        Just(Some("index.docker.io".to_owned())),
        Just(Some("localhost".to_owned())),
        "[a-zA-Z0-9]{1,8}(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?){1,3}".prop_map(Some),
        ("[a-z]{1,8}", 1u16..=65535).prop_map(|(host, port)| Some(format!("{host}:{port}"))),
        ("[0-9a-f]{1,4}(:[0-9a-f]{0,4}){1,5}", proptest::option::of(1u16..=65535)).prop_map(|(address, port)| {
            Some(match port {
                Some(port) => format!("[{address}]:{port}"),
                None => format!("[{address}]"),
            })
        }),
    ]
}

fn digest() -> impl Strategy<Value = Option<Digest>> {
    proptest::option::of((any::<bool>(), any::<[u8; 8]>()).prop_map(|(long, seed)| {
        let algorithm = if long { Algorithm::Sha512 } else { Algorithm::Sha256 };
        Digest::compute(algorithm, &seed)
    }))
}

/// Generates reference text from parts that each match the grammar.
fn reference_text() -> impl Strategy<Value = String> {
    (
        registry(),
        proptest::collection::vec(path_component(), 1..4),
        proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        digest(),
    )
        .prop_map(|(registry, path, tag, digest)| {
            // Without a registry, a first component with `.` would read as a host.
            let first_is_host = path.len() > 1 && (path[0].contains('.') || path[0] == "localhost");
            let registry = registry.or_else(|| first_is_host.then(|| "docker.io".to_owned()));
            let mut text = registry.map(|r| format!("{r}/")).unwrap_or_default();
            text.push_str(&path.join("/"));
            if let Some(tag) = tag {
                text.push(':');
                text.push_str(&tag);
            }
            if let Some(digest) = digest {
                text.push('@');
                text.push_str(&digest.to_string());
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_references_round_trip(text in reference_text()) {
        let reference = Reference::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(Reference::parse(&reference.to_string()), Ok(reference.clone()));
        prop_assert_eq!(Reference::parse(&reference.familiar()), Ok(reference.clone()));
        prop_assert!(reference.tag().is_some() || reference.digest().is_some());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        if let Ok(reference) = Reference::parse(&text) {
            prop_assert_eq!(Reference::parse(&reference.to_string()), Ok(reference));
        }
    }

    #[test]
    fn near_valid_text_never_panics(text in "[a-zA-Z0-9./:@_\\[\\]-]{0,80}") {
        if let Ok(reference) = Reference::parse(&text) {
            prop_assert_eq!(Reference::parse(&reference.to_string()), Ok(reference.clone()));
            prop_assert_eq!(Reference::parse(&reference.familiar()), Ok(reference));
        }
    }
}
