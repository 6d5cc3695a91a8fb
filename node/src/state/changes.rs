//! The state changes of one block: keys to set or delete, checked against the limits.

use std::collections::BTreeMap;

use jmt::KeyHash;
use vouch_protocol::state::StateKey;

use crate::state::StateError;

/// Maximum size of one state value in bytes: a policy's WebAssembly code is the
/// largest value the state holds.
pub const STATE_VALUE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Maximum number of keys that one block changes.
pub const STATE_CHANGES_MAX: usize = 200_000;

/// Maximum total size of the values that one block sets.
pub const STATE_CHANGES_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The keys that one block sets or deletes; a later change of a key replaces an
/// earlier one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    entries: BTreeMap<KeyHash, Option<Vec<u8>>>,
    value_bytes: usize,
}

impl StateChanges {
    /// Creates an empty change set.
    pub fn new() -> StateChanges {
        StateChanges::default()
    }

    /// Sets `key` to `value`, the canonical bytes of the record.
    pub fn set(&mut self, key: &StateKey, value: Vec<u8>) -> Result<(), StateError> {
        if value.len() > STATE_VALUE_BYTES_MAX {
            let key = format!("{key:?}");
            return Err(StateError::ValueTooLarge { key, size: value.len(), max: STATE_VALUE_BYTES_MAX });
        }
        self.insert(key, Some(value))
    }

    /// Deletes `key`; deleting a key that has no value changes nothing.
    pub fn delete(&mut self, key: &StateKey) -> Result<(), StateError> {
        self.insert(key, None)
    }

    /// Returns the number of changed keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns whether no key changes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns the changes by key hash, in key hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyHash, &Option<Vec<u8>>)> {
        self.entries.iter()
    }

    /// Returns the changes as (key hash, value) pairs if there is at least one and none
    /// is a deletion.
    pub(crate) fn inserts_only(&self) -> Option<Vec<(KeyHash, Vec<u8>)>> {
        if self.entries.is_empty() {
            return None;
        }
        self.entries.iter().map(|(key_hash, value)| Some((*key_hash, value.clone()?))).collect()
    }

    fn insert(&mut self, key: &StateKey, value: Option<Vec<u8>>) -> Result<(), StateError> {
        let key_hash = key.key_hash()?;
        let new_bytes = value.as_ref().map_or(0, Vec::len);
        let old_bytes = self.entries.get(&key_hash).and_then(Option::as_ref).map_or(0, Vec::len);

        if !self.entries.contains_key(&key_hash) && self.entries.len() == STATE_CHANGES_MAX {
            return Err(StateError::TooManyChanges { max: STATE_CHANGES_MAX });
        }
        let value_bytes = self.value_bytes - old_bytes + new_bytes;
        if value_bytes > STATE_CHANGES_BYTES_MAX {
            return Err(StateError::ChangesTooLarge { max: STATE_CHANGES_BYTES_MAX });
        }

        self.entries.insert(key_hash, value);
        self.value_bytes = value_bytes;
        Ok(())
    }
}
