//! Reader of cosign's vulnerability scan predicate
//! (`https://cosign.sigstore.dev/attestation/vuln/v1`).
//!
//! The predicate wraps a scanner's own output in `scanner.result`. Rules:
//! - A JSON array, or an object with `SchemaVersion` or `Results`, is read as a
//!   Trivy report; an object with `matches` as a Grype report.
//! - An object with `runs` is a SARIF log. SARIF results name rules, not package
//!   versions, so a log with zero results across all runs is an empty report and
//!   a log with any result is rejected ([`FactsError::SarifFindings`]) rather than
//!   read with findings lost.
//! - Anything else is rejected ([`FactsError::UnrecognizedScanResult`]).
//! - The scanner name and version come from the wrapped report when it has them,
//!   otherwise from the SARIF driver or `scanner.uri` and `scanner.version`.
//! - `scanned_at` comes from the report, otherwise `metadata.scanFinishedOn`.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

use super::json::{Json, JsonKind};
use super::timestamp::OptionalTimestamp;
use super::{FactsError, Scanner, VulnerabilityReport, grype, non_empty, trivy};
use crate::input::parse_json;

/// Scanner name used when neither the result nor `scanner.uri` names the tool.
pub const UNNAMED_SCANNER: &str = "unknown";

/// Reads a cosign vuln predicate file (the predicate alone, not the statement).
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<VulnerabilityReport, FactsError> {
    let predicate: CosignVulnPredicate<Value> = parse_json(source_name, bytes)?;
    predicate.into_report(source_name)
}

/// Reads a decoded cosign vuln predicate.
pub fn from_value(source_name: &str, value: &Value) -> Result<VulnerabilityReport, FactsError> {
    read(source_name, Json::Value(value))
}

/// Reads the predicate in either form. From raw text, `scanner.result` stays raw
/// until its shape picks the reader.
pub(crate) fn read<'a>(source_name: &str, json: Json<'a>) -> Result<VulnerabilityReport, FactsError> {
    match json {
        Json::Value(_) => json.deserialize::<CosignVulnPredicate<Value>>(source_name)?.into_report(source_name),
        Json::Raw(_) => {
            json.deserialize::<CosignVulnPredicate<Option<&'a RawValue>>>(source_name)?.into_report(source_name)
        }
    }
}

/// The predicate, with `scanner.result` as a decoded value or as raw text.
#[derive(Deserialize)]
#[serde(expecting = "a cosign vuln predicate object")]
#[serde(bound(deserialize = "R: Deserialize<'de> + Default"))]
struct CosignVulnPredicate<R> {
    scanner: CosignScanner<R>,
    #[serde(default)]
    metadata: Option<ScanMetadata>,
}

#[derive(Deserialize)]
#[serde(expecting = "a cosign scanner object")]
struct CosignScanner<R> {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    result: R,
}

/// A scan result in either form.
trait ScanResult {
    fn json(&self) -> Json<'_>;
}

impl ScanResult for Value {
    fn json(&self) -> Json<'_> {
        Json::Value(self)
    }
}

impl ScanResult for Option<&RawValue> {
    fn json(&self) -> Json<'_> {
        Json::raw_or_null(*self)
    }
}

/// The scan times that cosign's and in-toto's vulnerability predicates share.
#[derive(Deserialize)]
#[serde(expecting = "a scan metadata object")]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScanMetadata {
    #[serde(default)]
    scan_finished_on: Option<OptionalTimestamp>,
}

impl ScanMetadata {
    pub(crate) fn finished(metadata: Option<&ScanMetadata>) -> Option<super::Timestamp> {
        metadata.and_then(|m| m.scan_finished_on).and_then(|t| t.0)
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a SARIF log object")]
struct SarifLog {
    runs: Vec<SarifRun>,
}

#[derive(Deserialize)]
#[serde(expecting = "a SARIF run object")]
struct SarifRun {
    #[serde(default)]
    results: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    tool: Option<SarifTool>,
}

#[derive(Deserialize)]
#[serde(expecting = "a SARIF tool object")]
struct SarifTool {
    driver: SarifDriver,
}

#[derive(Deserialize)]
#[serde(expecting = "a SARIF tool driver object")]
struct SarifDriver {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

impl<R: ScanResult> CosignVulnPredicate<R> {
    fn into_report(self, source_name: &str) -> Result<VulnerabilityReport, FactsError> {
        let scanner = self.scanner;
        let mut report = read_result(source_name, scanner.result.json())?;

        report.scanner.uri = non_empty(scanner.uri.clone());
        if report.scanner.version.is_none() {
            report.scanner.version = non_empty(scanner.version);
        }
        if report.scanner.name.is_empty() {
            let from_uri = scanner.uri.as_deref().and_then(scanner_name_from_uri);
            report.scanner.name = from_uri.unwrap_or_else(|| UNNAMED_SCANNER.to_owned());
        }
        if report.scanned_at.is_none() {
            report.scanned_at = ScanMetadata::finished(self.metadata.as_ref());
        }
        Ok(report)
    }
}

/// Reads `scanner.result` with the reader that its shape calls for.
fn read_result(source_name: &str, result: Json<'_>) -> Result<VulnerabilityReport, FactsError> {
    let kind = result.kind();
    let read = match kind {
        JsonKind::Array => trivy::read(source_name, result),
        _ if kind.has_key("SchemaVersion") || kind.has_key("Results") => trivy::read(source_name, result),
        _ if kind.has_key("matches") => grype::read(source_name, result),
        _ if kind.has_key("runs") => read_sarif(source_name, result),
        other => {
            return Err(FactsError::UnrecognizedScanResult {
                source_name: source_name.to_owned(),
                found: describe(&other),
            });
        }
    };
    read.map_err(|error| prefix_path(error, "scanner.result"))
}

/// Reads a SARIF log, which becomes an empty report only when it has no results.
fn read_sarif(source_name: &str, result: Json<'_>) -> Result<VulnerabilityReport, FactsError> {
    let log: SarifLog = result.deserialize(source_name)?;
    let results: usize = log.runs.iter().map(|run| run.results.as_ref().map_or(0, Vec::len)).sum();
    if results > 0 {
        return Err(FactsError::SarifFindings { source_name: source_name.to_owned(), results: results as u64 });
    }

    let driver = log.runs.into_iter().find_map(|run| run.tool).map(|tool| tool.driver);
    let (name, version) = driver.map_or((None, None), |d| (non_empty(d.name), non_empty(d.version)));
    Ok(VulnerabilityReport {
        scanner: Scanner { name: name.unwrap_or_default().to_ascii_lowercase(), version, uri: None },
        scanned_at: None,
        artifact_name: None,
        repo_digests: Vec::new(),
        vulnerabilities: Vec::new(),
        warnings: Vec::new(),
    })
}

/// Names a JSON value's kind for an error message.
fn describe(kind: &JsonKind) -> String {
    match kind {
        JsonKind::Null => "null (or nothing)".to_owned(),
        JsonKind::Bool => "a boolean".to_owned(),
        JsonKind::Number => "a number".to_owned(),
        JsonKind::String => "a string".to_owned(),
        JsonKind::Array => "an array".to_owned(),
        JsonKind::Object(keys) => {
            let keys: Vec<&str> = keys.iter().take(5).map(String::as_str).collect();
            format!("an object with keys {keys:?}")
        }
    }
}

/// Puts `prefix` in front of the field path of an error about a nested document.
fn prefix_path(error: FactsError, prefix: &str) -> FactsError {
    match error {
        FactsError::InvalidField { source_name, path, message } => {
            let path = match path.as_str() {
                "." | "" => prefix.to_owned(),
                p if p.starts_with('[') => format!("{prefix}{p}"),
                p => format!("{prefix}.{p}"),
            };
            FactsError::InvalidField { source_name, path, message }
        }
        other => other,
    }
}

/// Derives a tool name from a scanner URI: the last path segment without a
/// version suffix, so `https://github.com/aquasecurity/trivy` and
/// `pkg:github/aquasecurity/trivy@244fd47` both give `trivy`.
pub(crate) fn scanner_name_from_uri(uri: &str) -> Option<String> {
    let path = uri.split(['?', '#']).next().unwrap_or(uri).trim_end_matches('/');
    let last = path.rsplit(['/', ':']).next().unwrap_or(path);
    let name = last.split('@').next().unwrap_or(last);
    non_empty(Some(name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Severity;

    fn predicate(result: &str) -> String {
        format!(
            r#"{{"invocation": {{"uri": "https://example.com/run/1"}},
                "scanner": {{"uri": "https://github.com/aquasecurity/trivy", "version": "0.29.2", "result": {result}}},
                "metadata": {{"scanStartedOn": "2022-07-29T02:28:42Z", "scanFinishedOn": "2022-07-29T02:28:48Z"}}}}"#
        )
    }

    #[test]
    fn trivy_result_is_read() {
        let result = r#"{"SchemaVersion": 2, "Results": [{"Class": "os-pkgs", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-1", "PkgName": "z", "InstalledVersion": "1", "Severity": "HIGH"}]}]}"#;
        let report = parse("p.json", predicate(result).as_bytes()).unwrap();
        assert_eq!(report.scanner.name, "trivy");
        assert_eq!(report.scanner.version.as_deref(), Some("0.29.2"));
        assert_eq!(report.scanner.uri.as_deref(), Some("https://github.com/aquasecurity/trivy"));
        assert_eq!(report.scanned_at.unwrap().to_string(), "2022-07-29T02:28:48Z");
        assert_eq!(report.counts().get(Severity::High), 1);
    }

    #[test]
    fn grype_result_is_read() {
        let result = r#"{"matches": [{"vulnerability": {"id": "CVE-1", "severity": "Critical"},
            "artifact": {"name": "z", "version": "1"}}], "descriptor": {"name": "grype", "version": "0.94.0"}}"#;
        let report = parse("p.json", predicate(result).as_bytes()).unwrap();
        assert_eq!(report.scanner.name, "grype");
        assert_eq!(report.scanner.version.as_deref(), Some("0.94.0"));
        assert_eq!(report.counts().get(Severity::Critical), 1);
    }

    #[test]
    fn empty_sarif_is_an_empty_report() {
        let result = r#"{"version": "2.1.0", "runs": [{"results": [], "tool": {"driver": {"name": "Trivy", "version": "0.29.2"}}}]}"#;
        let report = parse("p.json", predicate(result).as_bytes()).unwrap();
        assert_eq!(report.scanner.name, "trivy");
        assert!(report.vulnerabilities.is_empty());
    }

    #[test]
    fn sarif_with_results_is_rejected() {
        let result = r#"{"version": "2.1.0", "runs": [{"results": [{"ruleId": "CVE-1"}, {"ruleId": "CVE-2"}]}]}"#;
        let error = parse("p.json", predicate(result).as_bytes()).unwrap_err();
        assert!(matches!(error, FactsError::SarifFindings { results: 2, .. }), "{error:?}");
        assert!(error.to_string().contains("trivy --format json"), "{error}");
    }

    #[test]
    fn unknown_result_is_rejected() {
        for result in ["{}", "null", r#""text""#, r#"{"foo": 1}"#] {
            let error = parse("p.json", predicate(result).as_bytes()).unwrap_err();
            assert!(matches!(error, FactsError::UnrecognizedScanResult { .. }), "{result}: {error:?}");
            assert!(error.to_string().starts_with("p.json: field `scanner.result`"), "{error}");
        }
    }

    #[test]
    fn nested_error_names_full_path() {
        let result =
            r#"{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": 5}]}]}"#;
        let error = parse("p.json", predicate(result).as_bytes()).unwrap_err().to_string();
        assert!(error.contains("field `scanner.result.Results[0].Vulnerabilities[0].PkgName`"), "{error}");
    }

    #[test]
    fn scanner_names_from_uris() {
        assert_eq!(scanner_name_from_uri("https://github.com/aquasecurity/trivy").as_deref(), Some("trivy"));
        assert_eq!(scanner_name_from_uri("pkg:github/aquasecurity/trivy@244fd47e").as_deref(), Some("trivy"));
        assert_eq!(scanner_name_from_uri("https://github.com/anchore/Grype/").as_deref(), Some("grype"));
        assert_eq!(scanner_name_from_uri(""), None);
    }
}
