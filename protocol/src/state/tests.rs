use jmt::SimpleHasher;

use super::proof::{ProofLayout, SiblingLayout};
use super::*;
use crate::digest::Digest;
use crate::encoding;
use crate::keys::{KeyId, SigningKey};

const LEAF_TAG: &[u8] = b"JMT::LeafNode";
const INTERNAL_TAG: &[u8] = b"JMT::IntrnalNode";

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = StateHasher::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize()
}

fn leaf_hash(key_hash: [u8; 32], value_hash: [u8; 32]) -> [u8; 32] {
    hash(&[LEAF_TAG, &key_hash, &value_hash])
}

fn internal_hash(left: [u8; 32], right: [u8; 32]) -> [u8; 32] {
    hash(&[INTERNAL_TAG, &left, &right])
}

fn bit(bytes: &[u8; 32], index: usize) -> bool {
    bytes[index / 8] & (0x80 >> (index % 8)) != 0
}

fn parameter(name: &str) -> StateKey {
    StateKey::Parameter { name: name.to_owned() }
}

fn image() -> Digest {
    Digest::sha256(b"image")
}

fn every_kind_of_key() -> Vec<StateKey> {
    let public_key = SigningKey::from_seed(&[7; 32]).public_key();
    vec![
        parameter("max-block-bytes"),
        StateKey::Account { key: public_key },
        StateKey::Validator { key: public_key },
        StateKey::Attester { key_id: KeyId::of(&public_key) },
        StateKey::Policy { name: "vulnerability-threshold".to_owned() },
        StateKey::PolicyBinding { scope: "registry.example/team/*".to_owned() },
        StateKey::Attestation { image: image(), envelope_hash: [9; 32] },
        StateKey::Verdict { image: image() },
        StateKey::PolicyCode { code_hash: [9; 32] },
        StateKey::Proposal { id: 7 },
    ]
}

/// A proof built from plain fields, decoded as a `StateProof` as a light client receives it.
fn proof_from_layout(layout: &ProofLayout) -> StateProof {
    StateProof::from_bytes(&encoding::encode(layout)).expect("the layout encodes a proof")
}

/// The root and proofs of a tree with two keys, computed here from the hashing rules
/// alone: the two leaves meet in an internal node at the depth where their key hashes
/// first differ, and every level above it has an empty sibling.
struct TwoLeafTree {
    root: StateRoot,
    proof_of_first: StateProof,
}

fn two_leaf_tree(first: (&StateKey, &[u8]), second: (&StateKey, &[u8])) -> TwoLeafTree {
    let first_key = first.0.key_hash().unwrap().0;
    let second_key = second.0.key_hash().unwrap().0;
    let first_value = StateHasher::hash(first.1);
    let second_value = StateHasher::hash(second.1);
    let split = (0..256).find(|&index| bit(&first_key, index) != bit(&second_key, index)).unwrap();

    let first_leaf = leaf_hash(first_key, first_value);
    let second_leaf = leaf_hash(second_key, second_value);
    let mut node = if bit(&first_key, split) {
        internal_hash(second_leaf, first_leaf)
    } else {
        internal_hash(first_leaf, second_leaf)
    };
    for level in (0..split).rev() {
        node = if bit(&first_key, level) { internal_hash(EMPTY_HASH, node) } else { internal_hash(node, EMPTY_HASH) };
    }

    let mut siblings = vec![SiblingLayout::Leaf(second_key, second_value)];
    siblings.extend(std::iter::repeat_n(SiblingLayout::Empty, split));
    let layout = ProofLayout { leaf: Some((first_key, first_value)), siblings };
    TwoLeafTree { root: StateRoot(node), proof_of_first: proof_from_layout(&layout) }
}

const EMPTY_HASH: [u8; 32] = StateRoot::EMPTY.0;

#[test]
fn empty_root_is_placeholder_text() {
    assert_eq!(&StateRoot::EMPTY.0, b"SPARSE_MERKLE_PLACEHOLDER_HASH__");
}

#[test]
fn namespace_prefixes_are_fixed() {
    let prefixes: Vec<u8> = Namespace::ALL.iter().map(|namespace| namespace.prefix()).collect();
    assert_eq!(prefixes, [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
    for namespace in Namespace::ALL {
        assert_eq!(Namespace::from_prefix(namespace.prefix()), Some(namespace));
    }
    assert_eq!(Namespace::from_prefix(0x00), None);
    assert_eq!(Namespace::from_prefix(0x0e), None);
}

#[test]
fn parameter_key_golden_bytes() {
    let bytes = parameter("max").to_bytes().unwrap();
    assert_eq!(bytes, [0x01, 3, 0, 0, 0, 0, 0, 0, 0, b'm', b'a', b'x']);
}

#[test]
fn attestation_key_golden_bytes() {
    let bytes = StateKey::Attestation { image: image(), envelope_hash: [0xab; 32] }.to_bytes().unwrap();
    let text = image().to_string();
    let mut expected = vec![0x07];
    expected.extend_from_slice(&(text.len() as u64).to_le_bytes());
    expected.extend_from_slice(text.as_bytes());
    expected.extend_from_slice(&[0xab; 32]);
    assert_eq!(bytes, expected);
}

#[test]
fn account_key_golden_bytes() {
    let public_key = SigningKey::from_seed(&[7; 32]).public_key();
    let bytes = StateKey::Account { key: public_key }.to_bytes().unwrap();
    assert_eq!(bytes[0], 0x02);
    assert_eq!(bytes[1..9], 32u64.to_le_bytes());
    assert_eq!(bytes[9..], public_key.as_bytes()[..]);
}

#[test]
fn every_key_round_trips() {
    for key in every_kind_of_key() {
        let bytes = key.to_bytes().unwrap();
        assert_eq!(bytes[0], key.namespace().prefix());
        assert_eq!(StateKey::from_bytes(&bytes).unwrap(), key);
    }
}

#[test]
fn keys_of_different_namespaces_differ() {
    let public_key = SigningKey::from_seed(&[7; 32]).public_key();
    let account = StateKey::Account { key: public_key }.key_hash().unwrap();
    let validator = StateKey::Validator { key: public_key }.key_hash().unwrap();
    assert_ne!(account, validator);
    assert_ne!(parameter("x").key_hash().unwrap(), StateKey::Policy { name: "x".to_owned() }.key_hash().unwrap());
}

#[test]
fn key_decode_rejects_unknown_prefix() {
    let mut bytes = parameter("max").to_bytes().unwrap();
    bytes[0] = 0x0e;
    assert!(matches!(StateKey::from_bytes(&bytes), Err(StateKeyError::UnknownNamespace { prefix: 0x0e })));
}

#[test]
fn key_decode_rejects_empty_input() {
    assert!(matches!(StateKey::from_bytes(&[]), Err(StateKeyError::Empty)));
}

#[test]
fn key_decode_rejects_trailing_bytes() {
    let mut bytes = parameter("max").to_bytes().unwrap();
    bytes.push(0);
    let error = StateKey::from_bytes(&bytes).unwrap_err();
    assert!(matches!(error, StateKeyError::InvalidFields { namespace: "parameter", .. }), "{error}");
}

#[test]
fn key_decode_rejects_empty_name() {
    let mut bytes = vec![0x05];
    bytes.extend_from_slice(&0u64.to_le_bytes());
    let error = StateKey::from_bytes(&bytes).unwrap_err();
    assert!(matches!(error, StateKeyError::EmptyField { namespace: "policy", field: "name" }), "{error}");
}

#[test]
fn key_encode_rejects_empty_scope() {
    let error = StateKey::PolicyBinding { scope: String::new() }.to_bytes().unwrap_err();
    assert!(error.to_string().contains("empty scope"), "{error}");
}

#[test]
fn key_at_size_limit_is_accepted() {
    // One prefix byte and eight length bytes leave 503 bytes for the name.
    let key = parameter(&"a".repeat(STATE_KEY_BYTES_MAX - 9));
    let bytes = key.to_bytes().unwrap();
    assert_eq!(bytes.len(), STATE_KEY_BYTES_MAX);
    assert_eq!(StateKey::from_bytes(&bytes).unwrap(), key);
}

#[test]
fn key_past_size_limit_is_rejected() {
    let key = parameter(&"a".repeat(STATE_KEY_BYTES_MAX - 8));
    let error = key.to_bytes().unwrap_err();
    assert!(matches!(error, StateKeyError::TooLarge { size: 513, max: 512, .. }), "{error}");

    let mut bytes = vec![0x01];
    bytes.extend_from_slice(&504u64.to_le_bytes());
    bytes.extend_from_slice(&[b'a'; 504]);
    assert!(matches!(StateKey::from_bytes(&bytes), Err(StateKeyError::TooLarge { size: 513, .. })));
}

#[test]
fn single_leaf_proof_verifies_inclusion() {
    let key = parameter("one");
    let key_hash = key.key_hash().unwrap().0;
    let value_hash = StateHasher::hash(b"value");
    let root = StateRoot(leaf_hash(key_hash, value_hash));
    let proof = proof_from_layout(&ProofLayout { leaf: Some((key_hash, value_hash)), siblings: vec![] });

    verify_inclusion(&root, &key, b"value", &proof).unwrap();
    assert_eq!(proof.sibling_count(), 0);
}

#[test]
fn single_leaf_proof_rejects_tampering() {
    let key = parameter("one");
    let key_hash = key.key_hash().unwrap().0;
    let value_hash = StateHasher::hash(b"value");
    let root = StateRoot(leaf_hash(key_hash, value_hash));
    let proof = proof_from_layout(&ProofLayout { leaf: Some((key_hash, value_hash)), siblings: vec![] });

    let wrong_value = verify_inclusion(&root, &key, b"valuf", &proof).unwrap_err();
    assert!(matches!(wrong_value, StateProofError::InclusionRejected { .. }), "{wrong_value}");
    assert!(verify_inclusion(&root, &parameter("two"), b"value", &proof).is_err());
    assert!(verify_inclusion(&StateRoot([1; 32]), &key, b"value", &proof).is_err());
    assert!(verify_absence(&root, &key, &proof).is_err());
}

#[test]
fn single_leaf_proof_shows_other_keys_absent() {
    let key = parameter("one");
    let key_hash = key.key_hash().unwrap().0;
    let value_hash = StateHasher::hash(b"value");
    let root = StateRoot(leaf_hash(key_hash, value_hash));
    let proof = proof_from_layout(&ProofLayout { leaf: Some((key_hash, value_hash)), siblings: vec![] });

    verify_absence(&root, &parameter("two"), &proof).unwrap();
    let error = verify_inclusion(&root, &parameter("two"), b"value", &proof).unwrap_err();
    assert!(error.to_string().contains("Keys do not match"), "{error}");
}

#[test]
fn empty_tree_proof_shows_absence() {
    let proof = proof_from_layout(&ProofLayout { leaf: None, siblings: vec![] });
    verify_absence(&StateRoot::EMPTY, &parameter("any"), &proof).unwrap();
    assert!(verify_absence(&StateRoot([0; 32]), &parameter("any"), &proof).is_err());
    assert!(verify_inclusion(&StateRoot::EMPTY, &parameter("any"), b"", &proof).is_err());
}

#[test]
fn two_leaf_tree_matches_hashing_rules() {
    let first = parameter("first");
    let second = parameter("second");
    let tree = two_leaf_tree((&first, b"1"), (&second, b"2"));

    verify_inclusion(&tree.root, &first, b"1", &tree.proof_of_first).unwrap();
    assert!(verify_inclusion(&tree.root, &first, b"2", &tree.proof_of_first).is_err());
    assert!(verify_absence(&tree.root, &first, &tree.proof_of_first).is_err());
}

#[test]
fn two_leaf_proof_rejects_changed_sibling() {
    let first = parameter("first");
    let second = parameter("second");
    let tree = two_leaf_tree((&first, b"1"), (&second, b"2"));
    let mut layout: ProofLayout = encoding::decode(&tree.proof_of_first.to_bytes()).unwrap();

    for index in 0..layout.siblings.len() {
        let original = layout.siblings[index].clone();
        layout.siblings[index] = match original {
            SiblingLayout::Empty => SiblingLayout::Internal(EMPTY_HASH, EMPTY_HASH),
            SiblingLayout::Leaf(key, mut value) => {
                value[0] ^= 1;
                SiblingLayout::Leaf(key, value)
            }
            SiblingLayout::Internal(left, right) => SiblingLayout::Internal(right, left),
        };
        let tampered = proof_from_layout(&layout);
        assert!(verify_inclusion(&tree.root, &first, b"1", &tampered).is_err(), "sibling {index} changed");
        layout.siblings[index] = original;
    }
}

#[test]
fn proof_with_extra_sibling_is_rejected() {
    let first = parameter("first");
    let second = parameter("second");
    let tree = two_leaf_tree((&first, b"1"), (&second, b"2"));
    let mut layout: ProofLayout = encoding::decode(&tree.proof_of_first.to_bytes()).unwrap();
    layout.siblings.push(SiblingLayout::Empty);
    assert!(verify_inclusion(&tree.root, &first, b"1", &proof_from_layout(&layout)).is_err());
}

#[test]
fn proof_layout_matches_jmt_encoding() {
    let layout = ProofLayout {
        leaf: Some(([1; 32], [2; 32])),
        siblings: vec![
            SiblingLayout::Empty,
            SiblingLayout::Internal([3; 32], [4; 32]),
            SiblingLayout::Leaf([5; 32], [6; 32]),
        ],
    };
    let bytes = encoding::encode(&layout);
    let proof = StateProof::from_bytes(&bytes).unwrap();
    assert_eq!(proof.to_bytes(), bytes);
    assert_eq!(proof.sibling_count(), 3);

    // leaf: tag and two hashes; siblings: count, then tag 0, tag 1 and two hashes, tag 2 and two hashes.
    assert_eq!(bytes.len(), 1 + 64 + 8 + 4 + (4 + 64) + (4 + 64));
    assert_eq!(bytes[65..73], 3u64.to_le_bytes());
    assert_eq!(bytes[73..77], 0u32.to_le_bytes());
    assert_eq!(bytes[77..81], 1u32.to_le_bytes());
}

#[test]
fn proof_decode_rejects_oversize_input() {
    let bytes = vec![0; STATE_PROOF_BYTES_MAX + 1];
    assert!(matches!(StateProof::from_bytes(&bytes), Err(StateProofError::TooLarge { .. })));
}

#[test]
fn proof_with_256_siblings_fits_the_limit() {
    let layout =
        ProofLayout { leaf: Some(([1; 32], [2; 32])), siblings: vec![SiblingLayout::Internal([3; 32], [4; 32]); 256] };
    let bytes = encoding::encode(&layout);
    assert!(bytes.len() <= STATE_PROOF_BYTES_MAX, "{} bytes", bytes.len());
    assert_eq!(StateProof::from_bytes(&bytes).unwrap().sibling_count(), 256);
}

#[test]
fn proof_with_257_siblings_is_rejected_by_verify() {
    let key = parameter("one");
    let layout = ProofLayout { leaf: None, siblings: vec![SiblingLayout::Empty; 257] };
    let proof = proof_from_layout(&layout);
    let error = verify_absence(&StateRoot::EMPTY, &key, &proof).unwrap_err();
    assert!(error.to_string().contains("more than 256"), "{error}");
}

#[test]
fn proof_decode_rejects_truncated_bytes() {
    let layout = ProofLayout { leaf: Some(([1; 32], [2; 32])), siblings: vec![SiblingLayout::Empty] };
    let bytes = encoding::encode(&layout);
    let error = StateProof::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(error, StateProofError::Malformed(_)), "{error}");
}

#[test]
fn proof_decode_rejects_unknown_sibling_tag() {
    let layout = ProofLayout { leaf: None, siblings: vec![SiblingLayout::Empty] };
    let mut bytes = encoding::encode(&layout);
    let tag_offset = 1 + 8;
    bytes[tag_offset] = 3;
    assert!(matches!(StateProof::from_bytes(&bytes), Err(StateProofError::Malformed(_))));
}
