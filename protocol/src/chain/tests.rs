use super::*;
use crate::encoding;
use crate::keys::SigningKey;
use crate::signing::ChainId;
use crate::state::StateRoot;

fn chain_id() -> ChainId {
    ChainId::new("vouch-test").unwrap()
}

fn validator(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

fn header(height: u64, txs: &[Transaction]) -> Header {
    Header {
        chain_id: chain_id(),
        height: Height(height),
        time_unix_ms: 1_700_000_000_123,
        previous_block_hash: (height > 1).then_some(BlockHash([0x11; 32])),
        txs_root: txs_root(txs),
        app_hash: StateRoot([0x22; 32]),
        validators_hash: [0x33; 32],
        next_validators_hash: [0x44; 32],
        proposer: validator(1).public_key(),
    }
}

fn block(height: u64, txs: Vec<Transaction>) -> Block {
    Block { header: header(height, &txs), txs }
}

fn tx(bytes: &[u8]) -> Transaction {
    Transaction::new(bytes.to_vec())
}

/// Hashes under a context string, written out again from the BLAKE3 API.
fn context_hash(context: &str, bytes: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(context);
    hasher.update(bytes);
    *hasher.finalize().as_bytes()
}

fn txs_leaf(tx: &Transaction) -> [u8; 32] {
    let tx_hash = context_hash("vouch/v1 transaction", tx.bytes());
    context_hash("vouch/v1 transactions root", &[&[0u8][..], &tx_hash].concat())
}

fn txs_node(left: [u8; 32], right: [u8; 32]) -> [u8; 32] {
    context_hash("vouch/v1 transactions root", &[&[1u8][..], &left, &right].concat())
}

/// Builds the header encoding field by field from the documented format.
fn header_bytes_by_hand(header: &Header) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&10u64.to_le_bytes());
    bytes.extend_from_slice(b"vouch-test");
    bytes.extend_from_slice(&header.height.0.to_le_bytes());
    bytes.extend_from_slice(&header.time_unix_ms.to_le_bytes());
    match header.previous_block_hash {
        None => bytes.push(0),
        Some(hash) => {
            bytes.push(1);
            bytes.extend_from_slice(&hash.0);
        }
    }
    bytes.extend_from_slice(&header.txs_root);
    bytes.extend_from_slice(&header.app_hash.0);
    bytes.extend_from_slice(&header.validators_hash);
    bytes.extend_from_slice(&header.next_validators_hash);
    bytes.extend_from_slice(&32u64.to_le_bytes());
    bytes.extend_from_slice(header.proposer.as_bytes());
    bytes
}

#[test]
fn header_golden_bytes() {
    let header = header(2, &[]);
    assert_eq!(header.to_bytes(), header_bytes_by_hand(&header));
    assert_eq!(Header::from_bytes(&header.to_bytes()).unwrap(), header);
}

#[test]
fn first_header_golden_bytes() {
    let header = header(1, &[]);
    assert_eq!(header.to_bytes(), header_bytes_by_hand(&header));
}

#[test]
fn header_hash_golden_value() {
    let header = header(2, &[]);
    let expected = context_hash("vouch/v1 block header", &header_bytes_by_hand(&header));
    assert_eq!(header.hash().0, expected);
    // Pinned so that any change of the format or the context shows up here.
    assert_eq!(header.hash().to_hex(), "1aba79747ab75f6363ee45dc2fe4281db1e72a7f958200cb25ccae44b13225b0");
}

#[test]
fn header_rejects_height_zero() {
    let error = header(0, &[]).validate().unwrap_err();
    assert!(error.to_string().contains("height 0"), "{error}");
}

#[test]
fn header_rejects_missing_previous_hash() {
    let mut header = header(5, &[]);
    header.previous_block_hash = None;
    let error = Header::from_bytes(&header.to_bytes()).unwrap_err();
    assert!(error.to_string().contains("previous_block_hash is missing"), "{error}");
}

#[test]
fn first_header_rejects_previous_hash() {
    let mut header = header(1, &[]);
    header.previous_block_hash = Some(BlockHash([1; 32]));
    assert!(header.validate().is_err());
}

#[test]
fn header_rejects_trailing_byte() {
    let mut bytes = header(2, &[]).to_bytes();
    bytes.push(0);
    assert!(matches!(Header::from_bytes(&bytes), Err(ChainError::Encoding(_))));
}

#[test]
fn block_golden_bytes() {
    let block = block(3, vec![tx(b"one"), tx(b"")]);
    let mut expected = header_bytes_by_hand(&block.header);
    expected.extend_from_slice(&2u64.to_le_bytes());
    expected.extend_from_slice(&3u64.to_le_bytes());
    expected.extend_from_slice(b"one");
    expected.extend_from_slice(&0u64.to_le_bytes());
    assert_eq!(block.to_bytes(), expected);
    assert_eq!(block.encoded_len(), expected.len());
    assert_eq!(Block::from_bytes(&expected).unwrap(), block);
}

#[test]
fn block_rejects_wrong_txs_root() {
    let mut block = block(3, vec![tx(b"one")]);
    block.txs.push(tx(b"smuggled"));
    let error = Block::from_bytes(&block.to_bytes()).unwrap_err();
    assert!(matches!(error, ChainError::TxsRootMismatch { .. }), "{error}");
}

#[test]
fn tx_hash_golden_value() {
    let hash = tx(b"one").hash();
    assert_eq!(hash.0, context_hash("vouch/v1 transaction", b"one"));
    assert_ne!(hash.0, *blake3::hash(b"one").as_bytes());
}

#[test]
fn txs_root_of_nothing_hashes_empty_input() {
    assert_eq!(txs_root(&[]), context_hash("vouch/v1 transactions root", b""));
}

#[test]
fn txs_root_of_one_is_its_leaf() {
    assert_eq!(txs_root(&[tx(b"a")]), txs_leaf(&tx(b"a")));
}

#[test]
fn txs_root_splits_at_power_of_two() {
    let txs: Vec<Transaction> = [b"a", b"b", b"c", b"d", b"e"].iter().map(|bytes| tx(*bytes)).collect();
    let leaves: Vec<[u8; 32]> = txs.iter().map(txs_leaf).collect();

    let three = txs_node(txs_node(leaves[0], leaves[1]), leaves[2]);
    assert_eq!(txs_root(&txs[..3]), three);

    let four = txs_node(txs_node(leaves[0], leaves[1]), txs_node(leaves[2], leaves[3]));
    assert_eq!(txs_root(&txs[..4]), four);
    assert_eq!(txs_root(&txs), txs_node(four, leaves[4]));
}

#[test]
fn txs_root_depends_on_order() {
    assert_ne!(txs_root(&[tx(b"a"), tx(b"b")]), txs_root(&[tx(b"b"), tx(b"a")]));
}

#[test]
fn block_at_tx_count_limit_is_accepted() {
    let block = block(2, vec![tx(b""); BLOCK_TXS_MAX]);
    assert_eq!(Block::from_bytes(&block.to_bytes()).unwrap().txs.len(), BLOCK_TXS_MAX);
}

#[test]
fn block_past_tx_count_limit_is_rejected() {
    let block = block(2, vec![tx(b""); BLOCK_TXS_MAX + 1]);
    let error = block.validate().unwrap_err();
    assert!(matches!(error, ChainError::TooMany { count: 20_001, .. }), "{error}");
}

#[test]
fn block_at_byte_limit_is_accepted() {
    let overhead = block(2, vec![tx(b"")]).encoded_len();
    let block = block(2, vec![tx(&vec![7; BLOCK_BYTES_MAX - overhead])]);
    assert_eq!(block.encoded_len(), BLOCK_BYTES_MAX);
    let bytes = block.to_bytes();
    assert_eq!(bytes.len(), BLOCK_BYTES_MAX);
    Block::from_bytes(&bytes).unwrap();
}

#[test]
fn block_past_byte_limit_is_rejected() {
    let overhead = block(2, vec![tx(b"")]).encoded_len();
    let block = block(2, vec![tx(&vec![7; BLOCK_BYTES_MAX - overhead + 1])]);
    assert!(matches!(block.validate(), Err(ChainError::TooLarge { what: "block", .. })));
    let bytes = block.to_bytes();
    assert!(matches!(Block::from_bytes(&bytes), Err(ChainError::TooLarge { what: "block", .. })));
}

/// Signs a commit with one validator per seed, each voting 10 ms after the one before.
fn signed_commit(signers: &[u8], block_hash: BlockHash) -> Commit {
    let mut commit = Commit { height: Height(4), round: 1, block_hash, signatures: vec![] };
    for (index, seed) in signers.iter().enumerate() {
        let time_unix_ms = 1_000 + 10 * index as u64;
        let precommit = Precommit { height: Height(4), round: 1, block_hash: Some(block_hash), time_unix_ms };
        let signature = precommit.sign(&validator(*seed), &chain_id());
        commit.signatures.push(CommitSignature { validator_index: index as u32, time_unix_ms, signature });
    }
    commit
}

fn validator_keys(seeds: &[u8]) -> Vec<crate::keys::PublicKey> {
    seeds.iter().map(|seed| validator(*seed).public_key()).collect()
}

#[test]
fn commit_golden_bytes() {
    let commit = signed_commit(&[1], BlockHash([0x55; 32]));
    let mut expected = Vec::new();
    expected.extend_from_slice(&4u64.to_le_bytes());
    expected.extend_from_slice(&1u32.to_le_bytes());
    expected.extend_from_slice(&[0x55; 32]);
    expected.extend_from_slice(&1u64.to_le_bytes());
    expected.extend_from_slice(&0u32.to_le_bytes());
    expected.extend_from_slice(&1_000u64.to_le_bytes());
    expected.extend_from_slice(&64u64.to_le_bytes());
    expected.extend_from_slice(commit.signatures[0].signature.as_bytes());
    assert_eq!(commit.to_bytes(), expected);
    assert_eq!(Commit::from_bytes(&expected).unwrap(), commit);
}

#[test]
fn precommit_signing_bytes_are_domain_separated() {
    let precommit =
        Precommit { height: Height(4), round: 1, block_hash: Some(BlockHash([0x55; 32])), time_unix_ms: 1_000 };
    let message = encoding::encode(&precommit);
    assert_eq!(message.len(), 8 + 4 + 1 + 32 + 8);
    let signature = precommit.sign(&validator(1), &chain_id());
    let as_header = crate::signing::verify(
        &validator(1).public_key(),
        &chain_id(),
        crate::signing::SignKind::Header,
        &message,
        &signature,
    );
    assert!(as_header.is_err());
}

#[test]
fn commit_signatures_verify() {
    let commit = signed_commit(&[1, 2, 3], BlockHash([0x55; 32]));
    commit.verify_signatures(&chain_id(), &validator_keys(&[1, 2, 3])).unwrap();
}

#[test]
fn commit_rejects_signature_for_other_block() {
    let mut commit = signed_commit(&[1, 2, 3], BlockHash([0x55; 32]));
    commit.block_hash = BlockHash([0x56; 32]);
    let error = commit.verify_signatures(&chain_id(), &validator_keys(&[1, 2, 3])).unwrap_err();
    assert!(matches!(error, ChainError::InvalidSignature { index: 0, .. }), "{error}");
}

#[test]
fn commit_rejects_other_chain() {
    let commit = signed_commit(&[1], BlockHash([0x55; 32]));
    let other = ChainId::new("vouch-other").unwrap();
    assert!(commit.verify_signatures(&other, &validator_keys(&[1])).is_err());
}

#[test]
fn commit_rejects_wrong_validator_key() {
    let commit = signed_commit(&[1, 2], BlockHash([0x55; 32]));
    let error = commit.verify_signatures(&chain_id(), &validator_keys(&[1, 9])).unwrap_err();
    assert!(matches!(error, ChainError::InvalidSignature { index: 1, .. }), "{error}");
}

#[test]
fn commit_rejects_index_out_of_range() {
    let commit = signed_commit(&[1, 2], BlockHash([0x55; 32]));
    let error = commit.verify_signatures(&chain_id(), &validator_keys(&[1])).unwrap_err();
    assert!(matches!(error, ChainError::UnknownValidator { index: 1, validators: 1, .. }), "{error}");
}

#[test]
fn commit_rejects_repeated_validator() {
    let mut commit = signed_commit(&[1, 2], BlockHash([0x55; 32]));
    commit.signatures[1] = commit.signatures[0];
    let error = commit.verify_signatures(&chain_id(), &validator_keys(&[1, 2])).unwrap_err();
    assert!(matches!(error, ChainError::UnorderedSignatures { index: 0, previous: 0, .. }), "{error}");
}

#[test]
fn commit_at_signature_limit_decodes() {
    let mut commit = signed_commit(&[1], BlockHash([0x55; 32]));
    let signature = commit.signatures[0].signature;
    commit.signatures = (0..COMMIT_SIGNATURES_MAX as u32)
        .map(|validator_index| CommitSignature { validator_index, time_unix_ms: 1_000, signature })
        .collect();
    assert_eq!(Commit::from_bytes(&commit.to_bytes()).unwrap().signatures.len(), COMMIT_SIGNATURES_MAX);
}

#[test]
fn commit_past_signature_limit_is_rejected() {
    let mut commit = signed_commit(&[1], BlockHash([0x55; 32]));
    let signature = commit.signatures[0].signature;
    commit.signatures = (0..=COMMIT_SIGNATURES_MAX as u32)
        .map(|validator_index| CommitSignature { validator_index, time_unix_ms: 1_000, signature })
        .collect();
    let error = Commit::from_bytes(&commit.to_bytes()).unwrap_err();
    assert!(matches!(error, ChainError::TooLarge { what: "commit", .. } | ChainError::TooMany { .. }), "{error}");
    assert!(matches!(commit.verify_signatures(&chain_id(), &[]), Err(ChainError::TooMany { .. })));
}

#[test]
fn height_steps() {
    assert_eq!(Height(1).previous(), Some(Height::GENESIS));
    assert_eq!(Height::GENESIS.previous(), None);
    assert_eq!(Height(u64::MAX).next(), None);
    assert_eq!(encoding::encode(&Height(7)), 7u64.to_le_bytes());
}

#[test]
fn commit_signature_covers_vote_time() {
    let mut commit = signed_commit(&[1, 2], BlockHash([0x55; 32]));
    assert!(commit.verify_signatures(&chain_id(), &validator_keys(&[1, 2])).is_ok());
    commit.signatures[1].time_unix_ms += 1;
    let error = commit.verify_signatures(&chain_id(), &validator_keys(&[1, 2])).unwrap_err();
    assert!(matches!(error, ChainError::InvalidSignature { index: 1, .. }), "{error}");
}
