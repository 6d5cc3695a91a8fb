//! Closing and opening the sled database inside a running store: nothing written is
//! lost, reads during a reopen wait instead of failing, and the threshold decides when
//! an idle release reopens.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use vouch_protocol::chain::Height;

use super::*;
use crate::store::sled_backend::FULL_CACHE_AFTER_BYTES;
use crate::store::sled_handle::REOPEN_RETRY_PAUSE;
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
    assert!(!store.backend.was_recovered(), "a new directory starts empty");

    store.backend.reopen().unwrap();
    assert!(store.backend.was_recovered(), "the reopen read the database back from its files");
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
    assert!(!backend.was_recovered());
    assert!(backend.release_memory().unwrap(), "200 bytes reach the threshold");
    assert!(backend.was_recovered(), "the release reopened the database");
    assert_eq!(backend.written_since_open(), 0);
    assert!(!backend.release_memory().unwrap(), "nothing was written since the reopen");
    assert_eq!(backend.get(b"k1").unwrap(), Some(vec![7; 98]));
}

#[test]
fn idle_reopen_uses_small_cache() {
    const FULL: u64 = 32 * 1024 * 1024;
    const IDLE: u64 = 2 * 1024 * 1024;
    let directory = tempfile::tempdir().unwrap();
    let backend = SledBackend::open_with_cache(directory.path(), FULL).unwrap().reopen_after(100).idle_cache(IDLE);
    let batch = |key: &[u8], bytes: usize| {
        let mut batch = WriteBatch::new();
        batch.put(key.to_vec(), vec![3; bytes]);
        batch
    };
    backend.apply(batch(b"before", 200)).unwrap();
    assert_eq!(backend.cache_bytes(), FULL, "a new database has the full cache");

    assert!(backend.release_memory().unwrap());
    assert_eq!(backend.cache_bytes(), IDLE, "the idle release reopened with the small cache");

    // Writes below the bound keep the small cache: empty blocks while idle.
    let small = FULL_CACHE_AFTER_BYTES as usize / 2;
    backend.apply(batch(b"idle", small)).unwrap();
    assert_eq!(backend.cache_bytes(), IDLE);

    // The batch that reaches the bound reopens with the full cache first.
    backend.apply(batch(b"load", small)).unwrap();
    assert_eq!(backend.cache_bytes(), FULL, "a load gets the full cache back");
    let load_bytes = batch(b"load", small).bytes() as u64;
    assert_eq!(backend.written_since_open(), load_bytes, "the count restarts before the batch");
    for (key, bytes) in [(&b"before"[..], 200), (b"idle", small), (b"load", small)] {
        assert_eq!(backend.get(key).unwrap(), Some(vec![3; bytes]), "{}", String::from_utf8_lossy(key));
    }
}

#[test]
fn failed_full_cache_reopen_writes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let backend = SledBackend::open_with_cache(directory.path(), 8 * 1024 * 1024)
        .unwrap()
        .reopen_after(1)
        .idle_cache(1024 * 1024);
    let mut before = WriteBatch::new();
    before.put(b"before".to_vec(), vec![5; 16]);
    backend.apply(before).unwrap();
    assert!(backend.release_memory().unwrap());

    // sled reads its `conf` file at every open, so a folder in its place fails the open.
    let (conf, saved) = (directory.path().join("conf"), directory.path().join("conf.saved"));
    std::fs::rename(&conf, &saved).unwrap();
    std::fs::create_dir(&conf).unwrap();
    let mut load = WriteBatch::new();
    load.put(b"load".to_vec(), vec![6; FULL_CACHE_AFTER_BYTES as usize]);
    let error = backend.apply(load).expect_err("the reopen before the batch fails");
    assert!(error.to_string().contains(&directory.path().display().to_string()), "{error}");

    std::fs::remove_dir(&conf).unwrap();
    std::fs::rename(&saved, &conf).unwrap();
    // The next read opens the database again once the retry pause has passed.
    std::thread::sleep(REOPEN_RETRY_PAUSE);
    assert_eq!(backend.get(b"load").unwrap(), None, "nothing of the failed batch was written");
    assert_eq!(backend.get(b"before").unwrap(), Some(vec![5; 16]));
    assert_eq!(backend.cache_bytes(), 8 * 1024 * 1024, "the open after the failure has the full cache");
}

#[test]
fn idle_cache_capped_at_full_cache() {
    let directory = tempfile::tempdir().unwrap();
    let backend =
        SledBackend::open_with_cache(directory.path(), 8 * 1024 * 1024).unwrap().reopen_after(1).idle_cache(u64::MAX);
    let mut batch = WriteBatch::new();
    batch.put(b"key".to_vec(), vec![1; 16]);
    backend.apply(batch).unwrap();
    assert!(backend.release_memory().unwrap());
    assert_eq!(backend.cache_bytes(), 8 * 1024 * 1024);
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
    let started = Barrier::new(2);

    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            started.wait();
            // Reads until the reopens are over, and once more after them.
            loop {
                let last = done.load(Ordering::Acquire);
                assert_reads_back(&store, &writes);
                if last {
                    break;
                }
            }
        });
        started.wait();
        for _ in 0..5 {
            store.backend.reopen().unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap();
    });
    assert!(store.backend.was_recovered());
}

#[test]
fn access_after_a_failed_reopen_opens_again() {
    let directory = tempfile::tempdir().unwrap();
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    chain().init(&store).unwrap();
    let first = commit_next(&store, 3);

    // The state a reopen leaves when it failed longer ago than the retry pause.
    store.backend.close_as_failed(long_ago());
    assert_reads_back(&store, std::slice::from_ref(&first));
    let second = commit_next(&store, 3);
    assert_reads_back(&store, &[first, second]);
}

#[test]
fn failed_reopen_names_the_folder_and_retries() {
    let directory = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(directory.path()).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"key".to_vec(), b"value".to_vec());
    backend.apply(batch).unwrap();

    // Something else holds sled's directory lock while the database is closed.
    backend.close_as_failed(long_ago());
    let sled_lock = std::fs::File::open(directory.path().join("db")).unwrap();
    sled_lock.lock().unwrap();
    let error = backend.get(b"key").unwrap_err();
    assert_eq!(error.operation, "reopen");
    assert!(error.message.contains(&directory.path().display().to_string()), "{error}");
    assert!(error.message.contains("another process"), "{error}");

    // Within the retry pause the error comes back without a new attempt.
    let again = backend.get(b"key").unwrap_err();
    assert_eq!(again.message, error.message);

    sled_lock.unlock().unwrap();
    backend.close_as_failed(long_ago());
    assert_eq!(backend.get(b"key").unwrap(), Some(b"value".to_vec()), "the next attempt opens it");
}

#[test]
fn closed_database_keeps_other_openers_out() {
    let directory = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(directory.path()).unwrap();
    // sled's own lock is released while the database is closed for a reopen.
    backend.close_as_failed(Instant::now());

    let error = SledBackend::open(directory.path()).err().expect("the directory is in use");
    assert!(matches!(error, StoreError::Open { .. }), "{error}");
    assert!(error.to_string().contains("in use by another process"), "{error}");
    assert!(error.to_string().contains("storage.data_dir"), "{error}");
}

/// Returns a time further back than the retry pause.
fn long_ago() -> Instant {
    Instant::now().checked_sub(REOPEN_RETRY_PAUSE * 2).expect("the clock has run for two seconds")
}
