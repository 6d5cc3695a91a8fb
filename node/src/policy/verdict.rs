//! The result of evaluating a policy, as the ledger stores it, and why an
//! evaluation failed.
//!
//! # Invariants
//! - Every text here is built only from the module's behaviour and the consensus
//!   limits (no addresses, backtraces or host details), so every validator stores
//!   identical bytes for the same evaluation.
//! - A failed evaluation is always [`Verdict::Quarantined`] with the failure as its
//!   only reason (fail closed).

use std::fmt;

use serde::{Deserialize, Serialize};
pub use vouch_policy_sdk::Verdict;

/// blake3 hash of a policy module's bytes, which identifies its code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CodeHash(pub [u8; 32]);

impl CodeHash {
    /// Hashes module bytes.
    pub fn of(wasm: &[u8]) -> CodeHash {
        CodeHash(*blake3::hash(wasm).as_bytes())
    }
}

impl fmt::Display for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One policy's decision about one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The decision.
    pub verdict: Verdict,
    /// Why; the failure's text when the evaluation failed.
    pub reasons: Vec<String>,
    /// Block time (Unix milliseconds) from which the image must be evaluated again.
    pub expires_at_ms: Option<i64>,
    /// Fuel the evaluation consumed.
    pub fuel_used: u64,
    /// The failure that kept the policy from producing a valid output, if any.
    pub failure: Option<PolicyFailure>,
}

impl Evaluation {
    /// Builds the fail-closed result of a failed evaluation.
    pub fn failed(failure: PolicyFailure, fuel_used: u64) -> Evaluation {
        Evaluation {
            verdict: Verdict::Quarantined,
            reasons: vec![failure.to_string()],
            expires_at_ms: None,
            fuel_used,
            failure: Some(failure),
        }
    }
}

/// Failures that keep a policy from producing a valid output; each quarantines the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PolicyFailure {
    #[error("policy ran out of fuel (limit {limit} units)")]
    OutOfFuel { limit: u64 },
    #[error("policy exhausted its call stack (limit {limit_bytes} bytes)")]
    StackOverflow { limit_bytes: u32 },
    #[error("policy tried to grow its memory to {requested_bytes} bytes, over the limit of {limit_bytes} bytes")]
    MemoryLimit { requested_bytes: u64, limit_bytes: u64 },
    #[error("policy tried to grow its table to {requested} elements, over the limit of {limit}")]
    TableLimit { requested: u64, limit: u32 },
    #[error("policy trapped: {trap}")]
    Trap { trap: String },
    #[error("policy aborted: {message}")]
    Aborted { message: String },
    #[error("policy passed the host a memory range {offset}..{end} outside its {memory_bytes}-byte memory")]
    OutOfBounds { offset: u64, end: u64, memory_bytes: u64 },
    #[error("policy returned without writing an output")]
    NoOutput,
    #[error("policy wrote its output twice")]
    OutputTwice,
    #[error("policy output is {size} bytes, over the limit of {max} bytes")]
    OutputTooLarge { size: u64, max: u64 },
    #[error("policy output is invalid: {message}")]
    InvalidOutput { message: String },
    #[error("evaluation input is {size} bytes, over the limit of {max} bytes")]
    InputTooLarge { size: u64, max: u64 },
}
