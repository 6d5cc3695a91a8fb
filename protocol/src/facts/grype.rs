//! Reader of Grype JSON reports, from the 0.7 schema to the 0.9x schema.
//!
//! Rules:
//! - Each match is a finding of `vulnerability.id` in `artifact.name` at
//!   `artifact.version`; `relatedVulnerabilities[].id` are its aliases.
//! - The fixed version is the first of `vulnerability.fix.versions` when
//!   `fix.state` is `fixed` or empty (schemas that leave it blank), and None for
//!   `not-fixed`, `wont-fix` and `unknown`. Old schemas that give
//!   `vulnerability.fixedInVersion` instead are read too.
//! - The CVSS score is the highest `vulnerability.cvss[].metrics.baseScore` among
//!   entries of version 3.x; related vulnerabilities' scores are not used.
//! - `scanned_at` is `descriptor.timestamp`; `artifact_name` is
//!   `source.target.userInput` (or `source.target` itself when it is a string,
//!   as for directory scans); `repo_digests` is `source.target.repoDigests`.

use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::cvss::{CvssScore, ReportScore};
use super::findings::FindingsBuilder;
use super::timestamp::OptionalTimestamp;
use super::{FactsError, Scanner, Vulnerability, VulnerabilityReport, deserialize_repo_digests, json::Json, non_empty};
use crate::input::parse_json;

/// Fix states after which the listed versions fix the finding.
const FIXED_STATES: [&str; 2] = ["fixed", ""];

/// Reads a Grype JSON report file.
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<VulnerabilityReport, FactsError> {
    let document: GrypeDocument = parse_json(source_name, bytes)?;
    Ok(document.into_report())
}

/// Reads a Grype JSON report that is already decoded, such as a predicate's `scanner.result`.
pub fn from_value(source_name: &str, value: &Value) -> Result<VulnerabilityReport, FactsError> {
    read(source_name, Json::Value(value))
}

/// Reads the JSON in either form; [`from_value`] reads a decoded value.
pub(crate) fn read(source_name: &str, json: Json<'_>) -> Result<VulnerabilityReport, FactsError> {
    let document: GrypeDocument = json.deserialize(source_name)?;
    Ok(document.into_report())
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype JSON report object")]
pub(crate) struct GrypeDocument {
    matches: Vec<GrypeMatch>,
    #[serde(default)]
    source: Option<GrypeSource>,
    #[serde(default)]
    descriptor: Option<GrypeDescriptor>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype match object")]
#[serde(rename_all = "camelCase")]
struct GrypeMatch {
    vulnerability: GrypeVulnerability,
    #[serde(default)]
    related_vulnerabilities: Option<Vec<GrypeRelated>>,
    artifact: GrypeArtifact,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype vulnerability object")]
#[serde(rename_all = "camelCase")]
struct GrypeVulnerability {
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    cvss: Option<Vec<GrypeCvss>>,
    #[serde(default)]
    fix: Option<GrypeFix>,
    #[serde(default)]
    fixed_in_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype related vulnerability object")]
struct GrypeRelated {
    id: String,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype CVSS object")]
struct GrypeCvss {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    metrics: Option<GrypeMetrics>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype CVSS metrics object")]
#[serde(rename_all = "camelCase")]
struct GrypeMetrics {
    #[serde(default)]
    base_score: Option<ReportScore>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype fix object")]
struct GrypeFix {
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype artifact object")]
struct GrypeArtifact {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype source object")]
struct GrypeSource {
    #[serde(default)]
    target: Option<GrypeTarget>,
}

/// `source.target`: an object for images, a plain string for directories and files.
#[derive(Default)]
struct GrypeTarget {
    user_input: Option<String>,
    repo_digests: Vec<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype image target object")]
#[serde(rename_all = "camelCase")]
struct GrypeImageTarget {
    #[serde(default)]
    user_input: Option<String>,
    #[serde(default, deserialize_with = "deserialize_repo_digests")]
    repo_digests: Vec<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a Grype descriptor object")]
struct GrypeDescriptor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    timestamp: Option<OptionalTimestamp>,
}

impl<'de> Deserialize<'de> for GrypeTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<GrypeTarget, D::Error> {
        deserializer.deserialize_any(TargetVisitor)
    }
}

struct TargetVisitor;

impl<'de> Visitor<'de> for TargetVisitor {
    type Value = GrypeTarget;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scan target: an image object or a path string")
    }

    fn visit_str<E: de::Error>(self, path: &str) -> Result<GrypeTarget, E> {
        Ok(GrypeTarget { user_input: Some(path.to_owned()), repo_digests: Vec::new() })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<GrypeTarget, A::Error> {
        let image = GrypeImageTarget::deserialize(MapAccessDeserializer::new(map))?;
        Ok(GrypeTarget { user_input: image.user_input, repo_digests: image.repo_digests })
    }
}

impl GrypeDocument {
    pub(crate) fn into_report(self) -> VulnerabilityReport {
        let mut builder = FindingsBuilder::default();
        for grype_match in self.matches {
            add_match(&mut builder, grype_match);
        }
        let (vulnerabilities, warnings) = builder.finish();

        let target = self.source.and_then(|s| s.target).unwrap_or_default();
        let descriptor = self.descriptor;
        let name = descriptor.as_ref().and_then(|d| non_empty(d.name.clone())).unwrap_or_else(|| "grype".to_owned());
        VulnerabilityReport {
            scanner: Scanner {
                name: name.to_ascii_lowercase(),
                version: descriptor.as_ref().and_then(|d| non_empty(d.version.clone())),
                uri: None,
            },
            scanned_at: descriptor.and_then(|d| d.timestamp).and_then(|t| t.0),
            artifact_name: non_empty(target.user_input),
            repo_digests: target.repo_digests,
            vulnerabilities,
            warnings,
        }
    }
}

fn add_match(builder: &mut FindingsBuilder, grype_match: GrypeMatch) {
    let vulnerability = grype_match.vulnerability;
    let severity = builder.read_severity(&vulnerability.id, vulnerability.severity.as_deref());
    let aliases = grype_match.related_vulnerabilities.into_iter().flatten().map(|r| r.id).collect();
    builder.add(Vulnerability {
        aliases,
        package: Some(grype_match.artifact.name),
        installed_version: non_empty(grype_match.artifact.version),
        fixed_version: fixed_version(vulnerability.fix, vulnerability.fixed_in_version),
        severity,
        cvss_score: highest_v3_score(vulnerability.cvss.unwrap_or_default()),
        id: vulnerability.id,
    });
}

fn fixed_version(fix: Option<GrypeFix>, fixed_in_version: Option<String>) -> Option<String> {
    let Some(fix) = fix else {
        return non_empty(fixed_in_version);
    };
    let state = fix.state.unwrap_or_default();
    if !FIXED_STATES.contains(&state.trim().to_ascii_lowercase().as_str()) {
        return None;
    }
    fix.versions.into_iter().flatten().find_map(|v| non_empty(Some(v)))
}

fn highest_v3_score(entries: Vec<GrypeCvss>) -> Option<CvssScore> {
    entries
        .into_iter()
        .filter(|entry| entry.version.as_deref().is_some_and(|v| v.trim().starts_with('3')))
        .filter_map(|entry| entry.metrics.and_then(|m| m.base_score).map(|s| s.0))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Severity;

    fn document(matches: &str) -> String {
        format!(
            r#"{{"matches": {matches}, "source": {{"type": "image", "target": {{"userInput": "busybox:1.32.1",
                "imageID": "sha256:{}", "repoDigests": ["busybox@sha256:{}"]}}}},
                "descriptor": {{"name": "grype", "version": "0.94.0", "timestamp": "2024-02-22T19:46:26+01:00"}}}}"#,
            "b".repeat(64),
            "a".repeat(64)
        )
    }

    fn grype_match(id: &str, severity: &str, fix: &str, cvss: &str, related: &str) -> String {
        format!(
            r#"{{"vulnerability": {{"id": "{id}", "severity": "{severity}", "fix": {fix}, "cvss": {cvss}}},
                "relatedVulnerabilities": {related}, "artifact": {{"name": "busybox", "version": "1.32.1"}}}}"#
        )
    }

    #[test]
    fn header_fields_are_read() {
        let report = parse("g.json", document("[]").as_bytes()).unwrap();
        assert_eq!(report.scanner.name, "grype");
        assert_eq!(report.scanner.version.as_deref(), Some("0.94.0"));
        assert_eq!(report.artifact_name.as_deref(), Some("busybox:1.32.1"));
        assert_eq!(report.repo_digests, [format!("busybox@sha256:{}", "a".repeat(64))]);
        assert_eq!(report.scanned_at.unwrap().to_string(), "2024-02-22T18:46:26Z");
    }

    #[test]
    fn fix_states_decide_fixed_version() {
        for (fix, expected) in [
            (r#"{"versions": ["1.2"], "state": "fixed"}"#, Some("1.2")),
            (r#"{"versions": ["1.2", "1.3"], "state": ""}"#, Some("1.2")),
            (r#"{"versions": ["fix_1"], "state": "wont-fix"}"#, None),
            (r#"{"versions": [], "state": "not-fixed"}"#, None),
            (r#"{"versions": ["1.2"], "state": "unknown"}"#, None),
        ] {
            let matches = format!("[{}]", grype_match("CVE-1", "High", fix, "[]", "[]"));
            let report = parse("g.json", document(&matches).as_bytes()).unwrap();
            assert_eq!(report.vulnerabilities[0].fixed_version.as_deref(), expected, "{fix}");
        }
    }

    #[test]
    fn old_schema_fixed_in_version_is_read() {
        let bytes = br#"{"matches": [{"vulnerability": {"id": "CVE-1", "severity": "Low", "fixedInVersion": "2.0"},
            "artifact": {"name": "zlib", "version": "1.0"}}], "source": {"type": "directory", "target": "/src"}}"#;
        let report = parse("g.json", bytes).unwrap();
        assert_eq!(report.vulnerabilities[0].fixed_version.as_deref(), Some("2.0"));
        assert_eq!(report.artifact_name.as_deref(), Some("/src"));
        assert_eq!(report.scanner.version, None);
    }

    #[test]
    fn duplicates_merge_with_aliases_and_v3_score() {
        let cvss = r#"[{"version": "2.0", "metrics": {"baseScore": 10}}, {"version": "3.1", "metrics": {"baseScore": 7.3}},
                       {"version": "3.0", "metrics": {"baseScore": 6}}]"#;
        let first = grype_match(
            "GHSA-1",
            "High",
            r#"{"versions": ["3.2.10"], "state": "fixed"}"#,
            cvss,
            r#"[{"id": "CVE-2"}]"#,
        );
        let second =
            grype_match("GHSA-1", "Medium", r#"{"versions": [], "state": "fixed"}"#, "[]", r#"[{"id": "CVE-3"}]"#);
        let report = parse("g.json", document(&format!("[{first}, {second}]")).as_bytes()).unwrap();
        assert_eq!(report.vulnerabilities.len(), 1);
        let vulnerability = &report.vulnerabilities[0];
        assert_eq!(vulnerability.aliases, ["CVE-2", "CVE-3"]);
        assert_eq!(vulnerability.severity, Severity::High);
        assert_eq!(vulnerability.cvss_score.map(CvssScore::tenths), Some(73));
        assert_eq!(vulnerability.fixed_version.as_deref(), Some("3.2.10"));
    }

    #[test]
    fn missing_severity_is_unknown() {
        let bytes = br#"{"matches": [{"vulnerability": {"id": "CVE-1"}, "artifact": {"name": "z", "version": "1"}}]}"#;
        let report = parse("g.json", bytes).unwrap();
        assert_eq!(report.vulnerabilities[0].severity, Severity::Unknown);
        assert!(report.warnings.is_empty());
        assert_eq!(report.counts().get(Severity::Unknown), 1);
    }
}
