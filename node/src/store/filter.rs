//! A filter in memory over the keys of the tables that are read by hash, so that a
//! read of a key the store does not have skips the key-value store, and the
//! generations that those keys are stored in.
//!
//! Most reads while a block is built ask for keys that do not exist yet: a new
//! transaction's position, a new attestation's state key, the index of an image seen
//! for the first time. In a store larger than sled's page cache each such read pulled
//! pages from disk, about 30 µs a read, and most of a block's time went there once the
//! chain held a few hundred thousand attestations.
//!
//! # Generations
//! Keys that are hashes land at random places in their table, so every block inserted
//! into pages all over it, and sled read most of those pages back from disk first.
//! Late in a 240,000-attestation run, finding the pages took most of each block's
//! `apply_batch`. Each table is therefore split into generations, numbered in a key
//! prefix. A block writes into the newest generation of each table, which holds at
//! most about [`GENERATION_KEYS`] keys, so the pages it inserts into stay in the
//! cache. A read tests the filter of each generation, newest first, and reads only
//! the generations that may hold the key. Generations are local to one node's store.
//!
//! Each generation's filter is a Bloom filter that grows as a list of filters, each
//! twice the capacity of the one before, so a block larger than a generation never
//! needs a rebuild. Each filter uses 12 bits a key and 8 probes, for a false-positive
//! rate near 0.3%. A key may be in the store only if the filter of its generation
//! contains it, which holds because a block's keys are added before its batch is
//! applied, and opening the store adds every stored key.

use std::sync::{PoisonError, RwLock};

/// The tables whose keys the filter covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    /// Transaction positions, by transaction hash.
    TxPosition,
    /// State tree values, by key hash.
    TreeValue,
    /// The attestation index, by image.
    Attestations,
}

impl Table {
    fn tag(self) -> u8 {
        match self {
            Table::TxPosition => b't',
            Table::TreeValue => b'v',
            Table::Attestations => b'a',
        }
    }

    fn slot(self) -> usize {
        match self {
            Table::TxPosition => 0,
            Table::TreeValue => 1,
            Table::Attestations => 2,
        }
    }
}

/// The number of keys after which the next block starts a new generation.
pub(crate) const GENERATION_KEYS: u64 = 1 << 16;

/// The number of keys that the first filter of a generation is sized for.
const FIRST_CAPACITY: u64 = GENERATION_KEYS;

/// Bits of filter per key.
const BITS_PER_KEY: u64 = 12;

/// Bit positions probed per key.
const PROBES: usize = 8;

/// The filters of one generation: a list of Bloom filters of growing capacity.
type Generation = Vec<Bloom>;

/// The keys of the filtered tables, by table and generation.
#[derive(Debug)]
pub(crate) struct KeyFilter {
    tables: RwLock<[Vec<Generation>; 3]>,
    /// The number of keys after which a generation is full.
    generation_keys: u64,
}

impl Default for KeyFilter {
    fn default() -> KeyFilter {
        KeyFilter::new(GENERATION_KEYS)
    }
}

impl KeyFilter {
    /// Makes an empty filter whose generations are full at `generation_keys` keys.
    pub(crate) fn new(generation_keys: u64) -> KeyFilter {
        KeyFilter { tables: RwLock::default(), generation_keys }
    }

    /// Returns the generation that the next block's keys of `table` go to: the newest
    /// one, or a new one when the newest is full.
    pub(crate) fn write_generation(&self, table: Table) -> u32 {
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        let generations = &tables[table.slot()];
        let newest = generations.len().saturating_sub(1);
        let full = generations.last().is_some_and(|filters| key_count(filters) >= self.generation_keys);
        u32::try_from(newest + usize::from(full)).expect("fewer than 2^32 generations")
    }

    /// Adds keys of `table` stored in `generation`; each key is the bytes that identify
    /// a row (a hash or an encoded image digest).
    pub(crate) fn insert<'k>(&self, table: Table, generation: u32, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        let generations = &mut tables[table.slot()];
        let slot = generation as usize;
        if generations.len() <= slot {
            generations.resize_with(slot + 1, Generation::new);
        }
        let filters = &mut generations[slot];
        for key in keys {
            let probes = probes(table, key);
            if filters.last().is_none_or(Bloom::is_full) {
                let capacity = filters.last().map_or(FIRST_CAPACITY, |last| last.capacity * 2);
                filters.push(Bloom::new(capacity));
            }
            filters.last_mut().expect("a filter was just added if there was none").insert(&probes);
        }
    }

    /// Returns how many generations `table` has.
    pub(crate) fn generation_count(&self, table: Table) -> u32 {
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        u32::try_from(tables[table.slot()].len()).expect("fewer than 2^32 generations")
    }

    /// Returns the generations of `table` that may hold `key`, oldest first; a
    /// generation not listed does not hold it.
    // NOTE: every read tests one filter per generation, about 15 per million keys of a
    // table, so reads slow down as the chain grows. Merging old generations would
    // bound it.
    pub(crate) fn generations(&self, table: Table, key: &[u8]) -> Vec<u32> {
        let probes = probes(table, key);
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        let generations = tables[table.slot()].iter().enumerate();
        generations
            .filter(|(_, filters)| filters.iter().any(|filter| filter.contains(&probes)))
            .map(|(generation, _)| u32::try_from(generation).expect("fewer than 2^32 generations"))
            .collect()
    }

    /// Returns whether the store may hold `key` in `table`; `false` means it does not.
    #[cfg(test)]
    pub(crate) fn may_contain(&self, table: Table, key: &[u8]) -> bool {
        !self.generations(table, key).is_empty()
    }

    /// Returns the number of keys added and the bytes of the filters.
    pub(crate) fn usage(&self) -> (u64, usize) {
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        let filters = || tables.iter().flatten().flatten();
        let keys = filters().map(|filter| filter.count).sum();
        let bytes = filters().map(|filter| filter.words.len() * 8).sum();
        (keys, bytes)
    }
}

fn key_count(filters: &[Bloom]) -> u64 {
    filters.iter().map(|filter| filter.count).sum()
}

/// Derives the probed bit positions, as 64-bit numbers, from a hash of the key.
fn probes(table: Table, key: &[u8]) -> [u64; PROBES] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[table.tag()]);
    hasher.update(key);
    let hash = hasher.finalize();
    let mut probes = [0; PROBES];
    for (probe, bytes) in probes.iter_mut().zip(hash.as_bytes().chunks_exact(4)) {
        *probe = u64::from(u32::from_le_bytes(bytes.try_into().expect("chunks of 4 bytes")));
    }
    probes
}

/// One Bloom filter sized for `capacity` keys.
#[derive(Debug)]
struct Bloom {
    words: Vec<u64>,
    capacity: u64,
    count: u64,
}

impl Bloom {
    fn new(capacity: u64) -> Bloom {
        let bits = capacity * BITS_PER_KEY;
        Bloom { words: vec![0; bits.div_ceil(64) as usize], capacity, count: 0 }
    }

    fn is_full(&self) -> bool {
        self.count >= self.capacity
    }

    fn bit(&self, probe: u64) -> (usize, u64) {
        let bit = probe % (self.words.len() as u64 * 64);
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn insert(&mut self, probes: &[u64; PROBES]) {
        for &probe in probes {
            let (word, mask) = self.bit(probe);
            self.words[word] |= mask;
        }
        self.count += 1;
    }

    fn contains(&self, probes: &[u64; PROBES]) -> bool {
        probes.iter().all(|&probe| {
            let (word, mask) = self.bit(probe);
            self.words[word] & mask != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(index: u64) -> [u8; 8] {
        index.to_be_bytes()
    }

    #[test]
    fn added_keys_are_always_found() {
        let filter = KeyFilter::default();
        let keys: Vec<[u8; 8]> = (0..200_000).map(key).collect();
        filter.insert(Table::TreeValue, 0, keys.iter().map(|key| key.as_slice()));
        assert!(keys.iter().all(|key| filter.generations(Table::TreeValue, key) == [0]));
        let (count, bytes) = filter.usage();
        assert_eq!(count, 200_000);
        // One generation grown to filters for 2^16, 2^17 and 2^18 keys at 12 bits a key.
        assert_eq!(bytes, ((1 << 16) + (1 << 17) + (1 << 18)) * 12 / 8);
    }

    #[test]
    fn absent_keys_are_mostly_rejected() {
        let filter = KeyFilter::default();
        let keys: Vec<[u8; 8]> = (0..200_000).map(key).collect();
        filter.insert(Table::TreeValue, 0, keys.iter().map(|key| key.as_slice()));
        let false_positives =
            (200_000..300_000).filter(|&index| filter.may_contain(Table::TreeValue, &key(index))).count();
        // Three filters at about 0.3% each: well under 2% of 100,000 absent keys.
        assert!(false_positives < 2_000, "{false_positives} false positives");
    }

    #[test]
    fn generation_full_starts_next() {
        let filter = KeyFilter::default();
        assert_eq!(filter.write_generation(Table::TxPosition), 0);
        let keys: Vec<[u8; 8]> = (0..GENERATION_KEYS - 1).map(key).collect();
        filter.insert(Table::TxPosition, 0, keys.iter().map(|key| key.as_slice()));
        assert_eq!(filter.write_generation(Table::TxPosition), 0, "one key short of full");
        filter.insert(Table::TxPosition, 0, [key(GENERATION_KEYS - 1).as_slice()]);
        assert_eq!(filter.write_generation(Table::TxPosition), 1, "full at exactly GENERATION_KEYS");
        assert_eq!(filter.write_generation(Table::TreeValue), 0, "each table has its own generations");
    }

    #[test]
    fn generations_listed_per_key() {
        let filter = KeyFilter::default();
        filter.insert(Table::TxPosition, 0, [b"old".as_slice()]);
        filter.insert(Table::TxPosition, 3, [b"new".as_slice(), b"old".as_slice()]);
        assert_eq!(filter.generations(Table::TxPosition, b"old"), [0, 3]);
        assert_eq!(filter.generations(Table::TxPosition, b"new"), [3]);
        assert_eq!(filter.generations(Table::TxPosition, b"none"), Vec::<u32>::new());
        assert_eq!(filter.write_generation(Table::TxPosition), 3, "the empty generations 1 and 2 are skipped");
    }

    #[test]
    fn tables_do_not_share_keys() {
        let filter = KeyFilter::default();
        filter.insert(Table::TxPosition, 0, [b"same bytes".as_slice()]);
        assert!(filter.may_contain(Table::TxPosition, b"same bytes"));
        assert!(!filter.may_contain(Table::Attestations, b"same bytes"));
    }

    #[test]
    fn empty_filter_contains_nothing() {
        let filter = KeyFilter::default();
        assert!(!filter.may_contain(Table::TxPosition, b"anything"));
        assert_eq!(filter.usage(), (0, 0));
    }
}
