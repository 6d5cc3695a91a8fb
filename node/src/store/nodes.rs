//! State tree nodes as the ledger stores them: the genesis nodes inline in the
//! key-value store, the nodes of every later block in the ledger log, after the
//! block's transactions, found through one sparse index entry per version.
//!
//! A block adds about three tree nodes per changed key, most of them internal nodes of
//! several hundred bytes. sled 0.34 clones a whole leaf on every insert into it, so
//! one sled entry per node took most of each block write, even with only the node's
//! location as the value. The log stores each node once, in spans of a few KiB sorted
//! by path (`node_spans.rs`), and one index entry per version records where each span
//! starts. Genesis nodes stay inline: opening the store rejects a log beside an empty
//! key-value store, so genesis must write nothing to the log before its batch.
//!
//! # Caches
//! Updating the tree for a block reads the nodes on the path of every changed key and
//! the existing leaf where each new key lands, at any older version. Two bounded
//! caches share `storage.tree_cache_bytes`: two thirds hold the internal nodes of
//! committed blocks, which every block reads near the root, and one third holds
//! version indexes, so that reading an old leaf costs one read of its span. An index
//! of a 3,500-attestation block is about 25 KB; one entry for every node of such a
//! block cost about 680 KB of sled entries and most of a late block's tree update.

use std::num::NonZeroUsize;
use std::sync::{Arc, PoisonError};

use jmt::storage::{Node, NodeKey};
use vouch_protocol::encoding;

use crate::store::node_spans::{self, EncodedSpans, VersionIndex};
use crate::store::{Backend, LedgerStore, StoreError, WriteBatch, layout};

/// Default bound of the two tree caches together, in charged bytes.
pub const NODE_CACHE_BYTES_DEFAULT: NonZeroUsize = NonZeroUsize::new(24 * 1024 * 1024).expect("not zero");

/// Bytes charged for a cached node beyond its encoded size: its key, the decoded
/// node's allocation and the cache's bookkeeping (an estimate).
const CACHED_NODE_OVERHEAD_BYTES: usize = 128;

/// Bytes charged for a cached version index beyond its own bytes.
const CACHED_INDEX_OVERHEAD_BYTES: usize = 96;

/// Splits the tree cache bound into the bounds of the node cache and the index cache.
pub(crate) fn cache_bounds(total: NonZeroUsize) -> (NonZeroUsize, NonZeroUsize) {
    let indexes = total.get() / 3;
    let nodes = NonZeroUsize::new(total.get() - indexes).expect("two thirds of a non-zero size are not zero");
    (nodes, NonZeroUsize::new(indexes).unwrap_or(NonZeroUsize::MIN))
}

/// Encodes the entry of a genesis node, which contains the node itself.
pub(crate) fn inline_entry(node: &Node) -> Vec<u8> {
    encoding::encode(node)
}

/// Encodes the nodes of one version, which share its version, as log spans. Returns
/// the spans and each node's key with its encoded length.
pub(crate) fn encode_nodes<'a>(
    nodes: impl Iterator<Item = (&'a NodeKey, &'a Node)>,
) -> (EncodedSpans, Vec<(&'a NodeKey, usize)>) {
    let mut encoded: Vec<(Vec<u8>, &NodeKey, Vec<u8>)> =
        nodes.map(|(key, node)| (node_spans::path_bytes(key.nibble_path()), key, encoding::encode(node))).collect();
    encoded.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let lengths = encoded.iter().map(|(_, key, node)| (*key, node.len())).collect();
    let spans = EncodedSpans::new(encoded.iter().map(|(path, _, node)| (path.clone(), node.as_slice())));
    (spans, lengths)
}

/// Adds the index entry of version `version`'s spans, which start at `log_offset` in
/// the log, to `batch`, and returns the index.
pub(crate) fn put_node_index(
    batch: &mut WriteBatch,
    version: u64,
    spans: &EncodedSpans,
    log_offset: u64,
) -> Arc<VersionIndex> {
    let index = spans.index(log_offset);
    let decoded = VersionIndex::decode(index.clone()).expect("encoded spans make a well-formed index");
    batch.put(layout::tree_node_index_key(version), index);
    Arc::new(decoded)
}

impl<B: Backend> LedgerStore<B> {
    /// Returns the tree node stored under `node_key`, read from the log unless it is a
    /// genesis node.
    pub(crate) fn stored_node(&self, node_key: &NodeKey) -> Result<Option<Node>, StoreError> {
        let bytes = match node_key.version() {
            0 => self.backend.get(&layout::tree_node_key(node_key))?,
            _ => {
                if let Some(node) = self.cached_node(node_key) {
                    return Ok(Some(node));
                }
                self.logged_node(node_key)?
            }
        };
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        // The key is formatted only when the node fails to decode: formatting it for
        // every read was a visible part of the state tree's time in profiles.
        let node = encoding::decode(&bytes).map_err(|source| StoreError::Decode {
            what: "state tree node",
            key: match node_key.version() {
                0 => hex::encode(layout::tree_node_key(node_key)),
                _ => format!("{node_key:?}"),
            },
            source,
        })?;
        if node_key.version() > 0 {
            self.cache_node(node_key, &node, bytes.len());
        }
        Ok(Some(node))
    }

    /// Returns a copy of the internal node `node_key` if it is cached.
    fn cached_node(&self, node_key: &NodeKey) -> Option<Node> {
        self.node_cache.lock().unwrap_or_else(PoisonError::into_inner).get(node_key)
    }

    /// Keeps an internal node of a committed block in the cache, charged its encoded
    /// size plus [`CACHED_NODE_OVERHEAD_BYTES`]. Leaves are not kept: each is read
    /// about once, when a new key lands next to it.
    pub(crate) fn cache_node(&self, node_key: &NodeKey, node: &Node, encoded_len: usize) {
        if matches!(node, Node::Internal(_)) {
            let mut cache = self.node_cache.lock().unwrap_or_else(PoisonError::into_inner);
            cache.insert_weighted(node_key.clone(), node.clone(), encoded_len + CACHED_NODE_OVERHEAD_BYTES);
        }
    }

    /// Has the storage engine give back the memory it keeps beyond its caches; see
    /// [`Backend::release_memory`]. Returns whether it did anything.
    pub fn release_backend_memory(&self) -> Result<bool, StoreError> {
        Ok(self.backend.release_memory()?)
    }

    /// Empties the node and index caches and frees their memory; returns the bytes
    /// they were charged. Later reads fill them again from the store.
    pub fn release_tree_caches(&self) -> usize {
        // The entries are freed after the locks are released.
        let nodes = self.node_cache.lock().unwrap_or_else(PoisonError::into_inner).take();
        let indexes = self.index_cache.lock().unwrap_or_else(PoisonError::into_inner).take();
        nodes.weight() + indexes.weight()
    }

    /// Keeps the index of a committed version in the cache.
    pub(crate) fn cache_index(&self, version: u64, index: Arc<VersionIndex>) {
        let weight = index.weight() + CACHED_INDEX_OVERHEAD_BYTES;
        self.index_cache.lock().unwrap_or_else(PoisonError::into_inner).insert_weighted(version, index, weight);
    }

    /// Returns the index of the nodes of version `version`, from the cache or the store.
    fn version_index(&self, version: u64) -> Result<Option<Arc<VersionIndex>>, StoreError> {
        if let Some(index) = self.index_cache.lock().unwrap_or_else(PoisonError::into_inner).get(&version) {
            return Ok(Some(index));
        }
        let key = layout::tree_node_index_key(version);
        let Some(bytes) = self.backend.get(&key)? else {
            return Ok(None);
        };
        let index = VersionIndex::decode(bytes).map_err(|detail| StoreError::Corrupted {
            reason: format!("the state tree node index of version {version} is malformed: {detail}"),
        })?;
        let index = Arc::new(index);
        self.cache_index(version, Arc::clone(&index));
        Ok(Some(index))
    }

    /// Reads the encoding of the node `node_key` of a block after genesis from its span
    /// in the log.
    fn logged_node(&self, node_key: &NodeKey) -> Result<Option<Vec<u8>>, StoreError> {
        let version = node_key.version();
        let Some(index) = self.version_index(version)? else {
            return Ok(None);
        };
        let path = node_spans::path_bytes(node_key.nibble_path());
        let damaged = |detail: String| StoreError::Corrupted {
            reason: format!("the state tree node index of version {version} is malformed: {detail}"),
        };
        let Some(span) = index.span_for(&path).map_err(damaged)? else {
            return Ok(None);
        };
        let what = || format!("the state tree nodes of version {version}");
        let bytes = self.read_log(span.offset, u64::from(span.len), what)?;
        if !span.matches(&bytes) {
            return Err(StoreError::Corrupted {
                reason: format!(
                    "the {} bytes at offset {} of the ledger log do not match the checksum of a span of state tree nodes of version {version}",
                    span.len, span.offset
                ),
            });
        }
        let node = node_spans::find_in_span(&bytes, &path).map_err(|detail| StoreError::Corrupted {
            reason: format!(
                "the span of state tree nodes at offset {} of the ledger log is malformed: {detail}",
                span.offset
            ),
        })?;
        Ok(node.map(<[u8]>::to_vec))
    }
}
