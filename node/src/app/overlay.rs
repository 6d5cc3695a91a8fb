//! Typed reads of the committed state with a block's pending writes on top.
//!
//! # Invariants
//! - Reads return the pending writes first, then the state at the base height, so a
//!   transaction reads what every earlier transaction of its block wrote.
//! - Values are canonical encodings of the records; a value that does not decode is a
//!   damaged state, never an input error.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use vouch_protocol::chain::Height;
use vouch_protocol::encoding;
use vouch_protocol::state::StateKey;

use crate::app::AppError;
use crate::state::{AuthenticatedState, StateChanges};
use crate::store::{Backend, LedgerStore};

/// The state at a base height with pending writes.
pub(crate) struct Overlay<'a, B> {
    store: &'a LedgerStore<B>,
    base: Option<Height>,
    writes: HashMap<StateKey, Option<Vec<u8>>>,
}

impl<'a, B: Backend> Overlay<'a, B> {
    /// Reads over the state at `base`; `None` starts from an empty state (genesis).
    pub(crate) fn new(store: &'a LedgerStore<B>, base: Option<Height>) -> Overlay<'a, B> {
        Overlay { store, base, writes: HashMap::new() }
    }

    /// Returns the canonical bytes of `key`.
    pub(crate) fn get_bytes(&self, key: &StateKey) -> Result<Option<Vec<u8>>, AppError> {
        if let Some(value) = self.writes.get(key) {
            return Ok(value.clone());
        }
        read_committed(self.store, self.base, key)
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

/// Reads `key` from the committed state at `height` (nothing when `None`).
pub(crate) fn read_committed<B: Backend>(
    store: &LedgerStore<B>,
    height: Option<Height>,
    key: &StateKey,
) -> Result<Option<Vec<u8>>, AppError> {
    match height {
        Some(height) => Ok(AuthenticatedState::new(store).get(key, height)?),
        None => Ok(None),
    }
}

/// Decodes a stored record, naming its key when it does not decode.
pub(crate) fn decode_record<T: DeserializeOwned + Serialize>(key: &StateKey, bytes: &[u8]) -> Result<T, AppError> {
    encoding::decode(bytes)
        .map_err(|error| AppError::CorruptRecord { key: format!("{key:?}"), reason: error.to_string() })
}
