//! The standard policy contracts, compiled to wasm32 by the build script and
//! embedded in the node.

/// A standard policy's name and module bytes.
#[derive(Clone, Copy, Debug)]
pub struct StandardPolicy {
    /// The policy's name, as used in bindings and docs/POLICY_ABI.md.
    pub name: &'static str,
    /// The wasm module.
    pub wasm: &'static [u8],
}

macro_rules! contract {
    ($name:literal, $file:literal) => {
        StandardPolicy { name: $name, wasm: include_bytes!(concat!(env!("OUT_DIR"), "/", $file)) }
    };
}

/// Vulnerability threshold with exemptions.
pub const VULNERABILITY_THRESHOLD: StandardPolicy =
    contract!("vulnerability-threshold", "vouch_policy_vulnerability_threshold.wasm");
/// k of n required attesters.
pub const REQUIRED_ATTESTERS: StandardPolicy = contract!("required-attesters", "vouch_policy_required_attesters.wasm");
/// SBOM required.
pub const SBOM_REQUIRED: StandardPolicy = contract!("sbom-required", "vouch_policy_sbom_required.wasm");
/// Provenance from a trusted builder and source repository.
pub const TRUSTED_PROVENANCE: StandardPolicy = contract!("trusted-provenance", "vouch_policy_trusted_provenance.wasm");
/// Maximum scan age in block time.
pub const SCAN_AGE: StandardPolicy = contract!("scan-age", "vouch_policy_scan_age.wasm");

/// Every standard policy.
pub const ALL: [StandardPolicy; 5] =
    [VULNERABILITY_THRESHOLD, REQUIRED_ATTESTERS, SBOM_REQUIRED, TRUSTED_PROVENANCE, SCAN_AGE];

/// Returns the standard policy called `name`.
pub fn by_name(name: &str) -> Option<StandardPolicy> {
    ALL.into_iter().find(|policy| policy.name == name)
}
