//! The standard policies compiled to wasm32 and run by the node's runtime give the
//! same outputs as their native builds, deterministically and within budget.

use vouch_node::policy::abi::{Block, Decision, Input, Output, Severity, StorageEntry, Vulnerability};
use vouch_node::policy::standard::{self, StandardPolicy};
use vouch_node::policy::{
    EncodedInput, Evaluation, PolicyFailure, PolicyLimits, PolicyRuntime, RuntimeConfig, Verdict,
};
use vouch_policy_sdk::testing::{attestation, input, provenance, report, review, sbom, vulnerability};

type NativeEvaluate = fn(&Input<'_>) -> Output;

const NOW: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 86_400_000;

fn runtime() -> PolicyRuntime {
    PolicyRuntime::new(RuntimeConfig::default()).expect("the default configuration is valid")
}

/// Runs `policy` in wasm twice and natively once, checks that all three agree and
/// returns the wasm evaluation.
fn run(runtime: &PolicyRuntime, policy: StandardPolicy, native: NativeEvaluate, input: &Input<'_>) -> Evaluation {
    let compiled = runtime.deploy(policy.wasm).unwrap_or_else(|error| panic!("{}: {error}", policy.name));
    let encoded = EncodedInput::encode(input);
    let first = runtime.evaluate(&compiled, &encoded).expect("no node-local error");
    let second = runtime.evaluate(&compiled, &encoded).expect("no node-local error");
    assert_eq!(first, second, "{}: two runs differ", policy.name);
    assert_eq!(first.failure, None, "{}: {:?}", policy.name, first.reasons);

    let expected = native(input);
    assert_eq!(first.verdict, expected.verdict, "{}: wasm and native verdicts differ", policy.name);
    assert_eq!(first.reasons, expected.reasons, "{}: wasm and native reasons differ", policy.name);
    assert_eq!(first.expires_at_ms, expected.expires_at_ms, "{}", policy.name);
    first
}

fn findings(count: usize) -> Vec<Vulnerability<'static>> {
    let severities = [Severity::Low, Severity::Medium, Severity::Negligible, Severity::Medium];
    (0..count)
        .map(|index| {
            let mut finding = vulnerability("CVE-2024-0000", severities[index % severities.len()]);
            finding.aliases = vec!["GHSA-aaaa-bbbb-cccc"];
            finding.fixed_version = (index % 3 == 0).then_some("1.2.3");
            finding
        })
        .collect()
}

#[test]
fn every_standard_policy_deploys() {
    let runtime = runtime();
    for policy in standard::ALL {
        let compiled = runtime.deploy(policy.wasm).unwrap_or_else(|error| panic!("{}: {error}", policy.name));
        assert_eq!(standard::by_name(policy.name).map(|p| p.wasm.len()), Some(policy.wasm.len()));
        assert!(runtime.cached(&compiled.code_hash()).is_some());
    }
    assert_eq!(runtime.cached_count(), standard::ALL.len());
}

#[test]
fn vulnerability_threshold_matches_native() {
    let runtime = runtime();
    let native = vouch_policy_vulnerability_threshold::evaluate;
    let policy = standard::VULNERABILITY_THRESHOLD;

    let clean = input(NOW, vec![attestation("trivy-ci", "scanner", NOW, Some(report("trivy", None, findings(200))))]);
    assert_eq!(run(&runtime, policy, native, &clean).verdict, Verdict::Approved);

    let mut bad = findings(200);
    bad[150].severity = Severity::Critical;
    bad[7].severity = Severity::Unknown;
    let dirty = input(NOW, vec![attestation("trivy-ci", "scanner", NOW, Some(report("trivy", None, bad)))]);
    let evaluation = run(&runtime, policy, native, &dirty);
    assert_eq!(evaluation.verdict, Verdict::Quarantined);
    assert_eq!(evaluation.reasons[0], "2 findings above medium or of unknown severity");

    let mut exempt = dirty.clone();
    exempt.storage =
        vec![StorageEntry { key: "exemption/GHSA-aaaa-bbbb-cccc", value: r#"{"expires_at_ms": 1700000500000}"# }];
    let evaluation = run(&runtime, policy, native, &exempt);
    assert_eq!(evaluation.verdict, Verdict::Approved);
    assert_eq!(evaluation.expires_at_ms, Some(1_700_000_500_000));

    let mut strict = clean.clone();
    strict.parameters = r#"{"max_severity": "low", "fixed_only": true}"#;
    assert_eq!(run(&runtime, policy, native, &strict).verdict, Verdict::Quarantined);

    let mut broken = clean;
    broken.parameters = "{not json";
    assert_eq!(run(&runtime, policy, native, &broken).verdict, Verdict::Quarantined);
    assert_eq!(run(&runtime, policy, native, &input(NOW, vec![])).verdict, Verdict::Pending);
}

#[test]
fn required_attesters_matches_native() {
    let runtime = runtime();
    let native = vouch_policy_required_attesters::evaluate;
    let policy = standard::REQUIRED_ATTESTERS;

    let mut reviewed = input(
        NOW,
        vec![
            attestation("alice", "reviewer", NOW, Some(review(Decision::Approve, Some(NOW + DAY_MS)))),
            attestation("scanner", "scanner", NOW, None),
        ],
    );
    reviewed.parameters = r#"{"threshold": 2, "required_roles": ["reviewer"]}"#;
    let evaluation = run(&runtime, policy, native, &reviewed);
    assert_eq!(evaluation.verdict, Verdict::Approved);
    assert_eq!(evaluation.expires_at_ms, Some(NOW + DAY_MS));

    reviewed.attestations.push(attestation("bob", "reviewer", NOW, Some(review(Decision::Reject, None))));
    assert_eq!(run(&runtime, policy, native, &reviewed).verdict, Verdict::Quarantined);

    reviewed.parameters = r#"{"threshold": 3, "attesters": ["alice", "scanner"]}"#;
    assert_eq!(run(&runtime, policy, native, &reviewed).verdict, Verdict::Quarantined);
}

#[test]
fn sbom_required_matches_native() {
    let runtime = runtime();
    let native = vouch_policy_sbom_required::evaluate;
    let policy = standard::SBOM_REQUIRED;

    assert_eq!(run(&runtime, policy, native, &input(NOW, vec![])).verdict, Verdict::Pending);
    let listed = input(NOW, vec![attestation("syft", "scanner", NOW, Some(sbom(3000, None)))]);
    assert_eq!(run(&runtime, policy, native, &listed).verdict, Verdict::Approved);
    let mut strict = listed;
    strict.parameters = r#"{"formats": ["spdx"], "missing_verdict": "quarantined"}"#;
    assert_eq!(run(&runtime, policy, native, &strict).verdict, Verdict::Quarantined);
}

#[test]
fn trusted_provenance_matches_native() {
    let runtime = runtime();
    let native = vouch_policy_trusted_provenance::evaluate;
    let policy = standard::TRUSTED_PROVENANCE;

    let built = input(
        NOW,
        vec![attestation(
            "tekton",
            "builder",
            NOW,
            Some(provenance("https://tekton.dev/chains/v2", Some("https://github.com/acme/app"))),
        )],
    );
    assert_eq!(run(&runtime, policy, native, &built).verdict, Verdict::Approved);
    let mut restricted = built.clone();
    restricted.parameters = r#"{"source_repositories": ["https://github.com/other/*"]}"#;
    assert_eq!(run(&runtime, policy, native, &restricted).verdict, Verdict::Quarantined);
    assert_eq!(run(&runtime, policy, native, &input(NOW, vec![])).verdict, Verdict::Pending);
}

#[test]
fn scan_age_matches_native() {
    let runtime = runtime();
    let native = vouch_policy_scan_age::evaluate;
    let policy = standard::SCAN_AGE;

    let fresh = input(
        NOW,
        vec![attestation("trivy", "scanner", NOW - DAY_MS, Some(report("trivy", Some(NOW - 2 * DAY_MS), vec![])))],
    );
    let evaluation = run(&runtime, policy, native, &fresh);
    assert_eq!(evaluation.verdict, Verdict::Approved);
    assert_eq!(evaluation.expires_at_ms, Some(NOW + 5 * DAY_MS + 1));

    let mut later = fresh;
    later.block = Block { height: 200, time_ms: NOW + 6 * DAY_MS };
    assert_eq!(run(&runtime, policy, native, &later).verdict, Verdict::Quarantined);
}

#[test]
fn malformed_input_quarantines_in_the_sdk() {
    let runtime = runtime();
    let compiled = runtime.deploy(standard::SCAN_AGE.wasm).unwrap();
    let evaluation = runtime.evaluate(&compiled, &EncodedInput::from_bytes(vec![1, 2, 3])).unwrap();
    assert_eq!(evaluation.verdict, Verdict::Quarantined);
    assert_eq!(evaluation.failure, None, "the SDK reports the problem as the policy's own output");
    assert!(
        evaluation.reasons[0].starts_with("the policy could not read its input: malformed input"),
        "{:?}",
        evaluation.reasons
    );
}

#[test]
fn large_sbom_hits_memory_limit() {
    // 60,000 components decode into vectors larger than a 2 MiB memory limit, so
    // the growth traps and the image is quarantined naming the limit.
    let limits =
        PolicyLimits { memory_bytes_max: 2 * 1024 * 1024, input_bytes_max: 2 * 1024 * 1024, ..PolicyLimits::default() };
    let runtime = PolicyRuntime::new(RuntimeConfig { limits, ..RuntimeConfig::default() }).unwrap();
    let many = input(NOW, vec![attestation("syft", "scanner", NOW, Some(sbom(60_000, None)))]);
    let compiled = runtime.deploy(standard::SBOM_REQUIRED.wasm).unwrap();
    let evaluation = runtime.evaluate(&compiled, &EncodedInput::encode(&many)).unwrap();
    assert_eq!(evaluation.verdict, Verdict::Quarantined);
    assert!(
        matches!(evaluation.failure, Some(PolicyFailure::MemoryLimit { limit_bytes: 2_097_152, .. })),
        "{evaluation:?}"
    );
}
