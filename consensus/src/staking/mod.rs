//! Staking: validators bond stake for voting power, unbond it over a waiting period,
//! and lose a share of it and their place in the set when evidence of double signing
//! is committed.
//!
//! This is pure, deterministic logic with integer arithmetic. A host feeds it each
//! committed block's evidence and operations through [`Staking::apply_block`] and reads
//! the validator set of each height from [`Staking::validators_at`]. The rules, parameters and their reasons are
//! in `docs/STAKING.md`.

mod active;
mod chain;
mod error;
mod ledger;
mod operation;
mod outcome;
mod params;

pub use active::{Dominant, active_validators, dominant, joining_priority};
pub use chain::{GenesisValidator, Staking};
pub use error::{BlockError, GenesisError, StakingError};
pub use ledger::{BlockPosition, Ledger, SlashedStake, UnbondingEntry, ValidatorStake};
pub use operation::{OPERATIONS_PER_BLOCK_MAX, StakingOperation};
pub use outcome::{BlockOutcome, SetChange, Slash};
pub use params::{
    BASIS_POINTS_ONE, CANDIDATES_MAX, EVIDENCE_PER_BLOCK_MAX, StakingParams, StakingParamsError, UNBONDING_ENTRIES_MAX,
};

#[cfg(test)]
mod tests;
