//! State tree nodes as the ledger stores them: the genesis nodes inline in the
//! key-value store, the nodes of every later block in the ledger log, after the
//! block's transactions.
//!
//! A block adds about two tree nodes per changed key, most of them internal nodes of
//! several hundred bytes. sled 0.34 copies a whole leaf of up to 16 entries on every
//! insert into it, so nodes stored as sled values took more than half of each block
//! write. The log stores each node once, and the `n` entry stores only its location.
//! Genesis nodes stay inline: opening the store refuses a log beside an empty
//! key-value store, so genesis must write nothing to the log before its batch.
//!
//! The log has no checksums of its own, so a logged node's entry carries the first
//! bytes of the node's BLAKE3 hash, and a read checks them.

use jmt::storage::{Node, NodeKey};
use vouch_protocol::encoding;

use crate::store::{Backend, LedgerStore, StoreError, layout};

/// The tag of an entry that contains the encoded node itself.
const INLINE: u8 = 0;

/// The tag of an entry that contains the location of the node in the ledger log.
const LOGGED: u8 = 1;

/// The length of a logged node's checksum.
const CHECKSUM_BYTES: usize = 4;

/// The length of a logged node's entry: tag, offset, length and checksum.
const LOGGED_ENTRY_BYTES: usize = 1 + 8 + 4 + CHECKSUM_BYTES;

/// Encodes an entry that contains `node` itself.
pub(crate) fn inline_entry(node: &Node) -> Vec<u8> {
    let mut entry = vec![INLINE];
    entry.extend_from_slice(&encoding::encode(node));
    entry
}

/// Encodes an entry for the node whose encoding `bytes` starts at `offset` in the log.
pub(crate) fn logged_entry(offset: u64, bytes: &[u8]) -> Vec<u8> {
    let len = u32::try_from(bytes.len()).expect("an encoded tree node is far smaller than 4 GiB");
    let mut entry = Vec::with_capacity(LOGGED_ENTRY_BYTES);
    entry.push(LOGGED);
    entry.extend_from_slice(&offset.to_be_bytes());
    entry.extend_from_slice(&len.to_be_bytes());
    entry.extend_from_slice(&checksum(bytes));
    entry
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let hash = blake3::hash(bytes);
    let mut sum = [0; CHECKSUM_BYTES];
    sum.copy_from_slice(&hash.as_bytes()[..CHECKSUM_BYTES]);
    sum
}

impl<B: Backend> LedgerStore<B> {
    /// Returns the tree node stored under `node_key`, read from the log if it is there.
    pub(crate) fn stored_node(&self, node_key: &NodeKey) -> Result<Option<Node>, StoreError> {
        let key = layout::tree_node_key(node_key);
        let Some(entry) = self.backend.get(&key)? else {
            return Ok(None);
        };
        let damaged = |detail: String| StoreError::Corrupted {
            reason: format!("state tree node entry {}: {detail}", hex::encode(&key)),
        };
        let bytes = match entry.split_first() {
            Some((&INLINE, node)) => node.to_vec(),
            Some((&LOGGED, location)) if location.len() == LOGGED_ENTRY_BYTES - 1 => {
                let (offset, rest) = location.split_at(8);
                let (len, expected) = rest.split_at(4);
                let offset = u64::from_be_bytes(offset.try_into().expect("split at 8 bytes"));
                let len = u32::from_be_bytes(len.try_into().expect("split at 4 bytes"));
                let bytes = self.read_log(offset, u64::from(len), || format!("the state tree node {}", hex::encode(&key)))?;
                if checksum(&bytes) != expected {
                    return Err(damaged(format!(
                        "the {len} bytes at offset {offset} of the ledger log do not match the node's checksum"
                    )));
                }
                bytes
            }
            _ => return Err(damaged(format!("{} bytes with an unknown format", entry.len()))),
        };
        let node = encoding::decode(&bytes)
            .map_err(|source| StoreError::Decode { what: "state tree node", key: hex::encode(&key), source })?;
        Ok(Some(node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_entry_has_fixed_length() {
        let entry = logged_entry(7, b"node bytes");
        assert_eq!(entry.len(), LOGGED_ENTRY_BYTES);
        assert_eq!(entry[0], LOGGED);
        assert_eq!(&entry[1..9], &7u64.to_be_bytes());
        assert_eq!(&entry[9..13], &10u32.to_be_bytes());
        assert_eq!(&entry[13..], &checksum(b"node bytes"));
    }

    #[test]
    fn checksum_changes_with_one_bit() {
        assert_ne!(checksum(b"node bytes"), checksum(b"node bytez"));
    }
}
