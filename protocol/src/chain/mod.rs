//! Blocks, headers and commits: the chain format that the ledger stores, consensus
//! signs and a light client checks.
//!
//! # Format
//! Every type here is encoded with [`crate::encoding`]. A block's hash is the hash of
//! its header, so a commit (the precommit signatures for a block hash) certifies the
//! header, and the header certifies the transactions through `txs_root` and the state
//! after the previous block through `app_hash`. Hashes are BLAKE3 in key derivation
//! mode with one context string per kind of object, so a header hash can never equal a
//! transaction hash.
//!
//! # Invariants
//! - Height 1 is the first block and the only one without a previous block hash;
//!   height 0 names the genesis state, which has no block.
//! - A block is at most [`BLOCK_BYTES_MAX`] bytes encoded and holds at most
//!   [`BLOCK_TXS_MAX`] transactions; a commit holds at most [`COMMIT_SIGNATURES_MAX`]
//!   signatures, with validator indexes strictly increasing.

mod block;
mod commit;
mod header;

pub use block::{Block, Transaction, txs_root};
pub use commit::{Commit, CommitSignature, Precommit};
pub use header::Header;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::encoding::EncodingError;
use crate::signing::SignatureError;

/// Maximum size of an encoded block in bytes: room for one DSSE envelope of the maximum
/// size ([`crate::dsse::ENVELOPE_BYTES_MAX`], 24 MiB) and the rest of the block.
pub const BLOCK_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Maximum number of transactions in one block.
pub const BLOCK_TXS_MAX: usize = 20_000;

/// Maximum number of precommit signatures in one commit, which bounds the validator set
/// that a commit can describe.
// NOTE: the consensus layer fixes the validator set's maximum size; this bound only has
// to be at least that size.
pub const COMMIT_SIGNATURES_MAX: usize = 1024;

/// Errors from decoding or checking blocks, headers and commits.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("{what} is {size} bytes, over the limit of {max} bytes")]
    TooLarge { what: &'static str, size: usize, max: usize },
    #[error("{what} has {count} entries, over the limit of {max}")]
    TooMany { what: &'static str, count: usize, max: usize },
    #[error("invalid encoding: {0}")]
    Encoding(#[from] EncodingError),
    #[error("block at height {height}: header txs_root is {in_header} but the transactions hash to {computed}")]
    TxsRootMismatch { height: Height, in_header: String, computed: String },
    #[error("header at height {height}: {reason}")]
    InvalidHeader { height: Height, reason: String },
    #[error("commit at height {height}: validator index {index} is out of range for a set of {validators} validators")]
    UnknownValidator { height: Height, index: u32, validators: usize },
    #[error(
        "commit at height {height}: validator index {index} follows index {previous}; indexes must be strictly increasing"
    )]
    UnorderedSignatures { height: Height, index: u32, previous: u32 },
    #[error("commit at height {height}: signature of validator {index} is invalid: {source}")]
    InvalidSignature {
        height: Height,
        index: u32,
        #[source]
        source: SignatureError,
    },
}

/// A block height: 1 for the first block, 0 for the genesis state before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Height(pub u64);

impl Height {
    /// The height of the genesis state, before the first block.
    pub const GENESIS: Height = Height(0);

    /// Returns the next height, or `None` past `u64::MAX`.
    pub fn next(self) -> Option<Height> {
        self.0.checked_add(1).map(Height)
    }

    /// Returns the previous height, or `None` at the genesis height.
    pub fn previous(self) -> Option<Height> {
        self.0.checked_sub(1).map(Height)
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The hash of a block, which is the hash of its header.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockHash(pub [u8; 32]);

/// The hash of a transaction's bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxHash(pub [u8; 32]);

macro_rules! impl_hash_text {
    ($name:ident) => {
        impl $name {
            /// Returns the hash as lowercase hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }
    };
}

impl_hash_text!(BlockHash);
impl_hash_text!(TxHash);

/// Hashes `bytes` with BLAKE3 in key derivation mode under `context`.
fn hash_with_context(context: &str, bytes: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(context);
    hasher.update(bytes);
    *hasher.finalize().as_bytes()
}

/// Rejects `size` over `max` before any decoding.
fn check_size(what: &'static str, size: usize, max: usize) -> Result<(), ChainError> {
    if size > max {
        return Err(ChainError::TooLarge { what, size, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
