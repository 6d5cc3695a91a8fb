//! Resolution of a manifest file, with an optional platform, to the digest that
//! identifies the image.

use std::fmt;
use std::path::Path;

use super::manifest::{Descriptor, ImageIndex, Manifest, parse_manifest};
use super::platform::Platform;
use super::{MANIFEST_BYTES_MAX, OciError};
use crate::digest::Digest;
use crate::input::read_file_bounded;

/// The image a manifest, index or layout entry resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    /// Digest of the exact manifest or index bytes: the image's identity.
    pub digest: Digest,
    /// Media type a registry serves the manifest or index with.
    pub media_type: String,
    /// Size of the manifest or index in bytes.
    pub size: u64,
    /// The kind of document the digest names.
    pub chosen: Chosen,
}

/// The kind of document a [`ResolvedImage`] digest names: one manifest, an index, or
/// one platform's manifest selected from an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chosen {
    /// A single-platform image manifest.
    SingleManifest,
    /// A multi-platform index, standing for all of its platforms.
    Index {
        /// Platforms of the index's image entries, without attestation manifests.
        platforms: Vec<Platform>,
    },
    /// One platform's manifest, selected from a multi-platform index.
    PlatformManifest {
        /// The platform of the selected entry, as the index writes it.
        platform: Platform,
        /// Digest of the index the entry was selected from.
        index: Digest,
        /// All platforms of that index, without attestation manifests.
        platforms: Vec<Platform>,
    },
}

impl fmt::Display for Chosen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chosen::SingleManifest => f.write_str("single manifest"),
            Chosen::Index { platforms } => write!(f, "index (all platforms: {})", super::list(platforms)),
            Chosen::PlatformManifest { platform, index, .. } => {
                write!(f, "platform manifest {platform} of index {index}")
            }
        }
    }
}

/// Resolves a manifest or index file, such as the output of
/// `skopeo inspect --raw` or `docker buildx imagetools inspect --raw`.
///
/// The digest is the SHA-256 of the file's exact bytes, as a registry computes it.
/// With `platform`, an index resolves to the matching entry's digest, taken from the
/// entry's descriptor because the file contains no other blobs.
///
/// A single manifest is returned whatever `platform` is, because its platform is
/// recorded only in the image config blob, which a lone manifest file comes without.
/// [`super::Layout::resolve`] reads the config and checks it.
pub fn resolve_manifest_file(path: &Path, platform: Option<&Platform>) -> Result<ResolvedImage, OciError> {
    let bytes = read_file_bounded(path, MANIFEST_BYTES_MAX)?;
    let source_name = path.display().to_string();
    let manifest = parse_manifest(&source_name, &bytes)?;
    let digest = Digest::sha256(&bytes);
    let size = bytes.len() as u64;
    let media_type = manifest.media_type().as_str().to_owned();

    let chosen = match (manifest, platform) {
        (Manifest::Image(_), _) => Chosen::SingleManifest,
        (Manifest::Index(index), None) => Chosen::Index { platforms: index.platforms() },
        (Manifest::Index(index), Some(requested)) => {
            let entry = select_platform(&source_name, &index, requested)?
                .ok_or_else(|| platform_not_found(&source_name, requested, index.platforms()))?;
            return Ok(platform_manifest(entry, digest, &index));
        }
    };
    Ok(ResolvedImage { digest, media_type, size, chosen })
}

/// Returns the one image entry of `index` whose platform matches `requested`, `None` if
/// no entry matches, or an error if several do.
pub(super) fn select_platform<'a>(
    source_name: &str,
    index: &'a ImageIndex,
    requested: &Platform,
) -> Result<Option<&'a Descriptor>, OciError> {
    let matching: Vec<&Descriptor> = index
        .image_entries()
        .filter(|entry| entry.platform.as_ref().is_some_and(|platform| requested.matches(platform)))
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [entry] => Ok(Some(entry)),
        several => Err(OciError::AmbiguousPlatform {
            source_name: source_name.to_owned(),
            requested: requested.clone(),
            candidates: several.iter().map(|entry| describe_entry(entry)).collect(),
        }),
    }
}

/// Builds the result for an index entry selected by platform, from its descriptor.
fn platform_manifest(entry: &Descriptor, index_digest: Digest, index: &ImageIndex) -> ResolvedImage {
    ResolvedImage {
        digest: entry.digest.clone(),
        media_type: entry.media_type.clone(),
        size: entry.size,
        chosen: platform_choice(entry, index_digest, index),
    }
}

/// Records that `entry` was selected by platform from the index `index_digest`.
pub(super) fn platform_choice(entry: &Descriptor, index_digest: Digest, index: &ImageIndex) -> Chosen {
    let platform = entry.platform.clone().expect("select_platform returns only entries with a platform");
    Chosen::PlatformManifest { platform, index: index_digest, platforms: index.platforms() }
}

pub(super) fn platform_not_found(source_name: &str, requested: &Platform, available: Vec<Platform>) -> OciError {
    OciError::PlatformNotFound { source_name: source_name.to_owned(), requested: requested.clone(), available }
}

/// Writes an index entry as `platform digest` for error messages.
fn describe_entry(entry: &Descriptor) -> String {
    match &entry.platform {
        Some(platform) => format!("{platform} {}", entry.digest),
        None => entry.digest.to_string(),
    }
}
