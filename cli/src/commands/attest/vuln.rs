//! Trivy and Grype reports, signed as cosign vulnerability attestations.
//!
//! The predicate is cosign's `https://cosign.sigstore.dev/attestation/vuln/v1` as
//! `cosign attest --type vuln` writes it: `invocation`, `scanner` with the whole report
//! in `scanner.result`, and `metadata` with the scan's start and end time. The report is
//! embedded byte for byte (without surrounding whitespace), so its key order, number
//! spelling and integers beyond 64 bits are kept.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use vouch_protocol::Digest;
use vouch_protocol::facts::{self, Timestamp, VulnerabilityReport};

use super::image::Target;
use super::predicate::{EMBEDDED_INPUT_LIMIT, Prepared, raw_json, read_input, statement_about};
use super::sign::Unsigned;
use super::summary::{Summary, format_counts};

/// cosign's vulnerability scan predicate type.
pub const COSIGN_VULN_PREDICATE_TYPE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// The scanner that wrote a report.
#[derive(Clone, Copy)]
pub enum Scanner {
    /// Aqua Security Trivy, `--format json`.
    Trivy,
    /// Anchore Grype, `-o json`.
    Grype,
}

impl Scanner {
    /// Returns the scanner's project URI for `scanner.uri`.
    fn uri(self) -> &'static str {
        match self {
            Scanner::Trivy => "https://github.com/aquasecurity/trivy",
            Scanner::Grype => "https://github.com/anchore/grype",
        }
    }

    fn parse(self, source_name: &str, bytes: &[u8]) -> Result<VulnerabilityReport, facts::FactsError> {
        match self {
            Scanner::Trivy => facts::trivy::parse(source_name, bytes),
            Scanner::Grype => facts::grype::parse(source_name, bytes),
        }
    }
}

/// Reads and checks a report and builds the cosign vuln statement about `target`.
pub fn prepare(scanner: Scanner, path: &Path, target: &Target, max_input_bytes: u64) -> anyhow::Result<Prepared> {
    let source_name = path.display().to_string();
    let bytes = read_input(path, max_input_bytes, &EMBEDDED_INPUT_LIMIT)?;
    let report = scanner.parse(&source_name, &bytes)?;
    check_repo_digests(&source_name, &report, &target.digest)?;
    for warning in &report.warnings {
        tracing::warn!(file = %source_name, "{warning}");
    }

    let result = raw_json(&source_name, &bytes)?;
    let predicate = cosign_vuln_predicate(scanner, &report, &result);
    let (payload, _) = statement_about(target, COSIGN_VULN_PREDICATE_TYPE, &predicate)?;

    let mut summary = Summary::new(COSIGN_VULN_PREDICATE_TYPE);
    summary.line(
        "scanner",
        format!("{} {}", report.scanner.name, report.scanner.version.as_deref().unwrap_or("(version not given)")),
    );
    summary.line("vulnerabilities", format_counts(&report.counts()));
    summary.line("report digests", describe_repo_digests(&report));
    Ok(Prepared { unsigned: Unsigned::Statement(payload), summary })
}

/// Rejects a report whose registry digests are all of other images. Image IDs and
/// config digests are not registry digests and are never compared.
fn check_repo_digests(source_name: &str, report: &VulnerabilityReport, digest: &Digest) -> anyhow::Result<()> {
    if report.repo_digests.is_empty() || report.covers_digest(digest) {
        return Ok(());
    }
    bail!(
        "{source_name}: the report scanned {}, but the image to attest is {digest}; \
         attest the digest the report names, or scan the image by digest",
        report.repo_digests.join(", ")
    )
}

fn describe_repo_digests(report: &VulnerabilityReport) -> String {
    if report.repo_digests.is_empty() {
        "none listed, so the subject is the image as given".to_owned()
    } else {
        format!("match ({})", report.repo_digests.join(", "))
    }
}

/// cosign's vuln predicate, with the report as raw JSON in `scanner.result`.
#[derive(Serialize)]
struct CosignVulnPredicate<'a> {
    invocation: Value,
    scanner: CosignScanner<'a>,
    metadata: Value,
}

#[derive(Serialize)]
struct CosignScanner<'a> {
    uri: &'static str,
    version: String,
    db: Value,
    result: &'a RawValue,
}

/// Builds cosign's vuln predicate with the report as `scanner.result`.
fn cosign_vuln_predicate<'a>(
    scanner: Scanner,
    report: &VulnerabilityReport,
    result: &'a RawValue,
) -> CosignVulnPredicate<'a> {
    let scanned_at = report.scanned_at.unwrap_or_else(now).to_string();
    CosignVulnPredicate {
        invocation: json!({ "parameters": null, "uri": "", "event_id": "", "builder.id": "" }),
        scanner: CosignScanner {
            uri: scanner.uri(),
            version: report.scanner.version.clone().unwrap_or_default(),
            db: json!({ "uri": "", "version": "" }),
            result,
        },
        metadata: json!({ "scanStartedOn": scanned_at, "scanFinishedOn": scanned_at }),
    }
}

/// Returns the current time, whole seconds.
pub fn now() -> Timestamp {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    Timestamp::from_unix(i64::try_from(seconds).unwrap_or(i64::MAX), 0)
        .expect("the system clock is between year 0 and 9999")
}
