//! Merging of vulnerability findings that several report sections list twice.
//!
//! # Invariants
//! - One finding per (id, package, installed version). When the same key appears
//!   again (another Trivy result target, another Grype match), the merged finding
//!   takes the union of aliases, the highest severity, the highest CVSS score and
//!   the first fixed version that the document lists.
//! - Output is sorted by key and aliases are sorted, so document order of
//!   sections never changes the facts.

use std::collections::{BTreeMap, BTreeSet};

use super::severity::SeverityReading;
use super::{CvssScore, FactsWarning, Severity, Vulnerability};

type FindingKey = (String, Option<String>, Option<String>);

/// Collects findings and severity warnings of one report.
#[derive(Default)]
pub(crate) struct FindingsBuilder {
    merged: BTreeMap<FindingKey, Merged>,
    warnings: BTreeSet<FactsWarning>,
}

struct Merged {
    aliases: BTreeSet<String>,
    fixed_version: Option<String>,
    severity: Severity,
    cvss_score: Option<CvssScore>,
}

impl FindingsBuilder {
    /// Maps a severity word of finding `id`, recording a warning if it is not on the scale.
    pub fn read_severity(&mut self, id: &str, word: Option<&str>) -> Severity {
        match Severity::read_word(word.unwrap_or("")) {
            SeverityReading::Recognized(severity) => severity,
            SeverityReading::Unrecognized(value) => {
                self.warn_unrecognized(id, value);
                Severity::Unknown
            }
        }
    }

    /// Records a severity text that could not be read for finding `id`.
    pub fn warn_unrecognized(&mut self, id: &str, value: String) {
        self.warnings.insert(FactsWarning::UnrecognizedSeverity { vulnerability_id: id.to_owned(), value });
    }

    /// Adds a finding as a reader extracted it, merging it with an earlier one of the
    /// same id, package and installed version.
    pub fn add(&mut self, finding: Vulnerability) {
        let key = (finding.id, finding.package, finding.installed_version);
        let merged = self.merged.entry(key).or_insert_with(|| Merged {
            aliases: BTreeSet::new(),
            fixed_version: None,
            severity: Severity::Unknown,
            cvss_score: None,
        });

        merged.aliases.extend(finding.aliases);
        merged.severity = merged.severity.max(finding.severity);
        merged.cvss_score = merged.cvss_score.max(finding.cvss_score);
        if merged.fixed_version.is_none() {
            merged.fixed_version = finding.fixed_version;
        }
    }

    /// Returns the sorted findings and warnings.
    pub fn finish(self) -> (Vec<Vulnerability>, Vec<FactsWarning>) {
        let vulnerabilities = self
            .merged
            .into_iter()
            .map(|((id, package, installed_version), merged)| {
                let aliases = merged.aliases.into_iter().filter(|alias| *alias != id && !alias.is_empty()).collect();
                Vulnerability {
                    id,
                    aliases,
                    package,
                    installed_version,
                    fixed_version: merged.fixed_version,
                    severity: merged.severity,
                    cvss_score: merged.cvss_score,
                }
            })
            .collect();
        (vulnerabilities, self.warnings.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, severity: Severity, fixed: Option<&str>, aliases: &[&str]) -> Vulnerability {
        Vulnerability {
            id: id.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            package: Some("openssl".into()),
            installed_version: Some("1.1.1".into()),
            fixed_version: fixed.map(Into::into),
            severity,
            cvss_score: None,
        }
    }

    #[test]
    fn same_key_merges() {
        let mut builder = FindingsBuilder::default();
        builder.add(finding("CVE-1", Severity::Medium, None, &["GHSA-b"]));
        builder.add(finding("CVE-1", Severity::High, Some("1.1.2"), &["GHSA-a", "CVE-1"]));
        builder.add(finding("CVE-1", Severity::Low, Some("1.1.3"), &[]));
        let (vulnerabilities, warnings) = builder.finish();
        assert!(warnings.is_empty());
        assert_eq!(vulnerabilities.len(), 1);
        assert_eq!(vulnerabilities[0].severity, Severity::High);
        assert_eq!(vulnerabilities[0].aliases, ["GHSA-a", "GHSA-b"]);
        assert_eq!(vulnerabilities[0].fixed_version.as_deref(), Some("1.1.2"));
    }

    #[test]
    fn different_versions_stay_apart_and_sorted() {
        let mut builder = FindingsBuilder::default();
        let mut second = finding("CVE-1", Severity::Low, None, &[]);
        second.installed_version = Some("1.0.0".into());
        builder.add(finding("CVE-2", Severity::Low, None, &[]));
        builder.add(finding("CVE-1", Severity::Low, None, &[]));
        builder.add(second);
        let (vulnerabilities, _) = builder.finish();
        let keys: Vec<_> = vulnerabilities.iter().map(|v| (v.id.as_str(), v.installed_version.as_deref())).collect();
        assert_eq!(keys, [("CVE-1", Some("1.0.0")), ("CVE-1", Some("1.1.1")), ("CVE-2", Some("1.1.1"))]);
    }

    #[test]
    fn unrecognized_severity_warns_once() {
        let mut builder = FindingsBuilder::default();
        assert_eq!(builder.read_severity("CVE-1", Some("Severe")), Severity::Unknown);
        assert_eq!(builder.read_severity("CVE-1", Some("Severe")), Severity::Unknown);
        assert_eq!(builder.read_severity("CVE-2", None), Severity::Unknown);
        let (_, warnings) = builder.finish();
        assert_eq!(
            warnings,
            [FactsWarning::UnrecognizedSeverity { vulnerability_id: "CVE-1".into(), value: "Severe".into() }]
        );
    }
}
