//! The ledger store: blocks, headers, commits, transactions, the attestation index and
//! the state tree, written one block at a time in one atomic batch and one flush.
//!
//! # Design
//! [`LedgerStore`] holds the ledger's rules (what a block write contains, the key
//! layout, the checks on open) and runs over any [`Backend`], a narrow key-value
//! interface: point and range reads, one atomic batch, one flush. [`SledBackend`] is
//! the engine of a node, [`MemoryBackend`] serves unit tests and can simulate a crash,
//! and [`FaultyBackend`] fails a chosen step of a write.
//!
//! # Invariants
//! - Everything a block changes, the committed-height marker included, is in one batch,
//!   so after a crash the store holds either the whole block or none of it.
//! - A block is accepted only on top of the last committed one: its height is one
//!   more, its previous block hash and app hash match what is stored, and its tree
//!   writes produce the state root it declares.
//! - [`LedgerStore::open`] checks that the committed height's header, commit and state
//!   root agree with the state tree, and refuses a store where they do not.
//! - After a failed write the store refuses further writes until it is reopened,
//!   because the backend may hold part of what the caller believes failed.

mod backend;
mod expiries;
mod faulty;
mod filter;
mod images;
mod layout;
mod ledger;
mod ledger_log;
mod memory;
mod node_spans;
mod nodes;
mod open;
mod sled_backend;
mod sled_handle;
mod write;

pub use backend::{Backend, BackendError, Entry, LogStage, WriteBatch};
pub use faulty::{Fault, FaultyBackend};
pub use ledger::{AttestationEntry, LedgerStore, StoredTransaction};
pub use ledger_log::LEDGER_LOG_FILE;
pub use memory::MemoryBackend;
pub use nodes::NODE_CACHE_BYTES_DEFAULT;
pub use sled_backend::SledBackend;
pub use sled_handle::SLED_LOCK_WAIT_MAX;
pub use write::{BLOCK_ATTESTATIONS_MAX, BlockWrite, GenesisWrite, StagedTxs, TX_OUTCOME_BYTES_MAX};

use std::path::PathBuf;

use vouch_protocol::chain::{ChainError, Height, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding::EncodingError;

use crate::state::StateError;

/// Maximum number of attestation index entries that one read returns.
pub const ATTESTATIONS_READ_MAX: usize = 10_000;

/// Errors from opening, writing or reading the ledger store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the ledger store at {path}: {message}; if another vouchd uses this directory, stop it first")]
    Open { path: PathBuf, message: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(
        "the ledger store is damaged: {reason}; restore the node's home from a backup or resynchronize it from peers"
    )]
    Corrupted { reason: String },
    #[error(
        "the ledger store was written with key layout {found}, but this vouchd reads layout {expected}; \
         start a new chain in a fresh home, or use the vouchd version that wrote it"
    )]
    LayoutVersion { found: u32, expected: u32 },
    #[error("an earlier block write failed, so the store may hold part of it; reopen the store before writing again")]
    Poisoned,
    #[error("the ledger store holds no genesis state; commit the genesis state before any block")]
    NotInitialized,
    #[error("the ledger store already holds the chain up to height {latest}; genesis is committed only once")]
    AlreadyInitialized { latest: Height },
    #[error("block at height {found} does not follow the last committed height {latest}; expected height {expected}")]
    UnexpectedHeight { latest: Height, expected: Height, found: Height },
    #[error("invalid block: {0}")]
    InvalidBlock(#[from] ChainError),
    #[error("block at height {height}: {field} is {found}, but the store expects {expected}")]
    Mismatch { height: Height, field: &'static str, expected: String, found: String },
    #[error("block at height {height}: transaction {hash} is already stored (at height {stored_at})")]
    DuplicateTransaction { height: Height, hash: TxHash, stored_at: Height },
    #[error(
        "block at height {height}: attestation index entry for {image} names transaction {hash}, which is not in the block"
    )]
    UnknownAttestationTransaction { height: Height, image: Digest, hash: TxHash },
    #[error(
        "block at height {height}: the outcome of transaction {hash} is stored, but the transaction is not in the block"
    )]
    UnknownOutcomeTransaction { height: Height, hash: TxHash },
    #[error(
        "block at height {height}: the outcome of transaction {hash} is {size} bytes, over the limit of {max} bytes"
    )]
    OutcomeTooLong { height: Height, hash: TxHash, size: usize, max: usize },
    #[error("block at height {height} has {count} attestation index entries, over the limit of {max}")]
    TooManyAttestations { height: Height, count: usize, max: usize },
    #[error("state tree writes for height {height} are invalid: {reason}")]
    InvalidTreeWrites { height: Height, reason: String },
    #[error("stored {what} under key {key} does not decode: {source}")]
    Decode {
        what: &'static str,
        key: String,
        #[source]
        source: EncodingError,
    },
    #[error("state tree: {0}")]
    State(#[from] StateError),
}

#[cfg(test)]
mod filter_tests;
#[cfg(test)]
mod images_tests;
#[cfg(test)]
mod sled_reopen_tests;
#[cfg(test)]
mod stage_tests;
#[cfg(test)]
mod tests;
