//! A bounded map that evicts its least recently used entry.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::num::NonZeroUsize;

/// At most `capacity` entries; reads and writes mark an entry as used.
pub(crate) struct Lru<K, V> {
    capacity: NonZeroUsize,
    entries: HashMap<K, (V, u64)>,
    by_use: BTreeMap<u64, K>,
    clock: u64,
}

impl<K: Clone + Eq + Hash, V: Clone> Lru<K, V> {
    /// Creates an empty map that holds at most `capacity` entries.
    pub(crate) fn new(capacity: NonZeroUsize) -> Lru<K, V> {
        Lru { capacity, entries: HashMap::new(), by_use: BTreeMap::new(), clock: 0 }
    }

    /// Returns a copy of the value under `key` and marks it used.
    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        self.clock += 1;
        let clock = self.clock;
        let (value, last_used) = self.entries.get_mut(key)?;
        self.by_use.remove(last_used);
        *last_used = clock;
        self.by_use.insert(clock, key.clone());
        Some(value.clone())
    }

    /// Inserts `value` under `key`, evicting the least recently used entry when full.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.clock += 1;
        if let Some((_, last_used)) = self.entries.remove(&key) {
            self.by_use.remove(&last_used);
        } else if self.entries.len() == self.capacity.get()
            && let Some((_, oldest)) = self.by_use.pop_first()
        {
            self.entries.remove(&oldest);
        }
        self.by_use.insert(self.clock, key.clone());
        self.entries.insert(key, (value, self.clock));
        debug_assert_eq!(self.entries.len(), self.by_use.len(), "every entry has one use mark");
    }

    /// Returns the number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_at_capacity() {
        let mut lru = Lru::new(NonZeroUsize::new(2).unwrap());
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get(&"a"), Some(1));
        lru.insert("c", 3);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(1));
        assert_eq!(lru.get(&"c"), Some(3));
        lru.insert("c", 4);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get(&"c"), Some(4));
    }
}
