//! Reader of SPDX JSON documents, versions 2.2 and 2.3.
//!
//! Rules:
//! - `spdxVersion` must be `SPDX-2.2` or `SPDX-2.3`; the facts keep `2.2`/`2.3`.
//! - The subject is the one package that the document describes, through
//!   `documentDescribes` or a `DESCRIBES` (or `DESCRIBED_BY`) relationship with
//!   `SPDXRef-DOCUMENT`. Its name is the subject name and its SHA256 checksum,
//!   or its `versionInfo` when that is a digest, the subject digest. The subject
//!   is not listed among the components, as in CycloneDX. When the document
//!   describes no package or several, the subject name is the document `name`
//!   and every package is a component.
//! - A component's purl is its first `externalRefs` entry of type `purl`, and its
//!   kind is `primaryPackagePurpose` in lowercase with hyphens
//!   (`OPERATING_SYSTEM` → `operating-system`).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::{Component, FactsError, Sbom, SbomFormat, json::Json, non_empty};
use crate::digest::{Algorithm, Digest};
use crate::input::parse_json;

/// The `spdxVersion` values this reader accepts.
pub const SPDX_VERSIONS: [&str; 2] = ["SPDX-2.2", "SPDX-2.3"];

/// The SPDX id of the document itself.
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";

/// Reads an SPDX JSON file.
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<Sbom, FactsError> {
    let document: SpdxDocument = parse_json(source_name, bytes)?;
    document.into_sbom(source_name)
}

/// Reads a decoded SPDX document, such as a predicate.
pub fn from_value(source_name: &str, value: &Value) -> Result<Sbom, FactsError> {
    read(source_name, Json::Value(value))
}

/// Reads the JSON in either form; [`from_value`] reads a decoded value.
pub(crate) fn read(source_name: &str, json: Json<'_>) -> Result<Sbom, FactsError> {
    let document: SpdxDocument = json.deserialize(source_name)?;
    document.into_sbom(source_name)
}

#[derive(Deserialize)]
#[serde(expecting = "an SPDX JSON document object")]
#[serde(rename_all = "camelCase")]
struct SpdxDocument {
    #[serde(deserialize_with = "deserialize_spdx_version")]
    spdx_version: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    document_describes: Option<Vec<String>>,
    #[serde(default)]
    packages: Option<Vec<SpdxPackage>>,
    #[serde(default)]
    relationships: Option<Vec<SpdxRelationship>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an SPDX package object")]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(default)]
    version_info: Option<String>,
    #[serde(default)]
    external_refs: Option<Vec<SpdxExternalRef>>,
    #[serde(default)]
    checksums: Option<Vec<SpdxChecksum>>,
    #[serde(default)]
    primary_package_purpose: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "an SPDX external reference object")]
#[serde(rename_all = "camelCase")]
struct SpdxExternalRef {
    reference_type: String,
    reference_locator: String,
}

#[derive(Deserialize)]
#[serde(expecting = "an SPDX checksum object")]
#[serde(rename_all = "camelCase")]
struct SpdxChecksum {
    algorithm: String,
    checksum_value: String,
}

#[derive(Deserialize)]
#[serde(expecting = "an SPDX relationship object")]
#[serde(rename_all = "camelCase")]
struct SpdxRelationship {
    spdx_element_id: String,
    relationship_type: String,
    related_spdx_element: String,
}

fn deserialize_spdx_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let version = String::deserialize(deserializer)?;
    if !SPDX_VERSIONS.contains(&version.as_str()) {
        return Err(de::Error::custom(format!(
            "unsupported spdxVersion {version:?}; supported: {}",
            SPDX_VERSIONS.join(", ")
        )));
    }
    Ok(version)
}

impl SpdxDocument {
    fn into_sbom(self, source_name: &str) -> Result<Sbom, FactsError> {
        let described = self.described_ids();
        let subject_index = match described.len() {
            1 => self.packages.iter().flatten().position(|p| described.contains(&p.spdx_id)),
            _ => None,
        };
        let mut packages = self.packages.unwrap_or_default();

        let subject = subject_index.map(|index| (index, packages.remove(index)));
        let subject_digest = match &subject {
            Some((index, package)) => package_digest(source_name, *index, package)?,
            None => None,
        };
        let subject_name = match subject {
            Some((_, package)) => non_empty(Some(package.name)),
            None => non_empty(self.name),
        };

        let spec_version = self.spdx_version.trim_start_matches("SPDX-").to_owned();
        Ok(Sbom {
            format: SbomFormat::Spdx,
            spec_version,
            subject_name,
            subject_digest,
            components: packages.into_iter().map(into_component).collect(),
        })
    }

    /// Returns the ids of the elements that the document describes.
    fn described_ids(&self) -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = self.document_describes.iter().flatten().cloned().collect();
        for relationship in self.relationships.iter().flatten() {
            let kind = relationship.relationship_type.as_str();
            if kind == "DESCRIBES" && relationship.spdx_element_id == DOCUMENT_ID {
                ids.insert(relationship.related_spdx_element.clone());
            }
            if kind == "DESCRIBED_BY" && relationship.related_spdx_element == DOCUMENT_ID {
                ids.insert(relationship.spdx_element_id.clone());
            }
        }
        ids
    }
}

/// Returns the subject package's SHA256 checksum, or its version when that is a digest.
fn package_digest(source_name: &str, index: usize, package: &SpdxPackage) -> Result<Option<Digest>, FactsError> {
    let mut checksums = package.checksums.iter().flatten().enumerate();
    if let Some((position, checksum)) = checksums.find(|(_, c)| c.algorithm == "SHA256") {
        let hex = checksum.checksum_value.to_ascii_lowercase();
        let digest = Digest::from_hex(Algorithm::Sha256, &hex).map_err(|error| FactsError::InvalidField {
            source_name: source_name.to_owned(),
            path: format!("packages[{index}].checksums[{position}].checksumValue"),
            message: error.to_string(),
        })?;
        return Ok(Some(digest));
    }
    Ok(package.version_info.as_deref().and_then(|v| Digest::parse(v).ok()))
}

fn into_component(package: SpdxPackage) -> Component {
    let purl =
        package.external_refs.into_iter().flatten().find(|r| r.reference_type == "purl").map(|r| r.reference_locator);
    let kind = package.primary_package_purpose.map(|p| p.to_ascii_lowercase().replace('_', "-"));
    Component {
        name: package.name,
        version: non_empty(package.version_info),
        purl: non_empty(purl),
        kind: non_empty(kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(describes: &str, subject_checksum: &str) -> String {
        format!(
            r#"{{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "doc-name", {describes}
               "packages": [
                 {{"SPDXID": "SPDXRef-image", "name": "registry.example/app", "versionInfo": "1.0",
                   "primaryPackagePurpose": "CONTAINER", "checksums": [{subject_checksum}]}},
                 {{"SPDXID": "SPDXRef-zlib", "name": "zlib", "versionInfo": "1.3",
                   "primaryPackagePurpose": "OPERATING_SYSTEM",
                   "externalRefs": [{{"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a"}},
                                    {{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/zlib@1.3"}}]}}]}}"#
        )
    }

    #[test]
    fn described_package_is_the_subject() {
        let checksum = format!(r#"{{"algorithm": "SHA256", "checksumValue": "{}"}}"#, "E".repeat(64));
        let sbom =
            parse("s.json", document(r#""documentDescribes": ["SPDXRef-image"],"#, &checksum).as_bytes()).unwrap();
        assert_eq!(sbom.spec_version, "2.3");
        assert_eq!(sbom.subject_name.as_deref(), Some("registry.example/app"));
        assert_eq!(sbom.subject_digest.map(|d| d.to_string()), Some(format!("sha256:{}", "e".repeat(64))));
        assert_eq!(sbom.components.len(), 1);
        assert_eq!(sbom.components[0].purl.as_deref(), Some("pkg:apk/zlib@1.3"));
        assert_eq!(sbom.components[0].kind.as_deref(), Some("operating-system"));
    }

    #[test]
    fn describes_relationship_is_read() {
        let describes = r#""relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-image"}],"#;
        let sbom = parse("s.json", document(describes, "").as_bytes()).unwrap();
        assert_eq!(sbom.subject_name.as_deref(), Some("registry.example/app"));
        assert_eq!(sbom.subject_digest, None);
        assert_eq!(sbom.components.len(), 1);
    }

    #[test]
    fn without_describes_every_package_is_a_component() {
        let sbom = parse("s.json", document("", "").as_bytes()).unwrap();
        assert_eq!(sbom.subject_name.as_deref(), Some("doc-name"));
        assert_eq!(sbom.components.len(), 2);
    }

    #[test]
    fn invalid_checksum_names_the_field() {
        let checksum = r#"{"algorithm": "SHA256", "checksumValue": "abc"}"#;
        let error =
            parse("s.json", document(r#""documentDescribes": ["SPDXRef-image"],"#, checksum).as_bytes()).unwrap_err();
        assert!(error.to_string().contains("field `packages[0].checksums[0].checksumValue`"), "{error}");
    }

    #[test]
    fn unsupported_version_is_rejected() {
        let error = parse("s.json", br#"{"spdxVersion": "SPDX-3.0", "packages": []}"#).unwrap_err().to_string();
        assert!(error.contains("field `spdxVersion`"), "{error}");
        assert!(error.contains("SPDX-2.2, SPDX-2.3"), "{error}");
    }
}
