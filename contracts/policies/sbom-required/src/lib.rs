//! Standard policy: approve an image once an SBOM describing it is attested.
//!
//! Parameters (JSON, all optional): `formats` (`"cyclonedx"` and/or `"spdx"`;
//! default empty: both), `min_components` (default 1, so an SBOM that lists nothing
//! does not count) and `missing_verdict` (`"pending"`, the default, or
//! `"quarantined"`: the verdict while no SBOM counts).
//!
//! An SBOM that states a subject digest other than the image's digest describes
//! something else and does not count.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;
use vouch_policy_sdk::{Attestation, Facts, Input, Output, Sbom, SbomFormat, Verdict};

vouch_policy_sdk::entry!(evaluate);

/// The binding's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Parameters {
    /// Formats that count; empty for all.
    pub formats: Vec<SbomFormat>,
    /// Fewest components an SBOM must list to count.
    pub min_components: u64,
    /// The verdict while no SBOM counts: pending or quarantined.
    pub missing_verdict: Verdict,
}

impl Default for Parameters {
    fn default() -> Parameters {
        Parameters { formats: Vec::new(), min_components: 1, missing_verdict: Verdict::Pending }
    }
}

/// Evaluates the image against the SBOM requirement.
pub fn evaluate(input: &Input<'_>) -> Output {
    let parameters: Parameters = match vouch_policy_sdk::parameters(input) {
        Ok(parameters) => parameters,
        Err(error) => return Output::quarantined(error),
    };
    if parameters.missing_verdict == Verdict::Approved {
        return Output::quarantined("invalid policy parameters: missing_verdict must be pending or quarantined");
    }

    let mut rejections: Vec<String> = Vec::new();
    for (attestation, facts) in input.facts() {
        let Facts::Sbom(sbom) = facts else { continue };
        match check(input, &parameters, sbom) {
            Ok(()) => return accepted(attestation, sbom),
            Err(reason) => rejections.push(format!("SBOM from {} does not count: {reason}", attestation.attester.name)),
        }
    }

    let mut output = Output::new(parameters.missing_verdict).with_reason("no SBOM of this image has been attested yet");
    for rejection in rejections {
        output.push_reason(rejection);
    }
    output
}

fn check(input: &Input<'_>, parameters: &Parameters, sbom: &Sbom<'_>) -> Result<(), String> {
    if !parameters.formats.is_empty() && !parameters.formats.contains(&sbom.format) {
        return Err(format!("its format {} is not allowed", format_name(sbom.format)));
    }
    if let Some(digest) = sbom.subject_digest.filter(|digest| !digest.matches(input.image_digest)) {
        return Err(format!("it describes {digest}"));
    }
    let components = sbom.components.len() as u64;
    if components < parameters.min_components {
        return Err(format!("it lists {components} components, fewer than {}", parameters.min_components));
    }
    Ok(())
}

fn accepted(attestation: &Attestation<'_>, sbom: &Sbom<'_>) -> Output {
    Output::approved().with_reason(format!(
        "{} SBOM {} from {} lists {} components",
        format_name(sbom.format),
        sbom.spec_version,
        attestation.attester.name,
        sbom.components.len()
    ))
}

fn format_name(format: SbomFormat) -> &'static str {
    match format {
        SbomFormat::CycloneDx => "CycloneDX",
        SbomFormat::Spdx => "SPDX",
    }
}

#[cfg(test)]
mod tests;
