//! OCI and Docker image manifests and indexes, parsed from their exact bytes.
//!
//! The kind of a document comes from its `mediaType` field, or, when that field is
//! absent (allowed by OCI), from its shape: `manifests` makes an index, `config` and
//! `layers` make an image manifest.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::platform::Platform;
use super::{MANIFEST_BYTES_MAX, OciError};
use crate::digest::Digest;
use crate::input;

/// Media type of an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of a Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of a Docker manifest list (multi-platform), schema 2.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Media types of Docker schema 1 manifests, which registries no longer accept.
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// Annotation that names an entry of an OCI layout's `index.json`, the `TAG` of `oci:DIR:TAG`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Annotation with which BuildKit marks an attestation manifest inside an index.
pub const DOCKER_REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";

/// Value of [`DOCKER_REFERENCE_TYPE_ANNOTATION`] on attestation manifests.
pub const ATTESTATION_MANIFEST_TYPE: &str = "attestation-manifest";

/// Platform field value (`os` and `architecture`) of BuildKit attestation manifests.
const UNKNOWN_PLATFORM: &str = "unknown";

/// The four manifest and index media types that Vouch reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// [`OCI_MANIFEST`].
    OciManifest,
    /// [`OCI_INDEX`].
    OciIndex,
    /// [`DOCKER_MANIFEST`].
    DockerManifest,
    /// [`DOCKER_MANIFEST_LIST`].
    DockerManifestList,
}

impl MediaType {
    /// All supported media types.
    pub const ALL: [MediaType; 4] =
        [MediaType::OciManifest, MediaType::OciIndex, MediaType::DockerManifest, MediaType::DockerManifestList];

    /// Returns the media type string.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::OciManifest => OCI_MANIFEST,
            MediaType::OciIndex => OCI_INDEX,
            MediaType::DockerManifest => DOCKER_MANIFEST,
            MediaType::DockerManifestList => DOCKER_MANIFEST_LIST,
        }
    }

    /// Looks up a supported media type by its exact string.
    pub fn from_name(name: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|media_type| media_type.as_str() == name)
    }

    /// Returns whether documents of this type list other manifests.
    pub fn is_index(self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content descriptor: the media type, digest and size by which a manifest or index
/// refers to another blob.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(expecting = "an OCI content descriptor object")]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the described blob.
    pub media_type: String,
    /// Digest of the described blob's exact bytes.
    pub digest: Digest,
    /// Size of the described blob in bytes.
    pub size: u64,
    /// Platform of the described image, in index entries.
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Annotations such as [`REF_NAME_ANNOTATION`].
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Artifact type of the described artifact manifest, if any.
    #[serde(default)]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// Returns the `org.opencontainers.image.ref.name` annotation.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(REF_NAME_ANNOTATION).map(String::as_str)
    }

    /// Returns whether this index entry is a BuildKit attestation manifest rather than
    /// an image: platform `unknown/unknown`, or the annotation
    /// `vnd.docker.reference.type=attestation-manifest`.
    pub fn is_attestation(&self) -> bool {
        let unknown_platform =
            self.platform.as_ref().is_some_and(|p| p.os == UNKNOWN_PLATFORM && p.architecture == UNKNOWN_PLATFORM);
        let annotated = self.annotations.get(DOCKER_REFERENCE_TYPE_ANNOTATION).map(String::as_str)
            == Some(ATTESTATION_MANIFEST_TYPE);
        unknown_platform || annotated
    }

    /// Returns whether the described blob is an index or manifest list.
    pub fn is_index(&self) -> bool {
        MediaType::from_name(&self.media_type).is_some_and(MediaType::is_index)
    }
}

/// An image manifest: one image's config and layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageManifest {
    /// The `mediaType` field, or [`MediaType::OciManifest`] when the field is absent.
    pub media_type: MediaType,
    /// Whether the document has a `mediaType` field.
    pub media_type_declared: bool,
    /// The image configuration blob.
    pub config: Descriptor,
    /// The layer blobs, base layer first.
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to, for artifacts such as signatures.
    pub subject: Option<Descriptor>,
    /// The `artifactType` field of artifact manifests.
    pub artifact_type: Option<String>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// An image index or Docker manifest list: manifests for several platforms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageIndex {
    /// The `mediaType` field, or [`MediaType::OciIndex`] when the field is absent.
    pub media_type: MediaType,
    /// Whether the document has a `mediaType` field.
    pub media_type_declared: bool,
    /// The listed manifests, in document order.
    pub manifests: Vec<Descriptor>,
    /// The manifest this index refers to, if any.
    pub subject: Option<Descriptor>,
    /// The index's annotations.
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// Returns the entries that describe runnable images: entries with a platform
    /// that are not attestation manifests.
    pub fn image_entries(&self) -> impl Iterator<Item = &Descriptor> {
        self.manifests.iter().filter(|entry| entry.platform.is_some() && !entry.is_attestation())
    }

    /// Returns the platforms of [`ImageIndex::image_entries`], in document order.
    pub fn platforms(&self) -> Vec<Platform> {
        self.image_entries().filter_map(|entry| entry.platform.clone()).collect()
    }
}

/// A parsed manifest document.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "manifests are parsed one at a time, never stored in bulk")]
pub enum Manifest {
    /// A single image.
    Image(ImageManifest),
    /// An index of images, usually one per platform.
    Index(ImageIndex),
}

impl Manifest {
    /// Returns the document's media type, declared or inferred from its shape.
    pub fn media_type(&self) -> MediaType {
        match self {
            Manifest::Image(image) => image.media_type,
            Manifest::Index(index) => index.media_type,
        }
    }
}

/// Every top-level field of manifests and indexes. When `mediaType` is absent, the
/// fields present decide the kind.
#[derive(Deserialize)]
#[serde(expecting = "an OCI image manifest or index object")]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<u64>,
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    artifact_type: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// The schema version of every supported manifest and index.
const SCHEMA_VERSION: u64 = 2;

/// Parses a manifest or index from its exact bytes, naming it `source_name` in errors.
///
/// A field written twice in the document or in a descriptor is rejected, because JSON
/// readers disagree on which copy wins. Annotation maps are the exception: there the
/// last copy wins.
pub fn parse_manifest(source_name: &str, bytes: &[u8]) -> Result<Manifest, OciError> {
    if bytes.len() as u64 > MANIFEST_BYTES_MAX {
        return Err(OciError::ManifestTooLarge {
            source_name: source_name.to_owned(),
            size: bytes.len() as u64,
            max: MANIFEST_BYTES_MAX,
        });
    }
    let raw: RawManifest = input::parse_json(source_name, bytes)?;
    if raw.schema_version != Some(SCHEMA_VERSION) {
        let found = raw.schema_version.map_or("missing".to_owned(), |v| v.to_string());
        return Err(OciError::UnsupportedSchemaVersion { source_name: source_name.to_owned(), found });
    }

    let media_type = match raw.media_type.as_deref() {
        Some(name) => declared_media_type(source_name, name)?,
        None => media_type_from_shape(source_name, &raw)?,
    };
    if media_type.is_index() {
        build_index(source_name, media_type, raw).map(Manifest::Index)
    } else {
        build_image(source_name, media_type, raw).map(Manifest::Image)
    }
}

/// Looks up the `mediaType` field, explaining schema 1 and unknown types.
fn declared_media_type(source_name: &str, name: &str) -> Result<MediaType, OciError> {
    if DOCKER_SCHEMA1.contains(&name) {
        return Err(OciError::DockerSchema1 { source_name: source_name.to_owned(), media_type: name.to_owned() });
    }
    MediaType::from_name(name).ok_or_else(|| OciError::UnsupportedMediaType {
        source_name: source_name.to_owned(),
        media_type: name.to_owned(),
    })
}

/// Infers the kind of a document without `mediaType` from the fields it has.
fn media_type_from_shape(source_name: &str, raw: &RawManifest) -> Result<MediaType, OciError> {
    let image_fields = raw.config.is_some() || raw.layers.is_some();
    match (raw.manifests.is_some(), image_fields) {
        (true, false) => Ok(MediaType::OciIndex),
        (false, true) => Ok(MediaType::OciManifest),
        (true, true) => Err(OciError::AmbiguousKind { source_name: source_name.to_owned() }),
        (false, false) => Err(OciError::UnknownKind { source_name: source_name.to_owned() }),
    }
}

fn build_index(source_name: &str, media_type: MediaType, raw: RawManifest) -> Result<ImageIndex, OciError> {
    let image_field = if raw.config.is_some() { Some("config") } else { raw.layers.as_ref().map(|_| "layers") };
    if let Some(field) = image_field {
        return Err(OciError::UnexpectedField { source_name: source_name.to_owned(), media_type, field });
    }
    let manifests = raw.manifests.ok_or_else(|| missing(source_name, media_type, "manifests"))?;
    Ok(ImageIndex {
        media_type,
        media_type_declared: raw.media_type.is_some(),
        manifests,
        subject: raw.subject,
        annotations: raw.annotations,
    })
}

fn build_image(source_name: &str, media_type: MediaType, raw: RawManifest) -> Result<ImageManifest, OciError> {
    if raw.manifests.is_some() {
        return Err(OciError::UnexpectedField { source_name: source_name.to_owned(), media_type, field: "manifests" });
    }
    let config = raw.config.ok_or_else(|| missing(source_name, media_type, "config"))?;
    let layers = raw.layers.ok_or_else(|| missing(source_name, media_type, "layers"))?;
    Ok(ImageManifest {
        media_type,
        media_type_declared: raw.media_type.is_some(),
        config,
        layers,
        subject: raw.subject,
        artifact_type: raw.artifact_type,
        annotations: raw.annotations,
    })
}

fn missing(source_name: &str, media_type: MediaType, field: &'static str) -> OciError {
    OciError::MissingField { source_name: source_name.to_owned(), media_type, field }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn descriptor(media_type: &str) -> String {
        format!(r#"{{"mediaType":"{media_type}","digest":"{DIGEST}","size":0}}"#)
    }

    #[test]
    fn kind_comes_from_shape_without_media_type() {
        let index = format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, descriptor(OCI_MANIFEST));
        assert!(matches!(parse_manifest("i", index.as_bytes()), Ok(Manifest::Index(i)) if !i.media_type_declared));
        let image = format!(r#"{{"schemaVersion":2,"config":{},"layers":[]}}"#, descriptor("c"));
        assert_eq!(parse_manifest("m", image.as_bytes()).unwrap().media_type(), MediaType::OciManifest);
    }

    #[test]
    fn ambiguous_and_unknown_shapes_are_rejected() {
        let both = format!(r#"{{"schemaVersion":2,"manifests":[],"config":{}}}"#, descriptor("c"));
        assert!(matches!(parse_manifest("b", both.as_bytes()), Err(OciError::AmbiguousKind { .. })));
        assert!(matches!(parse_manifest("n", br#"{"schemaVersion":2}"#), Err(OciError::UnknownKind { .. })));
    }

    #[test]
    fn declared_type_must_fit_the_content() {
        let text =
            format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","config":{},"layers":[]}}"#, descriptor("c"));
        let error = parse_manifest("x.json", text.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("`config`"), "{error}");
        let text = format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","layers":[]}}"#);
        let error = parse_manifest("x.json", text.as_bytes()).unwrap_err();
        assert!(matches!(error, OciError::MissingField { field: "config", .. }), "{error}");
    }

    #[test]
    fn schema1_and_unknown_types_are_explained() {
        let text = format!(r#"{{"schemaVersion":2,"mediaType":"{}"}}"#, DOCKER_SCHEMA1[1]);
        assert!(matches!(parse_manifest("s", text.as_bytes()), Err(OciError::DockerSchema1 { .. })));
        let error = parse_manifest("u", br#"{"schemaVersion":2,"mediaType":"text/plain"}"#).unwrap_err();
        assert!(error.to_string().contains("`text/plain`"), "{error}");
    }

    #[test]
    fn schema_version_must_be_two() {
        let error = parse_manifest("v", br#"{"schemaVersion":1,"manifests":[]}"#).unwrap_err();
        assert!(error.to_string().contains("schemaVersion is 1"), "{error}");
        let error = parse_manifest("v", br#"{"manifests":[]}"#).unwrap_err();
        assert!(error.to_string().contains("schemaVersion is missing"), "{error}");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let text = format!(r#"{{"schemaVersion":2,"manifests":[],"manifests":[{}]}}"#, descriptor(OCI_MANIFEST));
        assert!(matches!(parse_manifest("d", text.as_bytes()), Err(OciError::Input(_))));
    }

    #[test]
    fn attestation_entries_are_not_images() {
        let text = format!(
            r#"{{"schemaVersion":2,"manifests":[
                {{"mediaType":"{OCI_MANIFEST}","digest":"{DIGEST}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}},
                {{"mediaType":"{OCI_MANIFEST}","digest":"{DIGEST}","size":1,"platform":{{"os":"unknown","architecture":"unknown"}}}},
                {{"mediaType":"{OCI_MANIFEST}","digest":"{DIGEST}","size":1,"platform":{{"os":"linux","architecture":"arm64"}},
                  "annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}}]}}"#
        );
        let Ok(Manifest::Index(index)) = parse_manifest("a", text.as_bytes()) else { panic!("not an index") };
        assert_eq!(index.platforms(), vec![Platform::parse("linux/amd64").unwrap()]);
    }
}
