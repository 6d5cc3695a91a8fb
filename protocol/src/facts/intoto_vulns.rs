//! Reader of the in-toto vulnerabilities predicate v0.1
//! (`https://in-toto.io/attestation/vulns/v0.1`).
//!
//! The predicate lists ids and severity scores, but no packages, so findings have
//! no package or installed version. Rules:
//! - Each `scanner.result[]` entry is `{id, severity}` as in the specification's
//!   example, or `{vulnerability: {id, severity}}` as in its field list.
//! - Each `severity[]` entry is `{method, score}`. A score that is a severity word
//!   (`medium`) counts on the shared scale and the highest one wins. A score of a
//!   CVSS method (a method containing `cvss`, or `nvd`) that is not a word must
//!   be a decimal CVSS score from 0.0 to 10.0 and the highest one is kept. Any
//!   other score is listed as a warning.
//! - Without a severity word, the severity is the CVSS rating of the score
//!   ([`Severity::from_cvss`]); with neither, it is Unknown.
//! - The scanner name comes from `scanner.uri`; `scanned_at` is
//!   `metadata.scanFinishedOn`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

use super::cosign::{ScanMetadata, UNNAMED_SCANNER, scanner_name_from_uri};
use super::cvss::CvssScore;
use super::findings::FindingsBuilder;
use super::severity::SeverityReading;
use super::{FactsError, Scanner, Severity, Vulnerability, VulnerabilityReport, json::Json, non_empty};
use crate::input::parse_json;

/// Reads an in-toto vulns v0.1 predicate file (the predicate alone).
pub fn parse(source_name: &str, bytes: &[u8]) -> Result<VulnerabilityReport, FactsError> {
    let predicate: VulnsPredicate = parse_json(source_name, bytes)?;
    predicate.into_report(source_name)
}

/// Reads a decoded in-toto vulns v0.1 predicate.
pub fn from_value(source_name: &str, value: &Value) -> Result<VulnerabilityReport, FactsError> {
    read(source_name, Json::Value(value))
}

/// Reads the JSON in either form; [`from_value`] reads a decoded value.
pub(crate) fn read(source_name: &str, json: Json<'_>) -> Result<VulnerabilityReport, FactsError> {
    let predicate: VulnsPredicate = json.deserialize(source_name)?;
    predicate.into_report(source_name)
}

#[derive(Deserialize)]
#[serde(expecting = "an in-toto vulns predicate object")]
struct VulnsPredicate {
    scanner: VulnsScanner,
    #[serde(default)]
    metadata: Option<ScanMetadata>,
}

#[derive(Deserialize)]
#[serde(expecting = "an in-toto vulns scanner object")]
struct VulnsScanner {
    uri: String,
    #[serde(default)]
    version: Option<String>,
    result: Vec<VulnsResult>,
}

#[derive(Deserialize)]
#[serde(expecting = "an in-toto vulns result object")]
struct VulnsResult {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    severity: Option<Vec<SeverityScore>>,
    #[serde(default)]
    vulnerability: Option<NestedVulnerability>,
}

#[derive(Deserialize)]
#[serde(expecting = "an in-toto vulnerability object")]
struct NestedVulnerability {
    id: String,
    #[serde(default)]
    severity: Option<Vec<SeverityScore>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an in-toto severity object")]
struct SeverityScore {
    #[serde(default)]
    method: Option<String>,
    score: ScoreText,
}

/// A score as text; JSON numbers are turned into their decimal text.
struct ScoreText(String);

impl<'de> Deserialize<'de> for ScoreText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ScoreText, D::Error> {
        deserializer.deserialize_any(ScoreTextVisitor)
    }
}

struct ScoreTextVisitor;

impl Visitor<'_> for ScoreTextVisitor {
    type Value = ScoreText;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a severity score as a string or number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ScoreText, E> {
        Ok(ScoreText(text.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ScoreText, E> {
        Ok(ScoreText(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ScoreText, E> {
        Ok(ScoreText(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ScoreText, E> {
        Ok(ScoreText(value.to_string()))
    }
}

impl VulnsPredicate {
    fn into_report(self, source_name: &str) -> Result<VulnerabilityReport, FactsError> {
        let mut builder = FindingsBuilder::default();
        for (index, result) in self.scanner.result.into_iter().enumerate() {
            add_result(&mut builder, source_name, index, result)?;
        }
        let (vulnerabilities, warnings) = builder.finish();

        let name = scanner_name_from_uri(&self.scanner.uri).unwrap_or_else(|| UNNAMED_SCANNER.to_owned());
        Ok(VulnerabilityReport {
            scanner: Scanner { name, version: non_empty(self.scanner.version), uri: non_empty(Some(self.scanner.uri)) },
            scanned_at: ScanMetadata::finished(self.metadata.as_ref()),
            artifact_name: None,
            repo_digests: Vec::new(),
            vulnerabilities,
            warnings,
        })
    }
}

fn add_result(
    builder: &mut FindingsBuilder,
    source_name: &str,
    index: usize,
    result: VulnsResult,
) -> Result<(), FactsError> {
    let (id, scores, path) = match (result.id, result.vulnerability) {
        (Some(id), _) => (id, result.severity, format!("scanner.result[{index}]")),
        (None, Some(nested)) => (nested.id, nested.severity, format!("scanner.result[{index}].vulnerability")),
        (None, None) => {
            return Err(FactsError::InvalidField {
                source_name: source_name.to_owned(),
                path: format!("scanner.result[{index}]"),
                message: "missing field `id`; each result needs `id` or `vulnerability.id`".to_owned(),
            });
        }
    };

    let (severity, cvss_score) = read_scores(builder, source_name, &path, &id, scores.unwrap_or_default())?;
    builder.add(Vulnerability {
        id,
        aliases: Vec::new(),
        package: None,
        installed_version: None,
        fixed_version: None,
        severity,
        cvss_score,
    });
    Ok(())
}

/// Applies the severity rules of this module to one finding's scores.
fn read_scores(
    builder: &mut FindingsBuilder,
    source_name: &str,
    path: &str,
    id: &str,
    scores: Vec<SeverityScore>,
) -> Result<(Severity, Option<CvssScore>), FactsError> {
    let mut word_severity: Option<Severity> = None;
    let mut cvss_score: Option<CvssScore> = None;
    for (index, entry) in scores.into_iter().enumerate() {
        let method = entry.method.unwrap_or_default();
        let text = entry.score.0;
        if let SeverityReading::Recognized(severity) = Severity::read_word(&text) {
            word_severity = word_severity.max(Some(severity));
        } else if is_cvss_method(&method) {
            let score = CvssScore::parse_decimal(&text).map_err(|error| FactsError::InvalidField {
                source_name: source_name.to_owned(),
                path: format!("{path}.severity[{index}].score"),
                message: error.to_string(),
            })?;
            cvss_score = cvss_score.max(Some(score));
        } else {
            builder.warn_unrecognized(id, format!("{method}: {text}"));
        }
    }

    let severity = word_severity.or(cvss_score.map(Severity::from_cvss)).unwrap_or(Severity::Unknown);
    Ok((severity, cvss_score))
}

fn is_cvss_method(method: &str) -> bool {
    let method = method.trim().to_ascii_lowercase();
    method.contains("cvss") || method == "nvd"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FactsWarning;

    fn predicate(result: &str) -> String {
        format!(
            r#"{{"scanner": {{"uri": "pkg:github/aquasecurity/trivy@244fd47e07d1004f0aed9", "version": "0.19.2",
                "db": {{"lastUpdate": "2021-08-06T17:45:50.52Z"}}, "result": {result}}},
                "metadata": {{"scanStartedOn": "2021-08-06T17:45:50.52Z", "scanFinishedOn": "2021-08-06T17:50:50.52Z"}}}}"#
        )
    }

    #[test]
    fn words_and_scores_are_read() {
        let result = r#"[{"id": "CVE-1", "severity": [{"method": "nvd", "score": "medium"}, {"method": "cvss_score", "score": "5.2"}]},
            {"vulnerability": {"id": "CVE-2", "severity": [{"method": "cvss_v3", "score": 9.8}]}},
            {"id": "CVE-3", "severity": []}]"#;
        let report = parse("v.json", predicate(result).as_bytes()).unwrap();
        assert_eq!(report.scanner.name, "trivy");
        assert_eq!(report.scanned_at.unwrap().to_string(), "2021-08-06T17:50:50.52Z");
        let found: Vec<_> = report.vulnerabilities.iter().map(|v| (v.id.as_str(), v.severity, v.cvss_score)).collect();
        assert_eq!(
            found,
            [
                ("CVE-1", Severity::Medium, CvssScore::from_tenths(52).ok()),
                ("CVE-2", Severity::Critical, CvssScore::from_tenths(98).ok()),
                ("CVE-3", Severity::Unknown, None),
            ]
        );
        assert!(report.vulnerabilities.iter().all(|v| v.package.is_none()));
    }

    #[test]
    fn other_scores_become_warnings() {
        let result = r#"[{"id": "CVE-1", "severity": [{"method": "epss", "score": "0.97"}, {"method": "ghsa", "score": "moderate"}]}]"#;
        let report = parse("v.json", predicate(result).as_bytes()).unwrap();
        assert_eq!(report.vulnerabilities[0].severity, Severity::Unknown);
        assert_eq!(report.warnings.len(), 2);
        assert!(
            matches!(&report.warnings[0], FactsWarning::UnrecognizedSeverity { value, .. } if value == "epss: 0.97")
        );
    }

    #[test]
    fn invalid_cvss_names_the_field() {
        for score in [r#""NaN""#, "-1", "10.5", r#""high-ish""#] {
            let result = format!(r#"[{{"id": "CVE-1", "severity": [{{"method": "cvss_score", "score": {score}}}]}}]"#);
            let error = parse("v.json", predicate(&result).as_bytes()).unwrap_err().to_string();
            assert!(error.starts_with("v.json: field `scanner.result[0].severity[0].score`"), "{error}");
        }
    }

    #[test]
    fn result_without_id_is_rejected() {
        let error = parse("v.json", predicate(r#"[{"severity": []}]"#).as_bytes()).unwrap_err().to_string();
        assert!(error.contains("field `scanner.result[0]`"), "{error}");
    }
}
