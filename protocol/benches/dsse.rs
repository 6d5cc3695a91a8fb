//! DSSE envelope verification against a raw ed25519 `verify_strict` of the same size.
//!
//! "DSSE verify" is [`Envelope::verify`] on an already parsed envelope: the limit
//! checks, building the pre-authentication encoding (one copy of the payload), the key
//! id lookup and one strict verification. Base64 decoding and JSON parsing happen once
//! at parse time and are measured separately ("parse and verify"). The reference is
//! `VerifyingKey::verify_strict` over the bare payload, signed directly.
//!
//! Run with `cargo bench -p vouch-protocol --bench dsse`. Besides criterion's report the
//! bench prints, per payload size, both medians from one interleaved run and their
//! ratio; the target is at most 1.2.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::{PAYLOAD_TYPE, Statement, Subject};
use vouch_protocol::{Digest, KeyId, PublicKey, SigningKey};

const SIZES: [usize; 2] = [4 * 1024, 64 * 1024];
const RATIO_TARGET: f64 = 1.2;

struct Fixture {
    envelope: Envelope,
    json: String,
    trusted: Vec<(KeyId, PublicKey)>,
    raw_key: ed25519_dalek::VerifyingKey,
    raw_signature: ed25519_dalek::Signature,
}

/// Builds an in-toto statement whose JSON is `size` bytes, padded with predicate entries.
fn statement_payload(size: usize) -> Vec<u8> {
    let subject = Subject {
        name: "registry.example/team/app".to_owned(),
        digest: [("sha256".to_owned(), Digest::sha256(b"manifest").hex().to_owned())].into_iter().collect(),
    };
    let mut findings = Vec::new();
    loop {
        let predicate = serde_json::json!({ "scanner": {"uri": "https://example.com/scanner", "result": findings} });
        let statement =
            Statement::new(vec![subject.clone()], "https://cosign.sigstore.dev/attestation/vuln/v1", predicate)
                .unwrap();
        let bytes = statement.to_json_bytes();
        if bytes.len() >= size {
            return bytes;
        }
        let id = findings.len();
        findings
            .push(serde_json::json!({"id": format!("CVE-2024-{id:05}"), "severity": "HIGH", "package": "libexample"}));
    }
}

fn fixture(size: usize) -> Fixture {
    let seed = [17u8; 32];
    let key = SigningKey::from_seed(&seed);
    let keyid = KeyId::of(&key.public_key());
    let payload = statement_payload(size);

    let raw = ed25519_dalek::SigningKey::from_bytes(&seed);
    let raw_signature = raw.sign(&payload);
    let envelope = Envelope::sign(PAYLOAD_TYPE, payload, &[(&keyid, &key)]).unwrap();
    Fixture {
        json: envelope.to_json(),
        envelope,
        trusted: vec![(keyid, key.public_key())],
        raw_key: raw.verifying_key(),
        raw_signature,
    }
}

fn verify_dsse(fixture: &Fixture) {
    black_box(fixture.envelope.verify(black_box(&fixture.trusted), 1).unwrap());
}

fn verify_raw(fixture: &Fixture) {
    fixture.raw_key.verify_strict(black_box(&fixture.envelope.payload), &fixture.raw_signature).unwrap();
}

fn parse_and_verify(fixture: &Fixture) {
    let envelope = Envelope::from_json("bench.json", black_box(fixture.json.as_bytes())).unwrap();
    black_box(envelope.verify(&fixture.trusted, 1).unwrap());
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("dsse");
    for size in SIZES {
        let fixture = fixture(size);
        group.throughput(Throughput::Bytes(fixture.envelope.payload.len() as u64));
        group.bench_with_input(BenchmarkId::new("dsse_verify", size), &fixture, |b, f| b.iter(|| verify_dsse(f)));
        group.bench_with_input(BenchmarkId::new("raw_verify_strict", size), &fixture, |b, f| b.iter(|| verify_raw(f)));
        group.bench_with_input(BenchmarkId::new("parse_and_verify", size), &fixture, |b, f| {
            b.iter(|| parse_and_verify(f))
        });
    }
    group.finish();

    // `cargo test --all-targets` runs this binary without `--bench` to check that it
    // works; the interleaved measurement is only worth its time under `cargo bench`.
    if std::env::args().any(|arg| arg == "--bench") {
        print_ratios();
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Interleaves batches of both verifications so machine load affects them alike.
fn print_ratios() {
    const RUNS: usize = 41;
    const ITERATIONS: u32 = 200;
    for size in SIZES {
        let fixture = fixture(size);
        let (mut dsse, mut raw, mut parsed) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            dsse.push(time_per_call(ITERATIONS, || verify_dsse(&fixture)));
            raw.push(time_per_call(ITERATIONS, || verify_raw(&fixture)));
            parsed.push(time_per_call(ITERATIONS / 4, || parse_and_verify(&fixture)));
        }
        let (dsse, raw, parsed) = (median(dsse), median(raw), median(parsed));
        let ratio = dsse.as_secs_f64() / raw.as_secs_f64();
        let verdict = if ratio <= RATIO_TARGET { "within" } else { "OVER" };
        println!(
            "dsse ratio, payload {} bytes: dsse verify {:.1} us, raw verify_strict {:.1} us, ratio {ratio:.3} ({verdict} target {RATIO_TARGET}); parse and verify {:.1} us ({:.3}x raw)",
            fixture.envelope.payload.len(),
            dsse.as_secs_f64() * 1e6,
            raw.as_secs_f64() * 1e6,
            parsed.as_secs_f64() * 1e6,
            parsed.as_secs_f64() / raw.as_secs_f64(),
        );
    }
}

/// Returns the mean time of one call over a batch of `iterations` calls.
fn time_per_call(iterations: u32, mut call: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        call();
    }
    start.elapsed() / iterations
}

criterion_group!(benches, bench);
criterion_main!(benches);
