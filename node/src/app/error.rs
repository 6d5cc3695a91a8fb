//! The errors of the application: block and node failures, query failures, and the
//! rejection of a transaction with a stable code.

use std::fmt;

use vouch_protocol::chain::{ChainError, Height};

use crate::policy::RuntimeError;
use crate::state::StateError;
use crate::store::StoreError;

/// Failures to open the application, build a block or apply one.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("ledger store: {0}")]
    Store(#[from] StoreError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("policy runtime: {0}")]
    Runtime(#[from] RuntimeError),
    #[error("invalid genesis: {reason}")]
    InvalidGenesis { reason: String },
    #[error(
        "the store was initialized with genesis {stored}, but the given genesis hashes to {given}; use the genesis file this store was created with, or a fresh data directory"
    )]
    GenesisMismatch { stored: String, given: String },
    #[error("block at height {height} is invalid: {reason}")]
    InvalidBlock { height: Height, reason: String },
    #[error("block at height {height}: {source}")]
    Chain {
        height: Height,
        #[source]
        source: ChainError,
    },
    #[error("commit of height {height} is invalid: {reason}")]
    InvalidCommit { height: Height, reason: String },
    #[error("state record {key} does not decode: {reason}; the state is damaged")]
    CorruptRecord { key: String, reason: String },
    #[error("state record {key} is missing from the committed state; the state is damaged")]
    MissingRecord { key: String },
    #[error("no block can follow height {height}")]
    HeightOverflow { height: Height },
}

/// Failures of a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{reason}")]
    Unavailable { reason: String },
    #[error("internal error: {message}")]
    Internal { message: String },
}

impl From<AppError> for QueryError {
    fn from(error: AppError) -> QueryError {
        QueryError::Internal { message: error.to_string() }
    }
}

impl From<StoreError> for QueryError {
    fn from(error: StoreError) -> QueryError {
        QueryError::Internal { message: error.to_string() }
    }
}

impl From<StateError> for QueryError {
    fn from(error: StateError) -> QueryError {
        QueryError::Internal { message: error.to_string() }
    }
}

/// Why a transaction was rejected: a stable snake_case code for programs and a
/// message that names the value and the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRejection {
    /// A stable code such as `nonce_mismatch`; docs/STATE.md lists them all.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl TxRejection {
    /// Builds a rejection.
    pub fn new(code: &'static str, message: impl Into<String>) -> TxRejection {
        TxRejection { code, message: message.into() }
    }
}

impl fmt::Display for TxRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for TxRejection {}

/// A transaction that failed for a node-local reason while a block was applied, or
/// was rejected by the ledger's rules.
#[derive(Debug)]
pub(crate) enum TxFailure {
    /// The ledger's rules reject the transaction: it has no effect.
    Rejected(TxRejection),
    /// The node failed; the block must not be committed.
    Node(AppError),
}

impl From<TxRejection> for TxFailure {
    fn from(rejection: TxRejection) -> TxFailure {
        TxFailure::Rejected(rejection)
    }
}

impl From<AppError> for TxFailure {
    fn from(error: AppError) -> TxFailure {
        TxFailure::Node(error)
    }
}

impl From<StateError> for TxFailure {
    fn from(error: StateError) -> TxFailure {
        TxFailure::Node(error.into())
    }
}

impl From<StoreError> for TxFailure {
    fn from(error: StoreError) -> TxFailure {
        TxFailure::Node(error.into())
    }
}
