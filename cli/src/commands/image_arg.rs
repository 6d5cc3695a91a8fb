//! The IMAGE argument of `status` and `verify`: a digest, or a reference pinned by
//! digest whose repository becomes the default `--repository`. An explicit
//! `--repository` is normalized with the same reference rules.

use anyhow::{Context, bail};
use vouch_protocol::digest::{Algorithm, Digest};
use vouch_protocol::reference::Reference;

/// An image to query and the repository to ask about, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageQuery {
    /// The image digest.
    pub digest: Digest,
    /// The repository name (`registry/path`) from `--repository` or the reference.
    pub repository: Option<String>,
}

/// Parses IMAGE (`sha256:<hex>` or `name@sha256:<hex>`); `repository` (the
/// `--repository` option) is normalized and wins over the reference's repository.
pub fn parse(image: &str, repository: Option<String>) -> anyhow::Result<ImageQuery> {
    let repository = repository.as_deref().map(normalize_repository).transpose()?;
    if looks_like_digest(image) {
        let digest = Digest::parse(image).with_context(|| format!("invalid IMAGE {image:?}"))?;
        return Ok(ImageQuery { digest, repository });
    }
    let reference = Reference::parse(image)
        .with_context(|| format!("IMAGE {image:?} is neither a digest (sha256:<hex>) nor a reference"))?;
    let digest = reference.pinned_digest()?.clone();
    let repository = repository.or_else(|| Some(reference.name().to_owned()));
    Ok(ImageQuery { digest, repository })
}

/// Returns whether `text` is written as a bare digest (`sha256:…` or `sha512:…`). Its
/// errors are then digest errors, because a reference would read `sha256` as a name
/// and the rest as a tag.
fn looks_like_digest(text: &str) -> bool {
    !text.contains(['@', '/']) && text.split_once(':').is_some_and(|(name, _)| Algorithm::from_name(name).is_some())
}

/// Normalizes a `--repository` name as Docker does for the name of an image
/// reference (`busybox` becomes `docker.io/library/busybox`), rejecting a tag, a
/// digest or anything that is not a repository name with the fix.
pub fn normalize_repository(text: &str) -> anyhow::Result<String> {
    let reference = Reference::parse(text).with_context(|| format!("invalid --repository {text:?}"))?;
    let name = reference.name();
    if text.contains('@') || has_tag(text) {
        bail!("invalid --repository {text:?}: give a repository name without tag or digest, such as {name}");
    }
    Ok(name.to_owned())
}

/// Returns whether `text` has a `:` after its last `/`, which a reference reads as a
/// tag (a registry port comes before the first `/`).
fn has_tag(text: &str) -> bool {
    let last_component = text.rsplit('/').next().unwrap_or(text);
    last_component.contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "ae39a6f5c07297d7ab64dbd4f82c77c874cc6a94cea29fdec309d0992574b4f7";

    #[test]
    fn digest_has_no_repository() {
        let query = parse(&format!("sha256:{HEX}"), None).unwrap();
        assert_eq!(query.digest.hex(), HEX);
        assert_eq!(query.repository, None);
    }

    #[test]
    fn reference_gives_normalized_repository() {
        let query = parse(&format!("busybox@sha256:{HEX}"), None).unwrap();
        assert_eq!(query.digest.hex(), HEX);
        assert_eq!(query.repository.as_deref(), Some("docker.io/library/busybox"));
    }

    #[test]
    fn repository_option_wins() {
        let query = parse(&format!("ghcr.io/acme/api@sha256:{HEX}"), Some("ghcr.io/acme/other".to_owned())).unwrap();
        assert_eq!(query.repository.as_deref(), Some("ghcr.io/acme/other"));
    }

    #[test]
    fn tag_only_reference_is_rejected() {
        let error = parse("busybox:1.36", None).unwrap_err();
        assert!(format!("{error:#}").contains("busybox"), "{error:#}");
    }

    #[test]
    fn repository_option_is_normalized() {
        let cases = [
            ("busybox", "docker.io/library/busybox"),
            ("docker.io/library/busybox", "docker.io/library/busybox"),
            ("index.docker.io/library/busybox", "docker.io/library/busybox"),
            ("acme/api", "docker.io/acme/api"),
            ("localhost:5000/team/app", "localhost:5000/team/app"),
            ("ghcr.io/acme/api", "ghcr.io/acme/api"),
        ];
        for (given, normalized) in cases {
            let query = parse(&format!("sha256:{HEX}"), Some(given.to_owned())).unwrap();
            assert_eq!(query.repository.as_deref(), Some(normalized), "{given}");
        }
    }

    #[test]
    fn repository_option_rejects_tag_and_digest() {
        for given in ["docker.io/library/busybox:latest", "busybox:1.36", &format!("busybox@sha256:{HEX}")] {
            let error = format!("{:#}", parse(&format!("sha256:{HEX}"), Some(given.to_owned())).unwrap_err());
            assert!(error.contains(&format!("invalid --repository {given:?}")), "{error}");
            assert!(error.contains("such as docker.io/library/busybox"), "{error}");
        }
    }

    #[test]
    fn repository_option_rejects_non_names() {
        for given in ["", "REGISTRY/team/app", "a b", "\u{0}\u{ff}", "ghcr.io//app", "ghcr.io/"] {
            let error = format!("{:#}", parse(&format!("sha256:{HEX}"), Some(given.to_owned())).unwrap_err());
            assert!(error.contains("invalid --repository"), "{given:?}: {error}");
        }
    }

    #[test]
    fn malformed_digest_is_a_digest_error() {
        for image in ["sha256:55", "sha512:00", &format!("sha256:{}", HEX.to_uppercase())] {
            let error = format!("{:#}", parse(image, None).unwrap_err());
            assert!(error.contains(&format!("invalid IMAGE {image:?}")), "{error}");
            assert!(error.contains("invalid digest"), "{error}");
            assert!(!error.contains("tag"), "{error}");
        }
    }
}
