//! State tree nodes as the ledger stores them: the genesis nodes inline in the
//! key-value store, the nodes of every later block in the ledger log, after the
//! block's transactions, found through one index entry per group of nodes.
//!
//! A block adds about three tree nodes per changed key, most of them internal nodes of
//! several hundred bytes. sled 0.34 clones a whole leaf on every insert into it, so
//! one sled entry per node took most of each block write, even with only the node's
//! location as the value. The log stores each node once. A version's nodes are
//! indexed in groups by the first two nibbles of their path, so a block writes at
//! most 273 index entries (the root, 16 groups of one nibble, and 256 of two).
//! Genesis nodes stay inline: opening the store rejects a log beside an empty
//! key-value store, so genesis must write nothing to the log before its batch.
//!
//! # Group entry format
//! An entry starts with the base offset in the log (u64, big-endian), then has one
//! record per node. A record starts with the number of nibbles in the node's path (u8)
//! and the path packed two nibbles a byte, high nibble first. Then come the offset from
//! the base (u32), the length (u32), and the first 4 bytes of the BLAKE3 hash of the
//! node's encoding. The log has no checksums of its own, so a read checks those 4 bytes.
//!
//! # Node cache
//! Updating the tree for a block reads the nodes on the path of every changed key.
//! The internal nodes near the root are read by every block, and once the store is
//! larger than sled's page cache each read of an older one went to disk. Internal
//! nodes read or written by committed blocks are kept in a bounded cache;
//! `storage.tree_cache_bytes` sets its size.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::PoisonError;

use jmt::storage::{NibblePath, Node, NodeKey};
use vouch_protocol::encoding;

use crate::store::{Backend, LedgerStore, StoreError, WriteBatch, layout};

/// Default bound of the cache of internal tree nodes, in charged bytes.
pub const NODE_CACHE_BYTES_DEFAULT: NonZeroUsize = NonZeroUsize::new(16 * 1024 * 1024).expect("not zero");

/// Bytes charged for a cached node beyond its encoded size: its key, the decoded
/// node's allocation and the cache's bookkeeping (an estimate).
const CACHED_NODE_OVERHEAD_BYTES: usize = 128;

/// The number of leading path nibbles that name a node's group.
const GROUP_NIBBLES: usize = 2;

/// The length of a node's checksum.
const CHECKSUM_BYTES: usize = 4;

/// The length of a group entry's base offset.
const BASE_BYTES: usize = 8;

/// Encodes the entry of a genesis node, which contains the node itself.
pub(crate) fn inline_entry(node: &Node) -> Vec<u8> {
    encoding::encode(node)
}

/// Adds the index entries of a block's nodes to `batch`. `nodes` lists each node's key
/// with the start and end of its encoding in `bytes`, which start at `log_offset` in
/// the log.
pub(crate) fn put_logged_nodes(
    batch: &mut WriteBatch,
    nodes: &[(&NodeKey, usize, usize)],
    bytes: &[u8],
    log_offset: u64,
) {
    let mut groups: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for &(key, start, end) in nodes {
        let group = groups
            .entry(layout::tree_node_group_key(key.version(), &group_path(key.nibble_path())))
            .or_insert_with(|| log_offset.to_be_bytes().to_vec());
        let offset = u32::try_from(start).expect("a block's log append is smaller than 4 GiB");
        let len = u32::try_from(end - start).expect("a node's encoding is smaller than 4 GiB");
        write_path(group, key.nibble_path());
        group.extend_from_slice(&offset.to_be_bytes());
        group.extend_from_slice(&len.to_be_bytes());
        group.extend_from_slice(&checksum(&bytes[start..end]));
    }
    for (key, group) in groups {
        batch.put(key, group);
    }
}

/// Returns the first [`GROUP_NIBBLES`] nibbles of `path`, or all of a shorter path.
fn group_path(path: &NibblePath) -> Vec<u8> {
    path.nibbles().take(GROUP_NIBBLES).map(u8::from).collect()
}

/// Appends the nibble count of `path` and its nibbles packed two a byte.
fn write_path(out: &mut Vec<u8>, path: &NibblePath) {
    let count = u8::try_from(path.num_nibbles()).expect("a tree path has at most 64 nibbles");
    out.push(count);
    out.extend_from_slice(&packed(path));
}

fn packed(path: &NibblePath) -> Vec<u8> {
    let nibbles: Vec<u8> = path.nibbles().map(u8::from).collect();
    nibbles.chunks(2).map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0)).collect()
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let hash = blake3::hash(bytes);
    let mut sum = [0; CHECKSUM_BYTES];
    sum.copy_from_slice(&hash.as_bytes()[..CHECKSUM_BYTES]);
    sum
}

/// The location of a node's encoding in the log, and its checksum.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NodeLocation {
    pub(crate) offset: u64,
    pub(crate) len: u32,
    checksum: [u8; CHECKSUM_BYTES],
}

/// Finds the record of the node with this packed path in a group entry. Returns an
/// error text if the entry is malformed.
fn find_record(group: &[u8], count: u8, path: &[u8]) -> Result<Option<NodeLocation>, String> {
    let Some((base, mut records)) = group.split_first_chunk::<BASE_BYTES>() else {
        return Err(format!("{} bytes, too short for the base offset", group.len()));
    };
    let base = u64::from_be_bytes(*base);
    while let Some((&record_count, rest)) = records.split_first() {
        let path_len = usize::from(record_count).div_ceil(2);
        let record_len = path_len + 4 + 4 + CHECKSUM_BYTES;
        if rest.len() < record_len {
            return Err(format!("a record is cut off {} bytes before the end", rest.len()));
        }
        let (record, after) = rest.split_at(record_len);
        if record_count == count && &record[..path_len] == path {
            let field = |at: usize| u32::from_be_bytes(record[at..at + 4].try_into().expect("4 bytes"));
            let offset = base.checked_add(u64::from(field(path_len))).ok_or("an offset overflows")?;
            let mut checksum = [0; CHECKSUM_BYTES];
            checksum.copy_from_slice(&record[path_len + 8..]);
            return Ok(Some(NodeLocation { offset, len: field(path_len + 4), checksum }));
        }
        records = after;
    }
    Ok(None)
}

impl<B: Backend> LedgerStore<B> {
    /// Returns the tree node stored under `node_key`, read from the log unless it is a
    /// genesis node.
    pub(crate) fn stored_node(&self, node_key: &NodeKey) -> Result<Option<Node>, StoreError> {
        let (key, bytes) = match node_key.version() {
            0 => {
                let key = layout::tree_node_key(node_key);
                let Some(bytes) = self.backend.get(&key)? else {
                    return Ok(None);
                };
                (key, bytes)
            }
            _ => {
                if let Some(node) = self.cached_node(node_key) {
                    return Ok(Some(node));
                }
                let Some(location) = self.node_location(node_key)? else {
                    return Ok(None);
                };
                (layout::tree_node_key(node_key), self.logged_node(node_key, &location)?)
            }
        };
        let node = encoding::decode(&bytes).map_err(|source| StoreError::Decode {
            what: "state tree node",
            key: hex::encode(&key),
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

    /// Returns the log location of the node `node_key` of a block after genesis.
    pub(crate) fn node_location(&self, node_key: &NodeKey) -> Result<Option<NodeLocation>, StoreError> {
        let path = node_key.nibble_path();
        let group_key = layout::tree_node_group_key(node_key.version(), &group_path(path));
        let Some(group) = self.backend.get(&group_key)? else {
            return Ok(None);
        };
        let count = u8::try_from(path.num_nibbles()).expect("a tree path has at most 64 nibbles");
        find_record(&group, count, &packed(path)).map_err(|detail| StoreError::Corrupted {
            reason: format!("state tree node group {} is malformed: {detail}", hex::encode(&group_key)),
        })
    }

    fn logged_node(&self, node_key: &NodeKey, location: &NodeLocation) -> Result<Vec<u8>, StoreError> {
        let NodeLocation { offset, len, .. } = *location;
        let what = || format!("the state tree node {node_key:?}");
        let bytes = self.read_log(offset, u64::from(len), what)?;
        if checksum(&bytes) != location.checksum {
            return Err(StoreError::Corrupted {
                reason: format!(
                    "the {len} bytes at offset {offset} of the ledger log do not match the checksum of state tree node {node_key:?}"
                ),
            });
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a path from its nibble count and packed bytes through its encoding, the
    /// only public way to build one.
    fn path(count: u64, packed: &[u8]) -> NibblePath {
        encoding::decode(&encoding::encode(&(count, packed.to_vec()))).unwrap()
    }

    #[test]
    fn records_are_found_by_path() {
        let bytes = b"rootnode-abc-abcd";
        let keys = [
            NodeKey::new(3, path(0, &[])),
            NodeKey::new(3, path(3, &[0xab, 0xc0])),
            NodeKey::new(3, path(4, &[0xab, 0xcd])),
        ];
        let spans = [(&keys[0], 0, 8), (&keys[1], 8, 12), (&keys[2], 12, 17)];
        let mut batch = WriteBatch::new();
        put_logged_nodes(&mut batch, &spans, bytes, 1000);
        assert_eq!(batch.puts().len(), 2, "the root and the group ab");

        let group =
            &batch.puts().iter().find(|(key, _)| *key == layout::tree_node_group_key(3, &[0xa, 0xb])).unwrap().1;
        let found = find_record(group, 4, &[0xab, 0xcd]).unwrap().unwrap();
        assert_eq!((found.offset, found.len), (1012, 5));
        assert_eq!(found.checksum, checksum(b"-abcd"));
        let odd = find_record(group, 3, &[0xab, 0xc0]).unwrap().unwrap();
        assert_eq!((odd.offset, odd.len), (1008, 4));
        assert_eq!(find_record(group, 4, &[0xab, 0xce]).unwrap(), None);
    }

    #[test]
    fn malformed_groups_are_errors() {
        assert!(find_record(&[0; 7], 0, &[]).unwrap_err().contains("too short"));
        let mut group = vec![0; 8];
        group.extend_from_slice(&[4, 0xab, 0xcd, 0, 0]);
        assert!(find_record(&group, 4, &[0xab, 0xcd]).unwrap_err().contains("cut off"));
    }

    #[test]
    fn checksum_changes_with_one_bit() {
        assert_ne!(checksum(b"node bytes"), checksum(b"node bytez"));
    }
}
