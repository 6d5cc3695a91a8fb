//! SBOMs (CycloneDX or SPDX) and SLSA provenance, signed with the document itself as
//! the predicate, embedded byte for byte.

use std::path::Path;

use anyhow::bail;
use serde_json::Value;
use vouch_protocol::facts::{self, SbomFormat, SlsaVersion};

use super::image::Target;
use super::predicate::{EMBEDDED_INPUT_LIMIT, Prepared, raw_json, read_input, statement_about};
use super::sign::Unsigned;
use super::summary::Summary;

/// Predicate type of a CycloneDX SBOM, as cosign writes it.
pub const CYCLONEDX_PREDICATE_TYPE: &str = "https://cyclonedx.org/bom";
/// Predicate type of an SPDX SBOM, as cosign writes it.
pub const SPDX_PREDICATE_TYPE: &str = "https://spdx.dev/Document";
/// Predicate type of SLSA provenance v0.2.
pub const SLSA_V0_2_PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v0.2";
/// Predicate type of SLSA provenance v1.
pub const SLSA_V1_PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// Reads an SBOM, detects its format and builds the statement about `target`.
pub fn prepare_sbom(path: &Path, target: &Target, max_input_bytes: u64) -> anyhow::Result<Prepared> {
    let source_name = path.display().to_string();
    let bytes = read_input(path, max_input_bytes, &EMBEDDED_INPUT_LIMIT)?;
    let document: Value = vouch_protocol::input::parse_json(&source_name, &bytes)?;
    let predicate_type = match detect_sbom(&document) {
        Some(SbomFormat::CycloneDx) => CYCLONEDX_PREDICATE_TYPE,
        Some(SbomFormat::Spdx) => SPDX_PREDICATE_TYPE,
        None => bail!(
            "{source_name}: not a CycloneDX or SPDX JSON document (no `bomFormat: \"CycloneDX\"` or `spdxVersion` field); \
             pass the SBOM tool's JSON output, such as `syft -o cyclonedx-json` or `syft -o spdx-json`"
        ),
    };
    let sbom = match predicate_type {
        CYCLONEDX_PREDICATE_TYPE => facts::cyclonedx::from_value(&source_name, &document)?,
        _ => facts::spdx::from_value(&source_name, &document)?,
    };
    let (payload, _) = statement_about(target, predicate_type, &raw_json(&source_name, &bytes)?)?;

    let mut summary = Summary::new(predicate_type);
    let format = match sbom.format {
        SbomFormat::CycloneDx => "CycloneDX",
        SbomFormat::Spdx => "SPDX",
    };
    summary.line("sbom", format!("{format} {}", sbom.spec_version));
    summary.line("components", sbom.components.len().to_string());
    if let Some(name) = &sbom.subject_name {
        summary.line("describes", name.clone());
    }
    Ok(Prepared { unsigned: Unsigned::Statement(payload), summary })
}

/// Recognizes CycloneDX by `bomFormat` and SPDX by `spdxVersion`.
fn detect_sbom(document: &Value) -> Option<SbomFormat> {
    if document.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return Some(SbomFormat::CycloneDx);
    }
    document.get("spdxVersion").and(Some(SbomFormat::Spdx))
}

/// Reads a SLSA provenance predicate, detects v0.2 or v1 and builds the statement.
pub fn prepare_provenance(path: &Path, target: &Target, max_input_bytes: u64) -> anyhow::Result<Prepared> {
    let source_name = path.display().to_string();
    let bytes = read_input(path, max_input_bytes, &EMBEDDED_INPUT_LIMIT)?;
    let document: Value = vouch_protocol::input::parse_json(&source_name, &bytes)?;
    if document.get("_type").is_some() || document.get("predicateType").is_some() {
        bail!("{source_name}: this is an in-toto statement, not a bare provenance predicate; pass it with --statement");
    }
    if document.get("payloadType").is_some() {
        bail!("{source_name}: this is a DSSE envelope, not a bare provenance predicate; pass it with --envelope");
    }
    let (version, predicate_type) = match detect_slsa(&document) {
        Some(SlsaVersion::V1) => (SlsaVersion::V1, SLSA_V1_PREDICATE_TYPE),
        Some(SlsaVersion::V0_2) => (SlsaVersion::V0_2, SLSA_V0_2_PREDICATE_TYPE),
        None => bail!(
            "{source_name}: not a SLSA provenance predicate (v1 has `buildDefinition` and `runDetails`, \
             v0.2 has `builder` and `buildType`); pass the predicate object of the provenance"
        ),
    };
    let provenance = facts::slsa::from_value(version, &source_name, &document)?;
    let (payload, _) = statement_about(target, predicate_type, &raw_json(&source_name, &bytes)?)?;

    let mut summary = Summary::new(predicate_type);
    summary.line("builder", provenance.builder_id.clone());
    summary.line("build type", provenance.build_type.clone());
    if let Some(repository) = &provenance.source_repository {
        summary.line("source", repository.clone());
    }
    Ok(Prepared { unsigned: Unsigned::Statement(payload), summary })
}

/// Recognizes SLSA v1 by `buildDefinition` and `runDetails`, v0.2 by `builder` and
/// `buildType`.
fn detect_slsa(document: &Value) -> Option<SlsaVersion> {
    if document.get("buildDefinition").is_some() && document.get("runDetails").is_some() {
        return Some(SlsaVersion::V1);
    }
    if document.get("builder").is_some() && document.get("buildType").is_some() {
        return Some(SlsaVersion::V0_2);
    }
    None
}
