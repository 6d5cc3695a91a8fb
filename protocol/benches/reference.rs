//! Measures image reference parsing against the 1 million references/s target and a
//! `str::split` baseline over the same inputs.
//!
//! Run with `cargo bench -p vouch-protocol --bench reference`. The summary line comes
//! from a fixed-length loop timed with `Instant`, and criterion's own report follows.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use vouch_protocol::Reference;

/// Parsing rate that reference parsing must reach, in references per second.
const TARGET_REFS_PER_SECOND: f64 = 1_000_000.0;

/// Wall-clock time spent on each side of the summary measurement.
const SUMMARY_DURATION: Duration = Duration::from_millis(500);

const SHA256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// References as they appear in Kubernetes pod specs, CI files and scanner reports.
fn inputs() -> Vec<String> {
    let mut inputs: Vec<String> = [
        "alpine",
        "alpine:3.19",
        "nginx:1.25-alpine",
        "library/redis:7.2",
        "bitnami/postgresql:16.1.0-debian-11-r20",
        "ghcr.io/org/app:v1.2.3",
        "quay.io/prometheus/node-exporter:v1.7.0",
        "registry.k8s.io/kube-apiserver:v1.29.0",
        "gcr.io/distroless/static-debian12:nonroot",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/service:2024.01.15-abc1234",
        "localhost:5000/x:y",
        "[::1]:5000/repo:tag",
        "index.docker.io/library/ubuntu:22.04",
        "mcr.microsoft.com/dotnet/aspnet:8.0",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for pinned in ["busybox", "ghcr.io/org/app:v1.2.3", "registry.k8s.io/pause:3.9", "docker.io/library/nginx"] {
        inputs.push(format!("{pinned}@{SHA256}"));
    }
    inputs
}

/// Parses every input once and returns how many parsed.
fn parse_all(inputs: &[String]) -> usize {
    inputs.iter().filter(|text| Reference::parse(black_box(text)).is_ok()).count()
}

/// Splits every input at `/`, `:` and `@` and returns the number of pieces: a floor
/// for any parser that must look at each byte.
fn split_all(inputs: &[String]) -> usize {
    inputs.iter().map(|text| black_box(text).split(['/', ':', '@']).count()).sum()
}

/// Runs `work` over the inputs for about `SUMMARY_DURATION` and returns references/s.
fn rate(inputs: &[String], work: fn(&[String]) -> usize) -> f64 {
    let start = Instant::now();
    let mut rounds: u64 = 0;
    while start.elapsed() < SUMMARY_DURATION {
        black_box(work(inputs));
        rounds += 1;
    }
    (rounds as f64 * inputs.len() as f64) / start.elapsed().as_secs_f64()
}

fn print_summary(inputs: &[String]) {
    let parse = rate(inputs, parse_all);
    let split = rate(inputs, split_all);
    println!(
        "reference parse: {:.2} M refs/s; str::split baseline: {:.2} M refs/s; \
         parse/baseline = {:.3}; parse/target (1 M refs/s) = {:.2}",
        parse / 1e6,
        split / 1e6,
        parse / split,
        parse / TARGET_REFS_PER_SECOND,
    );
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    assert_eq!(parse_all(&inputs), inputs.len(), "every benchmark input is a valid reference");

    // `cargo test --all-targets` runs this file without `--bench`, and criterion then
    // runs each routine once; the timed summary is only for real benchmark runs.
    if std::env::args().any(|arg| arg == "--bench") {
        print_summary(&inputs);
    }

    let mut group = c.benchmark_group("reference");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("parse", |b| b.iter(|| parse_all(&inputs)));
    group.bench_function("split_baseline", |b| b.iter(|| split_all(&inputs)));
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
