//! Tests of the key filters that blocks store when they seal a generation, and of
//! opening a store with and without them.

use vouch_protocol::chain::Transaction;
use vouch_protocol::digest::Digest;

use super::*;
use crate::state::StateChanges;
use crate::store::filter::Table;
use crate::synthetic::SyntheticChain;

/// Commits `blocks` blocks of three attested images each, in a store whose
/// generations are full at 10 keys; returns the backend and the transactions.
fn chain_over_generations(blocks: u32) -> (MemoryBackend, Vec<(Transaction, Digest)>) {
    let backend = MemoryBackend::new();
    let store = LedgerStore::open_with_generation_keys(backend.clone(), 10).unwrap();
    let chain = SyntheticChain::new(1);
    chain.init(&store).unwrap();
    let mut attested = Vec::new();
    for block in 0..blocks {
        let txs: Vec<Transaction> =
            (0..3).map(|n| Transaction::new(format!("block {block} tx {n}").into_bytes())).collect();
        let entries: Vec<(Digest, _)> = txs.iter().map(|tx| (Digest::sha256(tx.bytes()), tx.hash())).collect();
        attested.extend(txs.iter().cloned().zip(entries.iter().map(|(image, _)| image.clone())));
        let write = chain.block_write(&store, txs, &StateChanges::new(), entries).unwrap();
        store.commit_block(write).unwrap();
    }
    (backend, attested)
}

fn filter_keys(backend: &MemoryBackend, table: Table) -> Vec<Vec<u8>> {
    let prefix = layout::key_filter_prefix(table);
    backend.keys().into_iter().filter(|key| key.starts_with(&prefix)).collect()
}

/// Checks that every transaction and image of `attested` is found through `store`.
fn assert_all_found(store: &LedgerStore<MemoryBackend>, attested: &[(Transaction, Digest)]) {
    for (tx, image) in attested {
        assert!(store.tx_position(&tx.hash()).unwrap().is_some(), "transaction {}", tx.hash());
        assert_eq!(store.attestations(image, 10).unwrap().len(), 1, "image {image}");
    }
}

#[test]
fn sealed_generations_store_filters() {
    let (backend, _) = chain_over_generations(12);
    let store = LedgerStore::open_with_generation_keys(backend.clone(), 10).unwrap();
    for table in [Table::TxPosition, Table::Attestations] {
        let generations = store.filter.generation_count(table);
        assert!(generations >= 3, "{table:?} has {generations} generations");
        let stored = filter_keys(&backend, table);
        let expected: Vec<Vec<u8>> = (0..generations - 1).map(|g| layout::key_filter_key(table, g)).collect();
        assert_eq!(stored, expected, "{table:?}: one record per sealed generation, none for the newest");
    }
}

#[test]
fn open_skips_keys_of_sealed_generations() {
    let (backend, attested) = chain_over_generations(12);
    // A key too short for its table in generation 0 fails a scan of that generation.
    let mut short_key = layout::generation_prefix(Table::TxPosition, 0);
    short_key.push(1);
    backend.corrupt(&short_key, Some(vec![0]));

    let store = LedgerStore::open_with_generation_keys(backend.clone(), 10).expect("generation 0 is not scanned");
    assert_all_found(&store, &attested);

    // Without its stored filter, generation 0 is scanned again and the key is found.
    backend.corrupt(&layout::key_filter_key(Table::TxPosition, 0), None);
    let error = LedgerStore::open_with_generation_keys(backend, 10).err().expect("generation 0 is scanned");
    assert!(error.to_string().contains("is too short for its table"), "{error}");
}

#[test]
fn store_without_filters_opens() {
    let (backend, attested) = chain_over_generations(12);
    for table in [Table::TxPosition, Table::Attestations, Table::TreeValue] {
        for key in filter_keys(&backend, table) {
            backend.corrupt(&key, None);
        }
    }
    let store = LedgerStore::open_with_generation_keys(backend.clone(), 10).unwrap();
    assert_all_found(&store, &attested);

    // The next block that starts a generation stores its predecessor's filters again.
    let generations = store.filter.generation_count(Table::TxPosition);
    let chain = SyntheticChain::new(1);
    let before = filter_keys(&backend, Table::TxPosition).len();
    for block in 0..4 {
        let tx = Transaction::new(format!("later block {block}").into_bytes());
        let write = chain.block_write(&store, vec![tx], &StateChanges::new(), Vec::new()).unwrap();
        store.commit_block(write).unwrap();
    }
    assert!(store.filter.generation_count(Table::TxPosition) > generations);
    assert_eq!(filter_keys(&backend, Table::TxPosition).len(), before + 1);
}

#[test]
fn damaged_stored_filter_is_corruption() {
    let (backend, _) = chain_over_generations(12);
    let key = layout::key_filter_key(Table::Attestations, 0);
    let mut record = backend.get(&key).unwrap().expect("a stored filter");
    record.truncate(record.len() - 3);
    backend.corrupt(&key, Some(record));
    let error = LedgerStore::open_with_generation_keys(backend, 10).err().expect("a damaged filter");
    let message = error.to_string();
    assert!(message.contains(&format!("the stored key filter {}", hex::encode(&key))), "{message}");
    assert!(message.contains("ends 3 bytes early"), "{message}");
}

/// Adds a key too short for its table to the newest generation of transaction
/// positions, which fails a scan of that generation.
fn damage_newest_positions(store: &LedgerStore<MemoryBackend>, backend: &MemoryBackend) {
    let newest = store.filter.generation_count(Table::TxPosition) - 1;
    let mut short_key = layout::generation_prefix(Table::TxPosition, newest);
    short_key.push(1);
    backend.corrupt(&short_key, Some(vec![0]));
}

#[test]
fn saved_newest_filters_skip_the_scan() {
    // Eleven blocks of three keys leave the newest generation one key short of full,
    // so the empty block below does not seal it.
    let (backend, attested) = chain_over_generations(11);
    let store = LedgerStore::open_with_generation_keys(backend.clone(), 10).unwrap();
    store.save_newest_filters().unwrap();
    damage_newest_positions(&store, &backend);
    drop(store);

    let store =
        LedgerStore::open_with_generation_keys(backend.clone(), 10).expect("the newest generation is not scanned");
    assert_all_found(&store, &attested);

    // A block after the save makes the saved filters stale, so the open scans again.
    let write = SyntheticChain::new(1).block_write(&store, Vec::new(), &StateChanges::new(), Vec::new()).unwrap();
    store.commit_block(write).unwrap();
    drop(store);
    let error = LedgerStore::open_with_generation_keys(backend, 10).err().expect("the newest generation is scanned");
    assert!(error.to_string().contains("is too short for its table"), "{error}");
}

#[test]
fn damaged_saved_filter_is_corruption() {
    let (backend, _) = chain_over_generations(12);
    let store = LedgerStore::open_with_generation_keys(backend.clone(), 10).unwrap();
    store.save_newest_filters().unwrap();
    let key = layout::newest_filter_key(Table::TreeValue);
    let mut saved = backend.get(&key).unwrap().expect("saved filters");
    backend.corrupt(&key, Some(vec![0; 11]));
    let error = LedgerStore::open_with_generation_keys(backend.clone(), 10).err().expect("a short header");
    assert!(error.to_string().contains("11 bytes, shorter than its 12-byte header"), "{error}");

    saved.push(0);
    backend.corrupt(&key, Some(saved));
    let error = LedgerStore::open_with_generation_keys(backend, 10).err().expect("a trailing byte");
    assert!(error.to_string().contains("1 bytes follow the last filter"), "{error}");
}
