//! The ledger store's type and its reads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jmt::KeyHash;
use jmt::storage::{Node, NodeKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use vouch_protocol::chain::{Block, Commit, Header, Height, Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;
use vouch_protocol::state::StateRoot;

use crate::lru::Lru;
use crate::state::TreeSource;
use crate::store::filter::{KeyFilter, Table};
use crate::store::layout::{StoredBody, TX_RECORD_BYTES, TxRecord};
use crate::store::node_spans::VersionIndex;
use crate::store::{ATTESTATIONS_READ_MAX, Backend, StoreError, layout};

/// A transaction as stored, with its position in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTransaction {
    /// The height of the block that holds the transaction.
    pub height: Height,
    /// The transaction's position in that block.
    pub index: u32,
    /// The transaction bytes.
    pub tx: Transaction,
}

/// One entry of the attestation index: a committed transaction that attests an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttestationEntry {
    /// The height of the block that holds the transaction.
    pub height: Height,
    /// The transaction's position in that block.
    pub tx_index: u32,
    /// The transaction's hash.
    pub tx_hash: TxHash,
}

/// The ledger of one node over a storage backend.
pub struct LedgerStore<B> {
    pub(crate) backend: B,
    /// The last committed height; `None` before genesis.
    pub(crate) latest: Mutex<Option<Height>>,
    /// Held for a whole write, so two writes never check against the same height.
    pub(crate) writing: Mutex<()>,
    pub(crate) poisoned: AtomicBool,
    /// The keys of the tables read by hash, so that reads of absent keys skip the
    /// backend.
    pub(crate) filter: KeyFilter,
    /// Internal state tree nodes of committed blocks, most recently used kept.
    pub(crate) node_cache: Mutex<Lru<NodeKey, Node>>,
    /// Indexes of the tree nodes of committed versions, most recently used kept.
    pub(crate) index_cache: Mutex<Lru<u64, Arc<VersionIndex>>>,
}

impl<B: Backend> LedgerStore<B> {
    /// Returns the last committed height: 0 after genesis alone, `None` before genesis.
    pub fn latest_height(&self) -> Option<Height> {
        *self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the header at `height`.
    pub fn header(&self, height: Height) -> Result<Option<Header>, StoreError> {
        self.read("header", &layout::header_key(height))
    }

    /// Returns the commit of the block at `height`.
    pub fn commit(&self, height: Height) -> Result<Option<Commit>, StoreError> {
        self.read("commit", &layout::commit_key(height))
    }

    /// Returns the block at `height`, assembled from its header and its transactions.
    pub fn block(&self, height: Height) -> Result<Option<Block>, StoreError> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let body: StoredBody =
            self.read("block body", &layout::body_key(height))?.ok_or_else(|| StoreError::Corrupted {
                reason: format!("the header at height {height} is stored but its list of transactions is not"),
            })?;
        let total = body.txs.iter().try_fold(0u64, |sum, (_, len)| sum.checked_add(u64::from(*len)));
        let total = total.ok_or_else(|| StoreError::Corrupted {
            reason: format!("the transaction lengths of height {height} overflow"),
        })?;
        let bytes = self.read_log(body.log_offset, total, || format!("the transactions of height {height}"))?;
        let mut txs = Vec::with_capacity(body.txs.len());
        let mut rest = bytes.as_slice();
        for (index, (expected, len)) in body.txs.iter().enumerate() {
            let (tx, after) = rest.split_at(*len as usize);
            let tx = Transaction::new(tx.to_vec());
            check_hash(&tx, expected, height, index)?;
            txs.push(tx);
            rest = after;
        }
        Ok(Some(Block { header, txs }))
    }

    /// Reads `len` bytes of the log from `offset`, reporting a range past the end of
    /// the log as damage to `what`.
    pub(crate) fn read_log(&self, offset: u64, len: u64, what: impl Fn() -> String) -> Result<Vec<u8>, StoreError> {
        let log_len = self.backend.log_len()?;
        let past_end = || StoreError::Corrupted {
            reason: format!(
                "{} are recorded at {len} bytes from offset {offset} of the ledger log, which is {log_len} bytes long",
                what()
            ),
        };
        if offset.checked_add(len).is_none_or(|last| last > log_len) {
            return Err(past_end());
        }
        let len = usize::try_from(len).map_err(|_| past_end())?;
        let bytes = self.backend.read_log(offset, len)?;
        if bytes.len() != len {
            return Err(past_end());
        }
        Ok(bytes)
    }

    /// Returns the transaction with hash `hash` and where it is in the chain.
    pub fn transaction(&self, hash: &TxHash) -> Result<Option<StoredTransaction>, StoreError> {
        let Some(record) = self.tx_record(hash)? else {
            return Ok(None);
        };
        let TxRecord { height, index, offset, len } = record;
        let bytes = self.read_log(offset, u64::from(len), || format!("the bytes of transaction {hash}"))?;
        let tx = Transaction::new(bytes);
        check_hash(&tx, hash, height, index as usize)?;
        Ok(Some(StoredTransaction { height, index, tx }))
    }

    /// Returns the height and block index of the committed transaction `hash`.
    pub fn tx_position(&self, hash: &TxHash) -> Result<Option<(Height, u32)>, StoreError> {
        Ok(self.tx_record(hash)?.map(|record| (record.height, record.index)))
    }

    /// Returns the stored record of the committed transaction `hash`.
    pub(crate) fn tx_record(&self, hash: &TxHash) -> Result<Option<TxRecord>, StoreError> {
        for generation in self.filter.generations(Table::TxPosition, &hash.0).into_iter().rev() {
            let Some(bytes) = self.backend.get(&layout::tx_position_key(generation, hash))? else {
                continue;
            };
            let record = TxRecord::decode(&bytes).ok_or_else(|| StoreError::Corrupted {
                reason: format!(
                    "the record stored for transaction {hash} is {} bytes, not {TX_RECORD_BYTES}",
                    bytes.len()
                ),
            })?;
            return Ok(Some(record));
        }
        Ok(None)
    }

    /// Returns the attestation index entries of `image` in chain order, at most
    /// `limit` of them (and never more than [`ATTESTATIONS_READ_MAX`]).
    pub fn attestations(&self, image: &Digest, limit: usize) -> Result<Vec<AttestationEntry>, StoreError> {
        let limit = limit.min(ATTESTATIONS_READ_MAX);
        let mut found = Vec::new();
        for generation in self.filter.generations(Table::Attestations, &encoding::encode(image)) {
            let prefix = layout::attestation_prefix(generation, image);
            for (key, value) in self.backend.scan_prefix(&prefix, limit - found.len())? {
                found.push(attestation_entry(&key, &value)?);
            }
            if found.len() == limit {
                break;
            }
        }
        Ok(found)
    }

    /// Returns the stored outcome of the committed transaction `hash`, if the block
    /// that committed it stored one.
    pub fn tx_outcome(&self, hash: &TxHash) -> Result<Option<String>, StoreError> {
        let key = layout::outcome_key(hash);
        let Some(bytes) = self.backend.get(&key)? else {
            return Ok(None);
        };
        String::from_utf8(bytes).map(Some).map_err(|_| StoreError::Corrupted {
            reason: format!("the outcome stored for transaction {hash} is not UTF-8"),
        })
    }

    /// Returns the state root after the block at `height` (at 0, the genesis root).
    pub fn state_root(&self, height: Height) -> Result<Option<StateRoot>, StoreError> {
        let key = layout::state_root_key(height);
        let Some(bytes) = self.backend.get(&key)? else {
            return Ok(None);
        };
        let root: [u8; 32] = bytes.as_slice().try_into().map_err(|_| StoreError::Corrupted {
            reason: format!("the state root stored for height {height} is {} bytes, not 32", bytes.len()),
        })?;
        Ok(Some(StateRoot(root)))
    }

    /// Reads and decodes one record.
    pub(crate) fn read<T: DeserializeOwned + Serialize>(
        &self,
        what: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self.backend.get(key)? else {
            return Ok(None);
        };
        let value =
            encoding::decode(&bytes).map_err(|source| StoreError::Decode { what, key: hex::encode(key), source })?;
        Ok(Some(value))
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }
}

/// Checks that bytes read from the ledger log, which has no checksums of its
/// own, are the transaction that the block lists.
fn check_hash(tx: &Transaction, expected: &TxHash, height: Height, index: usize) -> Result<(), StoreError> {
    let found = tx.hash();
    if found != *expected {
        return Err(StoreError::Corrupted {
            reason: format!(
                "transaction {index} of height {height} should hash to {expected}, but the bytes in the ledger log hash to {found}"
            ),
        });
    }
    Ok(())
}

fn attestation_entry(key: &[u8], value: &[u8]) -> Result<AttestationEntry, StoreError> {
    let damaged =
        || StoreError::Corrupted { reason: format!("attestation index entry {} is malformed", hex::encode(key)) };
    let (height, tx_index) = layout::attestation_position(key).ok_or_else(damaged)?;
    let tx_hash = TxHash(value.try_into().map_err(|_| damaged())?);
    Ok(AttestationEntry { height, tx_index, tx_hash })
}

impl<B: Backend> TreeSource for LedgerStore<B> {
    type Error = StoreError;

    fn tree_node(&self, key: &NodeKey) -> Result<Option<Node>, StoreError> {
        self.stored_node(key)
    }

    /// Answers from the committed height without a read: every committed height has a
    /// root, and the store keeps every height.
    fn has_version(&self, version: u64) -> Option<bool> {
        Some(self.latest_height().is_some_and(|latest| version <= latest.0))
    }

    fn tree_value(&self, max_version: u64, key_hash: KeyHash) -> Result<Option<Vec<u8>>, StoreError> {
        // Versions only grow from one generation to the next, so the newest generation
        // with a version at most `max_version` contains the value.
        for generation in self.filter.generations(Table::TreeValue, &key_hash.0).into_iter().rev() {
            let start = layout::tree_value_key(generation, &key_hash, 0);
            let end = layout::tree_value_key(generation, &key_hash, max_version);
            let Some((key, encoded)) = self.backend.last_in_range(&start, &end)? else {
                continue;
            };
            return layout::decode_tree_value(&encoded).ok_or_else(|| StoreError::Corrupted {
                reason: format!("state tree value {} has an unknown tag byte", hex::encode(key)),
            });
        }
        Ok(None)
    }
}
