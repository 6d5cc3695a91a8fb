//! Opening the ledger store: reading the committed height, checking that the records
//! at that height agree with the state tree, and filling the key filter. Saving the
//! newest filters at a stop is here too, because only the next open reads them.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use vouch_protocol::chain::Height;
use vouch_protocol::state::StateRoot;

use crate::lru::Lru;
use crate::state::AuthenticatedState;
use crate::store::filter::{KeyFilter, Table};
use crate::store::nodes::{self, NODE_CACHE_BYTES_DEFAULT};
use crate::store::write::BLOCK_LOG_BYTES_MAX;
use crate::store::{Backend, LedgerStore, StoreError, WriteBatch, layout};

impl<B: Backend> LedgerStore<B> {
    /// Opens the ledger over `backend`, resuming at the last committed height.
    ///
    /// Fails with [`StoreError::Corrupted`] if records exist without a committed-height
    /// marker, or if the header, commit and state root of the committed height do not
    /// agree with the state tree.
    pub fn open(backend: B) -> Result<LedgerStore<B>, StoreError> {
        LedgerStore::open_with_node_cache(backend, NODE_CACHE_BYTES_DEFAULT)
    }

    /// Opens the ledger like [`LedgerStore::open`], with a cache of at most
    /// `tree_cache_bytes` of internal state tree nodes and node indexes.
    pub fn open_with_node_cache(backend: B, tree_cache_bytes: NonZeroUsize) -> Result<LedgerStore<B>, StoreError> {
        LedgerStore::open_with(backend, tree_cache_bytes, KeyFilter::default())
    }

    /// Opens the ledger with generations of `generation_keys` keys, so that tests
    /// reach many generations with few blocks.
    #[cfg(test)]
    pub(crate) fn open_with_generation_keys(backend: B, generation_keys: u64) -> Result<LedgerStore<B>, StoreError> {
        LedgerStore::open_with(backend, NODE_CACHE_BYTES_DEFAULT, KeyFilter::new(generation_keys))
    }

    fn open_with(backend: B, tree_cache_bytes: NonZeroUsize, filter: KeyFilter) -> Result<LedgerStore<B>, StoreError> {
        let marker = backend.get(layout::LATEST_HEIGHT_KEY)?;
        let latest = match marker {
            None if backend.is_empty()? => None,
            None => return Err(corrupted("records exist but no committed height is recorded".to_owned())),
            Some(bytes) => Some(
                layout::decode_height(&bytes)
                    .ok_or_else(|| corrupted(format!("the committed height record is {} bytes, not 8", bytes.len())))?,
            ),
        };

        let (node_cache_bytes, index_cache_bytes) = nodes::cache_bounds(tree_cache_bytes);
        let store = LedgerStore {
            backend,
            latest: Mutex::new(latest),
            writing: Mutex::new(()),
            poisoned: AtomicBool::new(false),
            filter,
            node_cache: Mutex::new(Lru::new(node_cache_bytes)),
            index_cache: Mutex::new(Lru::new(index_cache_bytes)),
        };
        if latest.is_some() {
            store.check_layout()?;
        }
        // The log is checked first: the committed records name nodes in it.
        store.check_log(latest)?;
        if let Some(height) = latest {
            store.check_committed(height)?;
        }
        store.fill_filter(latest)?;
        Ok(store)
    }

    /// Fills the key filter: loads the stored filters of sealed generations and adds
    /// the keys of every generation without one. The newest generation's filters are
    /// loaded when the node saved them at its last stop and no block came after.
    fn fill_filter(&self, latest: Option<Height>) -> Result<(), StoreError> {
        let started = Instant::now();
        let (mut loaded, mut scanned) = (0usize, 0usize);
        for table in Table::ALL {
            let mut stored = self.load_sealed_filters(table)?;
            let Some(newest) = self.newest_generation(table)? else {
                continue;
            };
            if let Some(latest) = latest
                && self.load_newest_filters(table, newest, latest)?
            {
                stored.insert(newest);
            }
            loaded += stored.len();
            for generation in (0..=newest).filter(|generation| !stored.contains(generation)) {
                self.scan_generation(table, generation)?;
                scanned += 1;
            }
        }
        let (keys, bytes) = self.filter.usage();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(keys, bytes, loaded, scanned, elapsed_ms, "key filter filled");
        Ok(())
    }

    /// Loads the stored filters of `table` and returns their generations.
    fn load_sealed_filters(&self, table: Table) -> Result<BTreeSet<u32>, StoreError> {
        let mut keys = Vec::new();
        self.backend.visit_keys(&layout::key_filter_prefix(table), &mut |key| keys.push(key.to_vec()))?;
        let mut generations = BTreeSet::new();
        for key in keys {
            let invalid = |reason: String| corrupted(format!("the stored key filter {}: {reason}", hex::encode(&key)));
            let generation =
                layout::key_filter_generation(&key).ok_or_else(|| invalid("the key is not 6 bytes".to_owned()))?;
            let record =
                self.backend.get(&key)?.ok_or_else(|| invalid("it vanished while the store opened".to_owned()))?;
            self.filter.load_record(table, generation, &record).map_err(invalid)?;
            generations.insert(generation);
        }
        Ok(generations)
    }

    /// Loads the filters of `newest` that the node saved when it stopped, if it saved
    /// them at `latest`; returns whether it did. Saved filters of an older height miss
    /// the keys of the blocks after it, so they are ignored.
    fn load_newest_filters(&self, table: Table, newest: u32, latest: Height) -> Result<bool, StoreError> {
        let key = layout::newest_filter_key(table);
        let Some(saved) = self.backend.get(&key)? else {
            return Ok(false);
        };
        let invalid = |reason: String| corrupted(format!("the saved key filter {}: {reason}", hex::encode(&key)));
        if saved.len() < 12 {
            return Err(invalid(format!("it is {} bytes, shorter than its 12-byte header", saved.len())));
        }
        let height = u64::from_be_bytes(saved[..8].try_into().expect("8 bytes"));
        let generation = u32::from_be_bytes(saved[8..12].try_into().expect("4 bytes"));
        if height != latest.0 || generation != newest {
            return Ok(false);
        }
        self.filter.load_record(table, generation, &saved[12..]).map_err(invalid)?;
        Ok(true)
    }

    /// Saves the filters of each table's newest generation with the committed height,
    /// so that the next open loads them instead of scanning that generation's keys.
    /// The caller calls it after the last block, when the node stops.
    pub fn save_newest_filters(&self) -> Result<(), StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (false, Some(latest)) = (self.is_poisoned(), self.latest_height()) else {
            return Ok(());
        };
        let mut batch = WriteBatch::new();
        for table in Table::ALL {
            let Some(newest) = self.filter.generation_count(table).checked_sub(1) else {
                continue;
            };
            let mut saved = latest.0.to_be_bytes().to_vec();
            saved.extend_from_slice(&newest.to_be_bytes());
            saved.extend_from_slice(&self.filter.sealed_record(table, newest));
            batch.put(layout::newest_filter_key(table), saved);
        }
        self.backend.apply(batch)?;
        self.backend.flush()?;
        tracing::info!(height = latest.0, "saved the newest key filters for the next start");
        Ok(())
    }

    /// Returns the generation of the last key of `table`, or `None` when it is empty.
    fn newest_generation(&self, table: Table) -> Result<Option<u32>, StoreError> {
        let (prefix, _) = layout::filtered_table(table);
        let last = self.backend.last_in_range(&[prefix], &[prefix, u8::MAX, u8::MAX, u8::MAX, u8::MAX, u8::MAX])?;
        let Some((key, _)) = last else {
            return Ok(None);
        };
        let generation = layout::key_generation(&key)
            .ok_or_else(|| corrupted(format!("the key {} is too short for its table", hex::encode(&key))))?;
        Ok(Some(generation))
    }

    /// Adds every stored key of one generation of `table` to the key filter.
    fn scan_generation(&self, table: Table, generation: u32) -> Result<(), StoreError> {
        let (_, part) = layout::filtered_table(table);
        let mut malformed = None;
        self.backend.visit_keys(&layout::generation_prefix(table, generation), &mut |key| match part(key) {
            Some(part) => self.filter.insert(table, generation, [part]),
            None => malformed = Some(hex::encode(key)),
        })?;
        match malformed {
            Some(key) => Err(corrupted(format!("the key {key} is too short for its table"))),
            None => Ok(()),
        }
    }

    /// Checks that the ledger log holds everything committed, and cuts off what a
    /// block write appended before it failed or the process died.
    ///
    /// Nothing is cut when the key-value store is empty or when the tail is longer
    /// than one block's append. Neither comes from an unfinished write, and cutting
    /// would lose the only copy of transactions that a restored database may still
    /// point to.
    fn check_log(&self, latest: Option<Height>) -> Result<(), StoreError> {
        let log_len = self.backend.log_len()?;
        if latest.is_none() {
            if log_len > 0 {
                return Err(corrupted(format!(
                    "the key-value store is empty, but the ledger log is {log_len} bytes long; restore the whole data directory from a backup, or move it away to start a new chain"
                )));
            }
            return Ok(());
        }
        let committed_end = self.committed_log_end()?;
        if log_len < committed_end {
            return Err(corrupted(format!(
                "the ledger log is {log_len} bytes long, but committed blocks reach byte {committed_end}; the log file was cut or replaced"
            )));
        }
        let tail = log_len - committed_end;
        if tail > BLOCK_LOG_BYTES_MAX {
            return Err(corrupted(format!(
                "the ledger log has {tail} bytes past the committed length of {committed_end} bytes, more than one block appends (at most {BLOCK_LOG_BYTES_MAX} bytes)"
            )));
        }
        if tail > 0 {
            self.backend.truncate_log(committed_end)?;
            tracing::warn!(
                committed_end,
                dropped_bytes = tail,
                "cut off the ledger log after the committed length: a block write did not finish"
            );
        }
        Ok(())
    }

    /// Returns the committed length of the ledger log, which every block records.
    fn committed_log_end(&self) -> Result<u64, StoreError> {
        let bytes = self
            .backend
            .get(layout::LOG_END_KEY)?
            .ok_or_else(|| corrupted("no committed length of the ledger log is recorded".to_owned()))?;
        let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
            corrupted(format!("the committed length of the ledger log is recorded in {} bytes, not 8", bytes.len()))
        })?;
        Ok(u64::from_be_bytes(bytes))
    }

    /// Checks that the store was written with this build's key layout.
    fn check_layout(&self) -> Result<(), StoreError> {
        let found = match self.backend.get(layout::LAYOUT_VERSION_KEY)? {
            None => 1,
            Some(bytes) => u32::from_be_bytes(
                bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupted(format!("the layout version record is {} bytes, not 4", bytes.len())))?,
            ),
        };
        if found != layout::LAYOUT_VERSION {
            return Err(StoreError::LayoutVersion { found, expected: layout::LAYOUT_VERSION });
        }
        Ok(())
    }

    /// Checks the committed height: its stored state root is the tree's root, its
    /// header's app hash is the tree's root one height below, and its commit
    /// certifies its header.
    fn check_committed(&self, height: Height) -> Result<(), StoreError> {
        let stored_root = self
            .state_root(height)?
            .ok_or_else(|| corrupted(format!("no state root is stored for the committed height {height}")))?;
        let tree_root = self.tree_root(height)?;
        if stored_root != tree_root {
            return Err(corrupted(format!(
                "the state root stored for height {height} is {stored_root}, but the state tree's root there is {tree_root}"
            )));
        }
        let Some(previous) = height.previous() else {
            return Ok(());
        };

        let header = self
            .header(height)?
            .ok_or_else(|| corrupted(format!("no header is stored for the committed height {height}")))?;
        let previous_root = self.tree_root(previous)?;
        if header.app_hash != previous_root {
            return Err(corrupted(format!(
                "the header at height {height} records app hash {}, but the state tree's root at height {previous} is {previous_root}",
                header.app_hash
            )));
        }

        let commit = self
            .commit(height)?
            .ok_or_else(|| corrupted(format!("no commit is stored for the committed height {height}")))?;
        if commit.height != height || commit.block_hash != header.hash() {
            return Err(corrupted(format!(
                "the commit stored at height {height} is for block {} at height {}, not for the stored header {}",
                commit.block_hash,
                commit.height,
                header.hash()
            )));
        }
        Ok(())
    }

    /// Returns the state tree's root at `height`, or a corruption error if the tree has
    /// no root there.
    fn tree_root(&self, height: Height) -> Result<StateRoot, StoreError> {
        AuthenticatedState::new(self)
            .root(height)
            .map_err(|error| corrupted(format!("the state tree has no readable root at height {height}: {error}")))
    }
}

fn corrupted(reason: String) -> StoreError {
    StoreError::Corrupted { reason }
}
