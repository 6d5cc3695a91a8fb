//! The genesis that `vouchd init` writes: one validator, the standard policies and a
//! default binding for every image.

use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{
    Genesis, GenesisAttester, GenesisBinding, GenesisBoundPolicy, GenesisPolicy, GenesisValidator, PolicyCodeSource,
};
use vouch_protocol::signing::ChainId;

use crate::policy::standard;

/// The scope of the default binding: every image.
pub const DEFAULT_SCOPE: &str = "*";

/// Returns every standard policy as a genesis policy, with the BLAKE3 hash of the code
/// embedded in this binary.
pub fn standard_policies() -> Vec<GenesisPolicy> {
    standard::ALL
        .iter()
        .map(|policy| GenesisPolicy {
            name: policy.name.to_owned(),
            code: PolicyCodeSource::Standard(policy.name.to_owned()),
            code_hash: blake3::hash(policy.wasm).to_hex().to_string(),
        })
        .collect()
}

/// Returns the default binding: every image is checked by the vulnerability threshold
/// with its defaults and needs at least one registered attester.
fn default_binding() -> GenesisBinding {
    GenesisBinding {
        scope: DEFAULT_SCOPE.to_owned(),
        policies: vec![
            GenesisBoundPolicy {
                policy: standard::VULNERABILITY_THRESHOLD.name.to_owned(),
                parameters: serde_json::Value::Null,
            },
            GenesisBoundPolicy {
                policy: standard::REQUIRED_ATTESTERS.name.to_owned(),
                parameters: serde_json::json!({ "threshold": 1 }),
            },
        ],
    }
}

/// The least self-bond of a validator that `vouchd init` writes into the genesis.
pub const INIT_MIN_SELF_BOND: u64 = 10;

/// Returns the staking section of a chain that one operator starts: its single
/// validator holds all the power, which the rule against a dominant validator would
/// reject, so the section allows it; other parameters keep `vouchd`'s defaults.
fn single_operator_staking() -> serde_json::Value {
    serde_json::json!({ "min_self_bond": INIT_MIN_SELF_BOND, "dominant_power_allowed": true })
}

/// Builds the genesis of a single-validator chain.
pub fn build_genesis(
    chain_id: ChainId,
    validator_name: &str,
    stake: u64,
    node_key: &SigningKey,
    genesis_time_unix_ms: u64,
    attesters: Vec<GenesisAttester>,
) -> Genesis {
    Genesis {
        chain_id,
        genesis_time_unix_ms,
        validators: vec![GenesisValidator {
            name: validator_name.to_owned(),
            public_key: node_key.public_key(),
            stake,
        }],
        attesters,
        policies: standard_policies(),
        bindings: vec![default_binding()],
        governance: Default::default(),
        consensus: Default::default(),
        policy_limits: Default::default(),
        staking: Some(single_operator_staking()),
    }
}
