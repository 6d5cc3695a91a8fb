//! The IMAGE argument of `status` and `verify`: a digest, or a reference pinned by
//! digest whose repository becomes the default `--repository`.

use anyhow::Context;
use vouch_protocol::digest::Digest;
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
/// `--repository` option) wins over the reference's repository.
pub fn parse(image: &str, repository: Option<String>) -> anyhow::Result<ImageQuery> {
    if !image.contains('@')
        && let Ok(digest) = Digest::parse(image)
    {
        return Ok(ImageQuery { digest, repository });
    }
    let reference = Reference::parse(image)
        .with_context(|| format!("IMAGE {image:?} is neither a digest (sha256:<hex>) nor a reference"))?;
    let digest = reference.pinned_digest()?.clone();
    let repository = repository.or_else(|| Some(reference.name().to_owned()));
    Ok(ImageQuery { digest, repository })
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
}
