//! Checks the parameters of a binding before `vouch policy bind` proposes it, by
//! evaluating each policy locally on an image without attestations.
//!
//! A standard policy returns a quarantine whose reason starts with
//! [`INVALID_PARAMETERS_PREFIX`] for invalid parameters, whatever the attestations, so
//! one evaluation on an empty input finds them. The CLI holds only the embedded standard policies:
//! a bound policy is checked with the standard module whose BLAKE3 hash equals the
//! code hash the node lists for that name, and any other policy is skipped with a
//! warning.

use anyhow::{Context, bail};
use vouch_node::policy::{EncodedInput, PolicyRuntime, RuntimeConfig, Verdict, abi, standard};
use vouch_protocol::api::PolicyView;
use vouch_protocol::ledger::BoundPolicy;

use crate::output::escape_message;

/// Start of the reason with which the standard policies (through the SDK's
/// `parameters` helper) reject their parameters.
// NOTE: this is a convention of the standard policies and the SDK, not part of the
// ABI; a policy that words it differently passes this check.
pub const INVALID_PARAMETERS_PREFIX: &str = "invalid policy parameters";

/// The image digest of the evaluation input: any well-formed digest will do, because
/// the input has no attestations about it.
const PROBE_IMAGE: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The result of checking one bound policy.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The policy accepted the parameters.
    Accepted,
    /// The parameters could not be checked, for the reason given.
    Skipped(String),
}

/// Checks each policy's parameters against the policies the node lists, failing on
/// the first policy that rejects them; returns one outcome per policy.
pub fn check_bindings(policies: &[BoundPolicy], deployed: &[PolicyView]) -> anyhow::Result<Vec<Check>> {
    let runtime = PolicyRuntime::new(RuntimeConfig::default()).context("cannot start the policy runtime")?;
    policies.iter().map(|bound| check_binding(&runtime, bound, deployed)).collect()
}

fn check_binding(runtime: &PolicyRuntime, bound: &BoundPolicy, deployed: &[PolicyView]) -> anyhow::Result<Check> {
    let Some(view) = deployed.iter().find(|view| view.name == bound.policy) else {
        return Ok(Check::Skipped(format!("policy {:?} is not deployed on the node's chain", bound.policy)));
    };
    let Some(module) = standard_module(&view.code_hash) else {
        return Ok(Check::Skipped(format!(
            "policy {:?} (code hash {}) is not a standard policy embedded in vouch; \
             check its parameters with `vouch policy test WASMFILE --parameters JSON`",
            bound.policy, view.code_hash
        )));
    };
    let policy =
        runtime.deploy(module.wasm).with_context(|| format!("cannot compile standard policy {}", module.name))?;
    let input = abi::Input {
        image_digest: PROBE_IMAGE,
        repositories: Vec::new(),
        block: abi::Block { height: 1, time_ms: 0 },
        attestations: Vec::new(),
        parameters: &bound.parameters,
        storage: Vec::new(),
    };
    let evaluation = runtime
        .evaluate(&policy, &EncodedInput::encode(&input))
        .with_context(|| format!("cannot evaluate policy {:?} to check its parameters", bound.policy))?;
    let rejection = evaluation.reasons.iter().find(|reason| reason.starts_with(INVALID_PARAMETERS_PREFIX));
    match (evaluation.verdict, rejection) {
        (Verdict::Quarantined, Some(reason)) => bail!(
            "policy {:?} rejects the parameters {:?}: {}; see its parameters in docs/POLICY_ABI.md",
            bound.policy,
            bound.parameters,
            escape_message(reason)
        ),
        _ => Ok(Check::Accepted),
    }
}

/// Returns the embedded standard policy whose module has BLAKE3 hash `code_hash` (hex).
fn standard_module(code_hash: &str) -> Option<standard::StandardPolicy> {
    standard::ALL.into_iter().find(|policy| blake3::hash(policy.wasm).to_hex().eq_ignore_ascii_case(code_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed(policy: standard::StandardPolicy) -> PolicyView {
        PolicyView {
            name: policy.name.to_owned(),
            version: 1,
            code_hash: blake3::hash(policy.wasm).to_hex().to_string(),
            deployed_at: 0,
            storage: Vec::new(),
        }
    }

    fn bound(policy: &str, parameters: &str) -> BoundPolicy {
        BoundPolicy { policy: policy.to_owned(), parameters: parameters.to_owned() }
    }

    fn all_deployed() -> Vec<PolicyView> {
        standard::ALL.into_iter().map(deployed).collect()
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let cases = [
            ("required-attesters", r#"{"threshold":"many"}"#),
            ("required-attesters", r#"{"threshold":0}"#),
            ("required-attesters", r#"{"treshold":5}"#),
            ("vulnerability-threshold", r#"{"max_severity":"severe"}"#),
            ("sbom-required", r#"{"missing_verdict":"approved"}"#),
            ("trusted-provenance", r#"{"trusted_builders":[]}"#),
            ("scan-age", r#"{"max_age_ms":0}"#),
        ];
        for (policy, parameters) in cases {
            let error = check_bindings(&[bound(policy, parameters)], &all_deployed()).unwrap_err().to_string();
            assert!(error.contains(&format!("policy {policy:?} rejects the parameters")), "{error}");
            assert!(error.contains(INVALID_PARAMETERS_PREFIX), "{error}");
        }
    }

    #[test]
    fn good_parameters_and_defaults_pass() {
        let policies = [
            bound("required-attesters", r#"{"threshold":1}"#),
            bound("vulnerability-threshold", r#"{"max_severity":"high"}"#),
            bound("sbom-required", ""),
            bound("scan-age", r#"{"max_age_ms":1}"#),
        ];
        let checks = check_bindings(&policies, &all_deployed()).unwrap();
        assert_eq!(checks, [Check::Accepted, Check::Accepted, Check::Accepted, Check::Accepted]);
    }

    #[test]
    fn unknown_code_or_name_is_skipped() {
        let mut custom = deployed(standard::SCAN_AGE);
        custom.name = "custom".to_owned();
        custom.code_hash = "ab".repeat(32);
        let policies = [bound("custom", r#"{"x":1}"#), bound("undeployed", "")];
        let checks = check_bindings(&policies, &[custom]).unwrap();
        assert!(matches!(&checks[0], Check::Skipped(reason) if reason.contains("not a standard policy")), "{checks:?}");
        assert!(matches!(&checks[1], Check::Skipped(reason) if reason.contains("not deployed")), "{checks:?}");
    }

    #[test]
    fn renamed_standard_policy_is_found_by_hash() {
        let mut renamed = deployed(standard::REQUIRED_ATTESTERS);
        renamed.name = "two-reviewers".to_owned();
        let result = check_bindings(&[bound("two-reviewers", r#"{"threshold":0}"#)], &[renamed]);
        assert!(result.is_err(), "{result:?}");
    }
}
