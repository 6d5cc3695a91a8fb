//! One standard vulnerability-threshold evaluation over 200 findings, against
//! references measured in the same run.
//!
//! - "evaluate": instantiating the compiled policy from the pooling allocator,
//!   copying the encoded input in, the policy's decoding and decision, and decoding
//!   its output: what [`PolicyRuntime::evaluate`] costs per image and policy.
//! - "encode and evaluate": the same plus encoding the input, as the node does
//!   when it evaluates an image for one policy.
//! - "empty module": instantiating and calling a module that only writes a fixed
//!   output, the runtime's floor.
//! - "native": decoding the same input bytes and running the same policy natively.
//!
//! Run with `cargo bench -p vouch-node --bench policy`. Besides criterion's report
//! the bench prints the medians of one interleaved run, the ratio of "encode and
//! evaluate" to the 50 µs target, and the ratios to the references.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vouch_node::policy::abi::{
    Attestation, Attester, Block, Facts, Input, Severity, Vulnerability, VulnerabilityReport,
};
use vouch_node::policy::{CompiledPolicy, EncodedInput, PolicyRuntime, RuntimeConfig, Verdict, standard};

const FINDINGS: usize = 200;
const TARGET: Duration = Duration::from_micros(50);

/// Owned strings that the benchmark input borrows.
struct Strings {
    ids: Vec<String>,
    packages: Vec<String>,
}

fn strings() -> Strings {
    Strings {
        ids: (0..FINDINGS).map(|index| format!("CVE-2024-{:05}", 10_000 + index * 37)).collect(),
        packages: (0..FINDINGS)
            .map(|index| format!("lib{}-{}", ["ssl", "xml2", "curl", "z"][index % 4], index))
            .collect(),
    }
}

/// Builds one Trivy-like report of 200 findings: medium and lower, a third fixed,
/// every one with an alias, so the policy checks each finding and approves.
fn input(strings: &Strings) -> Input<'_> {
    let severities = [Severity::Low, Severity::Medium, Severity::Negligible, Severity::Medium, Severity::Low];
    let vulnerabilities = (0..FINDINGS)
        .map(|index| Vulnerability {
            id: &strings.ids[index],
            aliases: vec!["GHSA-xxxx-yyyy-zzzz"],
            package: Some(&strings.packages[index]),
            installed_version: Some("1.2.3-r0"),
            fixed_version: (index % 3 == 0).then_some("1.2.4-r0"),
            severity: severities[index % severities.len()],
            cvss_tenths: Some(55),
        })
        .collect();
    let report = VulnerabilityReport {
        scanner: "trivy",
        scanner_version: Some("0.58.1"),
        scanned_at_ms: Some(1_733_000_000_000),
        vulnerabilities,
    };
    Input {
        image_digest: "sha256:9b2a28eb47540823042a2ba401386845089bb7b62a9637d55816132c4c3c36eb",
        repositories: vec!["docker.io/library/alpine"],
        block: Block { height: 1_000, time_ms: 1_733_000_100_000 },
        attestations: vec![Attestation {
            id: "5d41402abc4b2a76b9719d911017c592",
            attester: Attester { name: "trivy-ci", key_id: "a1b2c3d4", role: "scanner" },
            predicate_type: "https://cosign.sigstore.dev/attestation/vuln/v1",
            included: Block { height: 999, time_ms: 1_733_000_095_000 },
            facts: Some(Facts::Vulnerabilities(report)),
        }],
        parameters: "",
        storage: vec![],
    }
}

/// Builds a module that writes a fixed approved output and nothing else.
fn empty_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "vouch_v1" "output_write" (func $output_write (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "\00\00\00\00\00\00\00\00\00\00\00\00\00")
            (func (export "vouch_evaluate") (call $output_write (i32.const 16) (i32.const 13))))"#,
    )
    .expect("the module is valid WAT")
}

struct Fixture {
    runtime: PolicyRuntime,
    policy: std::sync::Arc<CompiledPolicy>,
    empty: std::sync::Arc<CompiledPolicy>,
    encoded: EncodedInput,
}

fn fixture(strings: &Strings) -> Fixture {
    let runtime = PolicyRuntime::new(RuntimeConfig::default()).expect("the default configuration is valid");
    let policy = runtime.deploy(standard::VULNERABILITY_THRESHOLD.wasm).expect("the standard policy deploys");
    let empty = runtime.deploy(&empty_module()).expect("the empty module deploys");
    let encoded = EncodedInput::encode(&input(strings));
    let evaluation = runtime.evaluate(&policy, &encoded).expect("no node-local error");
    assert_eq!(evaluation.verdict, Verdict::Approved, "{:?}", evaluation.reasons);
    Fixture { runtime, policy, empty, encoded }
}

fn evaluate(fixture: &Fixture) {
    black_box(fixture.runtime.evaluate(&fixture.policy, black_box(&fixture.encoded)).expect("no node-local error"));
}

fn encode_and_evaluate(fixture: &Fixture, input: &Input<'_>) {
    let encoded = EncodedInput::encode(black_box(input));
    black_box(fixture.runtime.evaluate(&fixture.policy, &encoded).expect("no node-local error"));
}

fn empty(fixture: &Fixture) {
    black_box(fixture.runtime.evaluate(&fixture.empty, black_box(&fixture.encoded)).expect("no node-local error"));
}

fn native(fixture: &Fixture) {
    let input = Input::decode(black_box(fixture.encoded.as_bytes())).expect("the input decodes");
    black_box(vouch_policy_vulnerability_threshold::evaluate(&input));
}

fn bench(c: &mut Criterion) {
    let strings = strings();
    let input = input(&strings);
    let fixture = fixture(&strings);
    let mut group = c.benchmark_group("policy");
    group.bench_function("vulnerability_threshold_200/evaluate", |b| b.iter(|| evaluate(&fixture)));
    group.bench_function("vulnerability_threshold_200/encode_and_evaluate", |b| {
        b.iter(|| encode_and_evaluate(&fixture, &input))
    });
    group.bench_function("empty_module/evaluate", |b| b.iter(|| empty(&fixture)));
    group.bench_function("vulnerability_threshold_200/native", |b| b.iter(|| native(&fixture)));
    group.bench_function("vulnerability_threshold_200/native_decode", |b| {
        b.iter(|| black_box(Input::decode(black_box(fixture.encoded.as_bytes())).expect("the input decodes")))
    });
    group.bench_function("vulnerability_threshold_200/native_policy_only", |b| {
        b.iter(|| black_box(vouch_policy_vulnerability_threshold::evaluate(black_box(&input))))
    });
    group.finish();

    // `cargo test --all-targets` runs this binary without `--bench` to check that it
    // works; the interleaved measurement is only worth its time under `cargo bench`.
    if std::env::args().any(|arg| arg == "--bench") {
        print_ratios(&fixture, &input);
    }
}

/// Interleaves batches of every measurement so machine load affects them alike.
fn print_ratios(fixture: &Fixture, input: &Input<'_>) {
    const RUNS: usize = 41;
    const ITERATIONS: u32 = 200;
    let (mut full, mut evaluated, mut floor, mut local) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        full.push(time_per_call(ITERATIONS, || encode_and_evaluate(fixture, input)));
        evaluated.push(time_per_call(ITERATIONS, || evaluate(fixture)));
        floor.push(time_per_call(ITERATIONS, || empty(fixture)));
        local.push(time_per_call(ITERATIONS, || native(fixture)));
    }
    let (full, evaluated, floor, local) = (median(full), median(evaluated), median(floor), median(local));
    let micros = |duration: Duration| duration.as_secs_f64() * 1e6;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let fuel = fixture.runtime.evaluate(&fixture.policy, &fixture.encoded).expect("no node-local error").fuel_used;
    let status = if full <= TARGET { "within" } else { "OVER" };
    println!(
        "policy: vulnerability threshold over {FINDINGS} findings ({} input bytes, {fuel} fuel): \
         encode and evaluate {:.1} us median, {:.2}x the {} us target ({status}); evaluate {:.1} us; \
         empty module {:.1} us (encode and evaluate is {:.1}x it); native decode and evaluate {:.1} us \
         (encode and evaluate is {:.1}x it)",
        fixture.encoded.as_bytes().len(),
        micros(full),
        ratio(full, TARGET),
        TARGET.as_micros(),
        micros(evaluated),
        micros(floor),
        ratio(full, floor),
        micros(local),
        ratio(full, local),
    );
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
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
