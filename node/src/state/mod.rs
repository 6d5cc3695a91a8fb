//! The authenticated state tree on the node: applies each block's state changes as one
//! new tree version, and reads and proves values at any stored height.
//!
//! # Design
//! The tree is `jmt`'s Jellyfish Merkle tree with [`StateHasher`], so the roots and
//! proofs are the ones that `vouch_protocol::state` verifies. Tree version `h` is the
//! state after the block at height `h`, and version 0 is the genesis state. Computing a
//! version does not write anything: [`AuthenticatedState::apply`] returns the new nodes
//! as [`TreeWrites`], which the ledger store writes in the same atomic batch as the
//! block, so the stored tree and the stored blocks never disagree after a crash.
//!
//! # Invariants
//! - Version `h` is computed from version `h - 1` only, and only once.
//! - Every version stays readable and provable.
// NOTE: nothing is pruned yet. jmt reports the nodes that each version makes stale;
// pruning them (and with them the old versions) is future work, and until then the tree
// grows by every node ever written.

mod changes;
mod memory;
mod source;

pub use changes::{STATE_CHANGES_BYTES_MAX, STATE_CHANGES_MAX, STATE_VALUE_BYTES_MAX, StateChanges};
pub use memory::MemoryTree;
pub use source::{TreeSource, TreeWrites};

use jmt::JellyfishMerkleTree;
use vouch_protocol::chain::Height;
use vouch_protocol::state::{StateHasher, StateKey, StateKeyError, StateProof, StateRoot};

use source::Reader;

/// Errors from applying, reading or proving state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid state key: {0}")]
    InvalidKey(#[from] StateKeyError),
    #[error("state value for {key} is {size} bytes, over the limit of {max} bytes")]
    ValueTooLarge { key: String, size: usize, max: usize },
    #[error("block state changes hold more than {max} entries; split the work across blocks")]
    TooManyChanges { max: usize },
    #[error("block state changes hold more than {max} bytes of values; split the work across blocks")]
    ChangesTooLarge { max: usize },
    #[error(
        "cannot apply state for height {height}: the state at height {previous} is not stored; heights are applied in order from 0"
    )]
    MissingPrevious { height: Height, previous: Height },
    #[error("cannot apply state for height {height}: the state at that height is already stored")]
    AlreadyApplied { height: Height },
    #[error("no state is stored for height {height}")]
    MissingHeight { height: Height },
    #[error("state tree failed at height {height}: {message}")]
    Tree { height: Height, message: String },
}

/// Applies, reads and proves state over the tree nodes that a [`TreeSource`] holds.
pub struct AuthenticatedState<'a, S> {
    source: &'a S,
}

impl<'a, S: TreeSource> AuthenticatedState<'a, S> {
    /// Reads and computes over the nodes in `source`.
    pub fn new(source: &'a S) -> AuthenticatedState<'a, S> {
        AuthenticatedState { source }
    }

    /// Computes the state at `height` from the state at `height - 1` and `changes`,
    /// returning the new root and the nodes and values to store. Height 0 starts from
    /// the empty tree.
    pub fn apply(&self, height: Height, changes: &StateChanges) -> Result<(StateRoot, TreeWrites), StateError> {
        if let Some(previous) = height.previous()
            && self.root_option(previous)?.is_none()
        {
            return Err(StateError::MissingPrevious { height, previous });
        }
        if self.root_option(height)?.is_some() {
            return Err(StateError::AlreadyApplied { height });
        }

        let reader = Reader::new(self.source);
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        let (root, batch) = match changes.inserts_only() {
            // jmt's batch insertion builds each changed node once instead of once per key,
            // but it takes only inserts, and at least one.
            Some(inserts) => {
                tree.batch_put_value_sets(vec![inserts], None, height.0).map(|(roots, batch)| (roots[0], batch))
            }
            None => {
                let entries = changes.iter().map(|(key_hash, value)| (*key_hash, value.clone()));
                tree.put_value_set(entries, height.0)
            }
        }
        .map_err(|error| tree_error(height, &error))?;
        Ok((root.into(), TreeWrites::new(batch)))
    }

    /// Returns the state root at `height`.
    pub fn root(&self, height: Height) -> Result<StateRoot, StateError> {
        self.root_option(height)?.ok_or(StateError::MissingHeight { height })
    }

    /// Returns the value of `key` at `height`, or `None` if the key has none.
    pub fn get(&self, key: &StateKey, height: Height) -> Result<Option<Vec<u8>>, StateError> {
        let key_hash = key.key_hash()?;
        // jmt reads values by version without visiting the tree, so a height that was
        // never stored would read as the newest value below it.
        match self.source.has_version(height.0) {
            Some(true) => {}
            Some(false) => return Err(StateError::MissingHeight { height }),
            None => {
                self.root(height)?;
            }
        }
        let reader = Reader::new(self.source);
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        tree.get(key_hash, height.0).map_err(|error| tree_error(height, &error))
    }

    /// Returns the value of `key` at `height` with a proof of it (or of its absence)
    /// against the state root at `height`.
    pub fn prove(&self, key: &StateKey, height: Height) -> Result<(Option<Vec<u8>>, StateProof), StateError> {
        let key_hash = key.key_hash()?;
        let reader = Reader::new(self.source);
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        let (value, proof) = tree.get_with_proof(key_hash, height.0).map_err(|error| {
            match error.downcast_ref::<jmt::MissingRootError>() {
                Some(_) => StateError::MissingHeight { height },
                None => tree_error(height, &error),
            }
        })?;
        Ok((value, StateProof::from_jmt(proof)))
    }

    fn root_option(&self, height: Height) -> Result<Option<StateRoot>, StateError> {
        let reader = Reader::new(self.source);
        let tree = JellyfishMerkleTree::<_, StateHasher>::new(&reader);
        let root = tree.get_root_hash_option(height.0).map_err(|error| tree_error(height, &error))?;
        Ok(root.map(StateRoot::from))
    }
}

fn tree_error(height: Height, error: &anyhow::Error) -> StateError {
    StateError::Tree { height, message: format!("{error:#}") }
}

#[cfg(test)]
mod tests;
