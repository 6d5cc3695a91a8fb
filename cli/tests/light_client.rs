//! Light-client checks of image status proofs built the way the node builds them: a
//! real authenticated state (`AuthenticatedState` over a `MemoryTree`), a header whose
//! `app_hash` is that state's root, and a commit signed with real validator keys. Then
//! every kind of tampering must fail.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vouch_node::state::{AuthenticatedState, MemoryTree, StateChanges};
use vouch_protocol::api::ImageProof;
use vouch_protocol::chain::{BlockHash, Commit, CommitSignature, Header, Height, Precommit};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{
    ConsensusParams, Genesis, GenesisValidator, GovernanceParams, ImageRecord, ImageStatus, NameBinding, PolicyLimits,
    Verdict, VerdictRecord,
};
use vouch_protocol::light::{LightError, verify_image_proof};
use vouch_protocol::signing::ChainId;
use vouch_protocol::state::{StateKey, StateRoot};

/// The state height of every proof here; the header is at the next height.
const STATE_HEIGHT: u64 = 1;
/// Stakes of the four genesis validators: 9 in total, so 6 is exactly 2/3.
const STAKES: [u64; 4] = [4, 2, 2, 1];

fn image(number: u32) -> Digest {
    Digest::sha256(format!("image manifest {number}").as_bytes())
}

fn validator_key(index: usize) -> SigningKey {
    SigningKey::from_seed(&[index as u8 + 10; 32])
}

fn chain_id() -> ChainId {
    ChainId::new("vouch-light-test").unwrap()
}

fn genesis() -> Genesis {
    let validators = STAKES
        .iter()
        .enumerate()
        .map(|(index, stake)| GenesisValidator {
            name: format!("validator-{index}"),
            public_key: validator_key(index).public_key(),
            stake: *stake,
        })
        .collect();
    Genesis {
        chain_id: chain_id(),
        genesis_time_unix_ms: 1_700_000_000_000,
        validators,
        attesters: Vec::new(),
        policies: Vec::new(),
        bindings: Vec::new(),
        governance: GovernanceParams::default(),
        consensus: ConsensusParams::default(),
        policy_limits: PolicyLimits::default(),
    }
}

/// A record with one name and one verdict per policy.
fn record(verdicts: &[(&str, Verdict)]) -> ImageRecord {
    let policies: Vec<String> = verdicts.iter().map(|(policy, _)| (*policy).to_owned()).collect();
    let names = vec![NameBinding { name: "ghcr.io/acme/api".to_owned(), scope: "*".to_owned(), policies }];
    let verdicts = verdicts
        .iter()
        .map(|(policy, verdict)| VerdictRecord {
            policy: (*policy).to_owned(),
            policy_version: 1,
            code_hash: [5; 32],
            verdict: *verdict,
            reasons: vec![format!("{policy} decided")],
            expires_at_ms: None,
            height: Height(STATE_HEIGHT),
            time_unix_ms: 1_700_000_001_000,
            attestations: vec![[6; 32]],
        })
        .collect();
    ImageRecord { names, verdicts }
}

/// A real state tree at [`STATE_HEIGHT`] with images 0 to 39 present (image 0
/// approved, image 1 quarantined, image 2 pending, the rest approved) and other
/// namespaces filled, so proofs have siblings.
struct Fixture {
    tree: MemoryTree,
    root: StateRoot,
}

impl Fixture {
    fn new() -> Fixture {
        let mut tree = MemoryTree::new();
        let mut genesis_changes = StateChanges::new();
        genesis_changes.set(&StateKey::Parameter { name: "light-test".to_owned() }, b"genesis".to_vec()).unwrap();
        let (_, writes) = AuthenticatedState::new(&tree).apply(Height(0), &genesis_changes).unwrap();
        tree.write(&writes);

        let mut changes = StateChanges::new();
        for number in 0..40 {
            let image_record = match number {
                1 => record(&[("vulnerability-threshold", Verdict::Quarantined)]),
                2 => ImageRecord { verdicts: Vec::new(), ..record(&[("sbom-required", Verdict::Approved)]) },
                _ => record(&[("vulnerability-threshold", Verdict::Approved), ("sbom-required", Verdict::Approved)]),
            };
            changes.set(&StateKey::Verdict { image: image(number) }, encoding::encode(&image_record)).unwrap();
            let attestation = StateKey::Attestation { image: image(number), envelope_hash: [number as u8; 32] };
            changes.set(&attestation, format!("attestation {number}").into_bytes()).unwrap();
        }
        let (root, writes) = AuthenticatedState::new(&tree).apply(Height(STATE_HEIGHT), &changes).unwrap();
        tree.write(&writes);
        Fixture { tree, root }
    }

    fn header(&self) -> Header {
        Header {
            chain_id: chain_id(),
            height: Height(STATE_HEIGHT + 1),
            time_unix_ms: 1_700_000_002_000,
            previous_block_hash: Some(BlockHash([3; 32])),
            txs_root: [4; 32],
            app_hash: self.root,
            validators_hash: [7; 32],
            next_validators_hash: [7; 32],
            proposer: validator_key(0).public_key(),
        }
    }

    /// Builds the proof for `number` signed by the validators at `signers`.
    fn proof_signed_by(&self, number: u32, signers: &[usize]) -> ImageProof {
        let (value, state_proof) = AuthenticatedState::new(&self.tree)
            .prove(&StateKey::Verdict { image: image(number) }, Height(STATE_HEIGHT))
            .unwrap();
        let header = self.header();
        ImageProof {
            height: STATE_HEIGHT,
            record: value.map(|bytes| STANDARD.encode(bytes)),
            state_proof: STANDARD.encode(state_proof.to_bytes()),
            header: STANDARD.encode(header.to_bytes()),
            commit: STANDARD.encode(commit(&header, signers, validator_key).to_bytes()),
        }
    }

    /// Builds the proof for `number` signed by validators 0 and 1 and 3 (7 of 9).
    fn proof(&self, number: u32) -> ImageProof {
        self.proof_signed_by(number, &[0, 1, 3])
    }
}

fn commit(header: &Header, signers: &[usize], key_of: impl Fn(usize) -> SigningKey) -> Commit {
    let precommit = Precommit { height: header.height, round: 0, block_hash: header.hash() };
    let signatures = signers
        .iter()
        .map(|index| CommitSignature {
            validator_index: *index as u32,
            signature: precommit.sign(&key_of(*index), &header.chain_id),
        })
        .collect();
    Commit { height: header.height, round: 0, block_hash: header.hash(), signatures }
}

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
        let result = verify_image_proof(&genesis(), &image(number), &proof);
        assert!(result.is_err(), "flipping bit {bit} of the {field} was not detected");
    }
}

#[test]
fn approved_record_verifies() {
    let fixture = Fixture::new();
    let verified = verify_image_proof(&genesis(), &image(0), &fixture.proof(0)).unwrap();
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
    let quarantined = verify_image_proof(&genesis(), &image(1), &fixture.proof(1)).unwrap();
    assert_eq!(quarantined.status(None), ImageStatus::Quarantined);
    let pending = verify_image_proof(&genesis(), &image(2), &fixture.proof(2)).unwrap();
    assert_eq!(pending.status(None), ImageStatus::Pending);
}

#[test]
fn absent_image_verifies_as_pending() {
    let fixture = Fixture::new();
    let proof = fixture.proof(1000);
    assert_eq!(proof.record, None);
    let verified = verify_image_proof(&genesis(), &image(1000), &proof).unwrap();
    assert_eq!(verified.record, None);
    assert_eq!(verified.status(None), ImageStatus::Pending);
}

#[test]
fn forged_absence_of_present_image_fails() {
    let fixture = Fixture::new();

    // The node drops the record of a present image and keeps its inclusion proof.
    let mut dropped = fixture.proof(1);
    dropped.record = None;
    let error = verify_image_proof(&genesis(), &image(1), &dropped).unwrap_err();
    assert!(matches!(error, LightError::AbsenceNotProven(_)), "{error}");

    // The node answers with the absence proof of another, absent image.
    let mut borrowed = fixture.proof(1);
    let absent = fixture.proof(1000);
    borrowed.record = None;
    borrowed.state_proof = absent.state_proof;
    let error = verify_image_proof(&genesis(), &image(1), &borrowed).unwrap_err();
    assert!(matches!(error, LightError::AbsenceNotProven(_)), "{error}");
}

#[test]
fn record_of_other_image_fails() {
    let fixture = Fixture::new();
    let error = verify_image_proof(&genesis(), &image(1), &fixture.proof(0)).unwrap_err();
    assert!(matches!(error, LightError::RecordNotProven(_)), "{error}");
}

#[test]
fn approved_record_swapped_in_fails() {
    let fixture = Fixture::new();
    let mut proof = fixture.proof(1);
    proof.record = fixture.proof(0).record;
    let error = verify_image_proof(&genesis(), &image(1), &proof).unwrap_err();
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
    let error = verify_image_proof(&genesis(), &image(0), &proof).unwrap_err();
    assert!(matches!(error, LightError::InvalidSignature { index: 1, .. }), "{error}");
}

#[test]
fn exactly_two_thirds_stake_fails() {
    let fixture = Fixture::new();
    let error = verify_image_proof(&genesis(), &image(0), &fixture.proof_signed_by(0, &[0, 1])).unwrap_err();
    assert!(matches!(error, LightError::InsufficientStake { signed: 6, total: 9 }), "{error}");
    let error = verify_image_proof(&genesis(), &image(0), &fixture.proof_signed_by(0, &[1, 2, 3])).unwrap_err();
    assert!(matches!(error, LightError::InsufficientStake { signed: 5, total: 9 }), "{error}");
}

#[test]
fn just_over_two_thirds_stake_passes() {
    let fixture = Fixture::new();
    assert!(verify_image_proof(&genesis(), &image(0), &fixture.proof_signed_by(0, &[0, 1, 3])).is_ok());
    assert!(verify_image_proof(&genesis(), &image(0), &fixture.proof_signed_by(0, &[0, 2, 3])).is_ok());
}

#[test]
fn wrong_chain_id_fails() {
    let fixture = Fixture::new();
    let mut other = genesis();
    other.chain_id = ChainId::new("another-chain").unwrap();
    let error = verify_image_proof(&other, &image(0), &fixture.proof(0)).unwrap_err();
    assert!(matches!(error, LightError::WrongChain { .. }), "{error}");
}

#[test]
fn wrong_state_height_fails() {
    let fixture = Fixture::new();
    let mut proof = fixture.proof(0);
    proof.height = STATE_HEIGHT + 1;
    let error = verify_image_proof(&genesis(), &image(0), &proof).unwrap_err();
    assert!(matches!(error, LightError::WrongHeaderHeight { .. }), "{error}");
}

#[test]
fn genesis_with_other_validators_fails() {
    let fixture = Fixture::new();
    let mut other = genesis();
    other.validators.swap(0, 1);
    let error = verify_image_proof(&other, &image(0), &fixture.proof(0)).unwrap_err();
    assert!(matches!(error, LightError::InvalidSignature { .. }), "{error}");
}
