//! Tests of the walk over the known images of the attestation index.

use std::collections::BTreeSet;

use vouch_protocol::chain::Transaction;
use vouch_protocol::digest::Digest;

use super::*;
use crate::state::StateChanges;
use crate::synthetic::SyntheticChain;

/// Stores blocks whose attestation index entries name `images`, a block per slice,
/// in a store whose generations are full at 10 keys.
fn store_with_images(blocks: &[Vec<Digest>]) -> LedgerStore<MemoryBackend> {
    let store = LedgerStore::open_with_generation_keys(MemoryBackend::new(), 10).unwrap();
    let chain = SyntheticChain::new(1);
    chain.init(&store).unwrap();
    for (height, images) in blocks.iter().enumerate() {
        let tx = Transaction::new(format!("block {height}").into_bytes());
        let entries = images.iter().map(|image| (image.clone(), tx.hash())).collect();
        let write = chain.block_write(&store, vec![tx], &StateChanges::new(), entries).unwrap();
        store.commit_block(write).unwrap();
    }
    store
}

fn image(n: u32) -> Digest {
    Digest::sha256(&n.to_le_bytes())
}

/// Walks every image `limit` at a time, as a re-evaluation pass does.
fn walk(store: &LedgerStore<MemoryBackend>, limit: usize) -> Vec<Digest> {
    let mut seen = Vec::new();
    loop {
        let batch = store.images_after(seen.last(), limit).unwrap();
        assert!(batch.len() <= limit);
        if batch.is_empty() {
            return seen;
        }
        seen.extend(batch);
    }
}

#[test]
fn images_after_merges_generations_in_digest_order() {
    // Images attested again in later blocks land in later generations too.
    let blocks: Vec<Vec<Digest>> =
        (0..8u32).map(|block| (0..12).map(|n| image((block * 7 + n) % 40)).collect()).collect();
    let store = store_with_images(&blocks);
    assert!(store.filter.generation_count(crate::store::filter::Table::Attestations) >= 5);
    let expected: Vec<Digest> = blocks.iter().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    for limit in [1, 3, 7, 1000] {
        assert_eq!(walk(&store, limit), expected, "limit {limit}");
    }
    assert_eq!(store.images_after(None, 0).unwrap(), Vec::<Digest>::new());
}

#[test]
fn walk_orders_sha512_digests_as_digests_sort() {
    let sha512 = |n: u8| Digest::parse(&format!("sha512:{}", format!("{n:02x}").repeat(64))).unwrap();
    let blocks = vec![vec![sha512(9), image(1), sha512(2)], vec![image(2), sha512(1)]];
    let store = store_with_images(&blocks);
    let expected: Vec<Digest> = blocks.iter().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    assert_eq!(walk(&store, 2), expected);
}

#[test]
fn images_after_lists_a_crowded_image_once() {
    let crowded = image(5);
    let blocks = vec![vec![crowded.clone(); 3000], vec![image(6), crowded.clone()]];
    let store = store_with_images(&blocks);
    let mut expected = vec![crowded, image(6)];
    expected.sort();
    assert_eq!(walk(&store, 1), expected);
}
