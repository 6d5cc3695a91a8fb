//! A bounded map that evicts its least recently used entries.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::num::NonZeroUsize;

/// Entries whose weights sum to at most `capacity`; reads and writes mark an entry as
/// used. An entry's weight is 1 unless it is inserted with [`Lru::insert_weighted`],
/// which lets the capacity be a number of bytes.
pub(crate) struct Lru<K, V> {
    capacity: NonZeroUsize,
    weight: usize,
    entries: HashMap<K, Entry<V>>,
    by_use: BTreeMap<u64, K>,
    clock: u64,
}

struct Entry<V> {
    value: V,
    weight: usize,
    last_used: u64,
}

impl<K: Clone + Eq + Hash, V: Clone> Lru<K, V> {
    /// Creates an empty map whose entries weigh at most `capacity` in total.
    pub(crate) fn new(capacity: NonZeroUsize) -> Lru<K, V> {
        Lru { capacity, weight: 0, entries: HashMap::new(), by_use: BTreeMap::new(), clock: 0 }
    }

    /// Returns a copy of the value under `key` and marks it used.
    pub(crate) fn get(&mut self, key: &K) -> Option<V> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.get_mut(key)?;
        self.by_use.remove(&entry.last_used);
        entry.last_used = clock;
        self.by_use.insert(clock, key.clone());
        Some(entry.value.clone())
    }

    /// Inserts `value` with weight 1 under `key`, evicting the least recently used
    /// entries when full.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.insert_weighted(key, value, 1);
    }

    /// Inserts `value` with `weight` under `key`, evicting the least recently used
    /// entries until the total weight fits. An entry heavier than the whole capacity
    /// is not kept.
    pub(crate) fn insert_weighted(&mut self, key: K, value: V, weight: usize) {
        self.remove(&key);
        if weight > self.capacity.get() {
            return;
        }
        while self.weight + weight > self.capacity.get() {
            let Some((_, oldest)) = self.by_use.pop_first() else { break };
            if let Some(evicted) = self.entries.remove(&oldest) {
                self.weight -= evicted.weight;
            }
        }

        self.clock += 1;
        self.by_use.insert(self.clock, key.clone());
        self.entries.insert(key, Entry { value, weight, last_used: self.clock });
        self.weight += weight;
        debug_assert_eq!(self.entries.len(), self.by_use.len(), "every entry has one use mark");
        debug_assert!(self.weight <= self.capacity.get(), "the entries fit the capacity");
    }

    /// Removes the entry under `key` and returns its value.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let entry = self.entries.remove(key)?;
        self.by_use.remove(&entry.last_used);
        self.weight -= entry.weight;
        Some(entry.value)
    }

    /// Removes every entry and returns them as a map of the same capacity, so that the
    /// caller can free them after releasing a lock. `HashMap::clear` would keep the
    /// table's allocation; the new maps start without one.
    pub(crate) fn take(&mut self) -> Lru<K, V> {
        std::mem::replace(self, Lru::new(self.capacity))
    }

    /// Removes every entry and frees the maps' memory; returns the weight removed.
    pub(crate) fn clear(&mut self) -> usize {
        self.take().weight
    }

    /// Returns the number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns the total weight of the entries.
    pub(crate) fn weight(&self) -> usize {
        self.weight
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

    #[test]
    fn weighted_entries_fit_the_capacity() {
        let mut lru = Lru::new(NonZeroUsize::new(10).unwrap());
        lru.insert_weighted("a", 1, 4);
        lru.insert_weighted("b", 2, 6);
        assert_eq!(lru.weight(), 10);

        // At the capacity exactly, nothing is evicted; one past it evicts the oldest.
        lru.insert_weighted("c", 3, 4);
        assert_eq!(lru.get(&"a"), None);
        assert_eq!(lru.weight(), 10);
        assert_eq!(lru.get(&"b"), Some(2));

        // An entry heavier than the capacity is not kept and evicts nothing.
        lru.insert_weighted("huge", 9, 11);
        assert_eq!(lru.get(&"huge"), None);
        assert_eq!(lru.len(), 2);

        // Replacing an entry frees its old weight first.
        lru.insert_weighted("b", 5, 2);
        assert_eq!(lru.weight(), 6);
        assert_eq!(lru.remove(&"b"), Some(5));
        assert_eq!(lru.weight(), 4);
        assert_eq!(lru.remove(&"b"), None);
    }

    #[test]
    fn clear_empties_and_the_map_fills_again() {
        let mut lru = Lru::new(NonZeroUsize::new(10).unwrap());
        lru.insert_weighted("a", 1, 4);
        lru.insert_weighted("b", 2, 3);
        assert_eq!(lru.clear(), 7);
        assert_eq!((lru.len(), lru.weight()), (0, 0));
        assert_eq!(lru.get(&"a"), None);

        // The whole capacity is free again, and eviction still follows use.
        lru.insert_weighted("c", 3, 6);
        lru.insert_weighted("d", 4, 4);
        assert_eq!(lru.get(&"c"), Some(3));
        lru.insert_weighted("e", 5, 4);
        assert_eq!(lru.get(&"d"), None);
        assert_eq!(lru.weight(), 10);
        assert_eq!(lru.clear(), 10);
    }
}
