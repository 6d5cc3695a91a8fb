//! Closing and opening the sled database inside a running store: nothing written is
//! lost, reads during a reopen wait instead of failing, and the threshold decides when
//! an idle release reopens.

use std::sync::atomic::{AtomicBool, Ordering};

use vouch_protocol::chain::Height;

use super::*;
use crate::synthetic::{self, SyntheticChain};

fn chain() -> SyntheticChain {
    SyntheticChain::new(1)
}

fn commit_next<B: Backend>(store: &LedgerStore<B>, txs: u64) -> BlockWrite {
    let height = store.latest_height().unwrap().next().unwrap();
    let write = chain().next_block(store, synthetic::transactions(height, txs)).unwrap();
    store.commit_block(write.clone()).unwrap();
    write
}

/// Checks that every block, transaction and state root of `writes` reads back.
fn assert_reads_back<B: Backend>(store: &LedgerStore<B>, writes: &[BlockWrite]) {
    for write in writes {
        let height = write.block.header.height;
        assert_eq!(store.block(height).unwrap().as_ref(), Some(&write.block), "block {height}");
        assert_eq!(store.state_root(height).unwrap(), Some(write.state_root), "root {height}");
        for tx in &write.block.txs {
            assert_eq!(&store.transaction(&tx.hash()).unwrap().unwrap().tx, tx, "a transaction of {height}");
        }
    }
}

#[test]
fn reopen_keeps_every_block_and_takes_new_ones() {
    let directory = tempfile::tempdir().unwrap();
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    chain().init(&store).unwrap();
    let mut writes: Vec<_> = (0..3).map(|_| commit_next(&store, 5)).collect();

    store.backend.reopen().unwrap();
    assert_eq!(store.backend.written_since_open(), 0, "the count starts again at the open");
    assert_eq!(store.latest_height(), Some(Height(3)));
    assert_reads_back(&store, &writes);

    writes.push(commit_next(&store, 5));
    store.backend.reopen().unwrap();
    assert_reads_back(&store, &writes);
    drop(store);

    // A later start reads what was written before and after the reopens.
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    assert_eq!(store.latest_height(), Some(Height(4)));
    assert_reads_back(&store, &writes);
}

#[test]
fn release_reopens_once_the_threshold_is_written() {
    let directory = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(directory.path()).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"k1".to_vec(), vec![7; 98]);
    assert_eq!(batch.bytes(), 100);
    let backend = backend.reopen_after(200);

    backend.apply(batch.clone()).unwrap();
    assert_eq!(backend.written_since_open(), 100);
    assert!(!backend.release_memory().unwrap(), "100 bytes are below the threshold");

    backend.apply(batch.clone()).unwrap();
    assert_eq!(backend.written_since_open(), 200);
    assert!(backend.release_memory().unwrap(), "200 bytes reach the threshold");
    assert_eq!(backend.written_since_open(), 0);
    assert!(!backend.release_memory().unwrap(), "nothing was written since the reopen");
    assert_eq!(backend.get(b"k1").unwrap(), Some(vec![7; 98]));
}

#[test]
fn zero_threshold_never_reopens() {
    let directory = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(directory.path()).unwrap().reopen_after(0);
    let mut batch = WriteBatch::new();
    batch.put(b"key".to_vec(), vec![1; 4096]);
    backend.apply(batch).unwrap();
    assert!(!backend.release_memory().unwrap());
    assert_eq!(backend.written_since_open(), 4099, "the bytes stay counted");
}

#[test]
fn reads_during_reopens_wait_and_succeed() {
    let directory = tempfile::tempdir().unwrap();
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    chain().init(&store).unwrap();
    let writes: Vec<_> = (0..2).map(|_| commit_next(&store, 10)).collect();
    let done = AtomicBool::new(false);

    let reads = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0_u64;
            while !done.load(Ordering::Relaxed) {
                assert_reads_back(&store, &writes);
                reads += 1;
            }
            reads
        });
        for _ in 0..5 {
            store.backend.reopen().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(reads > 0, "the reader ran alongside the reopens");
    assert_reads_back(&store, &writes);
}

#[test]
fn access_after_a_failed_reopen_opens_again() {
    let directory = tempfile::tempdir().unwrap();
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    chain().init(&store).unwrap();
    let first = commit_next(&store, 3);

    // The state a failed reopen leaves: the old database closed, no new one open.
    store.backend.close_for_test();
    assert_reads_back(&store, std::slice::from_ref(&first));
    let second = commit_next(&store, 3);
    assert_reads_back(&store, &[first, second]);
}

#[test]
fn failed_reopen_names_the_folder() {
    let directory = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(directory.path()).unwrap();
    backend.close_for_test();
    // Another handle takes the directory lock while this one is closed.
    let other = SledBackend::open(directory.path()).unwrap();
    let error = backend.get(b"key").unwrap_err();
    assert_eq!(error.operation, "reopen");
    assert!(error.message.contains(&directory.path().display().to_string()), "{error}");
    drop(other);
    assert_eq!(backend.get(b"key").unwrap(), None, "the next access opens it once the lock is free");
}
