//! The image configuration blob, read only for the platform it records.

use std::path::Path;

use serde::Deserialize;

use super::OciError;
use super::manifest::Descriptor;
use super::platform::Platform;
use crate::input;

/// Media type of an OCI image configuration.
pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// Media type of a Docker image configuration (schema 2).
pub const DOCKER_IMAGE_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Default maximum size of an image config blob: 4 MiB, the bound Vouch also applies to
/// manifests. A config contains the platform, runtime settings and one history entry
/// per layer.
pub const CONFIG_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// The platform fields of an image config; the other fields are not read.
#[derive(Deserialize)]
#[serde(expecting = "an OCI image config object")]
struct ConfigPlatform {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

/// Rejects a config descriptor whose media type is not an image config, such as the
/// empty config of an artifact manifest, because such configs record no platform.
pub(super) fn check_media_type(path: &Path, descriptor: &Descriptor) -> Result<(), OciError> {
    if matches!(descriptor.media_type.as_str(), OCI_IMAGE_CONFIG | DOCKER_IMAGE_CONFIG) {
        return Ok(());
    }
    Err(OciError::NotAnImageConfig { path: path.to_owned(), media_type: descriptor.media_type.clone() })
}

/// Reads `os`, `architecture` and `variant` from an image config's bytes.
pub(super) fn parse_platform(path: &Path, bytes: &[u8]) -> Result<Platform, OciError> {
    let config: ConfigPlatform = input::parse_json(&path.display().to_string(), bytes)?;
    Ok(Platform { os: config.os, architecture: config.architecture, variant: config.variant })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_platform_reads_variant() {
        let bytes = br#"{"architecture":"arm","os":"linux","variant":"v7","rootfs":{"type":"layers"}}"#;
        let platform = parse_platform(Path::new("config"), bytes).unwrap();
        assert_eq!(platform.to_string(), "linux/arm/v7");
    }

    #[test]
    fn parse_platform_wrong_shape_names_config() {
        for bytes in [&b"[]"[..], b"\"linux\"", b"7"] {
            let message = parse_platform(Path::new("config"), bytes).unwrap_err().to_string();
            assert!(message.contains("expected an OCI image config object"), "{message}");
            assert!(!message.contains("struct "), "{message}");
        }
    }

    #[test]
    fn parse_platform_names_missing_field() {
        let error = parse_platform(Path::new("blobs/sha256/abc"), br#"{"os":"linux"}"#).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("architecture"), "{message}");
        assert!(message.contains("blobs/sha256/abc"), "{message}");
    }
}
