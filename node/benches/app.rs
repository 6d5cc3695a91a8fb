//! Throughput of `App::apply_block` on blocks of distinct-image Trivy attestations,
//! against the raw single-core ed25519 `verify_strict` rate measured in the same run.
//!
//! Each measured block is built and applied first by a producer app on its own store,
//! so the measured app starts every block with cold caches. It parses and
//! signature-checks every envelope, evaluates the standard vulnerability policy for
//! every image and commits to sled with one batch and one flush, as a validator does
//! for a block that another node proposed.
//!
//! `VOUCH_BENCH_BLOCK_TXS` sets the attestations per block (default 2,000, fewer when
//! the block would exceed `BLOCK_BYTES_MAX`);
//! `VOUCH_CORPUS` makes every attestation carry the corpus report
//! `trivy/trivy-legacy-array-many-vulns.json` (93 findings) instead of a built one.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use vouch_node::app::App;
use vouch_node::policy::{RuntimeConfig, standard};
use vouch_node::store::{Backend, LedgerStore, MemoryBackend, SledBackend};
use vouch_protocol::chain::{BLOCK_BYTES_MAX, Block, Commit, CommitSignature, Precommit, Transaction};
use vouch_protocol::digest::Digest;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::PAYLOAD_TYPE;
use vouch_protocol::keys::{KeyId, SigningKey};
use vouch_protocol::ledger::{
    Genesis, GenesisAttester, GenesisBinding, GenesisBoundPolicy, GenesisPolicy, GenesisValidator, LedgerTx,
    PolicyCodeSource,
};
use vouch_protocol::signing::{self, ChainId, SignKind};

const DEFAULT_BLOCK_TXS: usize = 2_000;

fn validator() -> SigningKey {
    SigningKey::from_seed(&[1; 32])
}

fn scanner() -> SigningKey {
    SigningKey::from_seed(&[100; 32])
}

fn genesis() -> Genesis {
    let policy = standard::VULNERABILITY_THRESHOLD;
    Genesis {
        chain_id: ChainId::new("vouch-bench").unwrap(),
        genesis_time_unix_ms: 1_750_000_000_000,
        validators: vec![GenesisValidator { name: "v".into(), public_key: validator().public_key(), stake: 1 }],
        attesters: vec![GenesisAttester {
            name: "trivy".into(),
            role: "scanner".into(),
            public_key: scanner().public_key(),
        }],
        policies: vec![GenesisPolicy {
            name: policy.name.into(),
            code: PolicyCodeSource::Standard(policy.name.into()),
            code_hash: blake3::hash(policy.wasm).to_hex().to_string(),
        }],
        bindings: vec![GenesisBinding {
            scope: "*".into(),
            policies: vec![GenesisBoundPolicy { policy: policy.name.into(), parameters: Value::Null }],
        }],
        governance: Default::default(),
        consensus: Default::default(),
        policy_limits: Default::default(),
        staking: None,
    }
}

/// Returns a Trivy report: the corpus file when `VOUCH_CORPUS` is set, otherwise 40
/// findings of low and medium severity, like a typical base image scan.
fn report() -> Value {
    if let Some(corpus) = std::env::var_os("VOUCH_CORPUS") {
        let path = std::path::Path::new(&corpus).join("trivy/trivy-legacy-array-many-vulns.json");
        let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        return serde_json::from_slice(&bytes).expect("the corpus report is JSON");
    }
    let findings: Vec<Value> = (0..40)
        .map(|index| {
            let severity = if index % 3 == 0 { "MEDIUM" } else { "LOW" };
            json!({"VulnerabilityID": format!("CVE-2024-{index:05}"), "PkgName": format!("pkg-{index}"),
                   "InstalledVersion": "1.0.0-r0", "FixedVersion": "1.0.1-r0", "Severity": severity,
                   "Title": "a finding", "PrimaryURL": format!("https://avd.aquasec.com/nvd/cve-2024-{index:05}")})
        })
        .collect();
    json!({"SchemaVersion": 2, "ArtifactName": "bench", "ArtifactType": "container_image",
           "Results": [{"Target": "bench (alpine 3.19)", "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": findings}]})
}

fn attestation(report: &Value, sequence: u64) -> Transaction {
    let image = Digest::sha256(&sequence.to_le_bytes());
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("registry.example.com/bench/app-{}:1", sequence % 50), "digest": {"sha256": image.hex()}}],
        "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1",
        "predicate": {"invocation": {}, "scanner": {"uri": "https://github.com/aquasecurity/trivy", "version": "0.50.0", "result": report},
                      "metadata": {"scanStartedOn": "2025-06-01T00:00:00Z", "scanFinishedOn": "2025-06-01T00:00:00Z"}},
    });
    let key = scanner();
    let keyid = KeyId::of(&key.public_key());
    let envelope = Envelope::sign(PAYLOAD_TYPE, serde_json::to_vec(&statement).unwrap(), &[(&keyid, &key)]).unwrap();
    LedgerTx::Attest { envelope: envelope.to_json().into_bytes() }.to_transaction()
}

fn commit_of(block: &Block, chain_id: &ChainId) -> Commit {
    let time_unix_ms = block.header.time_unix_ms + 1;
    let block_hash = block.header.hash();
    let precommit = Precommit { height: block.header.height, round: 0, block_hash: Some(block_hash), time_unix_ms };
    let signature = precommit.sign(&validator(), chain_id);
    Commit {
        height: block.header.height,
        round: 0,
        block_hash,
        signatures: vec![CommitSignature { validator_index: 0, time_unix_ms, signature }],
    }
}

fn open<B: Backend>(backend: B) -> App<B> {
    App::open(LedgerStore::open(backend).unwrap(), &genesis(), RuntimeConfig::default()).unwrap()
}

/// Builds the producer's next block of `count` attestations and applies it there.
fn next_block(producer: &App<MemoryBackend>, report: &Value, sequence: &mut u64, count: usize) -> (Block, Commit) {
    let txs: Vec<Transaction> = (0..count)
        .map(|_| {
            *sequence += 1;
            attestation(report, *sequence)
        })
        .collect();
    let time = producer.tip().time_unix_ms + 1000;
    let block = producer.propose_block(txs, time, &validator().public_key()).unwrap();
    assert_eq!(block.txs.len(), count, "every attestation passes the producer's checks");
    let commit = commit_of(&block, producer.chain_id());
    producer.apply_block(&block, &commit).unwrap();
    (block, commit)
}

/// Measures single-core strict ed25519 verifications per second.
fn verify_rate() -> f64 {
    let key = scanner();
    let chain_id = ChainId::new("vouch-bench").unwrap();
    let signature = signing::sign(&key, &chain_id, SignKind::Transaction, &[7u8; 256]);
    let message = signing::signing_bytes(&chain_id, SignKind::Transaction, &[7u8; 256]);
    let public = key.public_key();
    let rounds = 2_000;
    let started = Instant::now();
    for _ in 0..rounds {
        public.verify(std::hint::black_box(&message), &signature).unwrap();
    }
    rounds as f64 / started.elapsed().as_secs_f64()
}

fn apply_blocks(c: &mut Criterion) {
    let count: usize =
        std::env::var("VOUCH_BENCH_BLOCK_TXS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_BLOCK_TXS);
    let report = report();
    // A block is at most BLOCK_BYTES_MAX bytes, which bounds blocks of large reports.
    let tx_bytes = attestation(&report, 0).len() + 8;
    let count = count.min(BLOCK_BYTES_MAX / tx_bytes - 1);
    let dir = tempfile::tempdir().unwrap();
    let measured = open(SledBackend::open(dir.path()).unwrap());
    let producer = open(MemoryBackend::new());
    let mut sequence = 0u64;

    let mut applied = Duration::ZERO;
    let mut attestations = 0usize;
    let mut group = c.benchmark_group("app");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(1));
    group.bench_function(format!("apply_block of {count} Trivy attestations"), |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let (block, commit) = next_block(&producer, &report, &mut sequence, count);
                let started = Instant::now();
                let outcome = measured.apply_block(&block, &commit).unwrap();
                total += started.elapsed();
                assert_eq!(outcome.evaluated.len(), count);
            }
            applied += total;
            attestations += count * iterations as usize;
            total
        })
    });
    group.finish();

    let rate = attestations as f64 / applied.as_secs_f64();
    let verify = verify_rate();
    println!(
        "apply_block: {rate:.0} attestations/s over {attestations} attestations in blocks of {count}; \
         ed25519 verify_strict on one core: {verify:.0}/s; ratio {:.3}",
        rate / verify
    );
}

criterion_group!(benches, apply_blocks);
criterion_main!(benches);
