//! Normalizing a Trivy report into facts, against serde_json's plain parse of the
//! same bytes into a `serde_json::Value` as the reference. A second group reads the
//! report as the node does, inside a cosign vuln statement: decoded into a `Value`
//! first, and straight from the payload's raw text.
//!
//! The input is the largest Trivy report in `VOUCH_CORPUS`, or a generated report
//! of `GENERATED_FINDINGS` findings when the variable is not set. Besides
//! criterion's figures, the bench prints both throughputs and their ratio
//! (normalize / Value parse), measured by the same loop in the same run. A third
//! group times the duplicate-key check of the statement both ways.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use vouch_protocol::intoto::{RawStatement, Statement};
use vouch_protocol::{facts, input};

/// Findings in the generated report.
const GENERATED_FINDINGS: usize = 200;

/// Rounds of the ratio measurement; the fastest round of each side counts.
const RATIO_ROUNDS: usize = 15;

/// Parses per round of the ratio measurement.
const RATIO_PARSES_PER_ROUND: usize = 20;

/// Returns the name and bytes of the input report.
fn input() -> (String, Vec<u8>) {
    if let Some(corpus) = std::env::var_os("VOUCH_CORPUS") {
        let folder = PathBuf::from(corpus).join("trivy");
        let largest = std::fs::read_dir(&folder)
            .expect("VOUCH_CORPUS has a trivy folder")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .max_by_key(|path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
            .expect("the trivy folder has a file");
        let bytes = std::fs::read(&largest).expect("corpus file is readable");
        return (largest.display().to_string(), bytes);
    }
    (format!("generated report of {GENERATED_FINDINGS} findings"), generated_report())
}

/// Builds a report shaped like Trivy's output, with the long descriptions and
/// reference lists that real reports carry.
fn generated_report() -> Vec<u8> {
    let severities = ["LOW", "MEDIUM", "HIGH", "CRITICAL", "UNKNOWN"];
    let vulnerabilities: Vec<Value> = (0..GENERATED_FINDINGS)
        .map(|n| {
            json!({
                "VulnerabilityID": format!("CVE-2024-{:05}", n),
                "PkgID": format!("package-{}@1.{}.0", n % 40, n % 7),
                "PkgName": format!("package-{}", n % 40),
                "InstalledVersion": format!("1.{}.0", n % 7),
                "FixedVersion": if n % 3 == 0 { String::new() } else { format!("1.{}.1", n % 7) },
                "Status": "fixed",
                "Layer": {"Digest": format!("sha256:{:064x}", n), "DiffID": format!("sha256:{:064x}", n + 1)},
                "SeveritySource": "nvd",
                "PrimaryURL": format!("https://avd.aquasec.com/nvd/cve-2024-{:05}", n),
                "Title": "buffer overflow in a parser of untrusted input",
                "Description": "A crafted input can make the parser write past the end of a heap buffer, which may let an attacker crash the process or run code. ".repeat(3),
                "Severity": severities[n % severities.len()],
                "CweIDs": ["CWE-787"],
                "VendorSeverity": {"nvd": 3, "redhat": 2, "ubuntu": 2},
                "CVSS": {
                    "nvd": {"V2Vector": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V2Score": 7.5, "V3Score": 9.8},
                    "redhat": {"V3Vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 8.1}
                },
                "References": (0..8).map(|r| format!("https://security.example/advisories/{n}/{r}")).collect::<Vec<_>>(),
                "PublishedDate": "2024-01-01T00:00:00Z",
                "LastModifiedDate": "2024-02-01T00:00:00Z"
            })
        })
        .collect();
    let report = json!({
        "SchemaVersion": 2,
        "Trivy": {"Version": "0.50.1"},
        "CreatedAt": "2024-02-22T19:46:26.372724916+01:00",
        "ArtifactName": "registry.example/app:1.0",
        "ArtifactType": "container_image",
        "Metadata": {"RepoDigests": [format!("registry.example/app@sha256:{}", "a".repeat(64))]},
        "Results": [{"Target": "registry.example/app:1.0 (debian 12.5)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": vulnerabilities}]
    });
    serde_json::to_vec_pretty(&report).expect("report encodes")
}

fn parse_value(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("input is JSON")
}

fn normalize(bytes: &[u8]) -> facts::VulnerabilityReport {
    facts::trivy::parse("bench", bytes).expect("input is a Trivy report")
}

/// Returns the fastest of `RATIO_ROUNDS` rounds of `RATIO_PARSES_PER_ROUND` calls.
fn fastest_round(mut run: impl FnMut()) -> Duration {
    (0..RATIO_ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..RATIO_PARSES_PER_ROUND {
                run();
            }
            start.elapsed()
        })
        .min()
        .expect("at least one round")
}

/// Prints both throughputs and the ratio normalize / Value parse.
fn print_ratio(name: &str, bytes: &[u8]) {
    let value_time = fastest_round(|| drop(black_box(parse_value(black_box(bytes)))));
    let normalize_time = fastest_round(|| drop(black_box(normalize(black_box(bytes)))));
    let throughput = |time: Duration| (bytes.len() * RATIO_PARSES_PER_ROUND) as f64 / time.as_secs_f64() / 1e6;
    let (value_mbps, normalize_mbps) = (throughput(value_time), throughput(normalize_time));
    println!("facts bench input: {name} ({} bytes)", bytes.len());
    println!("serde_json Value parse: {value_mbps:.1} MB/s");
    println!("trivy normalize:        {normalize_mbps:.1} MB/s");
    println!("ratio normalize / Value parse: {:.2} (target at least 0.40)", normalize_mbps / value_mbps);
}

fn bench_trivy(c: &mut Criterion) {
    let (name, bytes) = input();
    let findings = normalize(&bytes).vulnerabilities.len();
    println!("normalized {findings} findings from {name}");

    let mut group = c.benchmark_group("trivy");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("serde_json_value_parse", |b| b.iter(|| parse_value(black_box(&bytes))));
    group.bench_function("normalize_to_facts", |b| b.iter(|| normalize(black_box(&bytes))));
    group.finish();

    print_ratio(&name, &bytes);
}

/// Wraps `report` as the `scanner.result` of a cosign vuln statement about one image.
fn cosign_statement(report: &[u8]) -> Vec<u8> {
    let report: Value = serde_json::from_slice(report).expect("input is JSON");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.example/app", "digest": {"sha256": "a".repeat(64)}}],
        "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1",
        "predicate": {"scanner": {"uri": "https://github.com/aquasecurity/trivy", "version": "0.50.1", "result": report}},
    });
    serde_json::to_vec(&statement).expect("the statement encodes")
}

fn read_decoded(payload: &[u8]) -> Option<facts::Facts> {
    let statement = Statement::from_json("bench", payload).expect("the statement parses");
    facts::from_statement(&statement.predicate_type, &statement.predicate).expect("the predicate reads")
}

fn read_raw(payload: &[u8]) -> Option<facts::Facts> {
    let statement = RawStatement::from_json("bench", payload).expect("the statement parses");
    facts::from_raw_predicate(&statement.predicate_type, statement.predicate).expect("the predicate reads")
}

fn bench_statement(c: &mut Criterion) {
    let (name, bytes) = input();
    let payload = cosign_statement(&bytes);
    assert_eq!(read_decoded(&payload), read_raw(&payload), "both reads give the same facts");

    let mut group = c.benchmark_group("cosign_statement");
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("decoded_value", |b| b.iter(|| read_decoded(black_box(&payload))));
    group.bench_function("raw_text", |b| b.iter(|| read_raw(black_box(&payload))));
    group.finish();

    let decoded = fastest_round(|| drop(black_box(read_decoded(black_box(&payload)))));
    let raw = fastest_round(|| drop(black_box(read_raw(black_box(&payload)))));
    let per_read = |time: Duration| time.as_secs_f64() * 1e6 / RATIO_PARSES_PER_ROUND as f64;
    println!("statement of {name} ({} bytes)", payload.len());
    println!("read through a Value: {:.1} µs", per_read(decoded));
    println!("read from raw text:   {:.1} µs", per_read(raw));
    println!("ratio raw / Value: {:.2} of the time", raw.as_secs_f64() / decoded.as_secs_f64());
}

/// Checks a statement for duplicate keys with the full walk, and with the byte scan
/// that runs after the statement parsed, against serde_json skipping the same bytes
/// (`IgnoredAny`), the least work a parse does.
fn bench_duplicate_keys(c: &mut Criterion) {
    let (name, bytes) = input();
    let payload = cosign_statement(&bytes);
    let full = || input::reject_duplicate_keys("bench", black_box(&payload)).expect("no duplicate");
    let scan = || input::reject_duplicate_keys_after_parse("bench", black_box(&payload)).expect("no duplicate");
    let skip = || drop(serde_json::from_slice::<IgnoredAny>(black_box(&payload)).expect("the payload is JSON"));

    let mut group = c.benchmark_group("duplicate_keys");
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("full_walk", |b| b.iter(full));
    group.bench_function("byte_scan", |b| b.iter(scan));
    group.bench_function("serde_json_skip", |b| b.iter(skip));
    group.finish();

    let (full, scan, skip) = (fastest_round(full), fastest_round(scan), fastest_round(skip));
    let per_check = |time: Duration| time.as_secs_f64() * 1e6 / RATIO_PARSES_PER_ROUND as f64;
    println!("duplicate-key check of the statement of {name} ({} bytes)", payload.len());
    println!("full walk: {:.1} µs", per_check(full));
    println!("byte scan: {:.1} µs", per_check(scan));
    println!("serde_json skip: {:.1} µs", per_check(skip));
    println!("ratio scan / full walk: {:.2} of the time", scan.as_secs_f64() / full.as_secs_f64());
    println!("ratio scan / serde_json skip: {:.2} of the time", scan.as_secs_f64() / skip.as_secs_f64());
}

criterion_group!(benches, bench_trivy, bench_statement, bench_duplicate_keys);
criterion_main!(benches);
