//! Chain parameters: values every validator must share because they change what the
//! ledger decides.

use serde::{Deserialize, Serialize};

/// Execution limits of policies, identical on every validator: a policy that needs one
/// more unit of fuel than allowed is quarantined everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyLimits {
    /// Fuel of one evaluation; each wasm instruction costs about one unit.
    pub fuel_per_evaluation: u64,
    /// Maximum linear memory of a policy instance, in bytes.
    pub memory_bytes_max: u64,
    /// Maximum number of elements of a policy's table.
    pub table_elements_max: u32,
    /// Maximum native stack that wasm frames may use, in bytes.
    pub wasm_stack_bytes_max: u32,
    /// Maximum size of a policy module, in bytes.
    pub module_bytes_max: u32,
    /// Maximum size of an encoded evaluation input, in bytes.
    pub input_bytes_max: u32,
}

impl Default for PolicyLimits {
    fn default() -> PolicyLimits {
        PolicyLimits {
            fuel_per_evaluation: 20_000_000,
            memory_bytes_max: 32 * 1024 * 1024,
            table_elements_max: 10_000,
            wasm_stack_bytes_max: 512 * 1024,
            module_bytes_max: 2 * 1024 * 1024,
            input_bytes_max: 4 * 1024 * 1024,
        }
    }
}

/// Governance parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GovernanceParams {
    /// Number of blocks, counting the one that opens a proposal, during which votes count.
    pub voting_period_blocks: u64,
    /// Maximum number of proposals open at one time.
    pub open_proposals_max: u32,
}

impl Default for GovernanceParams {
    fn default() -> GovernanceParams {
        GovernanceParams { voting_period_blocks: 1_000, open_proposals_max: 64 }
    }
}

/// Parameters of blocks and of the work one block may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusParams {
    /// Maximum number of transactions in one block.
    pub block_txs_max: u32,
    /// Maximum size of one attestation envelope, in bytes.
    pub envelope_bytes_max: u32,
    /// Maximum number of attestations one image may hold; more are rejected.
    pub attestations_per_image_max: u32,
    /// Maximum number of images re-evaluated in one block after a binding or policy
    /// change or a verdict expiry; the rest wait for the next blocks.
    pub reevaluations_per_block: u32,
}

impl Default for ConsensusParams {
    fn default() -> ConsensusParams {
        ConsensusParams {
            block_txs_max: 10_000,
            envelope_bytes_max: 4 * 1024 * 1024,
            attestations_per_image_max: 256,
            reevaluations_per_block: 1_000,
        }
    }
}
