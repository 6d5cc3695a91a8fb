//! The key layout of the ledger: one prefix byte per table in a single key space.
//!
//! | prefix | table              | key after the prefix                  | value                         |
//! |--------|--------------------|---------------------------------------|-------------------------------|
//! | `m`    | committed height   | `latest-height`                       | u64 big-endian                |
//! | `h`    | headers            | height (u64 BE)                       | `Header`                      |
//! | `b`    | block bodies       | height (u64 BE)                       | log offset, then each tx's hash and length |
//! | `c`    | commits            | height (u64 BE)                       | `Commit`                      |
//! | `t`    | tx records         | generation (u32 BE), tx hash (32 bytes) | height, index (u32), log offset, length (u32), all BE |
//! | `a`    | attestation index  | generation, image digest (encoded), height, index | tx hash (32 bytes) |
//! | `o`    | tx outcomes        | tx hash (32 bytes)                    | outcome text (UTF-8)          |
//! | `r`    | state roots        | height (u64 BE)                       | root (32 bytes)               |
//! | `n`    | genesis tree nodes | version 0 (u64 BE), nibble path encoded | `jmt` node (encoded)        |
//! | `g`    | tree node indexes  | version (u64 BE)                      | log spans (`node_spans.rs`)   |
//! | `v`    | state tree values  | generation, key hash (32 bytes), version (u64 BE) | 0 = deleted, 1 and the bytes |
//! | `x`    | verdict expiries   | image digest (encoded)                | earliest expiry (i64 BE, ms), or empty for none |
//! | `f`    | sealed key filters | table (`t`, `a` or `v`), generation (u32 BE) | the generation's filters (`filter.rs`) |
//!
//! | `m`    | layout version     | `layout-version`                      | u32 big-endian                |
//! | `m`    | ledger log length  | `log-end`                             | u64 big-endian                |
//! | `m`    | expiries complete  | `expiry-index`                        | empty                         |
//! | `m`    | newest key filters | `newest-filter-`, table (`t`, `a` or `v`) | height (u64 BE), generation (u32 BE), filters |
//!
//! Heights and versions are big-endian so that key order is height order. Values are
//! the canonical encoding of `vouch_protocol::encoding` unless the table gives another
//! format.
//!
//! Transaction bytes are not in the key-value store: they are in the backend's ledger
//! log (see `ledger_log.rs`), in block order. A block's body records where they start
//! and each one's length, and each transaction's `t` record repeats its location, so
//! either finds the bytes with one log read. The state tree nodes of every block after
//! genesis follow the block's transactions in the log, and the `g` entries record
//! where.
//!
//! The tables keyed by hash (`t`, `a`, `v`) start each key with a generation, so that
//! a block inserts into a small recent part of each table (`filter.rs`). A store
//! without `f` records, as earlier builds wrote it, is read the same way: opening
//! scans the keys of every generation whose filters are not stored.

use jmt::KeyHash;
use jmt::storage::NodeKey;
use serde::{Deserialize, Serialize};
use vouch_protocol::chain::{Height, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;

use crate::store::filter::Table;

/// The key of the last committed height.
pub(crate) const LATEST_HEIGHT_KEY: &[u8] = b"mlatest-height";

/// The key of the layout version, written with the genesis state.
pub(crate) const LAYOUT_VERSION_KEY: &[u8] = b"mlayout-version";

/// The key of the ledger log's committed length, written with every block.
pub(crate) const LOG_END_KEY: &[u8] = b"mlog-end";

/// The key that records that the `x` table lists every image whose verdicts expire.
/// Stores written before the table existed lack it, and the node builds the table
/// once from the verdicts.
pub(crate) const EXPIRY_INDEX_KEY: &[u8] = b"mexpiry-index";

/// The version of this layout. A store written with another layout is refused.
pub(crate) const LAYOUT_VERSION: u32 = 9;

const HEADER: u8 = b'h';
const BODY: u8 = b'b';
const COMMIT: u8 = b'c';
const TX_POSITION: u8 = b't';
const ATTESTATION: u8 = b'a';
const OUTCOME: u8 = b'o';
const STATE_ROOT: u8 = b'r';
const TREE_NODE: u8 = b'n';
const TREE_NODE_INDEX: u8 = b'g';
const TREE_VALUE: u8 = b'v';
const KEY_FILTER: u8 = b'f';
const EXPIRY: u8 = b'x';

/// Returns the prefix of a table that the key filter covers, and the part of each of
/// its keys that the filter records: a transaction hash, a state key hash, or an
/// encoded image digest.
pub(crate) fn filtered_table(table: Table) -> (u8, fn(&[u8]) -> Option<&[u8]>) {
    match table {
        Table::TxPosition => (TX_POSITION, |key| key.get(5..37)),
        Table::TreeValue => (TREE_VALUE, |key| key.get(5..37)),
        Table::Attestations => (ATTESTATION, |key| key.get(5..key.len().checked_sub(12)?)),
    }
}

/// Returns the key of the filters of the newest generation of `table`, saved when
/// the node stopped.
pub(crate) fn newest_filter_key(table: Table) -> Vec<u8> {
    let mut key = b"mnewest-filter-".to_vec();
    key.push(table.tag());
    key
}

/// Returns the key of the stored filters of `generation` of `table`.
pub(crate) fn key_filter_key(table: Table, generation: u32) -> Vec<u8> {
    let mut key = key_filter_prefix(table);
    key.extend_from_slice(&generation.to_be_bytes());
    key
}

/// Returns the prefix of the stored filters of `table`.
pub(crate) fn key_filter_prefix(table: Table) -> Vec<u8> {
    vec![KEY_FILTER, table.tag()]
}

/// Returns the generation of a stored filter's key.
pub(crate) fn key_filter_generation(key: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(key.get(2..)?.try_into().ok()?))
}

/// Returns the prefix of `generation` of a filtered table.
pub(crate) fn generation_prefix(table: Table, generation: u32) -> Vec<u8> {
    generation_key(filtered_table(table).0, generation, 5)
}

/// Returns the generation of a key of a filtered table.
pub(crate) fn key_generation(key: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(key.get(1..5)?.try_into().ok()?))
}

/// Starts a key of a filtered table: its prefix byte and generation.
fn generation_key(table: u8, generation: u32, capacity: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(capacity);
    key.push(table);
    key.extend_from_slice(&generation.to_be_bytes());
    key
}

pub(crate) fn header_key(height: Height) -> Vec<u8> {
    height_key(HEADER, height)
}

pub(crate) fn body_key(height: Height) -> Vec<u8> {
    height_key(BODY, height)
}

pub(crate) fn commit_key(height: Height) -> Vec<u8> {
    height_key(COMMIT, height)
}

pub(crate) fn state_root_key(height: Height) -> Vec<u8> {
    height_key(STATE_ROOT, height)
}

pub(crate) fn tx_position_key(generation: u32, hash: &TxHash) -> Vec<u8> {
    let mut key = generation_key(TX_POSITION, generation, 37);
    key.extend_from_slice(&hash.0);
    key
}

/// The location of a committed transaction: its block and index, and its bytes in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TxRecord {
    pub(crate) height: Height,
    pub(crate) index: u32,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

/// The length of an encoded [`TxRecord`].
pub(crate) const TX_RECORD_BYTES: usize = 24;

impl TxRecord {
    /// Encodes the record as its four fields, big-endian.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut value = Vec::with_capacity(TX_RECORD_BYTES);
        value.extend_from_slice(&self.height.0.to_be_bytes());
        value.extend_from_slice(&self.index.to_be_bytes());
        value.extend_from_slice(&self.offset.to_be_bytes());
        value.extend_from_slice(&self.len.to_be_bytes());
        value
    }

    /// Decodes a record, or returns `None` if it is not [`TX_RECORD_BYTES`] long.
    pub(crate) fn decode(bytes: &[u8]) -> Option<TxRecord> {
        let bytes: &[u8; TX_RECORD_BYTES] = bytes.try_into().ok()?;
        Some(TxRecord {
            height: Height(u64::from_be_bytes(bytes[..8].try_into().ok()?)),
            index: u32::from_be_bytes(bytes[8..12].try_into().ok()?),
            offset: u64::from_be_bytes(bytes[12..20].try_into().ok()?),
            len: u32::from_be_bytes(bytes[20..].try_into().ok()?),
        })
    }
}

/// A block body as stored: where its transactions start in the log, and each one's
/// hash and length, in block order. The transactions follow each other in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredBody {
    pub(crate) log_offset: u64,
    pub(crate) txs: Vec<(TxHash, u32)>,
}

/// Returns the key of an image's verdict expiry.
pub(crate) fn expiry_key(image: &Digest) -> Vec<u8> {
    let mut key = vec![EXPIRY];
    key.extend_from_slice(&encoding::encode(image));
    key
}

/// Returns the prefix of the verdict expiries.
pub(crate) fn expiry_prefix() -> [u8; 1] {
    [EXPIRY]
}

/// Encodes an image's earliest verdict expiry; `None` is an empty value.
pub(crate) fn encode_expiry(expiry: Option<i64>) -> Vec<u8> {
    expiry.map(|expiry| expiry.to_be_bytes().to_vec()).unwrap_or_default()
}

pub(crate) fn outcome_key(hash: &TxHash) -> Vec<u8> {
    let mut key = Vec::with_capacity(33);
    key.push(OUTCOME);
    key.extend_from_slice(&hash.0);
    key
}

/// Returns the first key of `generation` of the attestation index: every key of the
/// generation sorts at or after it, and before the first key of the next one.
pub(crate) fn attestation_generation_start(generation: u32) -> Vec<u8> {
    generation_key(ATTESTATION, generation, 5)
}

/// Builds the prefix of every attestation index entry of `image` in `generation`. The
/// digest's length prefix keeps one digest from being a prefix of another.
pub(crate) fn attestation_prefix(generation: u32, image: &Digest) -> Vec<u8> {
    let mut key = generation_key(ATTESTATION, generation, 64);
    key.extend_from_slice(&encoding::encode(image));
    key
}

pub(crate) fn attestation_key(generation: u32, image: &Digest, height: Height, tx_index: u32) -> Vec<u8> {
    let mut key = attestation_prefix(generation, image);
    key.extend_from_slice(&height.0.to_be_bytes());
    key.extend_from_slice(&tx_index.to_be_bytes());
    key
}

/// Splits the height and transaction index off an attestation index key.
pub(crate) fn attestation_position(key: &[u8]) -> Option<(Height, u32)> {
    let suffix = key.len().checked_sub(12).map(|start| &key[start..])?;
    let height = u64::from_be_bytes(suffix[..8].try_into().ok()?);
    let index = u32::from_be_bytes(suffix[8..].try_into().ok()?);
    Some((Height(height), index))
}

/// Decodes the image digest at the start of an attestation index key.
pub(crate) fn attestation_image(key: &[u8]) -> Option<Digest> {
    let fields = key.strip_prefix(&[ATTESTATION])?.get(4..)?;
    let digest_len = fields.len().checked_sub(12)?;
    encoding::decode(&fields[..digest_len]).ok()
}

pub(crate) fn tree_node_key(node_key: &NodeKey) -> Vec<u8> {
    let mut key = vec![TREE_NODE];
    key.extend_from_slice(&node_key.version().to_be_bytes());
    key.extend_from_slice(&encoding::encode(node_key.nibble_path()));
    key
}

/// The key of the index of the tree nodes that version `version` wrote to the log.
pub(crate) fn tree_node_index_key(version: u64) -> Vec<u8> {
    height_key(TREE_NODE_INDEX, Height(version))
}

pub(crate) fn tree_value_key(generation: u32, key_hash: &KeyHash, version: u64) -> Vec<u8> {
    let mut key = generation_key(TREE_VALUE, generation, 45);
    key.extend_from_slice(&key_hash.0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// Encodes a tree value: a deletion is the byte 0, a value is the byte 1 and its bytes.
pub(crate) fn encode_tree_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![0],
        Some(bytes) => {
            let mut encoded = Vec::with_capacity(1 + bytes.len());
            encoded.push(1);
            encoded.extend_from_slice(bytes);
            encoded
        }
    }
}

/// Decodes a tree value, or returns `None` if the tag byte is unknown.
pub(crate) fn decode_tree_value(encoded: &[u8]) -> Option<Option<Vec<u8>>> {
    match encoded.split_first()? {
        (0, []) => Some(None),
        (1, bytes) => Some(Some(bytes.to_vec())),
        _ => None,
    }
}

pub(crate) fn encode_height(height: Height) -> Vec<u8> {
    height.0.to_be_bytes().to_vec()
}

pub(crate) fn decode_height(bytes: &[u8]) -> Option<Height> {
    Some(Height(u64::from_be_bytes(bytes.try_into().ok()?)))
}

fn height_key(table: u8, height: Height) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(table);
    key.extend_from_slice(&height.0.to_be_bytes());
    key
}
