//! The genesis file: the chain id, the first validators and the starting state that
//! every node and light client of a chain must agree on.

use std::ops::RangeInclusive;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::chain::BLOCK_TXS_MAX;
use crate::input::{self, InputError};
use crate::keys::PublicKey;
use crate::ledger::params::{ConsensusParams, GovernanceParams, PolicyLimits};
use crate::ledger::scope::Scope;
use crate::ledger::tx::TX_BYTES_MAX;
use crate::signing::ChainId;

/// Maximum size of a genesis file in bytes.
pub const GENESIS_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Accepted genesis times: from 1 ms after the Unix epoch to the last millisecond of
/// the year 9999 (UTC), which leaves block times (each at least 1 ms after the
/// previous one) far from `u64::MAX`.
pub const GENESIS_TIME_RANGE_UNIX_MS: RangeInclusive<u64> = 1..=253_402_300_799_999;

/// Smallest accepted `consensus.envelope_bytes_max`: room for a DSSE envelope with one
/// signature and a short in-toto statement.
pub const ENVELOPE_BYTES_MIN: u32 = 1024;

/// Errors from reading or checking a genesis file.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("genesis {source_name}: {reason}")]
    Invalid { source_name: String, reason: String },
}

/// A chain's genesis, as `genesis.json` holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id that every signature covers.
    pub chain_id: ChainId,
    /// Time of the genesis state, Unix milliseconds; the first block is later.
    pub genesis_time_unix_ms: u64,
    /// The first validator set.
    pub validators: Vec<GenesisValidator>,
    /// Attesters registered from the start.
    #[serde(default)]
    pub attesters: Vec<GenesisAttester>,
    /// Policies deployed from the start.
    #[serde(default)]
    pub policies: Vec<GenesisPolicy>,
    /// Bindings of those policies to scopes.
    #[serde(default)]
    pub bindings: Vec<GenesisBinding>,
    /// Governance parameters.
    #[serde(default)]
    pub governance: GovernanceParams,
    /// Block and work limits.
    #[serde(default)]
    pub consensus: ConsensusParams,
    /// Policy execution limits.
    #[serde(default)]
    pub policy_limits: PolicyLimits,
    /// The staking parameters, a JSON object of `vouch_consensus::staking::StakingParams`
    /// fields; `vouchd` fills the fields left out with its defaults (docs/STAKING.md).
    /// Without it the genesis validator set never changes and staking transactions are
    /// rejected. It is left out of the JSON when absent, so older genesis files keep
    /// their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staking: Option<serde_json::Value>,
}

/// A validator in the genesis set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// The operator's name for it.
    pub name: String,
    /// Its consensus key, in hex.
    pub public_key: PublicKey,
    /// Its bonded stake.
    pub stake: u64,
}

/// An attester registered at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAttester {
    /// A name for people.
    pub name: String,
    /// The role policies count.
    pub role: String,
    /// The attester's key, in hex.
    pub public_key: PublicKey,
}

/// Where a genesis policy's code comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PolicyCodeSource {
    /// A standard policy embedded in `vouchd`, by name.
    Standard(String),
    /// A module given in the file, base64.
    WasmBase64(String),
}

/// A policy deployed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisPolicy {
    /// The policy's name.
    pub name: String,
    /// Its code.
    pub code: PolicyCodeSource,
    /// BLAKE3 hash of the code in hex, so that nodes whose embedded standard policies
    /// differ refuse to start instead of computing another state.
    pub code_hash: String,
}

/// A binding at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBinding {
    /// The scope pattern.
    pub scope: String,
    /// The bound policies and their parameters.
    pub policies: Vec<GenesisBoundPolicy>,
}

/// A policy in a genesis binding, with its parameters as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBoundPolicy {
    /// The policy's name.
    pub policy: String,
    /// Parameters as a JSON value; absent or null for the policy's defaults.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

impl Genesis {
    /// Builds a genesis with these validators, default parameters and nothing
    /// registered, deployed or bound yet.
    pub fn with_validators(chain_id: ChainId, genesis_time_unix_ms: u64, validators: Vec<GenesisValidator>) -> Genesis {
        Genesis {
            chain_id,
            genesis_time_unix_ms,
            validators,
            attesters: Vec::new(),
            policies: Vec::new(),
            bindings: Vec::new(),
            governance: GovernanceParams::default(),
            consensus: ConsensusParams::default(),
            policy_limits: PolicyLimits::default(),
            staking: None,
        }
    }

    /// Reads and checks a genesis file.
    pub fn read(path: &Path) -> Result<Genesis, GenesisError> {
        let source_name = path.display().to_string();
        let bytes = input::read_file_bounded(path, GENESIS_BYTES_MAX)?;
        let genesis: Genesis = input::parse_json(&source_name, &bytes)?;
        genesis.check(&source_name)?;
        Ok(genesis)
    }

    /// Returns the pretty JSON text of the genesis.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a genesis always serializes to JSON");
        text.push('\n');
        text
    }

    /// Checks the rules that JSON parsing does not.
    pub fn check(&self, source_name: &str) -> Result<(), GenesisError> {
        let invalid = |reason: String| GenesisError::Invalid { source_name: source_name.to_owned(), reason };
        if self.validators.is_empty() {
            return Err(invalid("`validators` is empty; a chain needs at least one validator".to_owned()));
        }
        let mut total: u64 = 0;
        for (index, validator) in self.validators.iter().enumerate() {
            if validator.stake == 0 {
                return Err(invalid(format!(
                    "validators[{index}] ({}) has stake 0; give it stake or remove it",
                    validator.name
                )));
            }
            total = total
                .checked_add(validator.stake)
                .ok_or_else(|| invalid("the validators' total stake overflows u64".to_owned()))?;
            if self.validators[..index].iter().any(|other| other.public_key == validator.public_key) {
                return Err(invalid(format!(
                    "validators[{index}] ({}) repeats an earlier validator's key",
                    validator.name
                )));
            }
        }
        self.check_limits().map_err(invalid)?;
        for (index, policy) in self.policies.iter().enumerate() {
            if self.policies[..index].iter().any(|other| other.name == policy.name) {
                return Err(invalid(format!("policies[{index}] repeats the policy name {:?}", policy.name)));
            }
        }
        for (index, binding) in self.bindings.iter().enumerate() {
            Scope::parse(&binding.scope).map_err(|error| invalid(format!("bindings[{index}]: {error}")))?;
            if let Some(missing) =
                binding.policies.iter().find(|bound| !self.policies.iter().any(|policy| policy.name == bound.policy))
            {
                return Err(invalid(format!(
                    "bindings[{index}] binds policy {:?}, which `policies` does not deploy",
                    missing.policy
                )));
            }
        }
        Ok(())
    }
}

impl Genesis {
    /// Checks the time and every parameter against the protocol's limits; the error
    /// names the field, its value and the accepted range.
    fn check_limits(&self) -> Result<(), String> {
        in_range("genesis_time_unix_ms", self.genesis_time_unix_ms, &GENESIS_TIME_RANGE_UNIX_MS)?;

        let governance = &self.governance;
        in_range("governance.voting_period_blocks", governance.voting_period_blocks, &(1..=u64::MAX))?;
        in_range("governance.open_proposals_max", governance.open_proposals_max, &(1..=u32::MAX))?;

        let consensus = &self.consensus;
        in_range("consensus.block_txs_max", consensus.block_txs_max, &(1..=BLOCK_TXS_MAX as u32))?;
        let envelope_range = ENVELOPE_BYTES_MIN..=TX_BYTES_MAX as u32;
        in_range("consensus.envelope_bytes_max", consensus.envelope_bytes_max, &envelope_range)?;
        in_range("consensus.attestations_per_image_max", consensus.attestations_per_image_max, &(1..=u32::MAX))?;
        in_range("consensus.reevaluations_per_block", consensus.reevaluations_per_block, &(1..=u32::MAX))?;

        let limits = &self.policy_limits;
        in_range("policy_limits.fuel_per_evaluation", limits.fuel_per_evaluation, &(1..=u64::MAX))?;
        in_range("policy_limits.memory_bytes_max", limits.memory_bytes_max, &(1..=u64::MAX))?;
        in_range("policy_limits.table_elements_max", limits.table_elements_max, &(1..=u32::MAX))?;
        in_range("policy_limits.wasm_stack_bytes_max", limits.wasm_stack_bytes_max, &(1..=u32::MAX))?;
        in_range("policy_limits.module_bytes_max", limits.module_bytes_max, &(1..=u32::MAX))?;
        in_range("policy_limits.input_bytes_max", limits.input_bytes_max, &(1..=u32::MAX))
    }
}

/// Returns an error naming `field` when `value` is outside `range`.
fn in_range<T>(field: &str, value: T, range: &RangeInclusive<T>) -> Result<(), String>
where
    T: PartialOrd + std::fmt::Display + Bounded,
{
    if range.contains(&value) {
        return Ok(());
    }
    if *range.end() == T::MAX {
        return Err(format!("`{field}` is {value}; set it to at least {}", range.start()));
    }
    Err(format!("`{field}` is {value}; set it between {} and {}", range.start(), range.end()))
}

/// The largest value of an unsigned integer type.
trait Bounded: Copy {
    const MAX: Self;
}

impl Bounded for u32 {
    const MAX: u32 = u32::MAX;
}

impl Bounded for u64 {
    const MAX: u64 = u64::MAX;
}

impl GenesisBoundPolicy {
    /// Returns the parameters as the JSON text a policy receives: empty for defaults.
    pub fn parameters_text(&self) -> String {
        match &self.parameters {
            serde_json::Value::Null => String::new(),
            value => value.to_string(),
        }
    }
}

#[cfg(test)]
#[path = "genesis_tests.rs"]
mod tests;
