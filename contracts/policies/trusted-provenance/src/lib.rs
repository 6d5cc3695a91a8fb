//! Standard policy: approve an image built by a trusted builder from an allowed
//! source repository, as its SLSA provenance states.
//!
//! Parameters (JSON, all optional): `trusted_builders` (builder id patterns;
//! default: the SLSA GitHub generator's workflows and Tekton Chains v2) and
//! `source_repositories` (repository patterns; default empty: any source, stated or
//! not). A pattern is an exact string, or a prefix followed by `*`.
//!
//! One provenance that passes both checks approves. Provenance that fails them
//! quarantines, naming the builder or source; without provenance the verdict is
//! pending.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;
use vouch_policy_sdk::{Facts, Input, Output, Provenance, Verdict, matches_pattern};

vouch_policy_sdk::entry!(evaluate);

/// Builder ids trusted when the binding names none.
pub const DEFAULT_TRUSTED_BUILDERS: [&str; 2] =
    ["https://github.com/slsa-framework/slsa-github-generator/.github/workflows/*", "https://tekton.dev/chains/v2"];

/// The binding's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Parameters {
    /// Builder id patterns that are trusted.
    pub trusted_builders: Vec<String>,
    /// Source repository patterns that are allowed; empty for any source.
    pub source_repositories: Vec<String>,
}

impl Default for Parameters {
    fn default() -> Parameters {
        Parameters {
            trusted_builders: DEFAULT_TRUSTED_BUILDERS.iter().map(|builder| String::from(*builder)).collect(),
            source_repositories: Vec::new(),
        }
    }
}

/// Evaluates the image against the provenance requirement.
pub fn evaluate(input: &Input<'_>) -> Output {
    let parameters: Parameters = match vouch_policy_sdk::parameters(input) {
        Ok(parameters) => parameters,
        Err(error) => return Output::quarantined(error),
    };
    if parameters.trusted_builders.is_empty() {
        return Output::quarantined("invalid policy parameters: trusted_builders is empty, so no build can pass");
    }

    let mut failures: Vec<String> = Vec::new();
    for (attestation, facts) in input.facts() {
        let Facts::Provenance(provenance) = facts else { continue };
        match check(&parameters, provenance) {
            Ok(()) => {
                return Output::approved().with_reason(format!(
                    "built by {} from {} (provenance from {})",
                    provenance.builder_id,
                    provenance.source_repository.unwrap_or("an unstated source"),
                    attestation.attester.name
                ));
            }
            Err(reason) => failures.push(reason),
        }
    }

    if failures.is_empty() {
        return Output::pending("no build provenance has been attested yet");
    }
    let mut output = Output::new(Verdict::Quarantined);
    for failure in failures {
        output.push_reason(failure);
    }
    output
}

fn check(parameters: &Parameters, provenance: &Provenance<'_>) -> Result<(), String> {
    let builder = provenance.builder_id;
    if !parameters.trusted_builders.iter().any(|pattern| matches_pattern(pattern, builder)) {
        return Err(format!("builder {builder} is not trusted"));
    }
    if parameters.source_repositories.is_empty() {
        return Ok(());
    }
    let Some(source) = provenance.source_repository else {
        return Err(format!("provenance from builder {builder} states no source repository"));
    };
    if !parameters.source_repositories.iter().any(|pattern| matches_pattern(pattern, source)) {
        return Err(format!("source repository {source} is not allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
