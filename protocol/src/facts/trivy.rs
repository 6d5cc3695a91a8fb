//! Reader of Trivy JSON reports: SchemaVersion 2 and the legacy top-level array.
//!
//! Rules:
//! - Findings come from results of class `os-pkgs` or `lang-pkgs`, or without a
//!   class (legacy reports). Other classes (`secret`, `license`, `config`,
//!   `custom`) hold no package vulnerabilities and are ignored. A result without a
//!   `Vulnerabilities` key has none.
//! - Aliases are `VendorIDs`. An empty `FixedVersion` means no fix.
//! - The CVSS score is the `nvd` source's `V3Score` when present, otherwise the
//!   highest `V3Score` of the other sources (vendors such as `redhat`, `ghsa`).
//! - `scanned_at` is `CreatedAt`; `repo_digests` is `Metadata.RepoDigests`.

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::cvss::{CvssScore, ReportScore};
use super::findings::FindingsBuilder;
use super::timestamp::OptionalTimestamp;
use super::{FactsError, Scanner, Vulnerability, VulnerabilityReport, deserialize_repo_digests, json::Json, non_empty};
use crate::input::parse_json;

/// The only `SchemaVersion` of the object form that this reader supports.
pub const SCHEMA_VERSION: u64 = 2;

/// Result classes whose vulnerabilities are package findings.
const PACKAGE_CLASSES: [&str; 2] = ["os-pkgs", "lang-pkgs"];

/// Reads a Trivy JSON report file.
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<VulnerabilityReport, FactsError> {
    let document: TrivyDocument = parse_json(source_name, bytes)?;
    Ok(document.into_report())
}

/// Reads a Trivy JSON report that is already decoded, such as a predicate's `scanner.result`.
pub fn from_value(source_name: &str, value: &Value) -> Result<VulnerabilityReport, FactsError> {
    read(source_name, Json::Value(value))
}

/// Reads the JSON in either form; [`from_value`] reads a decoded value.
pub(crate) fn read(source_name: &str, json: Json<'_>) -> Result<VulnerabilityReport, FactsError> {
    let document: TrivyDocument = json.deserialize(source_name)?;
    Ok(document.into_report())
}

/// Either form of a Trivy report.
pub(crate) enum TrivyDocument {
    Legacy(Vec<TrivyResult>),
    Current(Box<TrivyReport>),
}

#[derive(Deserialize)]
#[serde(expecting = "a Trivy JSON report object")]
pub(crate) struct TrivyReport {
    #[serde(rename = "SchemaVersion", deserialize_with = "deserialize_schema_version")]
    _schema_version: u64,
    #[serde(rename = "Trivy", default)]
    trivy: Option<TrivyTool>,
    #[serde(rename = "CreatedAt", default)]
    created_at: Option<OptionalTimestamp>,
    #[serde(rename = "ArtifactName", default)]
    artifact_name: Option<String>,
    #[serde(rename = "Metadata", default)]
    metadata: Option<TrivyMetadata>,
    #[serde(rename = "Results", default)]
    results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Trivy tool object")]
struct TrivyTool {
    #[serde(rename = "Version", default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Trivy metadata object")]
struct TrivyMetadata {
    #[serde(rename = "RepoDigests", default, deserialize_with = "deserialize_repo_digests")]
    repo_digests: Vec<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Trivy result object")]
pub(crate) struct TrivyResult {
    #[serde(rename = "Class", default)]
    class: Option<String>,
    #[serde(rename = "Vulnerabilities", default)]
    vulnerabilities: Option<Vec<TrivyVulnerability>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Trivy vulnerability object")]
struct TrivyVulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "VendorIDs", default)]
    vendor_ids: Option<Vec<String>>,
    #[serde(rename = "PkgName")]
    package: String,
    #[serde(rename = "InstalledVersion", default)]
    installed_version: Option<String>,
    #[serde(rename = "FixedVersion", default)]
    fixed_version: Option<String>,
    #[serde(rename = "Severity", default)]
    severity: Option<String>,
    #[serde(rename = "CVSS", default)]
    cvss: Option<TrivyCvss>,
}

/// The scores of a finding's `CVSS` object, reduced while reading.
#[derive(Default)]
struct TrivyCvss {
    nvd: Option<CvssScore>,
    highest_vendor: Option<CvssScore>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Trivy CVSS score object")]
struct TrivyCvssSource {
    #[serde(rename = "V3Score", default)]
    v3_score: Option<ReportScore>,
}

impl TrivyCvss {
    fn chosen(&self) -> Option<CvssScore> {
        self.nvd.or(self.highest_vendor)
    }
}

fn deserialize_schema_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let version = u64::deserialize(deserializer)?;
    if version != SCHEMA_VERSION {
        return Err(de::Error::custom(format!(
            "unsupported Trivy SchemaVersion {version}; this reader supports SchemaVersion {SCHEMA_VERSION} \
             and the legacy top-level array of Trivy 0.19 and older, so write the report with a Trivy \
             release that outputs SchemaVersion {SCHEMA_VERSION}"
        )));
    }
    Ok(version)
}

impl<'de> Deserialize<'de> for TrivyDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TrivyDocument, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = TrivyDocument;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Trivy report: an object with SchemaVersion 2 or a legacy array of results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TrivyDocument, A::Error> {
        Vec::deserialize(SeqAccessDeserializer::new(seq)).map(TrivyDocument::Legacy)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TrivyDocument, A::Error> {
        TrivyReport::deserialize(MapAccessDeserializer::new(map)).map(|r| TrivyDocument::Current(Box::new(r)))
    }
}

impl<'de> Deserialize<'de> for TrivyCvss {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TrivyCvss, D::Error> {
        deserializer.deserialize_map(CvssVisitor)
    }
}

struct CvssVisitor;

impl<'de> Visitor<'de> for CvssVisitor {
    type Value = TrivyCvss;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of CVSS scores by source")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TrivyCvss, A::Error> {
        let mut cvss = TrivyCvss::default();
        while let Some(SourceName { is_nvd }) = map.next_key()? {
            let score = map.next_value::<TrivyCvssSource>()?.v3_score.map(|s| s.0);
            if is_nvd {
                cvss.nvd = cvss.nvd.max(score);
            } else {
                cvss.highest_vendor = cvss.highest_vendor.max(score);
            }
        }
        Ok(cvss)
    }
}

/// A CVSS source key, compared without allocating.
struct SourceName {
    is_nvd: bool,
}

impl<'de> Deserialize<'de> for SourceName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SourceName, D::Error> {
        deserializer.deserialize_str(SourceNameVisitor)
    }
}

struct SourceNameVisitor;

impl Visitor<'_> for SourceNameVisitor {
    type Value = SourceName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CVSS source name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<SourceName, E> {
        Ok(SourceName { is_nvd: name == "nvd" })
    }
}

impl TrivyDocument {
    pub(crate) fn into_report(self) -> VulnerabilityReport {
        let (results, header) = match self {
            TrivyDocument::Legacy(results) => (results, None),
            TrivyDocument::Current(report) => {
                let mut report = *report;
                (report.results.take().unwrap_or_default(), Some(report))
            }
        };

        let mut builder = FindingsBuilder::default();
        for result in results.into_iter().filter(TrivyResult::holds_packages) {
            for vulnerability in result.vulnerabilities.into_iter().flatten() {
                add_vulnerability(&mut builder, vulnerability);
            }
        }
        let (vulnerabilities, warnings) = builder.finish();

        let version = header.as_ref().and_then(|h| h.trivy.as_ref()).and_then(|t| non_empty(t.version.clone()));
        VulnerabilityReport {
            scanner: Scanner { name: "trivy".to_owned(), version, uri: None },
            scanned_at: header.as_ref().and_then(|h| h.created_at).and_then(|t| t.0),
            artifact_name: header.as_ref().and_then(|h| non_empty(h.artifact_name.clone())),
            repo_digests: header.and_then(|h| h.metadata).map(|m| m.repo_digests).unwrap_or_default(),
            vulnerabilities,
            warnings,
        }
    }
}

impl TrivyResult {
    fn holds_packages(&self) -> bool {
        self.class.as_deref().is_none_or(|class| PACKAGE_CLASSES.contains(&class))
    }
}

fn add_vulnerability(builder: &mut FindingsBuilder, vulnerability: TrivyVulnerability) {
    let severity = builder.read_severity(&vulnerability.id, vulnerability.severity.as_deref());
    builder.add(Vulnerability {
        aliases: vulnerability.vendor_ids.unwrap_or_default(),
        package: Some(vulnerability.package),
        installed_version: non_empty(vulnerability.installed_version),
        fixed_version: non_empty(vulnerability.fixed_version),
        severity,
        cvss_score: vulnerability.cvss.and_then(|c| c.chosen()),
        id: vulnerability.id,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{FactsWarning, Severity};

    fn report(results: &str) -> String {
        format!(
            r#"{{"SchemaVersion": 2, "Trivy": {{"Version": "0.50.1"}}, "ArtifactName": "alpine:3.19",
            "CreatedAt": "2024-02-22T19:46:26.5+01:00",
            "Metadata": {{"RepoDigests": ["alpine@sha256:{}"], "ImageID": "sha256:{}"}},
            "Results": {results}}}"#,
            "a".repeat(64),
            "b".repeat(64)
        )
    }

    fn finding(id: &str, package: &str, severity: &str, cvss: &str) -> String {
        format!(
            r#"{{"VulnerabilityID": "{id}", "PkgName": "{package}", "InstalledVersion": "1.0",
            "FixedVersion": "", "Severity": "{severity}", "CVSS": {cvss}}}"#
        )
    }

    #[test]
    fn header_fields_are_read() {
        let report = parse("r.json", report("[]").as_bytes()).unwrap();
        assert_eq!(report.scanner.name, "trivy");
        assert_eq!(report.scanner.version.as_deref(), Some("0.50.1"));
        assert_eq!(report.artifact_name.as_deref(), Some("alpine:3.19"));
        assert_eq!(report.scanned_at.unwrap().to_string(), "2024-02-22T18:46:26.5Z");
        assert_eq!(report.repo_digests, [format!("alpine@sha256:{}", "a".repeat(64))]);
    }

    #[test]
    fn findings_merge_across_targets() {
        let first = finding("CVE-1", "zlib", "MEDIUM", r#"{"redhat": {"V3Score": 8.1}}"#);
        let second = finding("CVE-1", "zlib", "high", r#"{"nvd": {"V3Score": 7.5}}"#);
        let results = format!(
            r#"[{{"Target": "a", "Class": "os-pkgs", "Vulnerabilities": [{first}]}},
               {{"Target": "b", "Class": "lang-pkgs", "Vulnerabilities": [{second}]}}]"#
        );
        let report = parse("r.json", report(&results).as_bytes()).unwrap();
        assert_eq!(report.vulnerabilities.len(), 1);
        let vulnerability = &report.vulnerabilities[0];
        assert_eq!(vulnerability.severity, Severity::High);
        assert_eq!(vulnerability.fixed_version, None);
        assert_eq!(vulnerability.cvss_score.map(CvssScore::tenths), Some(81));
    }

    #[test]
    fn nvd_score_is_preferred() {
        let cvss = r#"{"ghsa": {"V3Score": 9.8}, "nvd": {"V2Score": 5, "V3Score": 5.3}, "redhat": {"V3Score": 4.8}}"#;
        let results =
            format!(r#"[{{"Class": "os-pkgs", "Vulnerabilities": [{}]}}]"#, finding("CVE-1", "z", "LOW", cvss));
        let report = parse("r.json", report(&results).as_bytes()).unwrap();
        assert_eq!(report.vulnerabilities[0].cvss_score.map(CvssScore::tenths), Some(53));
    }

    #[test]
    fn other_classes_are_ignored() {
        let results = format!(
            r#"[{{"Class": "secret", "Vulnerabilities": [{}]}}, {{"Class": "custom", "CustomResources": []}}]"#,
            finding("CVE-1", "z", "LOW", "{}")
        );
        let report = parse("r.json", report(&results).as_bytes()).unwrap();
        assert!(report.vulnerabilities.is_empty());
    }

    #[test]
    fn legacy_array_is_read() {
        let bytes =
            format!(r#"[{{"Target": "debian", "Vulnerabilities": [{}]}}]"#, finding("CVE-1", "z", "Bogus", "{}"));
        let report = parse("r.json", bytes.as_bytes()).unwrap();
        assert_eq!(report.scanner.version, None);
        assert_eq!(report.vulnerabilities[0].severity, Severity::Unknown);
        assert_eq!(
            report.warnings,
            [FactsWarning::UnrecognizedSeverity { vulnerability_id: "CVE-1".into(), value: "Bogus".into() }]
        );
    }

    #[test]
    fn unknown_schema_version_names_versions() {
        let error = parse("r.json", br#"{"SchemaVersion": 3, "Results": []}"#).unwrap_err().to_string();
        assert!(error.contains("r.json: field `SchemaVersion`"), "{error}");
        assert!(error.contains("unsupported Trivy SchemaVersion 3"), "{error}");
        assert!(error.contains("legacy top-level array"), "{error}");
    }

    #[test]
    fn invalid_repo_digest_is_rejected() {
        let bytes = br#"{"SchemaVersion": 2, "Metadata": {"RepoDigests": ["alpine@sha256:abc"]}}"#;
        let error = parse("r.json", bytes).unwrap_err().to_string();
        assert!(error.contains("Metadata.RepoDigests"), "{error}");
    }
}
