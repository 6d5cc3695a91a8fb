//! OCI content on disk: manifests, indexes and image layouts, and the digest that
//! identifies the image they describe.
//!
//! An image's digest is the digest of the exact manifest (or index) bytes a registry
//! serves, never of a re-serialization. For a multi-platform index the index digest
//! is the subject unless a [`Platform`] selects one platform's manifest, and
//! [`ResolvedImage::chosen`] records which of these happened.
//!
//! # Invariants
//! Every blob read from a layout has the size and digest its descriptor states before
//! its bytes are parsed, and no manifest or index larger than [`MANIFEST_BYTES_MAX`] is
//! read.

mod config;
mod layout;
mod manifest;
mod platform;
mod resolve;

use std::path::PathBuf;

use crate::digest::Digest;
use crate::input::InputError;

pub use config::{CONFIG_BYTES_MAX, DOCKER_IMAGE_CONFIG, OCI_IMAGE_CONFIG};
pub use layout::{
    IMAGE_LAYOUT_VERSION, INDEX_FILE, INDEX_NESTING_MAX, Layout, LayoutLocation, LayoutOptions, OCI_LAYOUT_BYTES_MAX,
    OCI_LAYOUT_FILE, resolve_layout, resolve_layout_with,
};
pub use manifest::{
    ATTESTATION_MANIFEST_TYPE, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_REFERENCE_TYPE_ANNOTATION, Descriptor,
    ImageIndex, ImageManifest, Manifest, MediaType, OCI_INDEX, OCI_MANIFEST, REF_NAME_ANNOTATION, parse_manifest,
};
pub use platform::{Platform, PlatformError};
pub use resolve::{Chosen, ResolvedImage, resolve_manifest_file};

/// Maximum size of a manifest or index: 4 MiB, the limit that the CNCF Distribution
/// registry and most hosted registries apply to manifest uploads.
pub const MANIFEST_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// An error reading, checking or resolving OCI content.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    Input(#[from] InputError),

    #[error("{source_name}: manifest is {size} bytes, over the limit of {max} bytes that registries accept")]
    ManifestTooLarge { source_name: String, size: u64, max: u64 },

    #[error("{source_name}: schemaVersion is {found}; OCI and Docker manifests and indexes have schemaVersion 2")]
    UnsupportedSchemaVersion { source_name: String, found: String },

    #[error(
        "{source_name}: mediaType `{media_type}` is a Docker schema 1 manifest, which registries no longer \
         accept; convert the image to schema 2 or OCI, for example with `skopeo copy --format v2s2`"
    )]
    DockerSchema1 { source_name: String, media_type: String },

    #[error(
        "{source_name}: unsupported mediaType `{media_type}`; expected an image manifest or index: \
         {OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST} or {DOCKER_MANIFEST_LIST}"
    )]
    UnsupportedMediaType { source_name: String, media_type: String },

    #[error(
        "{source_name}: the document has `manifests` and also `config` or `layers`, so it is neither \
         clearly an index nor a manifest; add a `mediaType` field"
    )]
    AmbiguousKind { source_name: String },

    #[error(
        "{source_name}: the document has neither `manifests` (an index) nor `config` and `layers` \
         (an image manifest), and no `mediaType`"
    )]
    UnknownKind { source_name: String },

    #[error("{source_name}: {media_type} is missing the required field `{field}`")]
    MissingField { source_name: String, media_type: MediaType, field: &'static str },

    #[error(
        "{source_name}: mediaType {media_type} does not allow the field `{field}`; \
         the mediaType or the content is wrong"
    )]
    UnexpectedField { source_name: String, media_type: MediaType, field: &'static str },

    #[error("{dir}: not an OCI image layout: {reason}; write one with `skopeo copy docker://IMAGE oci:DIR:TAG`")]
    NotALayout { dir: PathBuf, reason: &'static str },

    #[error(
        "{path}: the path is {found}, but the files of an OCI image layout must be regular files \
         (symbolic links to regular files are followed); write the layout again, for example with `skopeo copy`"
    )]
    NotARegularFile { path: PathBuf, found: &'static str },

    #[error("{path}: imageLayoutVersion is `{found}`; Vouch reads layouts of version {IMAGE_LAYOUT_VERSION}")]
    UnsupportedLayoutVersion { path: PathBuf, found: String },

    #[error("{path}: index.json holds an image manifest; a layout's index.json must be an image index")]
    LayoutIndexNotIndex { path: PathBuf },

    #[error("{path}: index.json lists no images")]
    EmptyLayout { path: PathBuf },

    #[error("{dir}: no image is named `{name}`; available names: {}", list(.available))]
    NameNotFound { dir: PathBuf, name: String, available: Vec<String> },

    #[error(
        "{dir}: index.json lists {} images, so name one as `oci:{dir}:NAME`; available names: {}",
        .available.len(),
        list(.available)
    )]
    SeveralImages { dir: PathBuf, available: Vec<String> },

    #[error("{dir}: {} entries of index.json are named `{name}` ({}); keep one entry per name", .digests.len(), list(.digests))]
    DuplicateName { dir: PathBuf, name: String, digests: Vec<String> },

    #[error("{path}: blob {digest} is missing from the layout")]
    BlobMissing { path: PathBuf, digest: Digest },

    #[error("{path}: blob {digest} is {size} bytes by its descriptor, over the limit of {max} bytes for {kind}")]
    BlobTooLarge { path: PathBuf, digest: Digest, size: u64, max: u64, kind: &'static str },

    #[error("{path}: blob {digest} is {found} bytes, but its descriptor says {expected} bytes")]
    BlobSizeMismatch { path: PathBuf, digest: Digest, expected: u64, found: u64 },

    #[error(
        "{path}: blob content has digest {found}, but its descriptor and file name say {expected}; \
         the layout is corrupt or was modified"
    )]
    BlobDigestMismatch { path: PathBuf, expected: Digest, found: Digest },

    #[error("{source_name}: no manifest for platform {requested}; available platforms: {}", list(.available))]
    PlatformNotFound { source_name: String, requested: Platform, available: Vec<Platform> },

    #[error(
        "{source_name}: {} manifests match platform {requested} ({}); name the variant as well",
        .candidates.len(),
        list(.candidates)
    )]
    AmbiguousPlatform { source_name: String, requested: Platform, candidates: Vec<String> },

    #[error("{source_name}: blob {digest} is more than {max} index levels below index.json")]
    IndexTooDeep { source_name: String, digest: Digest, max: usize },

    #[error(
        "{path}: the image config records platform {found}, not the requested {requested}; \
         request {found} or choose the image built for {requested}"
    )]
    ConfigPlatformMismatch { path: PathBuf, requested: Box<Platform>, found: Box<Platform> },

    #[error(
        "{path}: the manifest's config has mediaType `{media_type}`, not an image config \
         ({OCI_IMAGE_CONFIG} or {DOCKER_IMAGE_CONFIG}), so it records no platform to check; \
         attest it without a platform"
    )]
    NotAnImageConfig { path: PathBuf, media_type: String },

    #[error("invalid layout options: {field} is {value}, over the maximum of {max}")]
    InvalidLayoutOptions { field: &'static str, value: u64, max: u64 },

    #[error("invalid OCI layout location `{text}`: {reason}; expected `oci:DIR` or `oci:DIR:NAME`")]
    InvalidLocation { text: String, reason: &'static str },
}

/// Joins values with `, `, or returns `(none)` for an empty list.
fn list<T: std::fmt::Display>(values: &[T]) -> String {
    if values.is_empty() {
        return "(none)".to_owned();
    }
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
