//! Inclusion and absence proofs for state keys, checked against a state root.
//!
//! # Wire format
//! A proof is the canonical encoding of `jmt::proof::SparseMerkleProof`, which
//! [`ProofLayout`] spells out field by field:
//! ```text
//! leaf      u8 0 | u8 1, key hash (32 bytes), value hash (32 bytes)
//! siblings  u64 LE count, then per sibling a u32 LE tag and its fields:
//!           0 = empty subtree, 1 = internal node (left hash, right hash),
//!           2 = leaf (key hash, value hash)
//! ```
//! Siblings run from the leaf's level up to the root. A sibling is sent as the node it
//! hashes, so the verifier computes each sibling's hash itself.
//!
//! # Invariants
//! - Bytes longer than [`STATE_PROOF_BYTES_MAX`] are rejected before decoding.
//! - Verification is `jmt`'s: it recomputes the root from the leaf (or the empty
//!   subtree) and the siblings, and for an absence proof with a leaf it checks that the
//!   leaf belongs to another key that shares the path.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::encoding::{self, EncodingError};
use crate::state::{StateHasher, StateKey, StateKeyError, StateRoot};

/// Maximum size of an encoded proof: 256 siblings of 68 bytes each, the leaf and the
/// length prefix fit in 17,489 bytes, rounded up.
pub const STATE_PROOF_BYTES_MAX: usize = 32 * 1024;

/// Errors from decoding or verifying a state proof.
#[derive(Debug, thiserror::Error)]
pub enum StateProofError {
    #[error("state proof is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("state proof is not a valid proof encoding: {0}")]
    Malformed(#[source] EncodingError),
    #[error("cannot check a proof for an invalid state key: {0}")]
    InvalidKey(#[source] StateKeyError),
    #[error("state proof does not show {key} with the given value under root {root}: {reason}")]
    InclusionRejected { key: String, root: StateRoot, reason: String },
    #[error("state proof does not show that {key} is absent under root {root}: {reason}")]
    AbsenceRejected { key: String, root: StateRoot, reason: String },
}

/// A Merkle proof that a key has a value, or has none, under a state root.
#[derive(Clone, Debug, PartialEq)]
pub struct StateProof(jmt::proof::SparseMerkleProof<StateHasher>);

impl StateProof {
    /// Wraps a proof that the `jmt` tree produced.
    pub fn from_jmt(proof: jmt::proof::SparseMerkleProof<StateHasher>) -> StateProof {
        StateProof(proof)
    }

    /// Encodes the proof in its canonical wire format.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a proof, rejecting oversize and non-canonical bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<StateProof, StateProofError> {
        if bytes.len() > STATE_PROOF_BYTES_MAX {
            return Err(StateProofError::TooLarge { size: bytes.len(), max: STATE_PROOF_BYTES_MAX });
        }
        encoding::decode(bytes).map_err(StateProofError::Malformed)
    }

    /// Returns the number of siblings, which is the depth of the proven position.
    pub fn sibling_count(&self) -> usize {
        self.layout().siblings.len()
    }

    /// Returns the proof as plain fields.
    fn layout(&self) -> ProofLayout {
        encoding::decode(&self.to_bytes()).expect("ProofLayout spells out the encoding of SparseMerkleProof")
    }
}

impl Serialize for StateProof {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StateProof {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StateProof, D::Error> {
        jmt::proof::SparseMerkleProof::deserialize(deserializer).map(StateProof)
    }
}

/// Verifies that `key` has `value` (its canonical bytes) in the state with root `root`.
pub fn verify_inclusion(
    root: &StateRoot,
    key: &StateKey,
    value: &[u8],
    proof: &StateProof,
) -> Result<(), StateProofError> {
    let key_hash = key.key_hash().map_err(StateProofError::InvalidKey)?;
    proof.0.verify_existence((*root).into(), key_hash, value).map_err(|error| StateProofError::InclusionRejected {
        key: format!("{key:?}"),
        root: *root,
        reason: error.to_string(),
    })
}

/// Verifies that `key` has no value in the state with root `root`.
pub fn verify_absence(root: &StateRoot, key: &StateKey, proof: &StateProof) -> Result<(), StateProofError> {
    let key_hash = key.key_hash().map_err(StateProofError::InvalidKey)?;
    proof.0.verify_nonexistence((*root).into(), key_hash).map_err(|error| StateProofError::AbsenceRejected {
        key: format!("{key:?}"),
        root: *root,
        reason: error.to_string(),
    })
}

/// The fields of a proof's wire format, with the same encoding as the `jmt` type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProofLayout {
    /// The leaf at the end of the path as (key hash, value hash), if the path ends in one.
    pub(crate) leaf: Option<([u8; 32], [u8; 32])>,
    /// The siblings from the leaf's level up to the root.
    pub(crate) siblings: Vec<SiblingLayout>,
}

/// One sibling of a proof's path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum SiblingLayout {
    /// An empty subtree.
    Empty,
    /// An internal node as its (left, right) child hashes.
    Internal([u8; 32], [u8; 32]),
    /// A leaf as its (key hash, value hash).
    Leaf([u8; 32], [u8; 32]),
}
