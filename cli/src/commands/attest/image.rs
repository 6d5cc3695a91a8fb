//! The image an attestation is about: a registry reference pinned by digest, or a
//! manifest of an OCI image layout folder.

use anyhow::{Context, bail};
use vouch_protocol::Digest;
use vouch_protocol::oci::{Chosen, LayoutLocation, Platform};
use vouch_protocol::reference::Reference;

/// Prefix of an OCI image layout argument: `oci:DIR[:TAG]`.
pub const OCI_LAYOUT_PREFIX: &str = "oci:";

/// The subject of the statement: a name and the digest that identifies the image.
pub struct Target {
    /// Subject name: `registry/repository` for a registry image, the layout folder for
    /// an OCI layout.
    pub name: String,
    /// Digest of the manifest or index that is attested.
    pub digest: Digest,
    /// Description of the chosen manifest or index, for the summary (OCI layouts only).
    pub chosen: Option<String>,
}

/// Resolves the IMAGE argument of `vouch attest`.
///
/// NOTE: layout files are read with the protocol's own manifest size limit
/// (`oci::MANIFEST_BYTES_MAX`), not `--max-input-bytes`.
pub fn resolve(image: &str, platform: Option<&str>) -> anyhow::Result<Target> {
    if image.starts_with(OCI_LAYOUT_PREFIX) {
        return resolve_layout(image, platform);
    }
    if platform.is_some() {
        bail!(
            "--platform applies to `oci:DIR` layouts only; a registry digest already names one manifest, so pass the platform manifest's digest"
        );
    }
    resolve_reference(image)
}

/// Parses a registry reference and requires a digest; the digest wins over a tag.
fn resolve_reference(image: &str) -> anyhow::Result<Target> {
    let reference = Reference::parse(image)?;
    let digest = reference.pinned_digest()?.clone();
    if let Some(tag) = reference.tag() {
        tracing::debug!(tag, digest = %digest, "the image reference has a tag and a digest; the digest identifies the image");
    }
    Ok(Target { name: reference.name().to_owned(), digest, chosen: None })
}

/// Resolves `DIR[:TAG]` in an OCI image layout, choosing a platform's manifest of an
/// index when `--platform` is given.
fn resolve_layout(image: &str, platform: Option<&str>) -> anyhow::Result<Target> {
    let location = LayoutLocation::parse(image)?;
    let platform = platform.map(Platform::parse).transpose().context("invalid --platform")?;
    let resolved = location.resolve(platform.as_ref())?;
    if let (None, Chosen::Index { platforms }) = (&platform, &resolved.chosen) {
        tracing::debug!(
            platforms = platforms.len(),
            "attesting the whole index; pass --platform to attest one platform's manifest"
        );
    }
    Ok(Target {
        name: layout_subject_name(&location),
        digest: resolved.digest,
        chosen: Some(resolved.chosen.to_string()),
    })
}

/// Names the subject after the layout folder and the entry's ref name, such as
/// `app-layout:v1`, because a layout has no registry name.
fn layout_subject_name(location: &LayoutLocation) -> String {
    let folder = location
        .dir
        .file_name()
        .map_or_else(|| location.dir.display().to_string(), |name| name.to_string_lossy().into_owned());
    match &location.name {
        Some(name) => format!("{folder}:{name}"),
        None => folder,
    }
}
