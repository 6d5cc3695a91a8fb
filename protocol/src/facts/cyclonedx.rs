//! Reader of CycloneDX JSON BOMs, spec versions 1.2 to 1.6.
//!
//! Rules:
//! - `bomFormat` must be `CycloneDX` and `specVersion` one of
//!   [`SPEC_VERSIONS`]; anything else is rejected with the supported list.
//! - Components are `components[]` and their nested `components[]`, flattened in
//!   document order (each component before its children).
//! - The subject is `metadata.component`: its name, and its digest when its
//!   `version` is a digest (syft writes the image's digest there) or, failing
//!   that, when a `aquasecurity:trivy:RepoDigest` property contains `name@digest`.
//!   Trivy's `ImageID` property is a config digest and is never used.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::{Component, FactsError, Sbom, SbomFormat, json::Json, non_empty};
use crate::digest::Digest;
use crate::input::parse_json;

/// The CycloneDX spec versions this reader accepts.
pub const SPEC_VERSIONS: [&str; 5] = ["1.2", "1.3", "1.4", "1.5", "1.6"];

/// The Trivy property of the metadata component that names a registry digest.
const TRIVY_REPO_DIGEST_PROPERTY: &str = "aquasecurity:trivy:RepoDigest";

/// Reads a CycloneDX JSON file.
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<Sbom, FactsError> {
    let bom: CycloneDxBom = parse_json(source_name, bytes)?;
    Ok(bom.into_sbom())
}

/// Reads a decoded CycloneDX BOM, such as a predicate.
pub fn from_value(source_name: &str, value: &Value) -> Result<Sbom, FactsError> {
    read(source_name, Json::Value(value))
}

/// Reads the JSON in either form; [`from_value`] reads a decoded value.
pub(crate) fn read(source_name: &str, json: Json<'_>) -> Result<Sbom, FactsError> {
    let bom: CycloneDxBom = json.deserialize(source_name)?;
    Ok(bom.into_sbom())
}

#[derive(Deserialize)]
#[serde(expecting = "a CycloneDX JSON SBOM object")]
#[serde(rename_all = "camelCase")]
struct CycloneDxBom {
    #[serde(deserialize_with = "deserialize_bom_format")]
    _bom_format: (),
    #[serde(deserialize_with = "deserialize_spec_version")]
    spec_version: String,
    #[serde(default)]
    metadata: Option<CycloneDxMetadata>,
    #[serde(default)]
    components: Option<Vec<CycloneDxComponent>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a CycloneDX metadata object")]
struct CycloneDxMetadata {
    #[serde(default)]
    component: Option<CycloneDxComponent>,
}

#[derive(Deserialize)]
#[serde(expecting = "a CycloneDX component object")]
struct CycloneDxComponent {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    components: Option<Vec<CycloneDxComponent>>,
    #[serde(default)]
    properties: Option<Vec<CycloneDxProperty>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a CycloneDX property object")]
struct CycloneDxProperty {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

fn deserialize_bom_format<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    let format = String::deserialize(deserializer)?;
    if format != "CycloneDX" {
        return Err(de::Error::custom(format!("bomFormat is {format:?}; a CycloneDX BOM has bomFormat \"CycloneDX\"")));
    }
    Ok(())
}

fn deserialize_spec_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let version = String::deserialize(deserializer)?;
    if !SPEC_VERSIONS.contains(&version.as_str()) {
        return Err(de::Error::custom(format!(
            "unsupported CycloneDX specVersion {version:?}; supported: {}",
            SPEC_VERSIONS.join(", ")
        )));
    }
    Ok(version)
}

impl CycloneDxBom {
    fn into_sbom(self) -> Sbom {
        let subject = self.metadata.and_then(|m| m.component);
        let subject_digest = subject.as_ref().and_then(subject_digest);
        Sbom {
            format: SbomFormat::CycloneDx,
            spec_version: self.spec_version,
            subject_name: subject.and_then(|s| non_empty(Some(s.name))),
            subject_digest,
            components: flatten(self.components.unwrap_or_default()),
        }
    }
}

fn subject_digest(subject: &CycloneDxComponent) -> Option<Digest> {
    if let Some(digest) = subject.version.as_deref().and_then(|v| Digest::parse(v).ok()) {
        return Some(digest);
    }
    let properties = subject.properties.iter().flatten();
    let repo_digest = properties.filter(|p| p.name == TRIVY_REPO_DIGEST_PROPERTY).find_map(|p| p.value.as_deref())?;
    repo_digest.rsplit_once('@').and_then(|(_, digest)| Digest::parse(digest).ok())
}

/// Lists components depth-first in document order without recursion, so deeply
/// nested input cannot exhaust the stack.
fn flatten(components: Vec<CycloneDxComponent>) -> Vec<Component> {
    let mut flat = Vec::with_capacity(components.len());
    let mut stack: Vec<CycloneDxComponent> = components.into_iter().rev().collect();
    while let Some(component) = stack.pop() {
        stack.extend(component.components.into_iter().flatten().rev());
        flat.push(Component {
            name: component.name,
            version: non_empty(component.version),
            purl: non_empty(component.purl),
            kind: non_empty(component.kind),
        });
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_components_are_flattened_in_order() {
        let bytes = br#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
            {"type": "library", "name": "a", "version": "1", "components": [
                {"type": "library", "name": "a1", "components": [{"type": "file", "name": "a1x"}]},
                {"type": "library", "name": "a2"}]},
            {"type": "operating-system", "name": "b", "purl": "pkg:generic/b@2"}]}"#;
        let sbom = parse("c.json", bytes).unwrap();
        let names: Vec<_> = sbom.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "a1", "a1x", "a2", "b"]);
        assert_eq!(sbom.components[4].kind.as_deref(), Some("operating-system"));
        assert_eq!(sbom.subject_name, None);
    }

    #[test]
    fn subject_digest_from_version_or_trivy_property() {
        let digest = format!("sha256:{}", "c".repeat(64));
        let syft = format!(
            r#"{{"bomFormat": "CycloneDX", "specVersion": "1.4", "metadata": {{"component":
               {{"type": "container", "name": "alpine:latest", "version": "{digest}"}}}}}}"#
        );
        assert_eq!(
            parse("c.json", syft.as_bytes()).unwrap().subject_digest.map(|d| d.to_string()),
            Some(digest.clone())
        );

        let trivy = format!(
            r#"{{"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {{"component": {{"type": "container",
               "name": "img.tar", "properties": [{{"name": "aquasecurity:trivy:ImageID", "value": "sha256:{}"}},
               {{"name": "aquasecurity:trivy:RepoDigest", "value": "alpine@{digest}"}}]}}}}}}"#,
            "d".repeat(64)
        );
        assert_eq!(parse("c.json", trivy.as_bytes()).unwrap().subject_digest.map(|d| d.to_string()), Some(digest));
    }

    #[test]
    fn unsupported_versions_are_rejected() {
        let error = parse("c.json", br#"{"bomFormat": "CycloneDX", "specVersion": "1.1"}"#).unwrap_err().to_string();
        assert!(error.contains("field `specVersion`"), "{error}");
        assert!(error.contains("1.2, 1.3, 1.4, 1.5, 1.6"), "{error}");
        let error = parse("c.json", br#"{"bomFormat": "SPDX", "specVersion": "1.4"}"#).unwrap_err().to_string();
        assert!(error.contains("field `bomFormat`"), "{error}");
    }
}
