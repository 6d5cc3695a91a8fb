//! The light client's error type: one variant per failed check, each naming the height
//! and values involved and, where one exists, the fix.

use crate::chain::{ChainError, Height};
use crate::encoding::EncodingError;
use crate::state::StateProofError;

/// The error a [`Provider`](super::Provider) returns when it cannot supply a header or
/// validator set.
pub type ProviderError = Box<dyn std::error::Error + Send + Sync>;

/// Failures of light-client verification.
#[derive(Debug, thiserror::Error)]
pub enum LightError {
    #[error("proof field `{field}` ({length} base64 characters) decodes to over the limit of {max} bytes")]
    FieldTooLarge { field: &'static str, length: usize, max: usize },
    #[error("proof field `{field}` is not valid base64: {reason}")]
    InvalidBase64 { field: &'static str, reason: String },
    #[error("proof header is invalid: {0}")]
    InvalidHeader(#[source] ChainError),
    #[error("proof commit is invalid: {0}")]
    InvalidCommit(#[source] ChainError),
    #[error("proof state proof is invalid: {0}")]
    InvalidStateProof(#[source] StateProofError),
    #[error("proof record is not a canonical image record: {0}")]
    InvalidRecord(#[source] EncodingError),
    #[error("proof state height {height} has no next header height; the proof is invalid")]
    HeightOverflow { height: u64 },
    #[error("proof header is at height {found}, expected {expected} (the state height {state_height} plus one)")]
    WrongHeaderHeight { expected: u64, found: u64, state_height: u64 },
    #[error("state proof does not prove the image record under the header's app_hash: {0}")]
    RecordNotProven(#[source] StateProofError),
    #[error("state proof does not prove that the image is absent under the header's app_hash: {0}")]
    AbsenceNotProven(#[source] StateProofError),

    #[error(
        "header at height {height} is for chain {found:?}, but the trusted chain is {expected:?}; use the node's genesis"
    )]
    WrongChain { height: Height, expected: String, found: String },
    #[error("header at height {height} is not above the trusted height {trusted_height}; verify a newer header")]
    HeightNotAboveTrusted { height: Height, trusted_height: Height },
    #[error(
        "header at height {height} has time {time_unix_ms}, not after the trusted header's time {trusted_time_unix_ms} \
         at height {trusted_height}; block times must increase"
    )]
    TimeNotAfterTrusted { height: Height, time_unix_ms: u64, trusted_height: Height, trusted_time_unix_ms: u64 },
    #[error(
        "header at height {height} has time {time_unix_ms}, more than the clock drift of {clock_drift_ms} ms after \
         the current time {now_unix_ms}; check the local clock or the node"
    )]
    TimeInFuture { height: Height, time_unix_ms: u64, now_unix_ms: u64, clock_drift_ms: u64 },
    #[error(
        "the trusted header at height {trusted_height} (time {trusted_time_unix_ms}) expired at {expired_at_unix_ms} \
         under the trust period of {trust_period_ms} ms, and the time is now {now_unix_ms}; its validators may have \
         unbonded, so start from a newer root of trust (a recent header you trust, or a new genesis)"
    )]
    TrustExpired {
        trusted_height: Height,
        trusted_time_unix_ms: u64,
        expired_at_unix_ms: u64,
        trust_period_ms: u64,
        now_unix_ms: u64,
    },
    #[error(
        "header at height {height} conflicts with the trusted header at that height: it hashes to {found}, the \
         trusted one to {trusted}; the provider serves a fork"
    )]
    ConflictingHeader { height: Height, trusted: String, found: String },

    #[error("commit at height {commit}, but the header is at height {header}")]
    WrongCommitHeight { header: Height, commit: Height },
    #[error("commit at height {height} signs block {commit}, but the header hashes to {header}")]
    WrongBlockHash { height: Height, header: String, commit: String },
    #[error("commit at height {height} names validator index {index}, but the set has {validators} validators")]
    UnknownValidator { height: Height, index: u32, validators: usize },
    #[error("commit at height {height} repeats validator index {index}; each validator may sign once")]
    DuplicateValidator { height: Height, index: u32 },
    #[error("commit at height {height} lists validator index {index} after index {previous}; indexes must increase")]
    UnorderedValidators { height: Height, index: u32, previous: u32 },
    #[error("commit at height {height}: signature of validator {index} ({public_key}) is invalid: {reason}")]
    InvalidSignature { height: Height, index: u32, public_key: String, reason: String },
    #[error(
        "commit at height {height} is signed by validators with voting power {signed} of {total}; more than 2/3 is \
         needed"
    )]
    InsufficientPower { height: Height, signed: u128, total: u128 },

    #[error("validator set for height {height} is empty; a set needs at least one validator")]
    EmptyValidatorSet { height: Height },
    #[error("validator set for height {height} has {count} validators, over the limit of {max}")]
    TooManyValidators { height: Height, count: usize, max: usize },
    #[error("validator set for height {height}: validator {index} ({public_key}) has voting power 0")]
    ZeroPower { height: Height, index: usize, public_key: String },
    #[error("validator set for height {height}: validators {first} and {second} share the key {public_key}")]
    DuplicateKey { height: Height, first: usize, second: usize, public_key: String },
    #[error(
        "validator set for height {height} hashes to {computed}, but the header's {field} is {in_header}; the \
         provider sent the wrong set"
    )]
    ValidatorSetMismatch { height: Height, field: &'static str, in_header: String, computed: String },
    #[error(
        "header at height {height} names validator set {found}, but the trusted header at height {trusted_height} \
         names {expected} as the next set"
    )]
    ValidatorsNotLinked { height: Height, trusted_height: Height, expected: String, found: String },
    #[error(
        "header at height {height} names previous block {found}, but the trusted header at height {trusted_height} \
         hashes to {expected}"
    )]
    PreviousBlockMismatch { height: Height, trusted_height: Height, expected: String, found: String },

    #[error(
        "verifying height {target} from trusted height {trusted_height} needs more than {steps_max} intermediate \
         headers; raise the bisection limit or start from a newer root of trust"
    )]
    BisectionLimit { target: Height, trusted_height: Height, steps_max: u32 },
    #[error("provider failed to supply the {what} at height {height}: {source}")]
    Provider {
        height: Height,
        what: &'static str,
        #[source]
        source: ProviderError,
    },
    #[error("provider returned the header at height {returned} when asked for height {requested}")]
    ProviderHeightMismatch { requested: Height, returned: Height },
    #[error("trust options are invalid: {reason}")]
    InvalidTrustOptions { reason: String },
}
