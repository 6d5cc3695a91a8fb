//! Normalized facts: one typed reading of each known predicate and scanner report,
//! which policies read instead of raw JSON.
//!
//! Each reader module turns one input format into one of the [`Facts`] variants:
//! [`trivy`], [`grype`], [`cosign`] (cosign's vuln predicate), [`intoto_vulns`],
//! [`cyclonedx`], [`spdx`], [`slsa`] and [`review`]. Every reader has
//! `parse(source_name, bytes)` for a file and `from_value(source_name, value)` for a
//! predicate already decoded from an in-toto statement. [`from_statement`] picks
//! the reader from a statement's predicate type through [`crate::predicate`], and
//! [`from_raw_predicate`] does the same from the predicate's raw text, which the
//! node uses so that no `serde_json::Value` is built for it.
//!
//! # Invariants
//! - Facts hold no floats: CVSS scores are tenths ([`CvssScore`]) and times are
//!   integers ([`Timestamp`]), because facts are hashed and signed.
//! - Lists are in a fixed order, so the same input always gives the same facts.
//!   Findings are sorted by id, package and installed version, and aliases by text.
//! - A vulnerability finding is never dropped: a missing, empty or unrecognized
//!   severity becomes [`Severity::Unknown`], and an unrecognized word is also
//!   listed in [`VulnerabilityReport::warnings`].

pub mod cosign;
pub mod cvss;
pub mod cyclonedx;
mod findings;
pub mod grype;
pub mod intoto_vulns;
mod json;
pub mod review;
pub mod severity;
pub mod slsa;
pub mod spdx;
pub mod timestamp;
pub mod trivy;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::digest::Digest;
use crate::input::InputError;
use crate::predicate::{self, PredicateKind};

pub use cvss::{CvssError, CvssScore};
use json::Json;
pub use severity::{Severity, SeverityCounts};
pub use timestamp::{Timestamp, TimestampError};

/// The normalized reading of one predicate, as policies see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Facts {
    /// Findings of a vulnerability scanner.
    Vulnerabilities(VulnerabilityReport),
    /// Components listed by a software bill of materials.
    Sbom(Sbom),
    /// Build provenance: builder, build type and source of an artifact.
    Provenance(Provenance),
    /// A Vouch reviewer's decision.
    Review(Review),
}

/// Vulnerability findings of one scan, deduplicated and sorted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityReport {
    /// The tool that scanned.
    pub scanner: Scanner,
    /// Time of the scan, when the report gives it.
    pub scanned_at: Option<Timestamp>,
    /// Scan target as given (an image reference, tag or path).
    pub artifact_name: Option<String>,
    /// Registry digests that the report lists as scanned, as `name@sha256:…`
    /// (Trivy `Metadata.RepoDigests`, Grype `source.target.repoDigests`). Image IDs
    /// and config digests are never listed here.
    pub repo_digests: Vec<String>,
    /// One entry per (id, package, installed version), sorted by those three.
    pub vulnerabilities: Vec<Vulnerability>,
    /// Input that was read but could not be represented exactly, sorted.
    pub warnings: Vec<FactsWarning>,
}

/// The scanner that produced a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scanner {
    /// Lowercase tool name, such as `trivy` or `grype`.
    pub name: String,
    /// The tool's version as it reports it.
    pub version: Option<String>,
    /// The tool's URI, when a predicate gives one (`scanner.uri`).
    pub uri: Option<String>,
}

/// One vulnerability finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vulnerability {
    /// The advisory id that the scanner matched (`CVE-…`, `GHSA-…`, `DLA-…`).
    pub id: String,
    /// Other ids of the same advisory, sorted, without `id` itself.
    pub aliases: Vec<String>,
    /// The affected package name; None when the format names none (in-toto vulns).
    pub package: Option<String>,
    /// The installed version of that package; None when the format names none.
    pub installed_version: Option<String>,
    /// The first version that fixes it; None when no fix is known.
    pub fixed_version: Option<String>,
    /// Severity on the shared scale.
    pub severity: Severity,
    /// CVSS v3 base score, when the report gives one (rules in each reader).
    pub cvss_score: Option<CvssScore>,
}

/// Input that a reader kept but could not represent exactly.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FactsWarning {
    /// A severity word that is not on the scale; the finding counts as Unknown.
    #[serde(rename_all = "camelCase")]
    UnrecognizedSeverity {
        /// The finding's id.
        vulnerability_id: String,
        /// The word as the report gives it.
        value: String,
    },
}

impl fmt::Display for FactsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FactsWarning::UnrecognizedSeverity { vulnerability_id, value } => write!(
                f,
                "{vulnerability_id}: severity {value:?} is not one of unknown, negligible, low, medium, high, critical, so it counts as unknown"
            ),
        }
    }
}

impl VulnerabilityReport {
    /// Counts findings by severity.
    pub fn counts(&self) -> SeverityCounts {
        let mut counts = SeverityCounts::default();
        for vulnerability in &self.vulnerabilities {
            counts.add(vulnerability.severity);
        }
        counts
    }

    /// Returns true when one of [`VulnerabilityReport::repo_digests`] names `digest`.
    pub fn covers_digest(&self, digest: &Digest) -> bool {
        let text = digest.to_string();
        self.repo_digests.iter().any(|repo_digest| repo_digest.rsplit_once('@').is_some_and(|(_, d)| d == text))
    }
}

/// The SBOM formats that have a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SbomFormat {
    /// CycloneDX JSON, spec versions 1.2 to 1.6.
    CycloneDx,
    /// SPDX JSON, versions 2.2 and 2.3.
    Spdx,
}

/// The components that a software bill of materials lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sbom {
    /// The document format.
    pub format: SbomFormat,
    /// The format's version, such as `1.5` or `2.3` (without the `SPDX-` prefix).
    pub spec_version: String,
    /// Name of what the SBOM describes (CycloneDX `metadata.component.name`, SPDX
    /// described package or document name).
    pub subject_name: Option<String>,
    /// Digest of what the SBOM describes, when the document states one.
    pub subject_digest: Option<Digest>,
    /// Every listed component in document order, nested CycloneDX components
    /// flattened; the subject itself is not listed.
    pub components: Vec<Component>,
}

/// One component of an SBOM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Component name.
    pub name: String,
    /// Component version as given.
    pub version: Option<String>,
    /// Package URL, when given.
    pub purl: Option<String>,
    /// CycloneDX component type (`library`, `operating-system`, …) or SPDX
    /// `primaryPackagePurpose` in the same lowercase, hyphenated spelling.
    pub kind: Option<String>,
}

/// The SLSA provenance versions that have a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SlsaVersion {
    /// `https://slsa.dev/provenance/v0.2`.
    #[serde(rename = "v0.2")]
    V0_2,
    /// `https://slsa.dev/provenance/v1`.
    #[serde(rename = "v1")]
    V1,
}

/// Builder, build type and source of an artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The predicate version that was read.
    pub slsa_version: SlsaVersion,
    /// The builder's id URI (v0.2 `builder.id`, v1 `runDetails.builder.id`).
    pub builder_id: String,
    /// The build type URI (v0.2 `buildType`, v1 `buildDefinition.buildType`).
    pub build_type: String,
    /// Source repository URI without `git+`, ref suffix or `.git`, such as
    /// `https://github.com/org/repo` (rules in [`slsa`]).
    pub source_repository: Option<String>,
    /// Git ref that was built, such as `refs/tags/v1.2.0`.
    pub source_ref: Option<String>,
    /// Commit that was built (the `gitCommit` or `sha1` digest of the source).
    pub source_revision: Option<String>,
    /// Build configuration file or entry point, such as a workflow path.
    pub entry_point: Option<String>,
    /// v0.2 `invocation.configSource.uri` exactly as given.
    pub config_source_uri: Option<String>,
    /// v0.2 `materials` or v1 `resolvedDependencies`, in document order.
    pub materials: Vec<Material>,
}

/// One input of a build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Material {
    /// Location of the input.
    pub uri: Option<String>,
    /// Its name (v1 resource descriptors only).
    pub name: Option<String>,
    /// Digests by algorithm name (`sha256`, `sha1`, `gitCommit`), hex as given.
    pub digest: BTreeMap<String, String>,
}

/// A reviewer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(expecting = "a decision, `approve` or `reject`")]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// The reviewer approves the image.
    Approve,
    /// The reviewer rejects the image.
    Reject,
}

/// A Vouch reviewer's decision about an image: the facts and also the exact
/// schema of the `https://vouch.dev/review/v1` predicate (see [`review`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a Vouch review predicate object")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Review {
    /// Approve or reject.
    pub decision: Decision,
    /// Why, in the reviewer's words; 1 to [`review::REASON_BYTES_MAX`] bytes.
    #[serde(deserialize_with = "review::deserialize_reason")]
    pub reason: String,
    /// When the decision stops applying; None for no expiry.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Reviewer name or email, for people reading the ledger. The signing key,
    /// not this text, identifies the attester.
    #[serde(default, deserialize_with = "review::deserialize_reviewer")]
    pub reviewer: Option<String>,
}

/// Error of reading a predicate or report into facts.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// The file is not the expected JSON; the message names the byte, field and fix.
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{source_name}: field `{path}`: {message}")]
    InvalidField { source_name: String, path: String, message: String },
    #[error(
        "{source_name}: field `scanner.result` holds {found}, which is not a Trivy, Grype or SARIF document; attest the scanner's JSON report (trivy --format json, grype -o json)"
    )]
    UnrecognizedScanResult { source_name: String, found: String },
    #[error(
        "{source_name}: field `scanner.result` is a SARIF log with {results} results, which do not name package versions; attest the scanner's JSON report (trivy --format json, grype -o json) instead"
    )]
    SarifFindings { source_name: String, results: u64 },
}

/// Reads the facts of an in-toto statement's predicate.
///
/// Returns `Ok(None)` for predicate types that carry no facts: recognized ones
/// such as cosign's custom type, and unknown types, which the ledger keeps as
/// opaque attestations. Returns an error when a recognized predicate is invalid.
pub fn from_statement(predicate_type: &str, predicate: &Value) -> Result<Option<Facts>, FactsError> {
    read_predicate(predicate_type, Json::Value(predicate))
}

/// Reads the facts of a predicate from its raw JSON text, as [`from_statement`] reads
/// a decoded one: the same facts, and the same errors. `None` stands for a statement
/// without a predicate. The text must come from [`crate::intoto::RawStatement`],
/// because it rejects duplicate keys and numbers out of range over the whole payload.
/// Raw text made any other way skips those checks.
pub fn from_raw_predicate(predicate_type: &str, predicate: Option<&RawValue>) -> Result<Option<Facts>, FactsError> {
    read_predicate(predicate_type, Json::raw_or_null(predicate))
}

fn read_predicate(predicate_type: &str, predicate: Json<'_>) -> Result<Option<Facts>, FactsError> {
    let Some(kind) = predicate::lookup(predicate_type) else {
        return Ok(None);
    };
    // NOTE: a versioned type such as `https://cyclonedx.org/bom/v1.4` is not checked
    // against the document's own spec version; the document's version is what counts.
    let source_name = format!("predicate {predicate_type}");
    let source_name = source_name.as_str();
    let facts = match kind {
        PredicateKind::CosignVuln => Facts::Vulnerabilities(cosign::read(source_name, predicate)?),
        PredicateKind::InTotoVulns => Facts::Vulnerabilities(intoto_vulns::read(source_name, predicate)?),
        PredicateKind::CycloneDx => Facts::Sbom(cyclonedx::read(source_name, predicate)?),
        PredicateKind::Spdx => Facts::Sbom(spdx::read(source_name, predicate)?),
        PredicateKind::SlsaProvenanceV0_2 => Facts::Provenance(slsa::read(SlsaVersion::V0_2, source_name, predicate)?),
        PredicateKind::SlsaProvenanceV1 => Facts::Provenance(slsa::read(SlsaVersion::V1, source_name, predicate)?),
        PredicateKind::VouchReview => Facts::Review(review::read(source_name, predicate)?),
        PredicateKind::CosignCustom | PredicateKind::InTotoLink | PredicateKind::OpenVex => return Ok(None),
    };
    Ok(Some(facts))
}

/// Returns None for an absent or empty (after trimming) string.
pub(crate) fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// Deserializes a report's list of registry digests, checking that each is
/// `name@algorithm:hex` with a valid digest.
pub(crate) fn deserialize_repo_digests<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let repo_digests = Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default();
    for repo_digest in &repo_digests {
        let digest = repo_digest.rsplit_once('@').map(|(_, digest)| Digest::parse(digest));
        match digest {
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                return Err(serde::de::Error::custom(format!("repo digest {repo_digest:?}: {error}")));
            }
            None => {
                return Err(serde::de::Error::custom(format!(
                    "repo digest {repo_digest:?} has no `@digest` part; expected name@sha256:<64 hex digits>"
                )));
            }
        }
    }
    Ok(repo_digests)
}
