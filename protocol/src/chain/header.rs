//! The block header, whose hash is the block's hash.

use serde::{Deserialize, Serialize};

use crate::chain::{BlockHash, ChainError, Height, check_size, hash_with_context};
use crate::encoding;
use crate::keys::PublicKey;
use crate::signing::ChainId;
use crate::state::StateRoot;

/// The BLAKE3 context string for header hashes.
const HEADER_HASH_CONTEXT: &str = "vouch/v1 block header";

/// Maximum size of an encoded header in bytes; a header has fixed-size fields and a
/// chain id of at most 64 bytes, so it is far smaller.
const HEADER_BYTES_MAX: usize = 1024;

/// What a block commits to, and what a commit's signatures certify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The network this block belongs to.
    pub chain_id: ChainId,
    /// The block's height, 1 for the first block.
    pub height: Height,
    /// Block time as milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// The hash of the block at `height - 1`; `None` only at height 1.
    pub previous_block_hash: Option<BlockHash>,
    /// The Merkle root of the block's transaction hashes ([`crate::chain::txs_root`]).
    pub txs_root: [u8; 32],
    /// The state root after the previous block; at height 1 the genesis state root.
    pub app_hash: StateRoot,
    /// The hash of the validator set that signs this block's commit.
    pub validators_hash: [u8; 32],
    /// The hash of the validator set that signs the next block's commit.
    pub next_validators_hash: [u8; 32],
    /// The public key of the validator that proposed the block.
    pub proposer: PublicKey,
}

impl Header {
    /// Computes the header's hash, which is the block's hash.
    pub fn hash(&self) -> BlockHash {
        BlockHash(hash_with_context(HEADER_HASH_CONTEXT, &self.to_bytes()))
    }

    /// Encodes the header canonically.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a header and checks its structural rules.
    pub fn from_bytes(bytes: &[u8]) -> Result<Header, ChainError> {
        check_size("header", bytes.len(), HEADER_BYTES_MAX)?;
        let header: Header = encoding::decode(bytes)?;
        header.validate()?;
        Ok(header)
    }

    /// Checks the rules that a header obeys on its own: height 0 is not a block height,
    /// and only height 1 lacks a previous block hash.
    pub fn validate(&self) -> Result<(), ChainError> {
        let invalid = |reason: &str| ChainError::InvalidHeader { height: self.height, reason: reason.to_owned() };
        match (self.height.0, self.previous_block_hash) {
            (0, _) => Err(invalid("height 0 is the genesis state and has no block; blocks start at height 1")),
            (1, Some(_)) => Err(invalid("the first block has no previous block, but previous_block_hash is set")),
            (2.., None) => Err(invalid("previous_block_hash is missing; only the block at height 1 has none")),
            _ => Ok(()),
        }
    }
}
