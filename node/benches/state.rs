//! State updates and proofs over the sled ledger store, against plain sled.
//!
//! "block" applies 5,000 attestation-index inserts to the state tree (`apply`), then
//! commits the block with its 5,000 transactions, index entries, tree nodes and root in
//! one sled batch and one flush (`commit_block`). The reference ("plain sled") writes
//! the same 5,000 keys and values in one sled batch and one flush, with no tree, block
//! or transactions. Proof generation reads a proof from the store; its reference is a
//! plain sled `get` of the same value. Proof verification is compared with checking one
//! precommit signature (ed25519 `verify_strict`), which a light client also runs for
//! each signature of a commit.
//!
//! Run with `cargo bench -p vouch-node --bench state`. Besides criterion's report the
//! bench prints medians from one interleaved run and their ratios. The chain must
//! sustain 5,000 attestations per second, so one block has to take well under a second.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use vouch_node::state::{AuthenticatedState, StateChanges};
use vouch_node::store::{LedgerStore, SledBackend};
use vouch_node::synthetic::SyntheticChain;
use vouch_protocol::chain::{BlockHash, Precommit, Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::state::{StateKey, verify_inclusion};

/// Attestation-index inserts per block.
const BLOCK_INSERTS: u64 = 5_000;

/// Blocks committed before measuring under `cargo bench`, so the tree holds 50,000 keys.
const PRELOADED_BLOCKS: u64 = 10;

/// Returns whether the binary runs as a benchmark rather than as a smoke test, which
/// `cargo test --all-targets` runs without `--bench`.
fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// One block's inputs: its transactions, state changes and index entries.
struct BlockInput {
    txs: Vec<Transaction>,
    changes: StateChanges,
    attestations: Vec<(Digest, TxHash)>,
    plain: Vec<(Vec<u8>, Vec<u8>)>,
}

fn attestation_key(height: u64, index: u64) -> StateKey {
    let image = Digest::sha256(format!("image {height}/{index}").as_bytes());
    StateKey::Attestation { image, envelope_hash: *blake3::hash(&index.to_le_bytes()).as_bytes() }
}

/// Builds the inputs of the block at `height`: one transaction and one insert per
/// attestation, with a record of about 150 bytes.
fn block_input(height: u64) -> BlockInput {
    let mut input =
        BlockInput { txs: Vec::new(), changes: StateChanges::new(), attestations: Vec::new(), plain: Vec::new() };
    for index in 0..BLOCK_INSERTS {
        let key = attestation_key(height, index);
        let record = format!(
            "{{\"attester\":\"scanner-{index}\",\"predicate\":\"vuln\",\"height\":{height},\"index\":{index}}}"
        )
        .repeat(2)
        .into_bytes();
        let tx = Transaction::new(encoding::encode(&(height, index, &record)));
        let StateKey::Attestation { image, .. } = &key else { unreachable!("the key is an attestation key") };
        input.attestations.push((image.clone(), tx.hash()));
        input.plain.push((key.to_bytes().unwrap(), record.clone()));
        input.changes.set(&key, record).unwrap();
        input.txs.push(tx);
    }
    input
}

struct Fixture {
    _directory: tempfile::TempDir,
    store: LedgerStore<SledBackend>,
    plain: sled::Db,
    _plain_directory: tempfile::TempDir,
    chain: SyntheticChain,
}

fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap()).unwrap();
    let chain = SyntheticChain::new(1);
    chain.init(&store).unwrap();
    let plain_directory = tempfile::tempdir().unwrap();
    let plain = sled::open(plain_directory.path()).unwrap();
    let fixture = Fixture { _directory: directory, store, plain, _plain_directory: plain_directory, chain };
    let preloaded = if measuring() { PRELOADED_BLOCKS } else { 1 };
    for _ in 0..preloaded {
        let input = next_input(&fixture);
        commit_block(&fixture, input);
    }
    fixture
}

fn next_input(fixture: &Fixture) -> BlockInput {
    block_input(fixture.store.latest_height().unwrap().0 + 1)
}

/// Applies the changes and commits the block; returns the time of each step.
fn commit_block(fixture: &Fixture, input: BlockInput) -> (Duration, Duration) {
    let start = Instant::now();
    let write = fixture.chain.block_write(&fixture.store, input.txs, &input.changes, input.attestations).unwrap();
    let applied = start.elapsed();
    fixture.store.commit_block(write).unwrap();
    (applied, start.elapsed() - applied)
}

fn plain_batch(fixture: &Fixture, input: BlockInput) -> Duration {
    let start = Instant::now();
    let mut batch = sled::Batch::default();
    for (key, value) in input.plain {
        batch.insert(key, value);
    }
    fixture.plain.apply_batch(batch).unwrap();
    fixture.plain.flush().unwrap();
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let fixture = fixture();
    let mut group = c.benchmark_group("state");
    group.sample_size(10);
    group.bench_function("block_5000_inserts_apply_and_commit", |b| {
        b.iter_batched(|| next_input(&fixture), |input| commit_block(&fixture, input), BatchSize::PerIteration)
    });
    group.bench_function("plain_sled_batch_5000", |b| {
        b.iter_batched(|| next_input(&fixture), |input| plain_batch(&fixture, input), BatchSize::PerIteration)
    });
    group.finish();

    let height = fixture.store.latest_height().unwrap();
    let key = attestation_key(height.0, 17);
    let state = AuthenticatedState::new(&fixture.store);
    let (value, proof) = state.prove(&key, height).unwrap();
    let (value, root) = (value.unwrap(), fixture.store.state_root(height).unwrap().unwrap());
    c.bench_function("prove", |b| b.iter(|| black_box(state.prove(black_box(&key), height).unwrap())));
    c.bench_function("verify_inclusion", |b| {
        b.iter(|| verify_inclusion(&root, black_box(&key), &value, &proof).unwrap())
    });

    // The interleaved measurement is only worth its time under `cargo bench`.
    if measuring() {
        print_block_figures(&fixture);
        print_proof_figures(&fixture);
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Interleaves block commits and plain batches so machine load affects them alike.
fn print_block_figures(fixture: &Fixture) {
    const RUNS: usize = 9;
    let (mut apply, mut commit, mut total, mut plain) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (applied, committed) = commit_block(fixture, next_input(fixture));
        apply.push(applied);
        commit.push(committed);
        total.push(applied + committed);
        plain.push(plain_batch(fixture, next_input(fixture)));
    }
    let (apply, commit, total, plain) = (median(apply), median(commit), median(total), median(plain));
    let keys = PRELOADED_BLOCKS * BLOCK_INSERTS + BLOCK_INSERTS * RUNS as u64;
    println!(
        "state block of {BLOCK_INSERTS} inserts (tree of up to {keys} keys): apply {:.1} ms + commit {:.1} ms = {:.1} ms, {:.0} updates/s; plain sled batch {:.1} ms; ratio {:.2}",
        milliseconds(apply),
        milliseconds(commit),
        milliseconds(total),
        BLOCK_INSERTS as f64 / total.as_secs_f64(),
        milliseconds(plain),
        total.as_secs_f64() / plain.as_secs_f64(),
    );
}

/// Interleaves proof generation, plain reads, verification and signature checks.
fn print_proof_figures(fixture: &Fixture) {
    const RUNS: usize = 21;
    const KEYS: u64 = 200;
    let height = fixture.store.latest_height().unwrap();
    let root = fixture.store.state_root(height).unwrap().unwrap();
    let state = AuthenticatedState::new(&fixture.store);
    let keys: Vec<StateKey> = (0..KEYS).map(|index| attestation_key(height.0, index * 23)).collect();
    let encoded: Vec<Vec<u8>> = keys.iter().map(|key| key.to_bytes().unwrap()).collect();
    let proofs: Vec<_> = keys.iter().map(|key| state.prove(key, height).unwrap()).collect();
    let signer = SigningKey::from_seed(&[3; 32]);
    let precommit = Precommit { height, round: 0, block_hash: Some(BlockHash([5; 32])), time_unix_ms: 1 };
    let chain_id = fixture.chain.chain_id();
    let signature = precommit.sign(&signer, chain_id);

    let (mut prove, mut get, mut verify, mut ed25519) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        prove.push(per_call(KEYS, || keys.iter().for_each(|key| drop(black_box(state.prove(key, height).unwrap())))));
        get.push(per_call(KEYS, || encoded.iter().for_each(|key| drop(black_box(fixture.plain.get(key).unwrap())))));
        verify.push(per_call(KEYS, || {
            for (key, (value, proof)) in keys.iter().zip(&proofs) {
                verify_inclusion(&root, key, value.as_ref().unwrap(), proof).unwrap();
            }
        }));
        ed25519.push(per_call(KEYS, || {
            (0..KEYS).for_each(|_| black_box(&precommit).verify(&signer.public_key(), chain_id, &signature).unwrap())
        }));
    }
    let (prove, get, verify, ed25519) = (median(prove), median(get), median(verify), median(ed25519));
    let siblings = proofs.iter().map(|(_, proof)| proof.sibling_count()).max().unwrap_or(0);
    println!(
        "state proof at height {height}: prove {:.1} us (plain sled get {:.1} us, ratio {:.1}); verify {:.1} us (precommit signature check {:.1} us, ratio {:.2}); deepest proof {siblings} siblings",
        prove.as_secs_f64() * 1e6,
        get.as_secs_f64() * 1e6,
        prove.as_secs_f64() / get.as_secs_f64(),
        verify.as_secs_f64() * 1e6,
        ed25519.as_secs_f64() * 1e6,
        verify.as_secs_f64() / ed25519.as_secs_f64(),
    );
}

/// Returns the mean time of one of `count` operations that `batch` performs.
fn per_call(count: u64, batch: impl FnOnce()) -> Duration {
    let start = Instant::now();
    batch();
    start.elapsed() / count as u32
}

criterion_group!(benches, bench);
criterion_main!(benches);
