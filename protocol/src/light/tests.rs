//! Unit tests of image proofs verified from genesis, over an empty state whose absence
//! proof needs no tree. Tests with real state proofs built by the node's tree are in the
//! CLI crate's `light_client` tests. Tests of skipping verification over generated
//! chains are in the submodules.

mod forged;
mod generator;
mod property;
mod skipping;

use std::time::Duration;

use super::*;
use crate::chain::{BlockHash, COMMIT_SIGNATURES_MAX};
use crate::keys::SigningKey;
use crate::light::tally::{is_over_one_third, is_over_two_thirds};
use crate::signing::ChainId;
use crate::state::StateRoot;

const STATE_HEIGHT: u64 = 6;

/// The verifier's clock in these tests: one minute after the proof's header.
const NOW_UNIX_MS: u64 = 1_700_000_067_000;

/// The proof of absence in a tree with no keys: no leaf (byte 0) and no siblings (a
/// u64 count of 0).
const EMPTY_TREE_PROOF: [u8; 9] = [0; 9];

fn chain_id(text: &str) -> ChainId {
    ChainId::new(text).unwrap()
}

fn key(seed: u8) -> SigningKey {
    generator::key(u16::from(seed))
}

/// Builds a genesis whose validator `i` has key seed `i + 1` and stake `stakes[i]`.
fn genesis(stakes: &[u64]) -> Genesis {
    let members: Vec<(u16, u64)> = stakes.iter().enumerate().map(|(index, stake)| (index as u16 + 1, *stake)).collect();
    generator::genesis(&members)
}

/// Builds a header that names the validator set of `genesis(&[1])`.
fn header(chain: &str, height: u64) -> Header {
    header_for(&[1], chain, height)
}

/// Builds a header that names the validator set of `genesis(stakes)`.
fn header_for(stakes: &[u64], chain: &str, height: u64) -> Header {
    let validators_hash = ValidatorSet::from_genesis(&genesis(stakes)).unwrap().hash();
    Header {
        chain_id: chain_id(chain),
        height: Height(height),
        time_unix_ms: 1_700_000_007_000,
        previous_block_hash: Some(BlockHash([7; 32])),
        txs_root: [1; 32],
        app_hash: StateRoot::EMPTY,
        validators_hash,
        next_validators_hash: validators_hash,
        proposer: key(1).public_key(),
    }
}

/// Signs a commit of `header` with `signers` as (validator index, key seed).
fn commit(header: &Header, signers: &[(u32, u8)]) -> Commit {
    let signers: Vec<(u32, u16)> = signers.iter().map(|(index, seed)| (*index, u16::from(*seed))).collect();
    generator::sign_at_indexes(header, &signers)
}

fn proof(header: &Header, commit: &Commit) -> ImageProof {
    ImageProof {
        height: header.height.0 - 1,
        record: None,
        state_proof: STANDARD.encode(EMPTY_TREE_PROOF),
        header: STANDARD.encode(header.to_bytes()),
        commit: STANDARD.encode(commit.to_bytes()),
    }
}

fn image() -> Digest {
    Digest::sha256(b"an image manifest")
}

/// Verifies `proof` from `genesis` with the default options at [`NOW_UNIX_MS`].
fn verify(genesis: &Genesis, proof: &ImageProof) -> Result<VerifiedImage, LightError> {
    verify_image_proof_from_genesis(genesis, &image(), proof, TrustOptions::default(), NOW_UNIX_MS)
}

/// Verifies a proof of the empty state signed by `signers` under `stakes`.
fn verify_signed(stakes: &[u64], signers: &[(u32, u8)]) -> Result<VerifiedImage, LightError> {
    let header = header_for(stakes, generator::CHAIN_ID, STATE_HEIGHT + 1);
    verify(&genesis(stakes), &proof(&header, &commit(&header, signers)))
}

#[test]
fn absent_image_is_pending() {
    let verified = verify_signed(&[1], &[(0, 1)]).unwrap();
    assert_eq!(verified.record, None);
    assert_eq!(verified.status(None), ImageStatus::Pending);
    assert_eq!(verified.height, Height(STATE_HEIGHT));
    assert_eq!(verified.header.height, Height(STATE_HEIGHT + 1));
}

#[test]
fn exactly_two_thirds_fails() {
    // Total 9: validators 0 and 1 hold 6, exactly 2/3.
    let error = verify_signed(&[4, 2, 2, 1], &[(0, 1), (1, 2)]).unwrap_err();
    assert!(matches!(error, LightError::InsufficientPower { signed: 6, total: 9, .. }), "{error}");
}

#[test]
fn just_over_two_thirds_passes() {
    // Total 9: validators 0, 1 and 3 hold 7.
    assert!(verify_signed(&[4, 2, 2, 1], &[(0, 1), (1, 2), (3, 4)]).is_ok());
}

#[test]
fn many_small_signers_fail_against_one_large() {
    // Total 10: the three small validators hold 3.
    let error = verify_signed(&[7, 1, 1, 1], &[(1, 2), (2, 3), (3, 4)]).unwrap_err();
    assert!(matches!(error, LightError::InsufficientPower { signed: 3, total: 10, .. }), "{error}");
}

#[test]
fn two_thirds_arithmetic_at_edges() {
    let max = u128::from(u64::MAX) * 1024;
    assert!(!is_over_two_thirds(2, 3));
    assert!(is_over_two_thirds(3, 4));
    assert!(!is_over_two_thirds(0, 0));
    assert!(is_over_two_thirds(max, max));
    assert!(!is_over_two_thirds(max / 3 * 2, max / 3 * 3));
    assert!(is_over_two_thirds(max / 3 * 2 + 1, max / 3 * 3));
}

#[test]
fn one_third_arithmetic_at_edges() {
    let max = u128::from(u64::MAX) * 1024;
    assert!(!is_over_one_third(1, 3));
    assert!(is_over_one_third(2, 5));
    assert!(!is_over_one_third(0, 0));
    assert!(!is_over_one_third(max / 3, max / 3 * 3));
    assert!(is_over_one_third(max / 3 + 1, max / 3 * 3));
}

#[test]
fn key_outside_set_is_rejected() {
    let error = verify_signed(&[1, 1, 1], &[(0, 1), (1, 2), (2, 99)]).unwrap_err();
    assert!(matches!(error, LightError::InvalidSignature { index: 2, .. }), "{error}");
    assert!(error.to_string().contains(&key(3).public_key().to_hex()), "{error}");
}

#[test]
fn unknown_index_is_rejected() {
    let error = verify_signed(&[1, 1], &[(0, 1), (2, 3)]).unwrap_err();
    assert!(matches!(error, LightError::UnknownValidator { index: 2, validators: 2, .. }), "{error}");
}

#[test]
fn duplicate_index_is_rejected() {
    let error = verify_signed(&[3, 1, 1], &[(0, 1), (0, 1)]).unwrap_err();
    assert!(matches!(error, LightError::DuplicateValidator { index: 0, .. }), "{error}");
}

#[test]
fn unordered_indexes_are_rejected() {
    let error = verify_signed(&[1, 1, 1], &[(1, 2), (0, 1), (2, 3)]).unwrap_err();
    assert!(matches!(error, LightError::UnorderedValidators { index: 0, previous: 1, .. }), "{error}");
}

#[test]
fn wrong_chain_id_is_rejected() {
    let header = header("other-chain", STATE_HEIGHT + 1);
    let error = verify(&genesis(&[1]), &proof(&header, &commit(&header, &[(0, 1)]))).unwrap_err();
    assert!(matches!(error, LightError::WrongChain { .. }), "{error}");
    assert!(error.to_string().contains("other-chain"), "{error}");
}

#[test]
fn wrong_header_height_is_rejected() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let mut proof = proof(&header, &commit(&header, &[(0, 1)]));
    proof.height = STATE_HEIGHT + 1;
    let error = verify(&genesis(&[1]), &proof).unwrap_err();
    assert!(matches!(error, LightError::WrongHeaderHeight { expected: 8, found: 7, state_height: 7 }), "{error}");
}

#[test]
fn state_height_overflow_is_rejected() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let mut proof = proof(&header, &commit(&header, &[(0, 1)]));
    proof.height = u64::MAX;
    let error = verify(&genesis(&[1]), &proof).unwrap_err();
    assert!(matches!(error, LightError::HeightOverflow { height: u64::MAX }), "{error}");
}

#[test]
fn commit_of_other_block_is_rejected() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let mut other = header.clone();
    other.time_unix_ms += 1;
    let error = verify(&genesis(&[1]), &proof(&header, &commit(&other, &[(0, 1)]))).unwrap_err();
    assert!(matches!(error, LightError::WrongBlockHash { .. }), "{error}");
}

#[test]
fn commit_of_other_height_is_rejected() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let mut commit = commit(&header, &[(0, 1)]);
    commit.height = Height(STATE_HEIGHT);
    let error = verify(&genesis(&[1]), &proof(&header, &commit)).unwrap_err();
    assert!(matches!(error, LightError::WrongCommitHeight { header: Height(7), commit: Height(6) }), "{error}");
}

#[test]
fn every_flipped_header_bit_fails() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let good = proof(&header, &commit(&header, &[(0, 1)]));
    let bytes = header.to_bytes();
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let proof = ImageProof { header: STANDARD.encode(&flipped), ..good.clone() };
        assert!(verify(&genesis(&[1]), &proof).is_err(), "bit {bit} of the header");
    }
}

#[test]
fn every_flipped_commit_bit_fails() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let good = proof(&header, &commit(&header, &[(0, 1)]));
    let bytes = commit(&header, &[(0, 1)]).to_bytes();
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let proof = ImageProof { commit: STANDARD.encode(&flipped), ..good.clone() };
        assert!(verify(&genesis(&[1]), &proof).is_err(), "bit {bit} of the commit");
    }
}

#[test]
fn empty_commit_is_rejected() {
    let error = verify_signed(&[1], &[]).unwrap_err();
    assert!(matches!(error, LightError::InsufficientPower { signed: 0, total: 1, .. }), "{error}");
}

#[test]
fn forged_record_in_empty_state_is_rejected() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let mut proof = proof(&header, &commit(&header, &[(0, 1)]));
    let record = ImageRecord { names: Vec::new(), verdicts: Vec::new() };
    proof.record = Some(STANDARD.encode(encoding::encode(&record)));
    let error = verify(&genesis(&[1]), &proof).unwrap_err();
    assert!(matches!(error, LightError::RecordNotProven(_)), "{error}");
}

#[test]
fn stake_over_u64_total_is_counted() {
    // The total, u64::MAX + 1, does not fit in a u64; power is summed in u128.
    assert!(verify_signed(&[u64::MAX, 1], &[(0, 1), (1, 2)]).is_ok());
    assert!(verify_signed(&[u64::MAX, 1], &[(0, 1)]).is_ok());
    let error = verify_signed(&[u64::MAX, 1], &[(1, 2)]).unwrap_err();
    assert!(matches!(error, LightError::InsufficientPower { signed: 1, .. }), "{error}");
}

#[test]
fn header_naming_other_set_is_rejected() {
    let header = header_for(&[1, 1], generator::CHAIN_ID, STATE_HEIGHT + 1);
    let error = verify(&genesis(&[1]), &proof(&header, &commit(&header, &[(0, 1)]))).unwrap_err();
    assert!(matches!(error, LightError::ValidatorSetMismatch { field: "validators_hash", .. }), "{error}");
}

#[test]
fn expired_genesis_is_rejected() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let proof = proof(&header, &commit(&header, &[(0, 1)]));
    let options = TrustOptions { trust_period: Duration::from_secs(60), ..TrustOptions::default() };
    let error = verify_image_proof_from_genesis(&genesis(&[1]), &image(), &proof, options, NOW_UNIX_MS).unwrap_err();
    assert!(matches!(error, LightError::TrustExpired { trusted_height: Height(0), .. }), "{error}");
    assert!(error.to_string().contains("newer root of trust"), "{error}");
}

#[test]
fn invalid_base64_names_field() {
    let header = header(generator::CHAIN_ID, STATE_HEIGHT + 1);
    let mut proof = proof(&header, &commit(&header, &[(0, 1)]));
    proof.commit.push('!');
    let error = verify(&genesis(&[1]), &proof).unwrap_err();
    assert!(matches!(error, LightError::InvalidBase64 { field: "commit", .. }), "{error}");
}

#[test]
fn field_size_limit_at_and_past_edge() {
    let at_limit = STANDARD.encode(vec![0u8; PROOF_FIELD_BYTES_MAX]);
    assert_eq!(decode_field("record", &at_limit).unwrap().len(), PROOF_FIELD_BYTES_MAX);

    let past_limit = STANDARD.encode(vec![0u8; PROOF_FIELD_BYTES_MAX + 1]);
    let error = decode_field("record", &past_limit).unwrap_err();
    assert!(matches!(error, LightError::FieldTooLarge { field: "record", .. }), "{error}");

    // Text whose length alone is past the limit is rejected before decoding, even
    // when it is not base64.
    let long_text = "!".repeat(PROOF_FIELD_BYTES_MAX.div_ceil(3) * 4 + 1);
    let error = decode_field("record", &long_text).unwrap_err();
    assert!(matches!(error, LightError::FieldTooLarge { .. }), "{error}");
}

#[test]
fn validators_hash_matches_documented_bytes() {
    let set = ValidatorSet::from_genesis(&genesis(&[4, u64::MAX])).unwrap();

    // A u64 count, then per validator a u64 key length, the 32 key bytes and the u64
    // power, all little-endian, hashed by BLAKE3 under the set context.
    let mut bytes = 2u64.to_le_bytes().to_vec();
    for (seed, power) in [(1u8, 4u64), (2, u64::MAX)] {
        bytes.extend_from_slice(&32u64.to_le_bytes());
        bytes.extend_from_slice(key(seed).public_key().as_bytes());
        bytes.extend_from_slice(&power.to_le_bytes());
    }
    let expected = blake3::Hasher::new_derive_key("vouch/v1 validator set").update(&bytes).finalize();
    assert_eq!(set.hash(), *expected.as_bytes());

    let reordered = ValidatorSet::from_genesis(&genesis(&[u64::MAX, 4])).unwrap();
    assert_ne!(set.hash(), reordered.hash());
}

#[test]
fn invalid_validator_sets_are_rejected() {
    let validator = |seed: u8, power: u64| LightValidator { public_key: key(seed).public_key(), power };

    let error = ValidatorSet::new(Height(3), Vec::new()).unwrap_err();
    assert!(matches!(error, LightError::EmptyValidatorSet { height: Height(3) }), "{error}");

    let error = ValidatorSet::new(Height(3), vec![validator(1, 5), validator(2, 0)]).unwrap_err();
    assert!(matches!(error, LightError::ZeroPower { index: 1, .. }), "{error}");

    let error = ValidatorSet::new(Height(3), vec![validator(1, 5), validator(2, 1), validator(1, 7)]).unwrap_err();
    assert!(matches!(error, LightError::DuplicateKey { first: 0, second: 2, .. }), "{error}");

    let at_limit: Vec<LightValidator> = (0..COMMIT_SIGNATURES_MAX as u16)
        .map(|number| LightValidator { public_key: generator::key(number).public_key(), power: 1 })
        .collect();
    assert_eq!(ValidatorSet::new(Height(3), at_limit.clone()).unwrap().total_power(), COMMIT_SIGNATURES_MAX as u128);

    let mut past_limit = at_limit;
    past_limit.push(validator(255, 1));
    let error = ValidatorSet::new(Height(3), past_limit).unwrap_err();
    assert!(matches!(error, LightError::TooManyValidators { count: 1025, max: 1024, .. }), "{error}");
}
