//! Light-client verification of an image status proof, against the raw cost of one
//! ed25519 signature check.
//!
//! The proof is built the way the node builds it: a state tree (`AuthenticatedState`
//! over a `MemoryTree`) holding 10,000 image records, the proof of one of them, a
//! header over the root and a commit. `verify_image_proof_from_genesis` decodes the
//! header, commit, state proof and record, checks the header against the genesis set,
//! checks every commit signature, sums voting power and checks the state proof. The reference is one precommit signature check (`verify_strict`),
//! which the light client runs once per commit signature, so the ratio shows what the
//! rest of the verification costs on top of the signatures.
//!
//! Run with `cargo bench -p vouch-cli --bench light`. Besides criterion's report the
//! bench prints medians from one interleaved run and their ratios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use vouch_node::state::{AuthenticatedState, MemoryTree, StateChanges};
use vouch_protocol::api::ImageProof;
use vouch_protocol::chain::{BlockHash, Commit, CommitSignature, Header, Height, Precommit};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{Genesis, GenesisValidator, ImageRecord, NameBinding, Verdict, VerdictRecord};
use vouch_protocol::light::{TrustOptions, ValidatorSet, verify_image_proof_from_genesis};
use vouch_protocol::signing::ChainId;
use vouch_protocol::state::{StateKey, StateRoot};

/// Image records in the state tree.
const IMAGES: u32 = 10_000;
/// The verifier's clock: one minute after the genesis.
const NOW_UNIX_MS: u64 = 1_700_000_060_000;
/// Samples of the interleaved run under `cargo bench`.
const SAMPLES: usize = 2_000;

/// Returns whether the binary runs as a benchmark rather than as a smoke test, which
/// `cargo test --all-targets` runs without `--bench`.
fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

fn image(number: u32) -> Digest {
    Digest::sha256(format!("image manifest {number}").as_bytes())
}

fn key(index: usize) -> SigningKey {
    SigningKey::from_seed(&[index as u8 + 1; 32])
}

fn record(number: u32) -> ImageRecord {
    let policy = "vulnerability-threshold".to_owned();
    ImageRecord {
        names: vec![NameBinding {
            name: format!("ghcr.io/acme/app-{number}"),
            scope: "*".into(),
            policies: vec![policy.clone()],
        }],
        verdicts: vec![VerdictRecord {
            policy,
            policy_version: 1,
            code_hash: [5; 32],
            verdict: Verdict::Approved,
            reasons: vec!["no finding above medium".to_owned()],
            expires_at_ms: None,
            height: Height(1),
            time_unix_ms: 1_700_000_001_000,
            attestations: vec![[6; 32], [7; 32]],
        }],
    }
}

fn genesis(validators: usize) -> Genesis {
    let validators = (0..validators)
        .map(|index| GenesisValidator { name: format!("v{index}"), public_key: key(index).public_key(), stake: 1 })
        .collect();
    Genesis::with_validators(ChainId::new("vouch-bench").unwrap(), 1_700_000_000_000, validators)
}

/// Builds the state tree and returns its root and the tree.
fn state() -> (StateRoot, MemoryTree) {
    let mut tree = MemoryTree::new();
    let mut genesis_changes = StateChanges::new();
    genesis_changes.set(&StateKey::Parameter { name: "bench".to_owned() }, b"genesis".to_vec()).unwrap();
    let (_, writes) = AuthenticatedState::new(&tree).apply(Height(0), &genesis_changes).unwrap();
    tree.write(&writes);
    let mut changes = StateChanges::new();
    for number in 0..IMAGES {
        changes.set(&StateKey::Verdict { image: image(number) }, encoding::encode(&record(number))).unwrap();
    }
    let (root, writes) = AuthenticatedState::new(&tree).apply(Height(1), &changes).unwrap();
    tree.write(&writes);
    (root, tree)
}

/// Builds the proof of image 7 with a commit signed by every one of `validators`.
fn proof(root: StateRoot, tree: &MemoryTree, validators: usize) -> ImageProof {
    let (value, state_proof) =
        AuthenticatedState::new(tree).prove(&StateKey::Verdict { image: image(7) }, Height(1)).unwrap();
    let validators_hash = ValidatorSet::from_genesis(&genesis(validators)).unwrap().hash();
    let header = Header {
        chain_id: ChainId::new("vouch-bench").unwrap(),
        height: Height(2),
        time_unix_ms: 1_700_000_002_000,
        previous_block_hash: Some(BlockHash([3; 32])),
        txs_root: [4; 32],
        app_hash: root,
        validators_hash,
        next_validators_hash: validators_hash,
        proposer: key(0).public_key(),
    };
    let time_unix_ms = header.time_unix_ms + 1;
    let precommit = Precommit { height: header.height, round: 0, block_hash: Some(header.hash()), time_unix_ms };
    let signatures = (0..validators)
        .map(|index| CommitSignature {
            validator_index: index as u32,
            time_unix_ms,
            signature: precommit.sign(&key(index), &header.chain_id),
        })
        .collect();
    let commit = Commit { height: header.height, round: 0, block_hash: header.hash(), signatures };
    ImageProof {
        height: 1,
        record: value.map(|bytes| STANDARD.encode(bytes)),
        state_proof: STANDARD.encode(state_proof.to_bytes()),
        header: STANDARD.encode(header.to_bytes()),
        commit: STANDARD.encode(commit.to_bytes()),
    }
}

/// Verifies `proof` from `genesis` with the default trust options.
fn verify(genesis: &Genesis, digest: &Digest, proof: &ImageProof) -> vouch_protocol::light::VerifiedImage {
    verify_image_proof_from_genesis(genesis, digest, proof, TrustOptions::default(), NOW_UNIX_MS).unwrap()
}

fn time(run: impl Fn()) -> Duration {
    let start = Instant::now();
    run();
    start.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn bench(criterion: &mut Criterion) {
    let (root, tree) = state();
    let one = (genesis(1), proof(root, &tree, 1));
    let four = (genesis(4), proof(root, &tree, 4));
    let digest = image(7);

    let chain_id = ChainId::new("vouch-bench").unwrap();
    let precommit = Precommit { height: Height(2), round: 0, block_hash: Some(BlockHash([9; 32])), time_unix_ms: 1 };
    let signature = precommit.sign(&key(0), &chain_id);
    let public_key = key(0).public_key();
    let reference = || precommit.verify(black_box(&public_key), &chain_id, black_box(&signature)).unwrap();
    let verify_one = || {
        black_box(verify(&one.0, &digest, black_box(&one.1)));
    };
    let verify_four = || {
        black_box(verify(&four.0, &digest, black_box(&four.1)));
    };

    criterion.bench_function("ed25519 precommit verify (reference)", |bencher| bencher.iter(reference));
    criterion.bench_function("verify_image_proof, 1 validator", |bencher| bencher.iter(verify_one));
    criterion.bench_function("verify_image_proof, 4 validators", |bencher| bencher.iter(verify_four));

    let samples = if measuring() { SAMPLES } else { 3 };
    let (mut reference_times, mut one_times, mut four_times) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..samples {
        reference_times.push(time(reference));
        one_times.push(time(verify_one));
        four_times.push(time(verify_four));
    }
    let (reference, one, four) = (median(reference_times), median(one_times), median(four_times));
    println!("interleaved medians over {samples} samples, state of {IMAGES} image records:");
    println!("  ed25519 precommit verify (reference): {reference:?}");
    let ratio = |value: Duration| value.as_secs_f64() / reference.as_secs_f64();
    println!("  verify_image_proof, 1 validator:  {one:?} ({:.2}x the reference)", ratio(one));
    println!("  verify_image_proof, 4 validators: {four:?} ({:.2}x the reference)", ratio(four));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
