//! Errors of staking: a rejected operation, a rejected genesis, and a block that breaks
//! the staking rules.

use vouch_protocol::chain::Height;

use crate::evidence::EvidenceError;
use crate::staking::ledger::BlockPosition;
use crate::staking::params::StakingParamsError;
use crate::validators::ValidatorSetError;

/// A staking operation that was rejected. The ledger is unchanged by it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    #[error("validator {public_key} already exists; add stake to it with a Bond operation")]
    ValidatorExists { public_key: String },
    #[error("validator {public_key} does not exist; create it first with a CreateValidator operation")]
    ValidatorNotFound { public_key: String },
    #[error("self-bond {self_bond} is below the minimum self-bond {min}; bond at least {min}")]
    SelfBondTooSmall { self_bond: u64, min: u64 },
    #[error("{operation} of amount 0 does nothing; give a positive amount")]
    ZeroAmount { operation: &'static str },
    #[error("the chain has {count} validator records, the limit; wait for one to leave and be released")]
    TooManyCandidates { count: usize },
    #[error("bonding {amount} to validator {public_key} overflows its stake of {bonded}; bond less")]
    StakeOverflow { public_key: String, bonded: u64, amount: u64 },
    #[error("validator {public_key} cannot unbond {amount}: only {bonded} is bonded; unbond at most {bonded}")]
    UnbondMoreThanBonded { public_key: String, amount: u64, bonded: u64 },
    #[error(
        "unbonding {amount} from validator {public_key} leaves {remaining}, below the minimum self-bond {min}; unbond all {bonded} or at most {most}"
    )]
    UnbondBelowMinimum { public_key: String, amount: u64, bonded: u64, remaining: u64, min: u64, most: u64 },
    #[error(
        "validator {public_key} has {count} unbonding entries, the limit; wait until the oldest is released at height {matures_height}"
    )]
    TooManyUnbondingEntries { public_key: String, count: usize, matures_height: Height },
    #[error("validator {public_key} is not jailed; only a jailed validator can unjail")]
    NotJailed { public_key: String },
    #[error(
        "validator {public_key} is jailed until height {} and time {} ms; unjail at or after both",
        until.height, until.time_unix_ms
    )]
    StillJailed { public_key: String, until: BlockPosition },
    #[error(
        "validator {public_key} has {bonded} bonded, below the minimum self-bond {min}; bond at least {} more before unjailing",
        min - bonded
    )]
    UnjailBelowMinimum { public_key: String, bonded: u64, min: u64 },
    #[error(
        "the operation would give validator {public_key} {power} of {total} voting power, 1/3 or more, so it alone could halt the chain; spread the stake over more validators, or set dominant_power_allowed for a chain of one operator"
    )]
    DominantValidator { public_key: String, power: u64, total: u64 },
    #[error("the operation would leave the validator set empty; keep at least one validator bonded")]
    EmptySet,
    #[error("the operation would raise the set's total voting power over the limit: {0}")]
    Set(#[from] ValidatorSetError),
}

/// A genesis that breaks the staking rules.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("invalid staking parameters: {0}")]
    Params(#[from] StakingParamsError),
    #[error("genesis validator {index}: {source}")]
    Validator {
        index: usize,
        #[source]
        source: StakingError,
    },
    #[error("invalid genesis validator set: {0}")]
    Set(#[from] ValidatorSetError),
    #[error(
        "genesis gives validator {public_key} {power} of {total} voting power, 1/3 or more, so it alone could halt the chain; add validators or lower its self-bond, or set dominant_power_allowed for a chain of one operator"
    )]
    DominantValidator { public_key: String, power: u64, total: u64 },
}

/// A block whose evidence or operations break the staking rules, so it is invalid.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("block is for height {found}, but staking expects height {expected}; apply blocks in order")]
    WrongHeight { expected: Height, found: Height },
    #[error("block at height {height} has time {found} ms, before the previous block's {previous} ms")]
    TimeDecreasing { height: Height, previous: u64, found: u64 },
    #[error("block has {count} pieces of evidence, over the limit of {max}; include at most {max}")]
    TooMuchEvidence { count: usize, max: usize },
    #[error("block has {count} staking operations, over the limit of {max}; include at most {max}")]
    TooManyOperations { count: usize, max: usize },
    #[error("evidence {index} of the block is invalid: {source}")]
    Evidence {
        index: usize,
        #[source]
        source: EvidenceError,
    },
}
