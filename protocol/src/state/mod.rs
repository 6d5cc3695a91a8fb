//! Authenticated application state as a light client sees it: the key layout, the state
//! root, and the inclusion and absence proofs that are checked against a root.
//!
//! # Design
//! All application state (verdicts, the attestation index, attesters, policies and
//! bindings, accounts and stake, parameters) lives in one Jellyfish Merkle tree (the
//! `jmt` crate, version 0.12): a sparse Merkle tree over 256-bit key hashes whose
//! subtrees with one leaf collapse into that leaf, stored as 16-ary nodes. A key is the
//! canonical encoding of a [`StateKey`], a value is the canonical encoding of the
//! application's record, and the tree stores the hash of each. The node crate builds and
//! stores the tree; this module only hashes and verifies, so it needs no storage.
//!
//! A proof lists the sibling hashes on the path from the key's position to the root,
//! one per bit of depth, so its size grows with the depth of the leaf, which is about
//! log2 of the number of keys for hashed keys.
//!
//! # Invariants
//! - Every hash in the tree, including key and value hashes, is BLAKE3 in keyed mode
//!   with the key derived from [`STATE_HASH_CONTEXT`], so no hash of the state tree
//!   equals a hash that Vouch computes for another purpose.
//! - A key has exactly one encoding ([`StateKey::to_bytes`]), and decoding accepts only
//!   that encoding.

mod hasher;
mod key;
mod proof;

pub use hasher::{STATE_HASH_CONTEXT, StateHasher};
pub use key::{Namespace, STATE_KEY_BYTES_MAX, StateKey, StateKeyError};
pub use proof::{STATE_PROOF_BYTES_MAX, StateProof, StateProofError, verify_absence, verify_inclusion};

use std::fmt;

use serde::{Deserialize, Serialize};

/// The root hash of the authenticated state at one height.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StateRoot(pub [u8; 32]);

impl StateRoot {
    /// The root of a tree with no keys: a fixed 32-byte constant of the `jmt` crate
    /// (the ASCII text `SPARSE_MERKLE_PLACEHOLDER_HASH__`), not the hash of anything.
    pub const EMPTY: StateRoot = StateRoot(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");

    /// Returns the root as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for StateRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for StateRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateRoot({})", self.to_hex())
    }
}

impl From<jmt::RootHash> for StateRoot {
    fn from(root: jmt::RootHash) -> StateRoot {
        StateRoot(root.0)
    }
}

impl From<StateRoot> for jmt::RootHash {
    fn from(root: StateRoot) -> jmt::RootHash {
        jmt::RootHash(root.0)
    }
}

#[cfg(test)]
mod tests;
