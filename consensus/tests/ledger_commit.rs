//! A commit certificate from the core becomes the ledger's commit, which verifies
//! with the same signatures under the protocol crate's rules.

mod support;

use vouch_consensus::{CommitCertificate, Vote, VoteKind};
use vouch_protocol::chain::{BlockHash, ChainError, Height};

use support::{chain_id, key};

fn certificate(signers: &[usize]) -> CommitCertificate {
    let block_hash = BlockHash([0x42; 32]);
    let precommits = signers
        .iter()
        .map(|&index| {
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: Height(7),
                round: 2,
                block_hash: Some(block_hash),
                time_unix_ms: 5_000 + index as u64,
                validator_index: index as u32,
            };
            vote.sign(&key(index), &chain_id())
        })
        .collect();
    CommitCertificate { height: Height(7), round: 2, block_hash, precommits }
}

#[test]
fn certificate_converts_to_verifying_commit() {
    let commit = certificate(&[0, 1, 3]).to_commit();
    let keys: Vec<_> = (0..4).map(|index| key(index).public_key()).collect();
    assert_eq!(commit.signatures.len(), 3);
    assert_eq!(commit.signatures[2].time_unix_ms, 5_003);
    assert!(commit.verify_signatures(&chain_id(), &keys).is_ok());
}

#[test]
fn converted_commit_rejects_wrong_key() {
    let commit = certificate(&[0, 1]).to_commit();
    let keys: Vec<_> = [0, 2].iter().map(|&index| key(index).public_key()).collect();
    let error = commit.verify_signatures(&chain_id(), &keys).unwrap_err();
    assert!(matches!(error, ChainError::InvalidSignature { index: 1, .. }), "{error}");
}
