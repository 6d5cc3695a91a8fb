//! Typed reads of the committed state with a block's pending writes on top.
//!
//! # Invariants
//! - Reads return the pending writes first, then the state at the base height, so a
//!   transaction reads what every earlier transaction of its block wrote.
//! - Values are canonical encodings of the records; a value that does not decode is a
//!   damaged state, never an input error.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;
use vouch_protocol::chain::Height;
use vouch_protocol::encoding;
use vouch_protocol::state::StateKey;

use crate::app::AppError;
use crate::state::{AuthenticatedState, StateChanges, StateError, TreeSource};
use crate::store::{Backend, LedgerStore};

/// The pending writes of an overlay, by state key.
pub(crate) type Writes = HashMap<StateKey, Option<Vec<u8>>>;

/// The state at a base height with pending writes.
pub(crate) struct Overlay<'a, B> {
    store: &'a LedgerStore<B>,
    base: Option<Height>,
    /// Set once the tree is known to hold version `base`.
    base_checked: OnceLock<()>,
    writes: Writes,
}

impl<'a, B: Backend> Overlay<'a, B> {
    /// Reads over the state at `base`; `None` starts from an empty state (genesis).
    pub(crate) fn new(store: &'a LedgerStore<B>, base: Option<Height>) -> Overlay<'a, B> {
        Overlay::with_writes(store, base, Writes::new())
    }

    /// Reads over the state at the committed height `tip`, which the store holds, so
    /// that no read checks the base again: a check per transaction was a database
    /// read of the root node on every mempool check.
    pub(crate) fn on_committed(store: &'a LedgerStore<B>, tip: Height) -> Overlay<'a, B> {
        let overlay = Overlay::new(store, Some(tip));
        let _ = overlay.base_checked.set(());
        overlay
    }

    /// Reads over the state at `base` with `writes` pending, as [`Overlay::into_writes`]
    /// returned them.
    pub(crate) fn with_writes(store: &'a LedgerStore<B>, base: Option<Height>, writes: Writes) -> Overlay<'a, B> {
        Overlay { store, base, base_checked: OnceLock::new(), writes }
    }

    /// Returns the pending writes, consuming the overlay.
    pub(crate) fn into_writes(self) -> Writes {
        self.writes
    }

    /// Returns the canonical bytes of `key`.
    pub(crate) fn get_bytes(&self, key: &StateKey) -> Result<Option<Vec<u8>>, AppError> {
        if let Some(value) = self.writes.get(key) {
            return Ok(value.clone());
        }
        let Some(base) = self.base else {
            return Ok(None);
        };
        // The tree reads values by version without visiting its nodes, so a version
        // that was never stored would read as the newest one below it: check the base
        // once, then read values directly.
        if self.base_checked.get().is_none() {
            AuthenticatedState::new(self.store).root(base)?;
            let _ = self.base_checked.set(());
        }
        let key_hash = key.key_hash().map_err(StateError::from)?;
        Ok(self.store.tree_value(base.0, key_hash)?)
    }

    /// Returns the record under `key`.
    pub(crate) fn get<T: DeserializeOwned + Serialize>(&self, key: &StateKey) -> Result<Option<T>, AppError> {
        self.get_bytes(key)?.map(|bytes| decode_record(key, &bytes)).transpose()
    }

    /// Returns whether `key` has a value.
    pub(crate) fn contains(&self, key: &StateKey) -> Result<bool, AppError> {
        Ok(self.get_bytes(key)?.is_some())
    }

    /// Sets `key` to the canonical encoding of `value`.
    pub(crate) fn put<T: Serialize>(&mut self, key: StateKey, value: &T) {
        self.writes.insert(key, Some(encoding::encode(value)));
    }

    /// Sets `key` to bytes that are already canonical (policy code).
    pub(crate) fn put_bytes(&mut self, key: StateKey, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    /// Deletes `key`.
    pub(crate) fn delete(&mut self, key: StateKey) {
        self.writes.insert(key, None);
    }

    /// Returns the number of pending writes.
    pub(crate) fn len(&self) -> usize {
        self.writes.len()
    }

    /// Turns the pending writes into the state changes of one tree version.
    pub(crate) fn into_changes(self) -> Result<StateChanges, AppError> {
        let mut changes = StateChanges::new();
        for (key, value) in self.writes {
            match value {
                Some(bytes) => changes.set(&key, bytes)?,
                None => changes.delete(&key)?,
            }
        }
        Ok(changes)
    }
}

/// Decodes a stored record, naming its key when it does not decode.
pub(crate) fn decode_record<T: DeserializeOwned + Serialize>(key: &StateKey, bytes: &[u8]) -> Result<T, AppError> {
    encoding::decode(bytes)
        .map_err(|error| AppError::CorruptRecord { key: format!("{key:?}"), reason: error.to_string() })
}
