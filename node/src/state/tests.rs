use std::collections::BTreeMap;

use jmt::SimpleHasher;
use proptest::prelude::*;
use vouch_protocol::chain::Height;
use vouch_protocol::digest::Digest;
use vouch_protocol::state::{StateHasher, StateKey, StateProof, StateRoot, verify_absence, verify_inclusion};

use super::*;

fn parameter(index: usize) -> StateKey {
    StateKey::Parameter { name: format!("key-{index}") }
}

fn attestation(index: u64) -> StateKey {
    StateKey::Attestation { image: Digest::sha256(&index.to_le_bytes()), envelope_hash: [7; 32] }
}

/// Applies `changes` at `height` and stores the writes, returning the new root.
fn apply_and_store(tree: &mut MemoryTree, height: u64, changes: &StateChanges) -> StateRoot {
    let (root, writes) = AuthenticatedState::new(&*tree).apply(Height(height), changes).unwrap();
    assert_eq!(writes.root_at(height), Some(root), "the writes hold the root node of version {height}");
    tree.write(&writes);
    root
}

/// Builds a tree from nothing with `model` as the genesis state and returns its root.
fn root_from_scratch(model: &BTreeMap<usize, Vec<u8>>) -> StateRoot {
    let mut changes = StateChanges::new();
    for (index, value) in model {
        changes.set(&parameter(*index), value.clone()).unwrap();
    }
    let mut tree = MemoryTree::new();
    apply_and_store(&mut tree, 0, &changes)
}

/// Checks the proof of every key in `0..universe` at `height` against `model`, and
/// that each proof fails once tampered with.
fn check_every_proof(tree: &MemoryTree, height: u64, universe: usize, model: &BTreeMap<usize, Vec<u8>>, seed: usize) {
    let state = AuthenticatedState::new(tree);
    let root = state.root(Height(height)).unwrap();
    for index in 0..universe {
        let key = parameter(index);
        let (value, proof) = state.prove(&key, Height(height)).unwrap();
        assert_eq!(value.as_ref(), model.get(&index), "value of key {index} at height {height}");
        let proof = StateProof::from_bytes(&proof.to_bytes()).unwrap();

        match &value {
            Some(value) => {
                verify_inclusion(&root, &key, value, &proof).unwrap();
                check_inclusion_tampering(&root, index, universe, value, &proof, seed);
            }
            None => {
                verify_absence(&root, &key, &proof).unwrap();
                assert!(verify_inclusion(&root, &key, b"", &proof).is_err(), "absent key {index} proven present");
                let mut other_root = root;
                other_root.0[index % 32] ^= 1;
                assert!(verify_absence(&other_root, &key, &proof).is_err(), "absence of {index} under another root");
            }
        }
    }
}

fn check_inclusion_tampering(
    root: &StateRoot,
    index: usize,
    universe: usize,
    value: &[u8],
    proof: &StateProof,
    seed: usize,
) {
    let key = parameter(index);
    let mut other_value = value.to_vec();
    other_value.push(0);
    assert!(verify_inclusion(root, &key, &other_value, proof).is_err(), "key {index} with another value");
    assert!(verify_absence(root, &key, proof).is_err(), "present key {index} proven absent");

    let other_key = parameter((index + 1) % universe.max(2) + universe);
    assert!(verify_inclusion(root, &other_key, value, proof).is_err(), "proof of {index} used for another key");

    let mut other_root = *root;
    other_root.0[seed % 32] ^= 0x80;
    assert!(verify_inclusion(&other_root, &key, value, proof).is_err(), "key {index} under another root");

    check_sibling_tampering(root, &key, value, proof, seed);
}

/// Flips one byte among the proof's siblings: the proof either no longer decodes or no
/// longer verifies.
fn check_sibling_tampering(root: &StateRoot, key: &StateKey, value: &[u8], proof: &StateProof, seed: usize) {
    let bytes = proof.to_bytes();
    // The leaf is present in an inclusion proof: tag byte, two hashes, then the u64 sibling count.
    let siblings_start = 1 + 64 + 8;
    if bytes.len() == siblings_start {
        return;
    }
    let mut tampered = bytes.clone();
    let offset = siblings_start + seed % (bytes.len() - siblings_start);
    tampered[offset] ^= 0x01;
    if let Ok(tampered) = StateProof::from_bytes(&tampered) {
        assert!(verify_inclusion(root, key, value, &tampered).is_err(), "sibling byte {offset} flipped");
    }
}

#[derive(Clone, Debug)]
enum Operation {
    Set(usize, Vec<u8>),
    Delete(usize),
}

fn operation(universe: usize) -> impl Strategy<Value = Operation> {
    prop_oneof![
        3 => (0..universe, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(key, value)| Operation::Set(key, value)),
        1 => (0..universe).prop_map(Operation::Delete),
    ]
}

const UNIVERSE: usize = 48;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn incremental_root_equals_rebuilt_root(
        blocks in proptest::collection::vec(proptest::collection::vec(operation(UNIVERSE), 0..24), 1..8),
        seed in any::<usize>(),
    ) {
        let mut tree = MemoryTree::new();
        let mut model: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut history = vec![(apply_and_store(&mut tree, 0, &StateChanges::new()), model.clone())];

        for (block_index, operations) in blocks.iter().enumerate() {
            let height = block_index as u64 + 1;
            let mut changes = StateChanges::new();
            for operation in operations {
                match operation {
                    Operation::Set(key, value) => {
                        changes.set(&parameter(*key), value.clone()).unwrap();
                        model.insert(*key, value.clone());
                    }
                    Operation::Delete(key) => {
                        changes.delete(&parameter(*key)).unwrap();
                        model.remove(key);
                    }
                }
            }
            let root = apply_and_store(&mut tree, height, &changes);
            prop_assert_eq!(root, root_from_scratch(&model), "root after block {}", height);
            check_every_proof(&tree, height, UNIVERSE, &model, seed);
            history.push((root, model.clone()));
        }

        let old_height = seed % history.len();
        let (old_root, old_model) = &history[old_height];
        prop_assert_eq!(AuthenticatedState::new(&tree).root(Height(old_height as u64)).unwrap(), *old_root);
        check_every_proof(&tree, old_height as u64, UNIVERSE, old_model, seed);
    }
}

#[test]
fn deleting_every_key_gives_empty_root() {
    let mut tree = MemoryTree::new();
    let mut changes = StateChanges::new();
    for index in 0..20 {
        changes.set(&parameter(index), vec![index as u8]).unwrap();
    }
    assert_ne!(apply_and_store(&mut tree, 0, &changes), StateRoot::EMPTY);

    let mut deletes = StateChanges::new();
    for index in 0..20 {
        deletes.delete(&parameter(index)).unwrap();
    }
    assert_eq!(apply_and_store(&mut tree, 1, &deletes), StateRoot::EMPTY);
    assert_eq!(AuthenticatedState::new(&tree).get(&parameter(3), Height(1)).unwrap(), None);
    assert_eq!(AuthenticatedState::new(&tree).get(&parameter(3), Height(0)).unwrap(), Some(vec![3]));
}

#[test]
fn single_key_root_is_its_leaf_hash() {
    let mut tree = MemoryTree::new();
    let mut changes = StateChanges::new();
    changes.set(&parameter(1), b"value".to_vec()).unwrap();
    let root = apply_and_store(&mut tree, 0, &changes);

    let key_hash = parameter(1).key_hash().unwrap().0;
    let value_hash = StateHasher::hash(b"value");
    let mut hasher = StateHasher::new();
    hasher.update(b"JMT::LeafNode");
    hasher.update(&key_hash);
    hasher.update(&value_hash);
    assert_eq!(root.0, hasher.finalize());
}

#[test]
fn empty_block_keeps_root() {
    let mut tree = MemoryTree::new();
    let mut changes = StateChanges::new();
    changes.set(&parameter(1), b"value".to_vec()).unwrap();
    let genesis = apply_and_store(&mut tree, 0, &changes);
    assert_eq!(apply_and_store(&mut tree, 1, &StateChanges::new()), genesis);
    assert_eq!(apply_and_store(&mut tree, 2, &StateChanges::new()), genesis);
    let (value, proof) = AuthenticatedState::new(&tree).prove(&parameter(1), Height(2)).unwrap();
    verify_inclusion(&genesis, &parameter(1), &value.unwrap(), &proof).unwrap();
}

#[test]
fn apply_rejects_skipped_height() {
    let mut tree = MemoryTree::new();
    apply_and_store(&mut tree, 0, &StateChanges::new());
    let error = AuthenticatedState::new(&tree).apply(Height(2), &StateChanges::new()).unwrap_err();
    assert!(matches!(error, StateError::MissingPrevious { height: Height(2), previous: Height(1) }), "{error}");
}

#[test]
fn apply_rejects_first_height_without_genesis() {
    let tree = MemoryTree::new();
    let error = AuthenticatedState::new(&tree).apply(Height(1), &StateChanges::new()).unwrap_err();
    assert!(matches!(error, StateError::MissingPrevious { .. }), "{error}");
}

#[test]
fn apply_rejects_stored_height() {
    let mut tree = MemoryTree::new();
    apply_and_store(&mut tree, 0, &StateChanges::new());
    apply_and_store(&mut tree, 1, &StateChanges::new());
    let error = AuthenticatedState::new(&tree).apply(Height(1), &StateChanges::new()).unwrap_err();
    assert!(matches!(error, StateError::AlreadyApplied { height: Height(1) }), "{error}");
}

#[test]
fn read_at_missing_height_is_an_error() {
    let mut tree = MemoryTree::new();
    apply_and_store(&mut tree, 0, &StateChanges::new());
    let state = AuthenticatedState::new(&tree);
    assert!(matches!(state.get(&parameter(1), Height(5)), Err(StateError::MissingHeight { height: Height(5) })));
    assert!(matches!(state.prove(&parameter(1), Height(5)), Err(StateError::MissingHeight { .. })));
}

#[test]
fn later_change_of_a_key_wins() {
    let mut changes = StateChanges::new();
    changes.set(&parameter(1), b"first".to_vec()).unwrap();
    changes.delete(&parameter(1)).unwrap();
    changes.set(&parameter(1), b"second".to_vec()).unwrap();
    assert_eq!(changes.len(), 1);

    let mut tree = MemoryTree::new();
    apply_and_store(&mut tree, 0, &changes);
    assert_eq!(AuthenticatedState::new(&tree).get(&parameter(1), Height(0)).unwrap(), Some(b"second".to_vec()));
}

#[test]
fn value_at_size_limit_is_accepted() {
    let mut changes = StateChanges::new();
    changes.set(&parameter(1), vec![1; STATE_VALUE_BYTES_MAX]).unwrap();
    let mut tree = MemoryTree::new();
    apply_and_store(&mut tree, 0, &changes);
    let stored = AuthenticatedState::new(&tree).get(&parameter(1), Height(0)).unwrap().unwrap();
    assert_eq!(stored.len(), STATE_VALUE_BYTES_MAX);
}

#[test]
fn value_past_size_limit_is_rejected() {
    let mut changes = StateChanges::new();
    let error = changes.set(&parameter(1), vec![1; STATE_VALUE_BYTES_MAX + 1]).unwrap_err();
    assert!(matches!(error, StateError::ValueTooLarge { size, .. } if size == STATE_VALUE_BYTES_MAX + 1), "{error}");
    assert!(changes.is_empty());
}

#[test]
fn change_count_limit_is_enforced() {
    let mut changes = StateChanges::new();
    for index in 0..STATE_CHANGES_MAX as u64 {
        changes.delete(&attestation(index)).unwrap();
    }
    assert_eq!(changes.len(), STATE_CHANGES_MAX);
    changes.delete(&attestation(0)).unwrap();
    let error = changes.delete(&attestation(STATE_CHANGES_MAX as u64)).unwrap_err();
    assert!(matches!(error, StateError::TooManyChanges { .. }), "{error}");
}

#[test]
fn change_bytes_limit_is_enforced() {
    let count = STATE_CHANGES_BYTES_MAX / STATE_VALUE_BYTES_MAX;
    let mut changes = StateChanges::new();
    for index in 0..count {
        changes.set(&parameter(index), vec![0; STATE_VALUE_BYTES_MAX]).unwrap();
    }
    let error = changes.set(&parameter(count), vec![0; 1]).unwrap_err();
    assert!(matches!(error, StateError::ChangesTooLarge { .. }), "{error}");

    // Replacing a value frees its bytes, and deleting needs none.
    changes.set(&parameter(0), vec![0; STATE_VALUE_BYTES_MAX]).unwrap();
    changes.delete(&parameter(count)).unwrap();
    changes.set(&parameter(count), vec![]).unwrap();
}

/// Returns the asserted bound on siblings for `n` keys. A proof has about as many
/// siblings as the leaf is deep. The deepest of `n` hashed keys shares about
/// 2 * log2(n) leading bits with its nearest neighbour, and the bound adds up to 4 bits
/// of nibble rounding and the level that separates the two.
fn sibling_bound(n: usize) -> usize {
    let log2 = (n as f64).log2().ceil() as usize;
    2 * log2 + 8
}

#[test]
fn proof_size_grows_logarithmically() {
    let mut tree = MemoryTree::new();
    apply_and_store(&mut tree, 0, &StateChanges::new());
    let checkpoints = [10u64, 100, 1_000, 10_000, 100_000];
    let mut inserted = 0u64;

    for (block, &n) in checkpoints.iter().enumerate() {
        let mut changes = StateChanges::new();
        for index in inserted..n {
            changes.set(&attestation(index), index.to_le_bytes().to_vec()).unwrap();
        }
        inserted = n;
        let height = Height(block as u64 + 1);
        let root = apply_and_store(&mut tree, height.0, &changes);

        let state = AuthenticatedState::new(&tree);
        // Every key up to 10,000 keys, then an even sample of 10,000 to keep the test short.
        let step = (n / 10_000).max(1) as usize;
        let mut deepest = 0;
        for index in (0..n).step_by(step) {
            let (value, proof) = state.prove(&attestation(index), height).unwrap();
            verify_inclusion(&root, &attestation(index), &value.unwrap(), &proof).unwrap();
            deepest = deepest.max(proof.sibling_count());
        }
        for absent in (n..n + 500).map(attestation) {
            let (value, proof) = state.prove(&absent, height).unwrap();
            assert!(value.is_none());
            verify_absence(&root, &absent, &proof).unwrap();
            deepest = deepest.max(proof.sibling_count());
        }
        println!("n = {n}: deepest proof has {deepest} siblings, bound {}", sibling_bound(n as usize));
        assert!(deepest <= sibling_bound(n as usize), "n = {n}: {deepest} siblings");
    }
}

#[test]
fn batch_and_single_insert_paths_agree() {
    // Inserts alone take jmt's batch path; one deletion of an absent key sends the same
    // inserts through the per-key path.
    let mut inserts = StateChanges::new();
    for index in 0..300 {
        inserts.set(&parameter(index), vec![index as u8; 3]).unwrap();
    }
    let mut mixed = inserts.clone();
    mixed.delete(&parameter(10_000)).unwrap();

    let mut batch_tree = MemoryTree::new();
    let mut single_tree = MemoryTree::new();
    for height in 0..3 {
        let batch_root = apply_and_store(&mut batch_tree, height, &inserts);
        let single_root = apply_and_store(&mut single_tree, height, &mixed);
        assert_eq!(batch_root, single_root, "height {height}");
    }
}
