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
//!
//! # Stored filters
//! Once a block starts a new generation of a table, no key goes to the older ones
//! again, so the block that starts generation g also stores the filters of g - 1
//! ([`KeyFilter::sealed_record`]). Opening the store loads those records and scans the
//! keys only of generations without one, which is the newest. Scanning every key made
//! sled read all its pages at each start: on a 320,000-attestation store that left
//! about 180 MB resident before the node served its first request.

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
    /// Every filtered table.
    pub(crate) const ALL: [Table; 3] = [Table::TxPosition, Table::TreeValue, Table::Attestations];

    /// Returns the byte that names the table in probes and stored filter keys.
    pub(crate) fn tag(self) -> u8 {
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

/// The format byte that starts a stored generation's filters.
const RECORD_FORMAT: u8 = 1;

/// The largest capacity accepted in a stored filter, far above any real generation's
/// (they double from [`FIRST_CAPACITY`] as one block's keys require).
const RECORD_CAPACITY_MAX: u64 = 1 << 32;

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

impl KeyFilter {
    /// Returns the generation whose filters a block writing into `generation` of
    /// `table` seals, when it is the first block of that generation.
    pub(crate) fn sealed_by(&self, table: Table, generation: u32) -> Option<u32> {
        let starts_new = generation >= 1 && generation == self.generation_count(table);
        starts_new.then(|| generation - 1)
    }

    /// Encodes the filters of `generation` of `table` for the store.
    pub(crate) fn sealed_record(&self, table: Table, generation: u32) -> Vec<u8> {
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        let filters = tables[table.slot()].get(generation as usize).map_or(&[][..], Vec::as_slice);
        let words: usize = filters.iter().map(|filter| filter.words.len()).sum();
        let mut record = Vec::with_capacity(5 + filters.len() * 20 + words * 8);
        record.push(RECORD_FORMAT);
        record.extend_from_slice(&(filters.len() as u32).to_be_bytes());
        for filter in filters {
            record.extend_from_slice(&filter.capacity.to_be_bytes());
            record.extend_from_slice(&filter.count.to_be_bytes());
            for word in &filter.words {
                record.extend_from_slice(&word.to_le_bytes());
            }
        }
        record
    }

    /// Replaces the filters of `generation` of `table` with a stored record, or
    /// returns what is wrong with the record.
    pub(crate) fn load_record(&self, table: Table, generation: u32, record: &[u8]) -> Result<(), String> {
        let filters = decode_record(record)?;
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        let generations = &mut tables[table.slot()];
        let slot = generation as usize;
        if generations.len() <= slot {
            generations.resize_with(slot + 1, Generation::new);
        }
        generations[slot] = filters;
        Ok(())
    }
}

/// Decodes a stored generation's filters, checking each one's size against its
/// capacity.
fn decode_record(record: &[u8]) -> Result<Generation, String> {
    let mut reader = RecordReader { bytes: record };
    let format = reader.take(1)?[0];
    if format != RECORD_FORMAT {
        return Err(format!("format {format}, expected {RECORD_FORMAT}"));
    }
    let count = u32::from_be_bytes(reader.array()?);
    let mut filters = Generation::new();
    for _ in 0..count {
        let capacity = u64::from_be_bytes(reader.array()?);
        let keys = u64::from_be_bytes(reader.array()?);
        if capacity == 0 || capacity > RECORD_CAPACITY_MAX || keys > capacity {
            return Err(format!("a filter with capacity {capacity} holds {keys} keys"));
        }
        // The bytes are taken before anything is allocated, so a damaged capacity
        // cannot allocate more than the record's own size.
        let bytes = reader.take(word_count(capacity) * 8)?;
        let words = bytes.chunks_exact(8).map(|chunk| u64::from_le_bytes(chunk.try_into().expect("chunks of 8 bytes")));
        filters.push(Bloom { words: words.collect(), capacity, count: keys });
    }
    if !reader.bytes.is_empty() {
        return Err(format!("{} bytes follow the last filter", reader.bytes.len()));
    }
    Ok(filters)
}

/// Reads a stored record front to back.
struct RecordReader<'a> {
    bytes: &'a [u8],
}

impl<'a> RecordReader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < len {
            return Err(format!("the record ends {} bytes early", len - self.bytes.len()));
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
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

/// Returns the number of 64-bit words of a filter for `capacity` keys.
fn word_count(capacity: u64) -> usize {
    (capacity * BITS_PER_KEY).div_ceil(64) as usize
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
        Bloom { words: vec![0; word_count(capacity)], capacity, count: 0 }
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
    fn sealed_record_round_trips() {
        let filter = KeyFilter::new(1_000);
        let keys: Vec<[u8; 8]> = (0..150_000).map(key).collect();
        filter.insert(Table::TreeValue, 0, keys.iter().map(|key| key.as_slice()));
        let record = filter.sealed_record(Table::TreeValue, 0);

        let loaded = KeyFilter::new(1_000);
        loaded.load_record(Table::TreeValue, 0, &record).expect("a valid record");
        assert_eq!(loaded.usage(), filter.usage(), "same keys and bytes");
        assert!(keys.iter().all(|key| loaded.generations(Table::TreeValue, key) == [0]));
        let absent = (150_000..160_000).filter(|&index| loaded.may_contain(Table::TreeValue, &key(index))).count();
        let absent_before =
            (150_000..160_000).filter(|&index| filter.may_contain(Table::TreeValue, &key(index))).count();
        assert_eq!(absent, absent_before, "the same bits answer absent keys");
        assert_eq!(loaded.write_generation(Table::TreeValue), 1, "the loaded generation is full");
    }

    #[test]
    fn first_block_of_generation_seals() {
        let filter = KeyFilter::new(2);
        assert_eq!(filter.sealed_by(Table::TxPosition, 0), None, "generation 0 seals nothing");
        filter.insert(Table::TxPosition, 0, [b"a".as_slice(), b"b".as_slice()]);
        assert_eq!(filter.sealed_by(Table::TxPosition, 0), None, "a block into an existing generation");
        let next = filter.write_generation(Table::TxPosition);
        assert_eq!(next, 1);
        assert_eq!(filter.sealed_by(Table::TxPosition, next), Some(0));
        filter.insert(Table::TxPosition, next, [b"c".as_slice()]);
        assert_eq!(filter.sealed_by(Table::TxPosition, next), None, "only the first block seals");
    }

    #[test]
    fn damaged_records_are_rejected() {
        let filter = KeyFilter::default();
        filter.insert(Table::Attestations, 0, [b"image".as_slice()]);
        let record = filter.sealed_record(Table::Attestations, 0);
        let loaded = KeyFilter::default();

        let error = loaded.load_record(Table::Attestations, 0, &record[..record.len() - 1]).expect_err("cut short");
        assert!(error.contains("ends 1 bytes early"), "{error}");
        let mut longer = record.clone();
        longer.push(0);
        let error = loaded.load_record(Table::Attestations, 0, &longer).expect_err("trailing byte");
        assert!(error.contains("1 bytes follow"), "{error}");
        let mut other_format = record.clone();
        other_format[0] = 9;
        let error = loaded.load_record(Table::Attestations, 0, &other_format).expect_err("format");
        assert!(error.contains("format 9"), "{error}");
        let mut overfull = record;
        overfull[13..21].copy_from_slice(&u64::MAX.to_be_bytes());
        let error = loaded.load_record(Table::Attestations, 0, &overfull).expect_err("count over capacity");
        assert!(error.contains("holds 18446744073709551615 keys"), "{error}");
        assert_eq!(loaded.usage(), (0, 0), "nothing was loaded");
    }

    #[test]
    fn empty_filter_contains_nothing() {
        let filter = KeyFilter::default();
        assert!(!filter.may_contain(Table::TxPosition, b"anything"));
        assert_eq!(filter.usage(), (0, 0));
    }
}
