//! Black-box tests of `vouch policy test` with the standard vulnerability policy that
//! the node embeds, on envelopes that `vouch attest --dry-run` signs from corpus reports.

mod common;

use common::{Vouch, python3};
use serde_json::Value;
use vouch_node::policy::standard::VULNERABILITY_THRESHOLD;

const IMAGE: &str = "registry.example/team/app@sha256:5555555555555555555555555555555555555555555555555555555555555555";

/// Lists the distinct vulnerability ids of a Trivy report and whether any is CRITICAL,
/// read with Python's json module, independently of the facts readers.
const PYTHON_TRIVY_IDS: &str = r#"
import json, sys
report = json.load(open(sys.argv[1]))
found = [v for r in report.get("Results") or [] for v in r.get("Vulnerabilities") or []]
print(json.dumps({"ids": sorted({v["VulnerabilityID"] for v in found}),
                  "critical": any(v.get("Severity") == "CRITICAL" for v in found)}))
"#;

struct Setup {
    vouch: Vouch,
    wasm: String,
    envelope: String,
    report: std::path::PathBuf,
}

/// Signs the Trivy report as an envelope with key `ci` and writes the policy module.
fn setup(corpus: &std::path::Path) -> Setup {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let report = corpus.join("trivy/trivy-alpine39-critical.json");
    let run = vouch.run(&["attest", IMAGE, "--trivy", report.to_str().unwrap(), "--key", "ci", "--dry-run"]).success();
    let envelope = vouch.path("scan.json");
    std::fs::write(&envelope, run.stdout).unwrap();
    let wasm = vouch.path("vulnerability-threshold.wasm");
    std::fs::write(&wasm, VULNERABILITY_THRESHOLD.wasm).unwrap();
    Setup { wasm: wasm.to_str().unwrap().to_owned(), envelope: envelope.to_str().unwrap().to_owned(), vouch, report }
}

#[test]
fn critical_findings_are_quarantined() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let setup = setup(&corpus);
    let reading: Value = serde_json::from_str(&python3(PYTHON_TRIVY_IDS, &[&setup.report])).unwrap();
    assert_eq!(reading["critical"], true, "the test needs a report with a CRITICAL finding");

    let args = ["policy", "test", &setup.wasm, "--attestation", &setup.envelope, "--output", "json"];
    let run = setup.vouch.run(&args).expect_code(3);
    let output: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(output["verdict"], "quarantined");
    assert_eq!(output["failure"], Value::Null);
    assert!(output["fuel_used"].as_u64().unwrap() > 0);
}

#[test]
fn every_finding_exempted_is_approved() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let setup = setup(&corpus);
    let reading: Value = serde_json::from_str(&python3(PYTHON_TRIVY_IDS, &[&setup.report])).unwrap();
    let storage: Vec<String> = reading["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| format!("exemption/{}={{\"expires_at_ms\": 4102444800000}}", id.as_str().unwrap()))
        .collect();

    let mut args = vec!["policy", "test", &setup.wasm, "--attestation", &setup.envelope, "--time-ms", "1750000000000"];
    for entry in &storage {
        args.extend_from_slice(&["--storage", entry]);
    }
    let run = setup.vouch.run(&args).success();
    assert!(run.stdout.contains("approved"), "{}", run.stdout);
}

#[test]
fn review_only_is_pending() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("reviewer");
    let run = vouch
        .run(&["attest", IMAGE, "--approve", "--reason", "looked fine", "--key", "reviewer", "--dry-run"])
        .success();
    let envelope = vouch.path("review.json");
    std::fs::write(&envelope, run.stdout).unwrap();
    let wasm = vouch.path("policy.wasm");
    std::fs::write(&wasm, VULNERABILITY_THRESHOLD.wasm).unwrap();

    let args = ["policy", "test", wasm.to_str().unwrap(), "--attestation", envelope.to_str().unwrap()];
    let run = vouch.run(&args).expect_code(4);
    assert!(run.stdout.contains("pending"), "{}", run.stdout);
}

#[test]
fn invalid_module_is_rejected_with_path() {
    let vouch = Vouch::new();
    let wasm = vouch.path("not-wasm.wasm");
    std::fs::write(&wasm, b"this is not wasm").unwrap();
    let envelope = vouch.path("missing.json");
    let args = ["policy", "test", wasm.to_str().unwrap(), "--attestation", envelope.to_str().unwrap()];
    let run = vouch.run(&args).failure();
    assert!(run.stderr.contains("not-wasm.wasm: the node would reject this policy module"), "{}", run.stderr);
}
