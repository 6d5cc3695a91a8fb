//! The image an attestation is about: a registry reference pinned by digest, or a
//! manifest of an OCI image layout folder.

use anyhow::{Context, bail};
use vouch_protocol::Digest;
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
    /// What was chosen and why, for the summary (OCI layouts only).
    pub chosen: Option<String>,
}

/// Resolves the IMAGE argument of `vouch attest`.
pub fn resolve(image: &str, platform: Option<&str>, max_input_bytes: u64) -> anyhow::Result<Target> {
    if let Some(layout) = image.strip_prefix(OCI_LAYOUT_PREFIX) {
        return resolve_layout(layout, platform, max_input_bytes);
    }
    if platform.is_some() {
        bail!("--platform applies to `oci:DIR` layouts only; a registry digest already names one manifest, so pass the platform manifest's digest");
    }
    resolve_reference(image)
}

/// Parses a registry reference and requires a digest; the digest wins over a tag.
fn resolve_reference(image: &str) -> anyhow::Result<Target> {
    let reference = Reference::parse(image).with_context(|| format!("invalid image `{image}`"))?;
    let digest = reference.pinned_digest()?.clone();
    if let Some(tag) = reference.tag() {
        tracing::debug!(tag, digest = %digest, "the image reference has a tag and a digest; the digest identifies the image");
    }
    Ok(Target { name: reference.name().to_owned(), digest, chosen: None })
}

/// Resolves `DIR[:TAG]` in an OCI image layout.
fn resolve_layout(layout: &str, platform: Option<&str>, max_input_bytes: u64) -> anyhow::Result<Target> {
    let _ = (layout, platform, max_input_bytes);
    bail!("TODO: OCI layouts")
}
