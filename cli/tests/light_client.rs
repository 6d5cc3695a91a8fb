//! Light-client checks of image status proofs built the way the node builds them: a
//! real authenticated state (`AuthenticatedState` over a `MemoryTree`), a header whose
//! `app_hash` is that state's root, and a commit signed with real validator keys. Then
//! every kind of tampering must fail.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::chain::{Fixture, STATE_HEIGHT, commit, genesis, image, record, validator_key, verify};
use vouch_protocol::api::ImageProof;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{ImageStatus, Verdict};
use vouch_protocol::light::LightError;
use vouch_protocol::signing::ChainId;

fn decode(text: &str) -> Vec<u8> {
    STANDARD.decode(text).unwrap()
}

/// Asserts that flipping each bit of the field `pick` selects fails verification.
fn assert_every_bit_flip_fails(
    fixture: &Fixture,
    number: u32,
    field: &str,
    pick: impl Fn(&mut ImageProof) -> &mut String,
) {
    let good = fixture.proof(number);
    let bytes = decode(pick(&mut good.clone()));
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let mut proof = good.clone();
        *pick(&mut proof) = STANDARD.encode(&flipped);
        let result = verify(&genesis(), &image(number), &proof);
        assert!(result.is_err(), "flipping bit {bit} of the {field} was not detected");
    }
}

#[test]
fn approved_record_verifies() {
    let fixture = Fixture::new();
    let verified = verify(&genesis(), &image(0), &fixture.proof(0)).unwrap();
    let expected = record(&[("vulnerability-threshold", Verdict::Approved), ("sbom-required", Verdict::Approved)]);
    assert_eq!(verified.record.as_ref(), Some(&expected));
    assert_eq!(verified.status(None), ImageStatus::Approved);
    assert_eq!(verified.status(Some("ghcr.io/acme/api")), ImageStatus::Approved);
    assert_eq!(verified.status(Some("ghcr.io/acme/other")), ImageStatus::Pending);
    assert_eq!(verified.header.app_hash, fixture.root);
}

#[test]
fn quarantined_and_pending_records_verify() {
    let fixture = Fixture::new();
    let quarantined = verify(&genesis(), &image(1), &fixture.proof(1)).unwrap();
    assert_eq!(quarantined.status(None), ImageStatus::Quarantined);
    let pending = verify(&genesis(), &image(2), &fixture.proof(2)).unwrap();
    assert_eq!(pending.status(None), ImageStatus::Pending);
}

#[test]
fn absent_image_verifies_as_pending() {
    let fixture = Fixture::new();
    let proof = fixture.proof(1000);
    assert_eq!(proof.record, None);
    let verified = verify(&genesis(), &image(1000), &proof).unwrap();
    assert_eq!(verified.record, None);
    assert_eq!(verified.status(None), ImageStatus::Pending);
}

#[test]
fn forged_absence_of_present_image_fails() {
    let fixture = Fixture::new();

    // The node drops the record of a present image and keeps its inclusion proof.
    let mut dropped = fixture.proof(1);
    dropped.record = None;
    let error = verify(&genesis(), &image(1), &dropped).unwrap_err();
    assert!(matches!(error, LightError::AbsenceNotProven(_)), "{error}");

    // The node answers with the absence proof of another, absent image.
    let mut borrowed = fixture.proof(1);
    let absent = fixture.proof(1000);
    borrowed.record = None;
    borrowed.state_proof = absent.state_proof;
    let error = verify(&genesis(), &image(1), &borrowed).unwrap_err();
    assert!(matches!(error, LightError::AbsenceNotProven(_)), "{error}");
}

#[test]
fn record_of_other_image_fails() {
    let fixture = Fixture::new();
    let error = verify(&genesis(), &image(1), &fixture.proof(0)).unwrap_err();
    assert!(matches!(error, LightError::RecordNotProven(_)), "{error}");
}

#[test]
fn approved_record_swapped_in_fails() {
    let fixture = Fixture::new();
    let mut proof = fixture.proof(1);
    proof.record = fixture.proof(0).record;
    let error = verify(&genesis(), &image(1), &proof).unwrap_err();
    assert!(matches!(error, LightError::RecordNotProven(_)), "{error}");
}

#[test]
fn every_record_bit_flip_fails() {
    assert_every_bit_flip_fails(&Fixture::new(), 1, "record", |proof| proof.record.as_mut().unwrap());
}

#[test]
fn every_state_proof_bit_flip_fails() {
    assert_every_bit_flip_fails(&Fixture::new(), 1, "state proof", |proof| &mut proof.state_proof);
}

#[test]
fn every_absence_proof_bit_flip_fails() {
    assert_every_bit_flip_fails(&Fixture::new(), 1000, "absence proof", |proof| &mut proof.state_proof);
}

#[test]
fn every_header_bit_flip_fails() {
    assert_every_bit_flip_fails(&Fixture::new(), 1, "header", |proof| &mut proof.header);
}

#[test]
fn every_commit_bit_flip_fails() {
    assert_every_bit_flip_fails(&Fixture::new(), 1, "commit", |proof| &mut proof.commit);
}

#[test]
fn commit_by_key_outside_set_fails() {
    let fixture = Fixture::new();
    let header = fixture.header();
    let outsider = |index: usize| if index == 1 { SigningKey::from_seed(&[99; 32]) } else { validator_key(index) };
    let mut proof = fixture.proof(0);
    proof.commit = STANDARD.encode(commit(&header, &[0, 1, 3], outsider).to_bytes());
    let error = verify(&genesis(), &image(0), &proof).unwrap_err();
    assert!(matches!(error, LightError::InvalidSignature { index: 1, .. }), "{error}");
}

#[test]
fn exactly_two_thirds_stake_fails() {
    let fixture = Fixture::new();
    let error = verify(&genesis(), &image(0), &fixture.proof_signed_by(0, &[0, 1])).unwrap_err();
    assert!(matches!(error, LightError::InsufficientPower { signed: 6, total: 9, .. }), "{error}");
    let error = verify(&genesis(), &image(0), &fixture.proof_signed_by(0, &[1, 2, 3])).unwrap_err();
    assert!(matches!(error, LightError::InsufficientPower { signed: 5, total: 9, .. }), "{error}");
}

#[test]
fn just_over_two_thirds_stake_passes() {
    let fixture = Fixture::new();
    assert!(verify(&genesis(), &image(0), &fixture.proof_signed_by(0, &[0, 1, 3])).is_ok());
    assert!(verify(&genesis(), &image(0), &fixture.proof_signed_by(0, &[0, 2, 3])).is_ok());
}

#[test]
fn wrong_chain_id_fails() {
    let fixture = Fixture::new();
    let mut other = genesis();
    other.chain_id = ChainId::new("another-chain").unwrap();
    let error = verify(&other, &image(0), &fixture.proof(0)).unwrap_err();
    assert!(matches!(error, LightError::WrongChain { .. }), "{error}");
}

#[test]
fn wrong_state_height_fails() {
    let fixture = Fixture::new();
    let mut proof = fixture.proof(0);
    proof.height = STATE_HEIGHT + 1;
    let error = verify(&genesis(), &image(0), &proof).unwrap_err();
    assert!(matches!(error, LightError::WrongHeaderHeight { .. }), "{error}");
}

#[test]
fn genesis_with_other_validators_fails() {
    let fixture = Fixture::new();
    let mut other = genesis();
    other.validators.swap(0, 1);
    let error = verify(&other, &image(0), &fixture.proof(0)).unwrap_err();
    assert!(matches!(error, LightError::ValidatorSetMismatch { field: "validators_hash", .. }), "{error}");
}
