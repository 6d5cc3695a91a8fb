use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

use jmt::storage::{NodeBatch, TreeUpdateBatch};
use vouch_protocol::chain::{BLOCK_BYTES_MAX, BlockHash, ChainError, Height, Transaction};
use vouch_protocol::digest::Digest;
use vouch_protocol::state::{StateKey, StateRoot, verify_inclusion};

use super::*;
use crate::state::{AuthenticatedState, STATE_VALUE_BYTES_MAX, StateChanges, TreeWrites};
use crate::store::write::BLOCK_LOG_BYTES_MAX;
use crate::synthetic::{self, SyntheticChain};

fn chain() -> SyntheticChain {
    SyntheticChain::new(1)
}

/// Builds a memory store with genesis and `blocks` synthetic blocks of `txs` transactions.
fn store_with_blocks(blocks: u64, txs: u64) -> (MemoryBackend, LedgerStore<MemoryBackend>) {
    let backend = MemoryBackend::new();
    let store = LedgerStore::open(backend.clone()).unwrap();
    chain().init(&store).unwrap();
    for _ in 0..blocks {
        commit_next(&store, txs);
    }
    (backend, store)
}

fn commit_next<B: Backend>(store: &LedgerStore<B>, txs: u64) -> BlockWrite {
    let write = next_write(store, txs);
    store.commit_block(write.clone()).unwrap();
    write
}

fn next_write<B: Backend>(store: &LedgerStore<B>, txs: u64) -> BlockWrite {
    let height = store.latest_height().unwrap().next().unwrap();
    chain().next_block(store, synthetic::transactions(height, txs)).unwrap()
}

fn empty_write<B: Backend>(store: &LedgerStore<B>, txs: Vec<Transaction>) -> BlockWrite {
    chain().block_write(store, txs, &StateChanges::new(), vec![]).unwrap()
}

#[test]
fn committed_block_reads_back() {
    let (_, store) = store_with_blocks(2, 0);
    let write = commit_next(&store, 20);
    let height = Height(3);

    assert_eq!(store.latest_height(), Some(height));
    assert_eq!(store.block(height).unwrap(), Some(write.block.clone()));
    assert_eq!(store.header(height).unwrap(), Some(write.block.header.clone()));
    assert_eq!(store.commit(height).unwrap(), Some(write.commit.clone()));
    assert_eq!(store.state_root(height).unwrap(), Some(write.state_root));
    for (index, tx) in write.block.txs.iter().enumerate() {
        let stored = store.transaction(&tx.hash()).unwrap().unwrap();
        assert_eq!((stored.height, stored.index as usize, &stored.tx), (height, index, tx));
    }
    assert_eq!(store.block(Height(4)).unwrap(), None);
}

#[test]
fn genesis_alone_is_height_zero() {
    let (_, store) = store_with_blocks(0, 0);
    assert_eq!(store.latest_height(), Some(Height::GENESIS));
    let root = AuthenticatedState::new(&store).root(Height::GENESIS).unwrap();
    assert_eq!(store.state_root(Height::GENESIS).unwrap(), Some(root));
    assert_eq!(store.header(Height::GENESIS).unwrap(), None);
}

#[test]
fn next_header_carries_state_root() {
    let (_, store) = store_with_blocks(3, 5);
    for height in 1..=3 {
        let root = store.state_root(Height(height - 1)).unwrap().unwrap();
        assert_eq!(store.header(Height(height)).unwrap().unwrap().app_hash, root, "height {height}");
    }
}

#[test]
fn state_reads_and_proofs_come_from_the_store() {
    let (_, store) = store_with_blocks(1, 0);
    let write = commit_next(&store, 10);
    let synthetic = synthetic::decode(&write.block.txs).unwrap();
    let state = AuthenticatedState::new(&store);

    let key = StateKey::Attestation { image: synthetic[4].image.clone(), envelope_hash: synthetic[4].envelope_hash };
    let (value, proof) = state.prove(&key, Height(2)).unwrap();
    assert_eq!(value.as_deref(), Some(&synthetic[4].record[..]));
    verify_inclusion(&write.state_root, &key, &synthetic[4].record, &proof).unwrap();
    assert_eq!(state.get(&key, Height(1)).unwrap(), None);
}

#[test]
fn revocation_deletes_earlier_attestation() {
    let (_, store) = store_with_blocks(1, 10);
    commit_next(&store, 10);
    let revoking = synthetic::SyntheticTx::at(Height(2), 3);
    let (image, envelope_hash) = revoking.revokes.clone().unwrap();
    let key = StateKey::Attestation { image, envelope_hash };
    let state = AuthenticatedState::new(&store);
    assert!(state.get(&key, Height(1)).unwrap().is_some());
    assert_eq!(state.get(&key, Height(2)).unwrap(), None);
}

#[test]
fn attestations_by_image_in_chain_order() {
    let (_, store) = store_with_blocks(4, 40);
    let image = synthetic::SyntheticTx::at(Height(2), 5).image;

    let mut expected = Vec::new();
    for height in 1..=4 {
        let block = store.block(Height(height)).unwrap().unwrap();
        for (index, tx) in block.txs.iter().enumerate() {
            if synthetic::decode(std::slice::from_ref(tx)).unwrap()[0].image == image {
                expected.push(AttestationEntry { height: Height(height), tx_index: index as u32, tx_hash: tx.hash() });
            }
        }
    }
    assert!(expected.len() >= 2, "the workload repeats images across blocks");
    assert_eq!(store.attestations(&image, ATTESTATIONS_READ_MAX).unwrap(), expected);
    assert_eq!(store.attestations(&image, 1).unwrap(), expected[..1]);
    assert!(store.attestations(&Digest::sha256(b"never attested"), 10).unwrap().is_empty());
}

#[test]
fn reopen_resumes_at_last_height() {
    let (backend, store) = store_with_blocks(3, 4);
    drop(store);
    let store = LedgerStore::open(backend).unwrap();
    assert_eq!(store.latest_height(), Some(Height(3)));
    commit_next(&store, 4);
    assert_eq!(store.latest_height(), Some(Height(4)));
}

#[test]
fn empty_backend_opens_uninitialized() {
    let store = LedgerStore::open(MemoryBackend::new()).unwrap();
    assert_eq!(store.latest_height(), None);
    let error = chain().block_write(&store, vec![], &StateChanges::new(), vec![]).unwrap_err();
    assert!(error.to_string().contains("no genesis"), "{error}");
}

#[test]
fn block_before_genesis_is_rejected() {
    let (_, with_genesis) = store_with_blocks(0, 0);
    let write = next_write(&with_genesis, 1);
    let store = LedgerStore::open(MemoryBackend::new()).unwrap();
    assert!(matches!(store.commit_block(write), Err(StoreError::NotInitialized)));
}

#[test]
fn second_genesis_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let (state_root, tree_writes) = AuthenticatedState::new(&crate::state::MemoryTree::new())
        .apply(Height::GENESIS, &synthetic::genesis_changes())
        .unwrap();
    let error = store.commit_genesis(GenesisWrite { tree_writes, state_root }).unwrap_err();
    assert!(matches!(error, StoreError::AlreadyInitialized { latest: Height(1) }), "{error}");
}

#[test]
fn block_at_wrong_height_is_rejected() {
    let (_, store) = store_with_blocks(2, 0);
    let write = next_write(&store, 1);
    commit_next(&store, 0);
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::UnexpectedHeight { expected: Height(4), found: Height(3), .. }), "{error}");
}

#[test]
fn block_with_wrong_app_hash_is_rejected() {
    let (_, store) = store_with_blocks(2, 0);
    let mut write = next_write(&store, 1);
    write.block.header.app_hash = StateRoot([9; 32]);
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::Mismatch { field: "app_hash", .. }), "{error}");
}

#[test]
fn block_with_wrong_previous_hash_is_rejected() {
    let (_, store) = store_with_blocks(2, 0);
    let mut write = next_write(&store, 1);
    write.block.header.previous_block_hash = Some(BlockHash([9; 32]));
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::Mismatch { field: "previous_block_hash", .. }), "{error}");
}

#[test]
fn commit_for_other_block_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let mut write = next_write(&store, 1);
    write.commit.block_hash = BlockHash([9; 32]);
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::Mismatch { field: "commit block hash", .. }), "{error}");
}

#[test]
fn block_with_wrong_txs_root_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let mut write = next_write(&store, 2);
    write.block.txs.pop();
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::InvalidBlock(ChainError::TxsRootMismatch { .. })), "{error}");
}

#[test]
fn tree_writes_for_other_root_are_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let mut write = next_write(&store, 2);
    write.state_root = StateRoot([9; 32]);
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::InvalidTreeWrites { .. }), "{error}");
    assert_eq!(store.latest_height(), Some(Height(1)));
}

#[test]
fn tree_writes_of_other_version_are_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let stale = next_write(&store, 2);
    commit_next(&store, 0);
    let mut write = next_write(&store, 2);
    write.tree_writes = stale.tree_writes;
    write.state_root = stale.state_root;
    let error = store.commit_block(write).unwrap_err();
    assert!(error.to_string().contains("version 2"), "{error}");
}

#[test]
fn repeated_transaction_in_block_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let tx = Transaction::new(b"same".to_vec());
    let write = empty_write(&store, vec![tx.clone(), tx]);
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::DuplicateTransaction { stored_at: Height(2), .. }), "{error}");
}

#[test]
fn transaction_of_earlier_block_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let tx = Transaction::new(b"once".to_vec());
    store.commit_block(empty_write(&store, vec![tx.clone()])).unwrap();
    let error = store.commit_block(empty_write(&store, vec![tx])).unwrap_err();
    assert!(matches!(error, StoreError::DuplicateTransaction { stored_at: Height(2), .. }), "{error}");
}

#[test]
fn attestation_of_unknown_transaction_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let mut write = next_write(&store, 1);
    write.attestations.push((Digest::sha256(b"x"), Transaction::new(b"elsewhere".to_vec()).hash()));
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::UnknownAttestationTransaction { .. }), "{error}");
}

fn write_with_attestations(store: &LedgerStore<MemoryBackend>, count: usize) -> BlockWrite {
    let tx = Transaction::new(b"many subjects".to_vec());
    let attestations = (0..count).map(|index| (Digest::sha256(&index.to_le_bytes()), tx.hash())).collect();
    chain().block_write(store, vec![tx], &StateChanges::new(), attestations).unwrap()
}

#[test]
fn attestation_count_at_limit_is_accepted() {
    let (_, store) = store_with_blocks(1, 0);
    store.commit_block(write_with_attestations(&store, BLOCK_ATTESTATIONS_MAX)).unwrap();
    assert_eq!(store.attestations(&Digest::sha256(&7usize.to_le_bytes()), 10).unwrap().len(), 1);
}

#[test]
fn attestation_count_past_limit_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let error = store.commit_block(write_with_attestations(&store, BLOCK_ATTESTATIONS_MAX + 1)).unwrap_err();
    assert!(matches!(error, StoreError::TooManyAttestations { count: 100_001, .. }), "{error}");
}

fn block_of_bytes(store: &LedgerStore<MemoryBackend>, encoded_size: usize) -> BlockWrite {
    let overhead = empty_write(store, vec![Transaction::new(vec![])]).block.encoded_len();
    empty_write(store, vec![Transaction::new(vec![3; encoded_size - overhead])])
}

#[test]
fn block_at_byte_limit_is_stored() {
    let (_, store) = store_with_blocks(1, 0);
    let write = block_of_bytes(&store, BLOCK_BYTES_MAX);
    assert_eq!(write.block.to_bytes().len(), BLOCK_BYTES_MAX);
    store.commit_block(write.clone()).unwrap();
    assert_eq!(store.block(Height(2)).unwrap().unwrap(), write.block);
}

#[test]
fn block_past_byte_limit_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let write = block_of_bytes(&store, BLOCK_BYTES_MAX + 1);
    let error = store.commit_block(write).unwrap_err();
    assert!(matches!(error, StoreError::InvalidBlock(ChainError::TooLarge { what: "block", .. })), "{error}");
}

#[test]
fn value_at_byte_limit_is_stored() {
    let (_, store) = store_with_blocks(1, 0);
    let key = StateKey::Policy { name: "large".to_owned() };
    let mut changes = StateChanges::new();
    changes.set(&key, vec![5; STATE_VALUE_BYTES_MAX]).unwrap();
    store.commit_block(chain().block_write(&store, vec![], &changes, vec![]).unwrap()).unwrap();
    let value = AuthenticatedState::new(&store).get(&key, Height(2)).unwrap().unwrap();
    assert_eq!(value.len(), STATE_VALUE_BYTES_MAX);
}

#[test]
fn tree_value_past_byte_limit_is_rejected() {
    let (_, store) = store_with_blocks(1, 0);
    let write = next_write(&store, 1);

    // Writes that no StateChanges would produce, as a faulty caller could hand them over.
    let nodes = write.tree_writes.nodes().map(|(key, node)| (key.clone(), node.clone())).collect();
    let mut values: BTreeMap<_, _> = write.tree_writes.values().map(|(key, value)| (*key, value.clone())).collect();
    let first = *values.keys().next().unwrap();
    values.insert(first, Some(vec![0; STATE_VALUE_BYTES_MAX + 1]));
    let update = TreeUpdateBatch { node_batch: NodeBatch::new(nodes, values), ..TreeUpdateBatch::default() };
    let oversized = BlockWrite { tree_writes: TreeWrites::new(update), ..write };

    let error = store.commit_block(oversized).unwrap_err();
    assert!(error.to_string().contains("over the limit"), "{error}");
}

fn assert_consistent_at(backend: &MemoryBackend, expected: Height) {
    let store = LedgerStore::open(backend.clone()).unwrap();
    assert_eq!(store.latest_height(), Some(expected));
    commit_next(&store, 3);
    assert_eq!(store.latest_height(), expected.next());
}

/// Fails one step of the write of block 3 and checks that the store rejects further
/// writes; returns the backend for the caller to reopen, with or without a crash.
fn fail_block_write(fault: Fault) -> (FaultyBackend<MemoryBackend>, LedgerStore<FaultyBackend<MemoryBackend>>) {
    let faulty = FaultyBackend::new(MemoryBackend::new());
    let store = LedgerStore::open(faulty).unwrap();
    chain().init(&store).unwrap();
    commit_next(&store, 3);
    commit_next(&store, 3);

    let write = next_write(&store, 3);
    store.backend.arm(fault);
    let error = store.commit_block(write.clone()).unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error}");
    assert_eq!(store.latest_height(), Some(Height(2)));
    assert!(matches!(store.commit_block(write), Err(StoreError::Poisoned)));
    let backend = store.backend.inner().clone();
    (FaultyBackend::new(backend), store)
}

#[test]
fn fault_before_apply_leaves_previous_block() {
    let (backend, _) = fail_block_write(Fault::BeforeApply);
    assert_eq!(LedgerStore::open(backend.inner().clone()).unwrap().latest_height(), Some(Height(2)));
    backend.inner().simulate_crash();
    assert_consistent_at(backend.inner(), Height(2));
}

#[test]
fn fault_after_apply_keeps_whole_block() {
    let (backend, _) = fail_block_write(Fault::AfterApply);
    assert_consistent_at(backend.inner(), Height(3));
}

#[test]
fn fault_after_apply_then_crash_loses_whole_block() {
    let (backend, _) = fail_block_write(Fault::AfterApply);
    backend.inner().simulate_crash();
    assert_consistent_at(backend.inner(), Height(2));
}

#[test]
fn failed_flush_then_crash_loses_whole_block() {
    let (backend, _) = fail_block_write(Fault::Flush);
    backend.inner().simulate_crash();
    assert_consistent_at(backend.inner(), Height(2));
}

#[test]
fn failed_flush_without_crash_keeps_whole_block() {
    let (backend, _) = fail_block_write(Fault::Flush);
    assert_consistent_at(backend.inner(), Height(3));
}

#[test]
fn failed_genesis_poisons_store() {
    let faulty = FaultyBackend::new(MemoryBackend::new());
    let store = LedgerStore::open(faulty).unwrap();
    store.backend.arm(Fault::BeforeApply);
    assert!(chain().init(&store).is_err());
    assert_eq!(store.latest_height(), None);
    assert!(matches!(chain().init(&store), Err(crate::synthetic::SyntheticError::Store(StoreError::Poisoned))));
}

fn assert_corrupted(backend: &MemoryBackend, expected: &str) {
    let error = LedgerStore::open(backend.clone()).err().expect("open must fail");
    assert!(matches!(error, StoreError::Corrupted { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains(expected), "{message}");
    assert!(message.contains("damaged"), "{message}");
}

#[test]
fn open_rejects_changed_state_root() {
    let (backend, _) = store_with_blocks(3, 2);
    backend.corrupt(&layout::state_root_key(Height(3)), Some(vec![9; 32]));
    assert_corrupted(&backend, "state root stored for height 3");
}

#[test]
fn open_rejects_header_with_other_app_hash() {
    let (backend, store) = store_with_blocks(3, 2);
    let mut header = store.header(Height(3)).unwrap().unwrap();
    header.app_hash = StateRoot([9; 32]);
    backend.corrupt(&layout::header_key(Height(3)), Some(header.to_bytes()));
    assert_corrupted(&backend, "records app hash");
}

#[test]
fn open_rejects_missing_root_node() {
    let (backend, store) = store_with_blocks(2, 2);
    let write = commit_next(&store, 2);
    let (root_key, _) = write.tree_writes.nodes().find(|(key, _)| key.nibble_path().is_empty()).unwrap();
    backend.corrupt(&layout::tree_node_index_key(root_key.version()), None);
    assert_corrupted(&backend, "no readable root at height 3");
}

#[test]
fn open_rejects_commit_of_other_block() {
    let (backend, store) = store_with_blocks(3, 2);
    let mut commit = store.commit(Height(3)).unwrap().unwrap();
    commit.block_hash = BlockHash([9; 32]);
    backend.corrupt(&layout::commit_key(Height(3)), Some(commit.to_bytes()));
    assert_corrupted(&backend, "not for the stored header");
}

#[test]
fn open_rejects_records_without_marker() {
    let (backend, _) = store_with_blocks(1, 2);
    backend.corrupt(layout::LATEST_HEIGHT_KEY, None);
    assert_corrupted(&backend, "no committed height is recorded");
}

#[test]
fn open_rejects_malformed_marker() {
    let (backend, _) = store_with_blocks(1, 2);
    backend.corrupt(layout::LATEST_HEIGHT_KEY, Some(vec![1, 2, 3]));
    assert_corrupted(&backend, "3 bytes, not 8");
}

#[test]
fn open_rejects_other_layout_versions() {
    let (backend, _) = store_with_blocks(1, 2);
    // Layout 2 kept transaction bytes in the key-value store instead of the log.
    backend.corrupt(layout::LAYOUT_VERSION_KEY, Some(2u32.to_be_bytes().to_vec()));
    let error = LedgerStore::open(backend.clone()).err().expect("open must fail");
    assert!(matches!(error, StoreError::LayoutVersion { found: 2, expected: layout::LAYOUT_VERSION }), "{error}");
    assert!(error.to_string().contains("fresh home"), "{error}");

    // Stores from before the version record were written with layout 1.
    backend.corrupt(layout::LAYOUT_VERSION_KEY, None);
    let error = LedgerStore::open(backend.clone()).err().expect("open must fail");
    assert!(matches!(error, StoreError::LayoutVersion { found: 1, .. }), "{error}");

    backend.corrupt(layout::LAYOUT_VERSION_KEY, Some(vec![0, 2]));
    assert_corrupted(&backend, "2 bytes, not 4");
}

#[test]
fn block_with_undecodable_body_is_corrupted() {
    let (backend, store) = store_with_blocks(2, 3);
    backend.corrupt(&layout::body_key(Height(2)), Some(vec![1, 2, 3]));
    let error = store.block(Height(2)).unwrap_err();
    assert!(matches!(error, StoreError::Decode { what: "block body", .. }), "{error}");
    let hash = store.block(Height(1)).unwrap().unwrap().txs[0].hash();
    assert_eq!(store.transaction(&hash).unwrap().unwrap().height, Height(1));
}

/// Returns the stored record of `tx`.
fn record_of<B: Backend>(store: &LedgerStore<B>, tx: &Transaction) -> layout::TxRecord {
    store.tx_record(&tx.hash()).unwrap().unwrap()
}

/// Returns the key of the stored record of `tx`.
fn record_key(backend: &MemoryBackend, tx: &Transaction) -> Vec<u8> {
    let hash = tx.hash();
    backend
        .keys()
        .into_iter()
        .find(|key| key.first() == Some(&b't') && key.ends_with(&hash.0))
        .expect("every committed transaction has a record")
}

#[test]
fn failed_log_append_leaves_previous_block() {
    let (backend, _) = fail_block_write(Fault::Append);
    let committed_end = log_end(backend.inner());
    assert!(backend.inner().log_len().unwrap() > committed_end, "the fault leaves half an append");
    assert_consistent_at(backend.inner(), Height(2));
}

#[test]
fn open_rejects_log_without_store() {
    let backend = MemoryBackend::new();
    backend.append_log(b"transactions of a deleted database").unwrap();
    assert_corrupted(&backend, "the key-value store is empty, but the ledger log is 34 bytes long");
}

#[test]
fn open_rejects_tail_over_block() {
    let (backend, store) = store_with_blocks(1, 2);
    drop(store);
    let tail = BLOCK_LOG_BYTES_MAX + 1;
    backend.append_log(&vec![0; tail as usize]).unwrap();
    assert_corrupted(&backend, &format!("has {tail} bytes past the committed length"));
}

#[test]
fn log_bytes_with_wrong_hash_fail() {
    let (backend, store) = store_with_blocks(2, 3);
    let block = store.block(Height(2)).unwrap().unwrap();
    let last = block.txs.last().unwrap();
    let layout::TxRecord { offset, len, .. } = record_of(&store, last);
    backend.truncate_log(offset).unwrap();
    backend.append_log(&vec![b'x'; len as usize]).unwrap();

    let error = store.block(Height(2)).unwrap_err();
    assert!(error.to_string().contains("transaction 2 of height 2 should hash to"), "{error}");
    let error = store.transaction(&last.hash()).unwrap_err();
    assert!(error.to_string().contains(&format!("should hash to {}", last.hash())), "{error}");
    let first = &store.block(Height(1)).unwrap().unwrap().txs[0];
    assert_eq!(&store.transaction(&first.hash()).unwrap().unwrap().tx, first);
}

#[test]
fn record_past_log_end_fails() {
    let (backend, store) = store_with_blocks(2, 3);
    let tx = store.block(Height(2)).unwrap().unwrap().txs[0].clone();
    let record = layout::TxRecord { offset: u64::MAX - 1, len: 5, ..record_of(&store, &tx) };
    backend.corrupt(&record_key(&backend, &tx), Some(record.encode()));
    let error = store.transaction(&tx.hash()).unwrap_err();
    assert!(matches!(error, StoreError::Corrupted { .. }), "{error}");
    assert!(error.to_string().contains(&format!("the bytes of transaction {}", tx.hash())), "{error}");

    let mut body: layout::StoredBody =
        vouch_protocol::encoding::decode(&backend.get(&layout::body_key(Height(2))).unwrap().unwrap()).unwrap();
    body.log_offset = u64::MAX - 1;
    backend.corrupt(&layout::body_key(Height(2)), Some(vouch_protocol::encoding::encode(&body)));
    let error = store.block(Height(2)).unwrap_err();
    assert!(matches!(error, StoreError::Corrupted { .. }), "{error}");
    assert!(error.to_string().contains("the transactions of height 2"), "{error}");
}

/// Returns the committed length of the ledger log that the last block recorded.
fn log_end(backend: &MemoryBackend) -> u64 {
    let bytes = backend.get(layout::LOG_END_KEY).unwrap().expect("the log length is recorded");
    u64::from_be_bytes(bytes.try_into().unwrap())
}

#[test]
fn open_cuts_uncommitted_append() {
    let (backend, store) = store_with_blocks(2, 3);
    let committed_end = log_end(&backend);
    drop(store);
    // What a block write appends before the process dies ahead of its batch.
    backend.append_log(&[7; 1000]).unwrap();

    let store = LedgerStore::open(backend.clone()).unwrap();
    assert_eq!(backend.log_len().unwrap(), committed_end);
    let written = commit_next(&store, 4);
    assert_eq!(store.block(Height(3)).unwrap(), Some(written.block.clone()));
    let reopened = LedgerStore::open(backend.clone()).unwrap();
    for tx in &written.block.txs {
        assert_eq!(&reopened.transaction(&tx.hash()).unwrap().unwrap().tx, tx);
    }
    assert_eq!(reopened.block(Height(1)).unwrap().unwrap().txs.len(), 3);
}

#[test]
fn open_rejects_short_log() {
    let (backend, store) = store_with_blocks(2, 3);
    drop(store);
    let committed_end = log_end(&backend);
    backend.truncate_log(committed_end - 1).unwrap();
    assert_corrupted(&backend, &format!("committed blocks reach byte {committed_end}"));
}

#[test]
fn blocks_without_transactions_append_only_nodes() {
    let (backend, store) = store_with_blocks(2, 3);
    let before = backend.log_len().unwrap();
    let write = commit_next(&store, 0);
    let node_bytes: usize = write
        .tree_writes
        .nodes()
        .map(|(key, node)| {
            let path = crate::store::node_spans::path_bytes(key.nibble_path());
            path.len() + 4 + vouch_protocol::encoding::encode(node).len()
        })
        .sum();
    assert!(node_bytes > 0, "every height has a root node");
    assert_eq!(backend.log_len().unwrap(), before + node_bytes as u64);
    assert_eq!(store.block(Height(3)).unwrap().unwrap().txs, Vec::<Transaction>::new());
    let reopened = LedgerStore::open(backend.clone()).unwrap();
    assert_eq!(AuthenticatedState::new(&reopened).root(Height(3)).unwrap(), write.state_root);
}

#[test]
fn genesis_writes_nothing_to_the_log() {
    let backend = MemoryBackend::new();
    let store = LedgerStore::open(backend.clone()).unwrap();
    chain().init(&store).unwrap();
    assert_eq!(backend.log_len().unwrap(), 0);
    assert_eq!(log_end(&backend), 0);
    let reopened = LedgerStore::open(backend.clone()).unwrap();
    assert!(AuthenticatedState::new(&reopened).root(Height::GENESIS).is_ok());
}

#[test]
fn tree_nodes_read_back_from_the_log() {
    let (backend, store) = store_with_blocks(3, 4);
    let written = commit_next(&store, 4);
    drop(store);
    let store = LedgerStore::open(backend.clone()).unwrap();
    for (key, node) in written.tree_writes.nodes() {
        assert_eq!(store.stored_node(key).unwrap().as_ref(), Some(node));
    }
}

#[test]
fn changed_node_bytes_fail_the_checksum() {
    let (backend, store) = store_with_blocks(2, 3);
    let written = commit_next(&store, 3);
    let (key, node) =
        written.tree_writes.nodes().find(|(_, node)| matches!(node, jmt::storage::Node::Leaf(_))).unwrap();
    let encoded = vouch_protocol::encoding::encode(node);
    let log = backend.read_log(0, backend.log_len().unwrap() as usize).unwrap();
    let at = log.windows(encoded.len()).position(|window| window == encoded.as_slice()).unwrap();
    let mut changed = log.clone();
    changed[at + encoded.len() / 2] ^= 1;
    backend.truncate_log(0).unwrap();
    backend.append_log(&changed).unwrap();

    let error = store.stored_node(key).unwrap_err();
    assert!(matches!(error, StoreError::Corrupted { .. }), "{error}");
    assert!(error.to_string().contains("do not match the checksum of a span of state tree nodes"), "{error}");
}

#[test]
fn malformed_node_index_fails() {
    let (backend, store) = store_with_blocks(2, 3);
    let written = commit_next(&store, 3);
    // Opening reads the roots of the last two heights, so the damage is older.
    commit_next(&store, 3);
    commit_next(&store, 3);
    let (key, _) = written.tree_writes.nodes().find(|(_, node)| matches!(node, jmt::storage::Node::Leaf(_))).unwrap();
    drop(store);
    backend.corrupt(&layout::tree_node_index_key(key.version()), Some(vec![1, 2, 3]));
    let store = LedgerStore::open(backend.clone()).unwrap();
    let error = store.stored_node(key).unwrap_err();
    assert!(error.to_string().contains("3 bytes, too short for the base offset"), "{error}");
}

#[test]
fn old_leaves_read_without_cache() {
    let (backend, store) = store_with_blocks(2, 3);
    let writes: Vec<_> = (0..3).map(|_| commit_next(&store, 40)).collect();
    drop(store);
    let store = LedgerStore::open_with_node_cache(backend.clone(), NonZeroUsize::new(3).unwrap()).unwrap();
    for written in &writes {
        for (key, node) in written.tree_writes.nodes() {
            assert_eq!(store.stored_node(key).unwrap().as_ref(), Some(node), "{key:?}");
        }
    }
}

#[test]
fn open_rejects_store_without_log_length() {
    let (backend, store) = store_with_blocks(2, 3);
    drop(store);
    backend.corrupt(layout::LOG_END_KEY, None);
    assert_corrupted(&backend, "no committed length of the ledger log is recorded");
}

#[test]
fn short_transaction_record_fails() {
    let (backend, store) = store_with_blocks(2, 3);
    let tx = store.block(Height(2)).unwrap().unwrap().txs[1].clone();
    backend.corrupt(&record_key(&backend, &tx), Some(vec![1, 2]));
    let error = store.transaction(&tx.hash()).unwrap_err();
    assert!(error.to_string().contains("is 2 bytes, not 24"), "{error}");
    assert_eq!(store.block(Height(2)).unwrap().unwrap().txs[1], tx, "the block reads through its body");
}

#[test]
fn undecodable_header_names_its_key() {
    let (backend, store) = store_with_blocks(2, 1);
    backend.corrupt(&layout::header_key(Height(1)), Some(vec![1, 2, 3]));
    let error = store.header(Height(1)).unwrap_err();
    assert!(matches!(error, StoreError::Decode { what: "header", .. }), "{error}");
    assert!(error.to_string().contains(&hex::encode(layout::header_key(Height(1)))), "{error}");
}

#[test]
fn sled_store_commits_and_reopens() {
    let directory = tempfile::tempdir().unwrap();
    let written = {
        let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
        chain().init(&store).unwrap();
        commit_next(&store, 5);
        commit_next(&store, 5)
    };

    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    assert_eq!(store.latest_height(), Some(Height(2)));
    assert_eq!(store.block(Height(2)).unwrap(), Some(written.block.clone()));
    for tx in &written.block.txs {
        assert_eq!(&store.transaction(&tx.hash()).unwrap().unwrap().tx, tx);
    }
    let log = std::fs::metadata(directory.path().join(LEDGER_LOG_FILE)).unwrap().len();
    assert_eq!(log, store.backend.log_len().unwrap());
    let image = synthetic::SyntheticTx::at(Height(2), 0).image;
    assert!(!store.attestations(&image, 10).unwrap().is_empty());
    commit_next(&store, 5);
}

#[test]
fn sled_damaged_log_file() {
    let directory = tempfile::tempdir().unwrap();
    let log_path = directory.path().join(LEDGER_LOG_FILE);
    let committed = {
        let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
        chain().init(&store).unwrap();
        commit_next(&store, 5);
        commit_next(&store, 5);
        std::fs::metadata(&log_path).unwrap().len()
    };

    // Bytes that a killed block write left behind are cut off at open.
    let mut file = std::fs::OpenOptions::new().append(true).open(&log_path).unwrap();
    std::io::Write::write_all(&mut file, &[9; 4096]).unwrap();
    drop(file);
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&log_path).unwrap().len(), committed);
    let written = commit_next(&store, 5);
    assert_eq!(store.block(Height(3)).unwrap(), Some(written.block));
    let committed = std::fs::metadata(&log_path).unwrap().len();
    drop(store);

    // A log that lost committed bytes is damage that opening reports.
    std::fs::OpenOptions::new().write(true).open(&log_path).unwrap().set_len(committed - 10).unwrap();
    let error = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).err().expect("open must fail");
    assert!(matches!(error, StoreError::Corrupted { .. }), "{error}");
    assert!(error.to_string().contains(&format!("is {} bytes long", committed - 10)), "{error}");
}

#[test]
fn sled_second_open_names_the_path() {
    let directory = tempfile::tempdir().unwrap();
    let _first = SledBackend::open(directory.path()).unwrap();
    let error = SledBackend::open(directory.path()).err().expect("the directory is in use");
    assert!(matches!(error, StoreError::Open { .. }), "{error}");
    assert!(error.to_string().contains(&directory.path().display().to_string()), "{error}");
}

#[test]
fn sled_reopens_right_after_close() {
    let directory = tempfile::tempdir().unwrap();
    for round in 0..10 {
        let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
        chain().init(&store).unwrap();
        assert_eq!(store.latest_height(), Some(Height(round)));
        commit_next(&store, 2);
    }
}

#[test]
fn concurrent_writes_of_one_height_commit_once() {
    let (backend, store) = store_with_blocks(1, 0);
    let first = empty_write(&store, vec![Transaction::new(b"first".to_vec())]);
    let second = empty_write(&store, vec![Transaction::new(b"second".to_vec())]);

    let results: Vec<Result<(), StoreError>> = std::thread::scope(|scope| {
        let handles = [first, second].map(|write| scope.spawn(|| store.commit_block(write)));
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|result| result.is_ok()).count(), 1, "{results:?}");
    let rejected = results.into_iter().find_map(Result::err).unwrap();
    assert!(matches!(rejected, StoreError::UnexpectedHeight { found: Height(2), .. }), "{rejected}");
    assert_consistent_at(&backend, Height(2));
}

#[test]
fn outcomes_are_stored_with_the_block_within_the_limit() {
    let (_, store) = store_with_blocks(1, 0);
    let mut write = next_write(&store, 3);
    let hashes: Vec<_> = write.block.txs.iter().map(Transaction::hash).collect();

    let mut unknown = write.clone();
    unknown.outcomes = vec![(Transaction::new(b"elsewhere".to_vec()).hash(), "applied".into())];
    assert!(matches!(store.commit_block(unknown), Err(StoreError::UnknownOutcomeTransaction { .. })));
    let mut too_long = write.clone();
    too_long.outcomes = vec![(hashes[0], "x".repeat(TX_OUTCOME_BYTES_MAX + 1))];
    assert!(matches!(store.commit_block(too_long), Err(StoreError::OutcomeTooLong { .. })));

    write.outcomes = vec![(hashes[0], "x".repeat(TX_OUTCOME_BYTES_MAX)), (hashes[2], "rejected: nonce".into())];
    store.commit_block(write.clone()).unwrap();
    assert_eq!(store.tx_outcome(&hashes[0]).unwrap().map(|text| text.len()), Some(TX_OUTCOME_BYTES_MAX));
    assert_eq!(store.tx_outcome(&hashes[1]).unwrap(), None);
    assert_eq!(store.tx_outcome(&hashes[2]).unwrap().as_deref(), Some("rejected: nonce"));

    let expected: BTreeSet<Digest> = write.attestations.iter().map(|(image, _)| image.clone()).collect();
    let indexed: BTreeSet<Digest> = store.images_after(None, usize::MAX).unwrap().into_iter().collect();
    assert!(expected.is_subset(&indexed));
}

#[test]
fn state_read_past_latest_height_fails() {
    let (_, store) = store_with_blocks(2, 3);
    let state = AuthenticatedState::new(&store);
    let key = StateKey::Parameter { name: "any".into() };
    assert!(state.get(&key, Height(2)).is_ok());
    let error = state.get(&key, Height(3)).unwrap_err();
    assert!(matches!(error, crate::state::StateError::MissingHeight { height: Height(3) }), "{error}");
}

#[test]
fn filter_covers_keys_after_reopening() {
    let (backend, store) = store_with_blocks(3, 4);
    let block = store.block(Height(2)).unwrap().unwrap();
    let images: Vec<Digest> = store.images_after(None, usize::MAX).unwrap();
    drop(store);

    let reopened = LedgerStore::open(backend.clone()).unwrap();
    for tx in &block.txs {
        assert_eq!(reopened.tx_position(&tx.hash()).unwrap().map(|(height, _)| height), Some(Height(2)));
    }
    assert!(!images.is_empty());
    for image in &images {
        assert!(!reopened.attestations(image, 10).unwrap().is_empty(), "{image}");
    }
    let absent = Transaction::new(b"never submitted".to_vec()).hash();
    assert_eq!(reopened.tx_position(&absent).unwrap(), None);
}

#[test]
fn internal_nodes_are_served_from_the_cache() {
    let (backend, store) = store_with_blocks(2, 3);
    let written = commit_next(&store, 3);
    let (root_key, root) = written.tree_writes.nodes().find(|(key, _)| key.nibble_path().is_empty()).unwrap();
    backend.corrupt(&layout::tree_node_index_key(root_key.version()), None);
    assert_eq!(store.stored_node(root_key).unwrap().as_ref(), Some(root), "the written root is cached");

    let reopened = LedgerStore::open(backend.clone());
    let error = reopened.err().expect("a fresh store has no cached root");
    assert!(error.to_string().contains("no readable root at height 3"), "{error}");
}

#[test]
fn reads_span_many_generations() {
    let backend = MemoryBackend::new();
    let store = LedgerStore::open_with_generation_keys(backend.clone(), 60).unwrap();
    chain().init(&store).unwrap();
    let writes: Vec<BlockWrite> = (0..12).map(|_| commit_next(&store, 70)).collect();
    let generations: BTreeSet<u32> = backend
        .keys()
        .into_iter()
        .filter(|key| key.first() == Some(&b't'))
        .map(|key| layout::key_generation(&key).unwrap())
        .collect();
    assert!(generations.len() >= 6, "generations {generations:?}");

    drop(store);
    let reopened = LedgerStore::open_with_generation_keys(backend.clone(), 60).unwrap();
    // Attested at heights 1, 2 and 3, in three generations.
    let image = synthetic::SyntheticTx::at(Height(3), 5).image;
    let mut expected = Vec::new();
    for write in &writes {
        let height = write.block.header.height;
        for (index, tx) in write.block.txs.iter().enumerate() {
            assert_eq!(reopened.tx_position(&tx.hash()).unwrap(), Some((height, index as u32)));
            if synthetic::decode(std::slice::from_ref(tx)).unwrap()[0].image == image {
                expected.push(AttestationEntry { height, tx_index: index as u32, tx_hash: tx.hash() });
            }
        }
    }
    assert_eq!(expected.len(), 3);
    assert_eq!(reopened.attestations(&image, ATTESTATIONS_READ_MAX).unwrap(), expected);
    assert_eq!(reopened.attestations(&image, 2).unwrap(), expected[..2]);

    // Values read back at their own height and at the newest one, where the next
    // height has deleted every seventh (see `SyntheticTx::at`).
    let state = AuthenticatedState::new(&reopened);
    for height in [1u64, 5, 12] {
        for (index, tx) in writes[height as usize - 1].block.txs.iter().enumerate() {
            let synthetic = &synthetic::decode(std::slice::from_ref(tx)).unwrap()[0];
            let key = StateKey::Attestation { image: synthetic.image.clone(), envelope_hash: synthetic.envelope_hash };
            let record = Some(synthetic.record.clone());
            assert_eq!(state.get(&key, Height(height)).unwrap(), record, "tx {index} of height {height}");
            let revoked = height < 12 && index % 7 == 3;
            let newest = if revoked { None } else { record };
            assert_eq!(state.get(&key, Height(12)).unwrap(), newest, "tx {index} of height {height} at 12");
        }
    }
}
