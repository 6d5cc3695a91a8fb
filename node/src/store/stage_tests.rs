//! Tests of block commits whose transactions were staged in the ledger log first.

use vouch_protocol::chain::Height;

use super::*;
use crate::synthetic::{self, SyntheticChain};

fn chain() -> SyntheticChain {
    SyntheticChain::new(1)
}

fn store_at_genesis() -> (MemoryBackend, LedgerStore<MemoryBackend>) {
    let backend = MemoryBackend::new();
    let store = LedgerStore::open(backend.clone()).unwrap();
    chain().init(&store).unwrap();
    (backend, store)
}

fn next_write<B: Backend>(store: &LedgerStore<B>, txs: u64) -> BlockWrite {
    let height = store.latest_height().unwrap().next().unwrap();
    chain().next_block(store, synthetic::transactions(height, txs)).unwrap()
}

fn whole_log(backend: &MemoryBackend) -> Vec<u8> {
    backend.read_log(0, backend.log_len().unwrap() as usize).unwrap()
}

/// Checks that every transaction of `write` reads back from `store`.
fn assert_reads_back<B: Backend>(store: &LedgerStore<B>, write: &BlockWrite) {
    let height = write.block.header.height;
    assert_eq!(store.block(height).unwrap().as_ref(), Some(&write.block));
    for tx in &write.block.txs {
        assert_eq!(&store.transaction(&tx.hash()).unwrap().unwrap().tx, tx);
    }
}

#[test]
fn commit_block_with_stage_writes_the_plain_log() {
    let (staged_backend, staged_store) = store_at_genesis();
    let (plain_backend, plain_store) = store_at_genesis();
    for _ in 0..3 {
        let mut write = next_write(&staged_store, 7);
        write.staged = Some(staged_store.stage_block(&write.block).unwrap());
        staged_store.commit_block(write.clone()).unwrap();
        assert_reads_back(&staged_store, &write);

        let plain = next_write(&plain_store, 7);
        assert_eq!(plain.block, write.block);
        plain_store.commit_block(plain).unwrap();
    }
    assert_eq!(whole_log(&staged_backend), whole_log(&plain_backend));
    let store = LedgerStore::open(staged_backend).unwrap();
    assert_eq!(store.latest_height(), Some(Height(3)));
}

#[test]
fn stage_of_another_block_is_not_kept() {
    let (_, store) = store_at_genesis();
    let write = next_write(&store, 4);
    let other = chain().next_block(&store, synthetic::transactions(Height(9), 6)).unwrap();
    let staged = store.stage_block(&other.block).unwrap();
    store.commit_block(BlockWrite { staged: Some(staged), ..write.clone() }).unwrap();
    assert_reads_back(&store, &write);
}

#[test]
fn commit_block_rewrites_a_stale_stage() {
    let (_, store) = store_at_genesis();
    let write = next_write(&store, 5);
    let first = store.stage_block(&write.block).unwrap();
    let second = store.stage_block(&write.block).unwrap();
    assert_eq!(first, second, "both stages start at the same end with the same bytes");
    // A stage taken before the store's last append is no longer the tail.
    let stale = store.stage_block(&write.block).unwrap();
    store.commit_block(write.clone()).unwrap();
    let next = next_write(&store, 5);
    store.commit_block(BlockWrite { staged: Some(stale), ..next.clone() }).unwrap();
    assert_reads_back(&store, &write);
    assert_reads_back(&store, &next);
}

#[test]
fn failed_stage_leaves_the_store_writable() {
    let store = LedgerStore::open(FaultyBackend::new(MemoryBackend::new())).unwrap();
    chain().init(&store).unwrap();
    let write = next_write(&store, 3);
    store.backend.arm(Fault::Stage);
    let error = store.stage_block(&write.block).unwrap_err();
    assert!(error.to_string().contains("injected fault"), "{error}");
    store.commit_block(write.clone()).unwrap();
    assert_reads_back(&store, &write);
}

#[test]
fn sled_stage_without_commit_is_cut_on_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let log_path = directory.path().join(LEDGER_LOG_FILE);
    let committed = {
        let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
        chain().init(&store).unwrap();
        let mut write = next_write(&store, 5);
        write.staged = Some(store.stage_block(&write.block).unwrap());
        store.commit_block(write).unwrap();
        let committed = std::fs::metadata(&log_path).unwrap().len();
        // The process dies after staging the next block, before its commit.
        let next = next_write(&store, 5);
        store.stage_block(&next.block).unwrap();
        assert!(std::fs::metadata(&log_path).unwrap().len() > committed);
        committed
    };
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&log_path).unwrap().len(), committed);
    assert_eq!(store.latest_height(), Some(Height(1)));
    let mut write = next_write(&store, 5);
    write.staged = Some(store.stage_block(&write.block).unwrap());
    store.commit_block(write.clone()).unwrap();
    assert_reads_back(&store, &write);
}
