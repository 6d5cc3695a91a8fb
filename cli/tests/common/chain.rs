//! A real chain state for proof tests: an authenticated state tree with image records,
//! a header over its root and commits signed by four genesis validators.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vouch_node::state::{AuthenticatedState, MemoryTree, StateChanges};
use vouch_protocol::api::{ImageProof, ValidatorView, ValidatorsResponse};
use vouch_protocol::chain::{BlockHash, Commit, CommitSignature, Header, Height, Precommit};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{Genesis, GenesisValidator, ImageRecord, NameBinding, Verdict, VerdictRecord};
use vouch_protocol::light::{LightError, TrustOptions, ValidatorSet, VerifiedImage, verify_image_proof_from_genesis};
use vouch_protocol::signing::ChainId;
use vouch_protocol::state::{StateKey, StateRoot};

/// The state height of every proof here; the header is at the next height.
pub const STATE_HEIGHT: u64 = 1;
/// Stakes of the four genesis validators: 9 in total, so 6 is exactly 2/3.
pub const STAKES: [u64; 4] = [4, 2, 2, 1];
/// Milliseconds in a day.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Returns the genesis time: the start of yesterday (UTC), so the genesis is well inside
/// the light client's trust period when `vouch verify` reads the real clock, and every
/// call within one test returns the same value (except across midnight).
pub fn genesis_time_unix_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    (now / DAY_MS - 1) * DAY_MS
}

/// Returns the current time, Unix milliseconds.
pub fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Verifies `proof` for `image` from `genesis` with the default trust options at the
/// current time, as `vouch verify` does.
pub fn verify(genesis: &Genesis, image: &Digest, proof: &ImageProof) -> Result<VerifiedImage, LightError> {
    verify_image_proof_from_genesis(genesis, image, proof, TrustOptions::default(), now_unix_ms())
}

pub fn image(number: u32) -> Digest {
    Digest::sha256(format!("image manifest {number}").as_bytes())
}

pub fn validator_key(index: usize) -> SigningKey {
    SigningKey::from_seed(&[index as u8 + 10; 32])
}

pub fn chain_id() -> ChainId {
    ChainId::new("vouch-light-test").unwrap()
}

pub fn genesis() -> Genesis {
    let validators = STAKES
        .iter()
        .enumerate()
        .map(|(index, stake)| GenesisValidator {
            name: format!("validator-{index}"),
            public_key: validator_key(index).public_key(),
            stake: *stake,
        })
        .collect();
    Genesis::with_validators(chain_id(), genesis_time_unix_ms(), validators)
}

/// Returns the hash of the genesis validator set, which every fixture header names.
pub fn genesis_validators_hash() -> [u8; 32] {
    ValidatorSet::from_genesis(&genesis()).unwrap().hash()
}

/// Builds the body of `GET /v1/validators` for `validators` as (key, stake) pairs.
pub fn validators_response(validators: &[(SigningKey, u64)]) -> ValidatorsResponse {
    let views = validators
        .iter()
        .enumerate()
        .map(|(index, (key, stake))| ValidatorView {
            name: format!("validator-{index}"),
            public_key: key.public_key().to_hex(),
            stake: *stake,
        })
        .collect();
    ValidatorsResponse { height: STATE_HEIGHT + 1, validators: views }
}

/// Returns the genesis validators as (key, stake) pairs.
pub fn genesis_validators() -> Vec<(SigningKey, u64)> {
    STAKES.iter().enumerate().map(|(index, stake)| (validator_key(index), *stake)).collect()
}

/// A record with one name and one verdict per policy.
pub fn record(verdicts: &[(&str, Verdict)]) -> ImageRecord {
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
pub struct Fixture {
    pub tree: MemoryTree,
    pub root: StateRoot,
}

impl Fixture {
    pub fn new() -> Fixture {
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

    pub fn header(&self) -> Header {
        Header {
            chain_id: chain_id(),
            height: Height(STATE_HEIGHT + 1),
            time_unix_ms: genesis_time_unix_ms() + 2_000,
            previous_block_hash: Some(BlockHash([3; 32])),
            txs_root: [4; 32],
            app_hash: self.root,
            validators_hash: genesis_validators_hash(),
            next_validators_hash: genesis_validators_hash(),
            proposer: validator_key(0).public_key(),
        }
    }

    /// Builds the proof for `number` signed by the validators at `signers`.
    pub fn proof_signed_by(&self, number: u32, signers: &[usize]) -> ImageProof {
        let header = self.header();
        let commit = commit(&header, signers, validator_key);
        self.proof_with(number, &header, &commit)
    }

    /// Builds the proof for `number` with `header` and `commit` in place of the
    /// fixture's.
    pub fn proof_with(&self, number: u32, header: &Header, commit: &Commit) -> ImageProof {
        let (value, state_proof) = AuthenticatedState::new(&self.tree)
            .prove(&StateKey::Verdict { image: image(number) }, Height(STATE_HEIGHT))
            .unwrap();
        ImageProof {
            height: STATE_HEIGHT,
            record: value.map(|bytes| STANDARD.encode(bytes)),
            state_proof: STANDARD.encode(state_proof.to_bytes()),
            header: STANDARD.encode(header.to_bytes()),
            commit: STANDARD.encode(commit.to_bytes()),
        }
    }

    /// Builds the proof for `number` signed by validators 0 and 1 and 3 (7 of 9).
    pub fn proof(&self, number: u32) -> ImageProof {
        self.proof_signed_by(number, &[0, 1, 3])
    }
}

pub fn commit(header: &Header, signers: &[usize], key_of: impl Fn(usize) -> SigningKey) -> Commit {
    let time_unix_ms = header.time_unix_ms + 1;
    let precommit = Precommit { height: header.height, round: 0, block_hash: Some(header.hash()), time_unix_ms };
    let signatures = signers
        .iter()
        .map(|index| CommitSignature {
            validator_index: *index as u32,
            time_unix_ms,
            signature: precommit.sign(&key_of(*index), &header.chain_id),
        })
        .collect();
    Commit { height: header.height, round: 0, block_hash: header.hash(), signatures }
}
