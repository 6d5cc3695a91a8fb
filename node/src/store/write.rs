//! Block writes: what one block stores, the checks before it is stored, and the one
//! batch that stores it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::Instant;

use jmt::storage::NodeKey;
use vouch_protocol::chain::{BLOCK_BYTES_MAX, Block, BlockHash, Commit, Height, Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;
use vouch_protocol::state::StateRoot;

use crate::state::{STATE_VALUE_BYTES_MAX, TreeWrites};
use crate::store::filter::Table;
use crate::store::layout::{StoredBody, TxRecord};
use crate::store::node_spans::EncodedSpans;
use crate::store::{Backend, LedgerStore, LogStage, StoreError, WriteBatch, layout, nodes};

/// Maximum number of attestation index entries that one block adds.
pub const BLOCK_ATTESTATIONS_MAX: usize = 100_000;

/// Maximum length in bytes of one transaction's stored outcome text.
pub const TX_OUTCOME_BYTES_MAX: usize = 1024;

/// Maximum total size of the encoded state tree nodes that one block adds. A block
/// that changes [`crate::state::STATE_CHANGES_MAX`] keys adds about twice as many
/// nodes of a few hundred bytes each, far below this.
pub const BLOCK_NODE_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Maximum number of bytes that one block appends to the ledger log.
pub const BLOCK_LOG_BYTES_MAX: u64 = (BLOCK_BYTES_MAX + BLOCK_NODE_BYTES_MAX) as u64;

/// The genesis state: the tree of height 0 and its root.
#[derive(Clone, Debug)]
pub struct GenesisWrite {
    /// The nodes and values of the genesis state tree.
    pub tree_writes: TreeWrites,
    /// The genesis state root.
    pub state_root: StateRoot,
}

/// Everything that one committed block adds to the ledger.
#[derive(Clone, Debug)]
pub struct BlockWrite {
    /// The block; its transactions go to the ledger log, found by hash.
    pub block: Block,
    /// The commit that certifies the block.
    pub commit: Commit,
    /// The attestation index entries: each image digest with the transaction of this
    /// block that attests it.
    pub attestations: Vec<(Digest, TxHash)>,
    /// What executing each transaction of this block did (`applied` or the reason it
    /// had no effect), by transaction hash; transactions without an entry store none.
    pub outcomes: Vec<(TxHash, String)>,
    /// The state tree nodes and values of the state after this block.
    pub tree_writes: TreeWrites,
    /// The state root after this block.
    pub state_root: StateRoot,
    /// The block's transactions, when [`LedgerStore::stage_block`] already wrote them.
    pub staged: Option<StagedTxs>,
    /// The images whose earliest verdict expiry this block changes, with the new one
    /// (`None` when their verdicts no longer expire).
    pub expiries: Vec<(Digest, Option<i64>)>,
}

/// A block's transactions written past the end of the ledger log before the block is
/// stored, so that storing it appends only its tree nodes after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StagedTxs {
    block_hash: BlockHash,
    stage: LogStage,
}

impl<B: Backend> LedgerStore<B> {
    /// Writes `block`'s transactions past the end of the ledger log and makes them
    /// durable, so that [`LedgerStore::commit_block`] of the same block writes only its
    /// tree nodes. The app stages a block on another thread while it executes and
    /// evaluates it. Staged bytes are not part of the ledger until that commit, and a
    /// later stage, commit or reopening replaces them.
    pub fn stage_block(&self, block: &Block) -> Result<StagedTxs, StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.is_poisoned() {
            return Err(StoreError::Poisoned);
        }
        let pieces: Vec<&[u8]> = block.txs.iter().map(Transaction::bytes).collect();
        let stage = self.backend.stage_log(&pieces)?;
        Ok(StagedTxs { block_hash: block.header.hash(), stage })
    }

    /// Stores the genesis state as height 0 in one batch and one flush.
    pub fn commit_genesis(&self, genesis: GenesisWrite) -> Result<(), StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.is_poisoned() {
            return Err(StoreError::Poisoned);
        }
        if let Some(latest) = self.latest_height() {
            return Err(StoreError::AlreadyInitialized { latest });
        }
        check_tree_writes(Height::GENESIS, &genesis.tree_writes, genesis.state_root)?;

        let generations = Generations::next(self);
        self.filter_tree_values(&genesis.tree_writes, generations.values);
        let mut batch = WriteBatch::new();
        for (key, node) in genesis.tree_writes.nodes() {
            batch.put(layout::tree_node_key(key), nodes::inline_entry(node));
        }
        put_tree_values(&mut batch, &genesis.tree_writes, generations.values);
        batch.put(layout::state_root_key(Height::GENESIS), genesis.state_root.0.to_vec());
        batch.put(layout::LOG_END_KEY.to_vec(), 0u64.to_be_bytes().to_vec());
        batch.put(layout::LATEST_HEIGHT_KEY.to_vec(), layout::encode_height(Height::GENESIS));
        batch.put(layout::LAYOUT_VERSION_KEY.to_vec(), layout::LAYOUT_VERSION.to_be_bytes().to_vec());
        batch.put(layout::EXPIRY_INDEX_KEY.to_vec(), Vec::new());
        self.write_batch(batch, Height::GENESIS)
    }

    /// Stores one block and everything it changes in one atomic batch, then flushes.
    /// When this returns `Ok`, the block survives a crash.
    pub fn commit_block(&self, write: BlockWrite) -> Result<(), StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.is_poisoned() {
            return Err(StoreError::Poisoned);
        }
        let started = Instant::now();
        let latest = self.latest_height().ok_or(StoreError::NotInitialized)?;
        let height = write.block.header.height;
        self.check_sequence(latest, &write)?;
        check_commit(&write)?;
        check_tree_writes(height, &write.tree_writes, write.state_root)?;
        let positions = self.check_transactions(&write)?;
        check_attestations(&write, &positions)?;
        check_outcomes(&write, &positions)?;
        let check_ms = started.elapsed().as_millis() as u64;

        let generations = Generations::next(self);
        let sealed = self.sealed_filters(generations);
        self.filter_block_keys(&write, generations);
        let append = LogAppend::new(&write)?;
        let log_offset = self.append_block(&write, &append)?;
        let log_ms = started.elapsed().as_millis() as u64;
        let mut batch = block_batch(&write, &positions, generations, log_offset, append.len());
        for (key, record) in sealed {
            batch.put(key, record);
        }
        let index = nodes::put_node_index(&mut batch, height.0, &append.spans, log_offset + append.txs_len as u64);
        let batch_ms = started.elapsed().as_millis() as u64;
        self.write_batch(batch, height)?;
        self.cache_index(height.0, index);
        for &(key, encoded_len) in &append.nodes {
            let node = write.tree_writes.node(key).expect("every appended node is in the tree writes");
            self.cache_node(key, node, encoded_len);
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(height = height.0, check_ms, log_ms, batch_ms, elapsed_ms, "block stored");
        Ok(())
    }

    /// Appends a block's transactions and tree nodes to the ledger log and returns the
    /// offset where they start. Transactions that the write's stage contains are kept.
    /// When the stage is for another block or no longer at the end of the log, they are
    /// written again. A failure poisons the store like a failed batch: the log
    /// may hold part of the append, which the next open cuts off.
    fn append_block(&self, write: &BlockWrite, append: &LogAppend<'_>) -> Result<u64, StoreError> {
        let nodes = append.spans.bytes.as_slice();
        let height = write.block.header.height;
        let stage = write.staged.filter(|staged| {
            staged.block_hash == write.block.header.hash() && staged.stage.len == append.txs_len as u64
        });
        if let Some(staged) = stage {
            match self.backend.append_log_pieces(&[nodes], Some(staged.stage)) {
                Ok(offset) => return Ok(offset),
                // The log's end did not move, so writing everything again is safe.
                Err(error) => {
                    tracing::warn!(height = height.0, %error, "staged transactions not kept; writing them again")
                }
            }
        }
        if append.len() == 0 {
            return Ok(self.backend.log_len()?);
        }
        let mut pieces: Vec<&[u8]> = write.block.txs.iter().map(Transaction::bytes).collect();
        pieces.push(nodes);
        self.backend.append_log_pieces(&pieces, None).map_err(|error| {
            self.poisoned.store(true, Ordering::SeqCst);
            StoreError::from(error)
        })
    }

    /// Encodes the filters that a block sealing a generation stores: for each table
    /// whose next generation the block starts, the filters of the one before.
    fn sealed_filters(&self, generations: Generations) -> Vec<(Vec<u8>, Vec<u8>)> {
        let tables = [
            (Table::TxPosition, generations.positions),
            (Table::Attestations, generations.attestations),
            (Table::TreeValue, generations.values),
        ];
        let sealed = tables.into_iter().filter_map(|(table, generation)| {
            let sealed = self.filter.sealed_by(table, generation)?;
            Some((layout::key_filter_key(table, sealed), self.filter.sealed_record(table, sealed)))
        });
        sealed.collect()
    }

    /// Adds the keys that a block's batch writes to the filtered tables. They are added
    /// before the batch, so that no reader finds a stored key missing from the filter.
    fn filter_block_keys(&self, write: &BlockWrite, generations: Generations) {
        let hashes: Vec<TxHash> = write.block.txs.iter().map(|tx| tx.hash()).collect();
        self.filter.insert(Table::TxPosition, generations.positions, hashes.iter().map(|hash| hash.0.as_slice()));
        let images: BTreeSet<Vec<u8>> = write.attestations.iter().map(|(image, _)| encoding::encode(image)).collect();
        self.filter.insert(Table::Attestations, generations.attestations, images.iter().map(Vec::as_slice));
        self.filter_tree_values(&write.tree_writes, generations.values);
    }

    fn filter_tree_values(&self, writes: &TreeWrites, generation: u32) {
        let key_hashes = writes.values().map(|((_, key_hash), _)| key_hash.0.as_slice());
        self.filter.insert(Table::TreeValue, generation, key_hashes);
    }

    /// Applies and flushes `batch`, then records `height` as committed. A failure
    /// poisons the store.
    fn write_batch(&self, batch: WriteBatch, height: Height) -> Result<(), StoreError> {
        let started = Instant::now();
        let entries = batch.puts().len();
        let bytes = batch.bytes();
        let written = self.backend.apply(batch).and_then(|()| {
            let apply_ms = started.elapsed().as_millis() as u64;
            self.backend.flush()?;
            let flush_ms = started.elapsed().as_millis() as u64 - apply_ms;
            tracing::debug!(height = height.0, entries, bytes, apply_ms, flush_ms, "batch written");
            Ok(())
        });
        if let Err(error) = written {
            self.poisoned.store(true, Ordering::SeqCst);
            return Err(error.into());
        }
        *self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(height);
        Ok(())
    }

    /// Checks that the block follows the last committed one.
    fn check_sequence(&self, latest: Height, write: &BlockWrite) -> Result<(), StoreError> {
        let header = &write.block.header;
        let expected =
            latest.next().ok_or(StoreError::Corrupted { reason: "the committed height is u64::MAX".into() })?;
        if header.height != expected {
            return Err(StoreError::UnexpectedHeight { latest, expected, found: header.height });
        }
        write.block.validate()?;

        let previous_root = self.state_root(latest)?.ok_or_else(|| StoreError::Corrupted {
            reason: format!("no state root is stored for the committed height {latest}"),
        })?;
        if header.app_hash != previous_root {
            return Err(mismatch(header.height, "app_hash", previous_root, header.app_hash));
        }

        let previous_hash = match latest {
            Height::GENESIS => None,
            _ => Some(self.header(latest)?.ok_or_else(|| StoreError::Corrupted {
                reason: format!("no header is stored for the committed height {latest}"),
            })?),
        }
        .map(|previous| previous.hash());
        if header.previous_block_hash != previous_hash {
            return Err(mismatch(
                header.height,
                "previous_block_hash",
                format!("{previous_hash:?}"),
                format!("{:?}", header.previous_block_hash),
            ));
        }
        Ok(())
    }

    /// Checks that no transaction repeats within the block or was stored before, and
    /// returns each transaction's position.
    fn check_transactions(&self, write: &BlockWrite) -> Result<HashMap<TxHash, u32>, StoreError> {
        let height = write.block.header.height;
        let mut positions = HashMap::with_capacity(write.block.txs.len());
        for (index, tx) in write.block.txs.iter().enumerate() {
            let hash = tx.hash();
            let index = u32::try_from(index).expect("a valid block has at most BLOCK_TXS_MAX transactions");
            if positions.insert(hash, index).is_some() {
                return Err(StoreError::DuplicateTransaction { height, hash, stored_at: height });
            }
            if let Some((stored_at, _)) = self.tx_position(&hash)? {
                return Err(StoreError::DuplicateTransaction { height, hash, stored_at });
            }
        }
        Ok(positions)
    }
}

fn mismatch(height: Height, field: &'static str, expected: impl ToString, found: impl ToString) -> StoreError {
    StoreError::Mismatch { height, field, expected: expected.to_string(), found: found.to_string() }
}

/// Checks that the commit certifies this block.
fn check_commit(write: &BlockWrite) -> Result<(), StoreError> {
    let header = &write.block.header;
    if write.commit.height != header.height {
        return Err(mismatch(header.height, "commit height", header.height, write.commit.height));
    }
    let block_hash = header.hash();
    if write.commit.block_hash != block_hash {
        return Err(mismatch(header.height, "commit block hash", block_hash, write.commit.block_hash));
    }
    Ok(())
}

/// Checks that the writes belong to version `height`, that their values are within the
/// limit, and that their root node hashes to `state_root`.
fn check_tree_writes(height: Height, writes: &TreeWrites, state_root: StateRoot) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidTreeWrites { height, reason };
    if let Some((key, _)) = writes.nodes().find(|(key, _)| key.version() != height.0) {
        return Err(invalid(format!("a node has version {}", key.version())));
    }
    for ((version, _), value) in writes.values() {
        if *version != height.0 {
            return Err(invalid(format!("a value has version {version}")));
        }
        let size = value.as_ref().map_or(0, Vec::len);
        if size > STATE_VALUE_BYTES_MAX {
            return Err(invalid(format!("a value is {size} bytes, over the limit of {STATE_VALUE_BYTES_MAX} bytes")));
        }
    }

    let root = writes.root_at(height.0).ok_or_else(|| invalid("no root node".to_owned()))?;
    if root != state_root {
        return Err(invalid(format!("the root node hashes to {root}, but the declared state root is {state_root}")));
    }
    Ok(())
}

/// Checks that every index entry names a transaction of the block, within the limit.
fn check_attestations(write: &BlockWrite, positions: &HashMap<TxHash, u32>) -> Result<(), StoreError> {
    let height = write.block.header.height;
    let count = write.attestations.len();
    if count > BLOCK_ATTESTATIONS_MAX {
        return Err(StoreError::TooManyAttestations { height, count, max: BLOCK_ATTESTATIONS_MAX });
    }
    for (image, hash) in &write.attestations {
        if !positions.contains_key(hash) {
            return Err(StoreError::UnknownAttestationTransaction { height, image: image.clone(), hash: *hash });
        }
    }
    Ok(())
}

/// Checks that every outcome names a transaction of the block and fits the limit.
fn check_outcomes(write: &BlockWrite, positions: &HashMap<TxHash, u32>) -> Result<(), StoreError> {
    let height = write.block.header.height;
    for (hash, outcome) in &write.outcomes {
        if !positions.contains_key(hash) {
            return Err(StoreError::UnknownOutcomeTransaction { height, hash: *hash });
        }
        if outcome.len() > TX_OUTCOME_BYTES_MAX {
            return Err(StoreError::OutcomeTooLong {
                height,
                hash: *hash,
                size: outcome.len(),
                max: TX_OUTCOME_BYTES_MAX,
            });
        }
    }
    Ok(())
}

/// The bytes that one block appends to the ledger log: its transactions in block
/// order, then the spans of its new state tree nodes.
struct LogAppend<'a> {
    /// The length of the transactions, which the append starts with.
    txs_len: usize,
    /// The spans of the nodes, which the append ends with.
    spans: EncodedSpans,
    /// Each node's key with the length of its encoding.
    nodes: Vec<(&'a NodeKey, usize)>,
}

impl<'a> LogAppend<'a> {
    /// Encodes the block's append, or fails if its nodes are over the limit.
    fn new(write: &'a BlockWrite) -> Result<LogAppend<'a>, StoreError> {
        let (spans, nodes) = nodes::encode_nodes(write.tree_writes.nodes());
        let node_bytes = spans.bytes.len();
        if node_bytes > BLOCK_NODE_BYTES_MAX {
            let height = write.block.header.height;
            let reason = format!("the nodes are {node_bytes} bytes, over the limit of {BLOCK_NODE_BYTES_MAX} bytes");
            return Err(StoreError::InvalidTreeWrites { height, reason });
        }
        let txs_len: usize = write.block.txs.iter().map(|tx| tx.len()).sum();
        Ok(LogAppend { txs_len, spans, nodes })
    }

    /// Returns the length of the whole append.
    fn len(&self) -> usize {
        self.txs_len + self.spans.bytes.len()
    }
}

/// Builds the batch that stores a checked block write, whose log append of
/// `append_len` bytes starts at `log_offset`, except the index of its tree nodes.
fn block_batch(
    write: &BlockWrite,
    positions: &HashMap<TxHash, u32>,
    generations: Generations,
    log_offset: u64,
    append_len: usize,
) -> WriteBatch {
    let block = &write.block;
    let height = block.header.height;
    let mut batch = WriteBatch::new();

    batch.put(layout::header_key(height), block.header.to_bytes());
    batch.put(layout::commit_key(height), write.commit.to_bytes());
    let body = StoredBody { log_offset, txs: block.txs.iter().map(|tx| (tx.hash(), tx_len(tx))).collect() };
    let mut offset = log_offset;
    for (index, (hash, len)) in body.txs.iter().enumerate() {
        let index = u32::try_from(index).expect("a valid block has at most BLOCK_TXS_MAX transactions");
        let record = TxRecord { height, index, offset, len: *len };
        batch.put(layout::tx_position_key(generations.positions, hash), record.encode());
        offset += u64::from(*len);
    }
    batch.put(layout::body_key(height), encoding::encode(&body));

    let entries: BTreeSet<(&Digest, u32, &TxHash)> =
        write.attestations.iter().map(|(image, hash)| (image, positions[hash], hash)).collect();
    for (image, index, hash) in entries {
        batch.put(layout::attestation_key(generations.attestations, image, height, index), hash.0.to_vec());
    }

    for (hash, outcome) in &write.outcomes {
        batch.put(layout::outcome_key(hash), outcome.as_bytes().to_vec());
    }

    for (image, expiry) in &write.expiries {
        batch.put(layout::expiry_key(image), layout::encode_expiry(*expiry));
    }

    put_tree_values(&mut batch, &write.tree_writes, generations.values);
    batch.put(layout::state_root_key(height), write.state_root.0.to_vec());
    let log_end = log_offset + append_len as u64;
    batch.put(layout::LOG_END_KEY.to_vec(), log_end.to_be_bytes().to_vec());
    batch.put(layout::LATEST_HEIGHT_KEY.to_vec(), layout::encode_height(height));
    batch
}

fn tx_len(tx: &Transaction) -> u32 {
    u32::try_from(tx.len()).expect("a valid block's transactions are smaller than 4 GiB")
}

fn put_tree_values(batch: &mut WriteBatch, writes: &TreeWrites, generation: u32) {
    for ((version, key_hash), value) in writes.values() {
        let key = layout::tree_value_key(generation, key_hash, *version);
        batch.put(key, layout::encode_tree_value(value.as_deref()));
    }
}

/// The generations that one block's keys go to, one per filtered table.
#[derive(Clone, Copy, Debug)]
struct Generations {
    positions: u32,
    attestations: u32,
    values: u32,
}

impl Generations {
    /// Chooses the generations of the next block; the caller holds the write lock.
    fn next<B: Backend>(store: &LedgerStore<B>) -> Generations {
        Generations {
            positions: store.filter.write_generation(Table::TxPosition),
            attestations: store.filter.write_generation(Table::Attestations),
            values: store.filter.write_generation(Table::TreeValue),
        }
    }
}
