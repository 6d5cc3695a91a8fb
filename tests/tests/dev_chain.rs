//! The main job end to end on real files, against a `vouchd start --dev` process.
//! Every Trivy and Grype report of the corpus is attested through the `vouch` binary
//! under its own image, and each status is checked against the standard vulnerability
//! rule computed from the raw JSON. A reviewer's approval and its revocation follow,
//! and `vouch verify`'s exit codes are checked on real proofs, also when a proxy
//! alters the proof.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use vouch_tests::{DevNode, Tamper, corpus, json_files, ok_json, start_proxy};

/// The standard vulnerability rule read independently from the raw report: prints the
/// verdict, the number of findings and the registry digest the report names, if any.
const INDEPENDENT_RULE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/vulnerability_rule.py");

/// How long to wait for a block that certifies a committed state.
const PROOF_WAIT: Duration = Duration::from_secs(30);

/// Exit codes of `vouch verify`.
const APPROVED: i32 = 0;
const QUARANTINED: i32 = 3;
const PENDING: i32 = 4;
const ERROR: i32 = 1;

struct Expected {
    reference: String,
    status: &'static str,
}

fn independent_reading(path: &Path) -> (&'static str, Option<String>) {
    let output = Command::new("python3").arg(INDEPENDENT_RULE).arg(path).output().expect("python3 runs");
    assert!(output.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("python prints UTF-8");
    let mut lines = text.lines();
    let status = match lines.next() {
        Some("quarantined") => "quarantined",
        Some("approved") => "approved",
        other => panic!("{}: unexpected output {other:?}", path.display()),
    };
    let _findings = lines.next();
    let digest = lines.next().filter(|line| !line.is_empty()).map(str::to_owned);
    (status, digest)
}

/// Returns a reference for the report: the registry digest it names, or a digest made
/// from the file name so every report has its own image.
fn reference_for(path: &Path, named: Option<String>) -> String {
    named.unwrap_or_else(|| {
        let stem = path.file_stem().expect("a file name").to_string_lossy().to_string();
        let digest = vouch_protocol::Digest::sha256(stem.as_bytes());
        format!("registry.example/corpus/{stem}@{digest}")
    })
}

fn genesis(node: &DevNode) -> String {
    node.home.path().join("genesis.json").display().to_string()
}

/// Runs `vouch verify` until it exits with `want` or the wait ends, since the newest
/// state is provable only once the next block certifies it.
fn verify_settled(node: &DevNode, url: &str, reference: &str, want: i32) -> Output {
    let started = Instant::now();
    loop {
        let output = verify(node, url, reference);
        let code = output.status.code().expect("vouch exits with a code");
        if code == want || started.elapsed() > PROOF_WAIT {
            return output;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn verify(node: &DevNode, url: &str, reference: &str) -> Output {
    let genesis = genesis(node);
    node.vouch(&["verify", reference, "--node", url, "--genesis", &genesis, "--output", "json"])
}

fn assert_exit(output: &Output, want: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(want),
        "{what}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn corpus_reports_get_the_standard_verdicts() {
    let Some(corpus) = corpus() else { return };
    let node = DevNode::start();
    let mut expected = Vec::new();
    for (folder, flag) in [("trivy", "--trivy"), ("grype", "--grype")] {
        for path in json_files(&corpus.join(folder)) {
            let (status, named) = independent_reading(&path);
            let reference = reference_for(&path, named);
            let file = path.display().to_string();
            let output = node.vouch(&["attest", &reference, flag, &file, "--key", "dev", "--output", "json"]);
            let answer = ok_json(&output, &format!("vouch attest {file}"));
            assert_eq!(answer["status"]["status"], status, "{file}: {answer}");
            assert!(answer["height"].as_u64().is_some_and(|height| height > 0), "{file}: {answer}");
            expected.push(Expected { reference, status });
        }
    }
    assert!(expected.iter().any(|e| e.status == "approved"), "the corpus has clean reports");
    assert!(expected.iter().any(|e| e.status == "quarantined"), "the corpus has failing reports");

    for entry in &expected {
        let want = if entry.status == "approved" { APPROVED } else { QUARANTINED };
        let output = verify_settled(&node, &node.url, &entry.reference, want);
        assert_exit(&output, want, &format!("vouch verify {}", entry.reference));
        let verified = ok_json_any(&output);
        assert_eq!(verified["status"], entry.status, "{}", entry.reference);
    }

    let unknown = format!("registry.example/never/attested@{}", vouch_protocol::Digest::sha256(b"never attested"));
    assert_exit(&verify(&node, &node.url, &unknown), PENDING, "verify of an image never attested");

    let approved = &expected.iter().find(|e| e.status == "approved").expect("an approved image").reference;
    for tamper in [Tamper::Record, Tamper::StateProof, Tamper::Header] {
        let proxy = start_proxy(&node.url, tamper);
        let output = verify(&node, &proxy, approved);
        assert_exit(&output, ERROR, &format!("verify through a proxy that alters the {tamper:?}"));
    }
}

fn ok_json_any(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("output is not JSON: {error}\n{}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn reviewer_approval_and_its_revocation() {
    let Some(corpus) = corpus() else { return };
    let node = DevNode::start();
    let scope = "registry.example/reviewed/*";
    let bind = node.vouch(&[
        "policy",
        "bind",
        scope,
        "vulnerability-threshold",
        r#"required-attesters={"required_roles":["reviewer"]}"#,
        "--key",
        "dev-validator",
        "--output",
        "json",
    ]);
    ok_json(&bind, "vouch policy bind");

    let reference = format!("registry.example/reviewed/app@{}", vouch_protocol::Digest::sha256(b"reviewed app"));
    let clean = corpus.join("trivy/trivy-sle-micro-zero-vulns.json").display().to_string();
    let scan = ok_json(
        &node.vouch(&["attest", &reference, "--trivy", &clean, "--key", "dev", "--output", "json"]),
        "attest the clean scan",
    );
    assert_eq!(scan["status"]["status"], "pending", "a reviewer is required: {scan}");
    assert_eq!(scan["status"]["repository"], "registry.example/reviewed/app", "the attested repository: {scan}");
    assert_exit(&verify_settled(&node, &node.url, &reference, PENDING), PENDING, "verify before review");

    let review = ok_json(
        &node.vouch(&[
            "attest",
            &reference,
            "--approve",
            "--reason",
            "reviewed",
            "--key",
            "dev-reviewer",
            "--output",
            "json",
        ]),
        "attest the approval",
    );
    assert_eq!(review["status"]["status"], "approved", "{review}");
    assert_exit(&verify_settled(&node, &node.url, &reference, APPROVED), APPROVED, "verify after approval");

    let envelope_hash = review["envelope_hash"].as_str().expect("attest prints the envelope hash").to_owned();
    let other = node.vouch(&["revoke", &reference, "--envelope-hash", &envelope_hash, "--key", "dev"]);
    assert!(!other.status.success(), "only the reviewer may revoke the review");

    let revoke = node.vouch(&[
        "revoke",
        &reference,
        "--envelope-hash",
        &envelope_hash,
        "--reason",
        "approved by mistake",
        "--key",
        "dev-reviewer",
        "--output",
        "json",
    ]);
    let revoked = ok_json(&revoke, "vouch revoke");
    assert_eq!(revoked["status"]["status"], "pending", "revoke prints the new status: {revoked}");
    assert_eq!(revoked["outcome"], "applied", "{revoked}");
    let status = ok_json(&node.vouch(&["status", &reference, "--output", "json"]), "vouch status");
    assert_eq!(status["status"], "pending", "{status}");
    assert_exit(&verify_settled(&node, &node.url, &reference, PENDING), PENDING, "verify after revocation");

    let reject = ok_json(
        &node.vouch(&[
            "attest",
            &reference,
            "--reject",
            "--reason",
            "license problem",
            "--key",
            "dev-reviewer",
            "--output",
            "json",
        ]),
        "attest the rejection",
    );
    assert_eq!(reject["status"]["status"], "quarantined", "{reject}");
    assert_exit(&verify_settled(&node, &node.url, &reference, QUARANTINED), QUARANTINED, "verify after rejection");
}
