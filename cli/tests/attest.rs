//! Black-box tests of `vouch attest --dry-run`: real reports from the corpus, signed by
//! the built binary, verified with the protocol crate and counted independently with
//! Python's json module.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, Vouch, python3};
use serde_json::Value;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::Statement;
use vouch_protocol::keys::{KeyId, PublicKey, sslib};

const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// A keyring with one unencrypted signing key `ci`.
struct Signer {
    vouch: Vouch,
    keyid: KeyId,
    public_key: PublicKey,
}

impl Signer {
    fn new() -> Signer {
        Signer::with_key(Vouch::new(), "ci")
    }

    fn with_key(vouch: Vouch, name: &str) -> Signer {
        vouch.generate_unencrypted(name);
        let (public_key, keyid) = public_key_of(&vouch, name);
        Signer { vouch, keyid, public_key }
    }

    fn attest(&self, image: &str, input: &[&str]) -> Run {
        let mut args = vec!["attest", image];
        args.extend_from_slice(input);
        args.extend_from_slice(&["--key", "ci", "--dry-run"]);
        self.vouch.run(&args)
    }

    /// Verifies the envelope on stdout with this key and returns its statement.
    fn verify(&self, run: &Run) -> Statement {
        let envelope = Envelope::from_json("stdout", run.stdout.as_bytes()).expect("stdout is a DSSE envelope");
        let verified = envelope.verify(&[(self.keyid.clone(), self.public_key)], 1).expect("signature verifies");
        Statement::from_envelope("stdout", &verified).expect("payload is an in-toto statement")
    }
}

fn public_key_of(vouch: &Vouch, name: &str) -> (PublicKey, KeyId) {
    let show = vouch.run(&["keys", "show", name]).success();
    sslib::parse_public_key_json("keys show", show.stdout.as_bytes()).expect("keys show prints a securesystemslib key")
}

fn corpus_files(corpus: &Path, folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no JSON files in {folder}");
    files
}

/// Reads a Trivy or Grype report with Python's json module: the registry digests it
/// lists and its findings counted once per (id, package, installed version) at the
/// highest severity, printed as the summary line `vulnerabilities:` prints them.
const PYTHON_COUNTS: &str = r#"
import json, sys
scanner, path = sys.argv[1], sys.argv[2]
report = json.load(open(path))
order = ["unknown", "negligible", "low", "medium", "high", "critical"]
def word(text):
    text = (text or "").strip().lower()
    return text if text in order else "unknown"
found = {}
def add(key, severity):
    found[key] = max(found.get(key, "unknown"), severity, key=order.index)
if scanner == "trivy":
    results = report if isinstance(report, list) else (report.get("Results") or [])
    digests = [] if isinstance(report, list) else ((report.get("Metadata") or {}).get("RepoDigests") or [])
    for result in results:
        for v in result.get("Vulnerabilities") or []:
            add((v["VulnerabilityID"], v.get("PkgName"), v.get("InstalledVersion")), word(v.get("Severity")))
else:
    digests = ((report.get("source") or {}).get("target") or {}).get("repoDigests") or []
    for match in report.get("matches") or []:
        v, a = match["vulnerability"], match.get("artifact") or {}
        add((v["id"], a.get("name"), a.get("version")), word(v.get("severity")))
counts = {s: 0 for s in order}
for severity in found.values():
    counts[severity] += 1
line = " ".join(f"{s}={counts[s]}" for s in reversed(order)) + f" total={len(found)}"
print(json.dumps({"digests": digests, "line": line}))
"#;

fn python_reading(scanner: &str, path: &Path) -> (Vec<String>, String) {
    let output =
        python3(&PYTHON_COUNTS.replace("sys.argv[1], sys.argv[2]", &format!("{scanner:?}, sys.argv[1]")), &[path]);
    let reading: Value = serde_json::from_str(&output).unwrap();
    let digests = reading["digests"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    (digests, reading["line"].as_str().unwrap().to_owned())
}

/// Returns a digest reference of the report's own registry digest, or one made from
/// the file's SHA-256 when the report lists none.
fn image_for(path: &Path, repo_digests: &[String]) -> String {
    match repo_digests.first() {
        Some(repo_digest) => repo_digest.clone(),
        None => {
            let bytes = std::fs::read(path).unwrap();
            format!("registry.example/scanned/image@{}", vouch_protocol::Digest::sha256(&bytes))
        }
    }
}

fn summary_line<'a>(stderr: &'a str, label: &str) -> &'a str {
    let prefix = format!("  {label}: ");
    stderr
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{stderr}"))
}

fn check_scanner_corpus(folder: &str, flag: &str) {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    for path in corpus_files(&corpus, folder) {
        let (repo_digests, expected_line) = python_reading(folder, &path);
        let image = image_for(&path, &repo_digests);
        let run = signer.attest(&image, &[flag, path.to_str().unwrap()]).success();

        let statement = signer.verify(&run);
        let digest = image.rsplit_once('@').unwrap().1;
        let digest = vouch_protocol::Digest::parse(digest).unwrap();
        assert!(statement.subject_matches(&digest), "{}: subject {:?}", path.display(), statement.subjects);
        assert_eq!(statement.predicate_type, COSIGN_VULN, "{}", path.display());
        let report: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(statement.predicate["scanner"]["result"], report, "{}: report not embedded as is", path.display());
        assert_eq!(summary_line(&run.stderr, "vulnerabilities"), expected_line, "{}", path.display());
    }
}

#[test]
fn trivy_corpus_signs_and_counts() {
    check_scanner_corpus("trivy", "--trivy");
}

#[test]
fn grype_corpus_signs_and_counts() {
    check_scanner_corpus("grype", "--grype");
}

#[test]
fn grype_repo_digest_mismatch_names_both() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = corpus.join("grype/grype-busybox-epss-recent.json");
    let (repo_digests, _) = python_reading("grype", &path);
    assert!(!repo_digests.is_empty(), "the test needs a report with repoDigests");
    let other = format!("sha256:{}", "ab".repeat(32));
    let run = Signer::new().attest(&format!("busybox@{other}"), &["--grype", path.to_str().unwrap()]).failure();
    let reported = repo_digests[0].rsplit_once('@').unwrap().1;
    assert!(run.stderr.contains(reported), "{}", run.stderr);
    assert!(run.stderr.contains(&other), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn trivy_repo_digest_mismatch_names_both() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let mut report: Value =
        serde_json::from_slice(&std::fs::read(corpus.join("trivy/trivy-alpine39-critical.json")).unwrap()).unwrap();
    let scanned = format!("alpine@sha256:{}", "cd".repeat(32));
    report["Metadata"]["RepoDigests"] = Value::Array(vec![Value::String(scanned.clone())]);
    let path = signer.vouch.path("with-repo-digest.json");
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let file = path.to_str().unwrap();

    let other = format!("sha256:{}", "ef".repeat(32));
    let run = signer.attest(&format!("alpine@{other}"), &["--trivy", file]).failure();
    assert!(run.stderr.contains(&scanned), "{}", run.stderr);
    assert!(run.stderr.contains(&other), "{}", run.stderr);
    signer.attest(&scanned, &["--trivy", file]).success();
}

#[test]
fn tag_only_reference_shows_how_to_pin() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = corpus.join("trivy/trivy-alpine39-critical.json");
    let run = Signer::new().attest("alpine:3.9", &["--trivy", path.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("pin the image by digest"), "{}", run.stderr);
    assert!(run.stderr.contains("docker.io/library/alpine"), "{}", run.stderr);
}

#[test]
fn colon_before_digest_is_rejected() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = corpus.join("trivy/trivy-alpine39-critical.json");
    let hex = "12".repeat(32);
    let run =
        Signer::new().attest(&format!("ghcr.io/org/app:sha256:{hex}"), &["--trivy", path.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("is a digest written as a tag"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("@sha256:{hex}")), "{}", run.stderr);
}

#[test]
fn tag_and_digest_uses_the_digest() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let path = corpus.join("trivy/trivy-alpine39-critical.json");
    let digest = format!("sha256:{}", "34".repeat(32));
    let run = signer.attest(&format!("alpine:3.9@{digest}"), &["--trivy", path.to_str().unwrap()]).success();
    let statement = signer.verify(&run);
    assert!(statement.subject_matches(&vouch_protocol::Digest::parse(&digest).unwrap()));
    assert_eq!(statement.subjects[0].name, "docker.io/library/alpine");
}

fn write(vouch: &Vouch, name: &str, bytes: &[u8]) -> PathBuf {
    let path = vouch.path(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

const IMAGE: &str = "registry.example/team/app@sha256:5555555555555555555555555555555555555555555555555555555555555555";

#[test]
fn truncated_report_is_rejected_with_offset() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let bytes = std::fs::read(corpus.join("trivy/trivy-alpine39-critical.json")).unwrap();
    let path = write(&signer.vouch, "truncated.json", &bytes[..bytes.len() / 2]);
    let run = signer.attest(IMAGE, &["--trivy", path.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("truncated.json"), "{}", run.stderr);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn log_lines_before_json_are_rejected() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let log_line = b"2024-05-01T10:00:00Z INFO Vulnerability scanning is enabled\n";
    let mut bytes = log_line.to_vec();
    bytes.extend(std::fs::read(corpus.join("grype/grype-check-all-fields.json")).unwrap());
    let path = write(&signer.vouch, "logged.json", &bytes);
    let run = signer.attest(IMAGE, &["--grype", path.to_str().unwrap()]).failure();
    let json_start = format!("JSON seems to start at byte {}", log_line.len());
    assert!(run.stderr.contains("log lines"), "{}", run.stderr);
    assert!(run.stderr.contains(&json_start), "{}", run.stderr);
}

#[test]
fn oversize_input_is_rejected_at_the_limit() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let path = corpus.join("trivy/trivy-scheme2-no-vuln-minimal.json");
    let size = std::fs::metadata(&path).unwrap().len().to_string();
    let below = (std::fs::metadata(&path).unwrap().len() - 1).to_string();
    let file = path.to_str().unwrap();
    signer.attest(IMAGE, &["--trivy", file, "--max-input-bytes", &size]).success();
    let run = signer.attest(IMAGE, &["--trivy", file, "--max-input-bytes", &below]).failure();
    assert!(run.stderr.contains(&format!("over the limit of {below} bytes")), "{}", run.stderr);
}

#[test]
fn without_dry_run_names_unreachable_node() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let path = corpus.join("trivy/trivy-alpine39-critical.json");
    let node = common::closed_port_url();
    let args = ["attest", IMAGE, "--trivy", path.to_str().unwrap(), "--key", "ci", "--node", &node];
    let run = signer.vouch.run(&args).failure();
    assert!(run.stderr.contains(&format!("cannot reach the node at {node}/v1/txs")), "{}", run.stderr);
    assert!(run.stderr.contains("--node URL"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn invalid_node_fails_before_signing() {
    let signer = Signer::new();
    let cases = [
        ("ftp://x", "it must start with http://"),
        ("https://node.example", "plain HTTP only"),
        ("http://127.0.0.1:1/v1", "drop the trailing /v1"),
    ];
    for (node, reason) in cases {
        let args = ["attest", IMAGE, "--approve", "--reason", "ok", "--key", "ci", "--node", node];
        let run = signer.vouch.run(&args).failure();
        assert!(run.stderr.contains(&format!("invalid node URL {node:?}")), "{}", run.stderr);
        assert!(run.stderr.contains(reason), "{}", run.stderr);
        assert!(!run.stderr.contains("signed with key"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
}

#[test]
fn approve_with_expiry_is_signed() {
    let signer = Signer::new();
    let before = std::time::SystemTime::now();
    let run = signer.attest(IMAGE, &["--approve", "--reason", "reviewed the scan", "--expires", "30d"]).success();
    let after = std::time::SystemTime::now();

    let statement = signer.verify(&run);
    assert_eq!(statement.predicate_type, "https://vouch.dev/review/v1");
    assert_eq!(statement.predicate["decision"], "approve");
    assert_eq!(statement.predicate["reason"], "reviewed the scan");
    let expires = statement.predicate["expiresAt"].as_str().unwrap();
    assert!(expires.ends_with('Z'), "{expires}");
    let expires = humantime_parse(expires);
    let thirty_days = std::time::Duration::from_secs(30 * 86_400);
    assert!(expires + std::time::Duration::from_secs(1) >= before + thirty_days, "{expires:?}");
    assert!(expires <= after + thirty_days, "{expires:?}");
}

fn humantime_parse(text: &str) -> std::time::SystemTime {
    let unix: i64 = python3(
        "import sys, datetime; print(int(datetime.datetime.fromisoformat(sys.argv[1].replace('Z', '+00:00')).timestamp()))",
        &[Path::new(text)],
    )
    .trim()
    .parse()
    .unwrap();
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix as u64)
}

#[test]
fn reject_without_expiry_has_none() {
    let signer = Signer::new();
    let run = signer.attest(IMAGE, &["--reject", "--reason", "CVE-2024-3094 in xz"]).success();
    let statement = signer.verify(&run);
    assert_eq!(statement.predicate["decision"], "reject");
    assert!(statement.predicate.get("expiresAt").is_none_or(Value::is_null), "{}", statement.predicate);
    assert_eq!(summary_line(&run.stderr, "expires"), "never");
}

#[test]
fn review_rejects_bad_duration_and_missing_reason() {
    let signer = Signer::new();
    let run = signer.attest(IMAGE, &["--approve", "--reason", "ok", "--expires", "30y"]).failure();
    assert!(run.stderr.contains("invalid --expires `30y`"), "{}", run.stderr);
    signer.attest(IMAGE, &["--approve"]).expect_code(2);
    let empty = signer.attest(IMAGE, &["--approve", "--reason", " "]).failure();
    assert!(empty.stderr.contains("reason is empty"), "{}", empty.stderr);
}

#[test]
fn review_rejects_blank_reviewer() {
    let signer = Signer::new();
    for reviewer in ["", " \t"] {
        let run = signer.attest(IMAGE, &["--approve", "--reason", "ok", "--reviewer", reviewer]).failure();
        assert!(run.stderr.contains("--reviewer is empty"), "{}", run.stderr);
        assert!(run.stderr.contains("leave out --reviewer"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
}

#[test]
fn envelope_gets_a_second_signature() {
    let signer = Signer::new();
    let first = signer.attest(IMAGE, &["--approve", "--reason", "first reviewer"]).success();
    let envelope_path = write(&signer.vouch, "first.json", first.stdout.as_bytes());
    signer.vouch.generate_unencrypted("second");
    let (second_key, second_keyid) = public_key_of(&signer.vouch, "second");

    let file = envelope_path.to_str().unwrap();
    let run = signer.vouch.run(&["attest", IMAGE, "--envelope", file, "--key", "second", "--dry-run"]).success();
    let envelope = Envelope::from_json("stdout", run.stdout.as_bytes()).unwrap();
    let original = Envelope::from_json("first", first.stdout.as_bytes()).unwrap();
    assert_eq!(envelope.payload, original.payload);
    assert_eq!(envelope.signatures.len(), 2);
    assert_eq!(envelope.signatures[0], original.signatures[0]);
    let trusted = [(signer.keyid.clone(), signer.public_key), (second_keyid, second_key)];
    assert_eq!(envelope.verify(&trusted, 2).unwrap().signers().len(), 2);

    let again = signer.vouch.run(&["attest", IMAGE, "--envelope", file, "--key", "ci", "--dry-run"]).failure();
    assert!(again.stderr.contains("already has a signature"), "{}", again.stderr);
}

#[test]
fn envelope_lines_file_is_rejected_with_count() {
    let signer = Signer::new();
    let first = signer.attest(IMAGE, &["--approve", "--reason", "first"]).success();
    let second = signer.attest(IMAGE, &["--reject", "--reason", "second"]).success();
    let lines = format!("{}\n{}\n\n{}\n", first.stdout.trim(), second.stdout.trim(), first.stdout.trim());
    let path = write(&signer.vouch, "all.jsonl", lines.as_bytes());
    let file = path.to_str().unwrap();

    let run = signer.attest(IMAGE, &["--envelope", file]).failure();
    assert!(run.stderr.contains("holds 3 envelopes, one per line"), "{}", run.stderr);
    assert!(run.stderr.contains("--envelope takes exactly one"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("sed -n 2p {file} > one.json")), "{}", run.stderr);
    assert!(!run.stderr.contains("trailing characters"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    let one = write(&signer.vouch, "one.jsonl", format!("{}\n", first.stdout.trim()).as_bytes());
    signer.vouch.generate_unencrypted("second");
    let file = one.to_str().unwrap();
    signer.vouch.run(&["attest", IMAGE, "--envelope", file, "--key", "second", "--dry-run"]).success();
}

#[test]
fn envelope_about_another_image_is_rejected() {
    let signer = Signer::new();
    let first = signer.attest(IMAGE, &["--approve", "--reason", "ok"]).success();
    let path = write(&signer.vouch, "envelope.json", first.stdout.as_bytes());
    let other = format!("registry.example/team/app@sha256:{}", "66".repeat(32));
    let run = signer.attest(&other, &["--envelope", path.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("no subject has the image's digest"), "{}", run.stderr);
    assert!(run.stderr.contains(&"55".repeat(32)), "{}", run.stderr);
}

#[test]
fn statement_is_signed_byte_for_byte() {
    let signer = Signer::new();
    let digest = IMAGE.rsplit_once("sha256:").unwrap().1;
    let statement = format!(
        r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": [{{"name": "registry.example/team/app", "digest": {{"sha256": "{digest}"}}}}], "predicateType": "https://example.com/custom/v1", "predicate": {{"note": "opaque"}}}}"#
    );
    let path = write(&signer.vouch, "statement.json", statement.as_bytes());
    let run = signer.attest(IMAGE, &["--statement", path.to_str().unwrap()]).success();
    let envelope = Envelope::from_json("stdout", run.stdout.as_bytes()).unwrap();
    assert_eq!(envelope.payload, statement.as_bytes());
    signer.verify(&run);

    let other = format!("registry.example/team/app@sha256:{}", "77".repeat(32));
    let mismatch = signer.attest(&other, &["--statement", path.to_str().unwrap()]).failure();
    assert!(mismatch.stderr.contains("no subject has the image's digest"), "{}", mismatch.stderr);
}

#[test]
fn statement_with_invalid_known_predicate_is_rejected() {
    let signer = Signer::new();
    let digest = IMAGE.rsplit_once("sha256:").unwrap().1;
    let statement = format!(
        r#"{{"_type": "https://in-toto.io/Statement/v1", "subject": [{{"name": "app", "digest": {{"sha256": "{digest}"}}}}], "predicateType": "https://vouch.dev/review/v1", "predicate": {{"decision": "maybe", "reason": "x"}}}}"#
    );
    let path = write(&signer.vouch, "bad-review.json", statement.as_bytes());
    let run = signer.attest(IMAGE, &["--statement", path.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("decision"), "{}", run.stderr);
}

/// Counts SBOM components with Python: CycloneDX `components` (nested ones too) or SPDX
/// `packages` other than the described ones.
const PYTHON_COMPONENTS: &str = r#"
import json, sys
doc = json.load(open(sys.argv[1]))
if doc.get("bomFormat") == "CycloneDX":
    def count(components):
        return sum(1 + count(c.get("components") or []) for c in components)
    print(count(doc.get("components") or []))
else:
    described = set(doc.get("documentDescribes") or [])
    for rel in doc.get("relationships") or []:
        if rel.get("spdxElementId") == "SPDXRef-DOCUMENT" and rel.get("relationshipType") == "DESCRIBES":
            described.add(rel.get("relatedSpdxElement"))
    print(sum(1 for p in doc.get("packages") or [] if p.get("SPDXID") not in described))
"#;

#[test]
fn sbom_corpus_signs_with_detected_type() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    for path in corpus_files(&corpus, "sbom") {
        let run = signer.attest(IMAGE, &["--sbom", path.to_str().unwrap()]).success();
        let statement = signer.verify(&run);
        let document: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let expected_type =
            if document.get("bomFormat").is_some() { "https://cyclonedx.org/bom" } else { "https://spdx.dev/Document" };
        assert_eq!(statement.predicate_type, expected_type, "{}", path.display());
        assert_eq!(statement.predicate, document, "{}", path.display());
        let components = python3(PYTHON_COMPONENTS, &[&path]);
        assert_eq!(summary_line(&run.stderr, "components"), components.trim(), "{}", path.display());
    }
}

/// Writes the predicate of the corpus envelope's statement to a file and returns the
/// predicate type and builder id, read with Python.
const PYTHON_PREDICATE: &str = r#"
import base64, json, sys
envelope = json.load(open(sys.argv[1]))
statement = json.loads(base64.b64decode(envelope["payload"]))
predicate = statement["predicate"]
json.dump(predicate, open(sys.argv[2], "w"))
builder = predicate.get("builder", {}).get("id") or predicate["runDetails"]["builder"]["id"]
print(json.dumps({"type": statement["predicateType"], "builder": builder}))
"#;

#[test]
fn provenance_versions_are_detected() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    for name in ["dsse-ed25519-slsa-v1-statement-v1.json", "dsse-tekton-chains-slsa-v02.json"] {
        let predicate_path = signer.vouch.path(&format!("{name}.predicate"));
        let reading: Value =
            serde_json::from_str(&python3(PYTHON_PREDICATE, &[&corpus.join("intoto").join(name), &predicate_path]))
                .unwrap();
        let run = signer.attest(IMAGE, &["--provenance", predicate_path.to_str().unwrap()]).success();
        let statement = signer.verify(&run);
        assert_eq!(statement.predicate_type, reading["type"].as_str().unwrap(), "{name}");
        assert_eq!(summary_line(&run.stderr, "builder"), reading["builder"].as_str().unwrap(), "{name}");
    }
}

#[test]
fn encrypted_key_needs_its_passphrase() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let vouch = Vouch::new();
    vouch.run_with_passphrase("pw", &["keys", "generate", "ci"]).success();
    let path = corpus.join("trivy/trivy-alpine39-critical.json");
    let args = ["attest", IMAGE, "--trivy", path.to_str().unwrap(), "--key", "ci", "--dry-run"];
    let wrong = vouch.run_with_passphrase("nope", &args).failure();
    assert!(wrong.stderr.contains("wrong passphrase"), "{}", wrong.stderr);
    let none = vouch.run(&args).failure();
    assert!(none.stderr.contains("needs a passphrase"), "{}", none.stderr);
    vouch.run_with_passphrase("pw", &args).success();
}

#[test]
fn public_only_key_cannot_sign() {
    let signer = Signer::new();
    let public = signer.vouch.path("ci.pub");
    signer.vouch.run(&["keys", "export", "ci", "--out", public.to_str().unwrap()]).success();
    signer.vouch.run(&["keys", "import", "verifier", public.to_str().unwrap()]).success();
    let run =
        signer.vouch.run(&["attest", IMAGE, "--approve", "--reason", "x", "--key", "verifier", "--dry-run"]).failure();
    assert!(run.stderr.contains("holds only a public key"), "{}", run.stderr);
}

#[test]
fn oci_layout_manifest_is_the_subject() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let layout = corpus.join("oci/layout-one-image");
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let expected = index["manifests"][0]["digest"].as_str().unwrap();

    let run =
        signer.attest(&format!("oci:{}", layout.display()), &["--approve", "--reason", "built locally"]).success();
    let statement = signer.verify(&run);
    assert!(statement.subject_matches(&vouch_protocol::Digest::parse(expected).unwrap()), "{:?}", statement.subjects);
    assert_eq!(summary_line(&run.stderr, "image"), "single manifest");
}

/// Writes `bytes` as a blob of the layout and returns its descriptor.
fn write_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = vouch_protocol::Digest::sha256(bytes);
    std::fs::write(layout.join("blobs/sha256").join(digest.hex()), bytes).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()})
}

/// Builds an OCI layout with one index `v1` of two platform manifests (linux/amd64
/// and linux/arm/v7) and returns the folder and the digests of the index and the arm
/// manifest.
fn multi_platform_layout(vouch: &Vouch) -> (PathBuf, String, String) {
    let layout = vouch.path("multi");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();

    let mut entries = Vec::new();
    for (architecture, variant) in [("amd64", None), ("arm", Some("v7"))] {
        let config = serde_json::json!({"architecture": architecture, "os": "linux", "variant": variant, "rootfs": {"type": "layers", "diff_ids": []}});
        let config =
            write_blob(&layout, "application/vnd.oci.image.config.v1+json", &serde_json::to_vec(&config).unwrap());
        let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": []});
        let mut entry =
            write_blob(&layout, "application/vnd.oci.image.manifest.v1+json", &serde_json::to_vec(&manifest).unwrap());
        entry["platform"] = serde_json::json!({"os": "linux", "architecture": architecture});
        if let Some(variant) = variant {
            entry["platform"]["variant"] = Value::String(variant.to_owned());
        }
        entries.push(entry);
    }
    let arm_digest = entries[1]["digest"].as_str().unwrap().to_owned();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries});
    let mut top = write_blob(&layout, "application/vnd.oci.image.index.v1+json", &serde_json::to_vec(&index).unwrap());
    let index_digest = top["digest"].as_str().unwrap().to_owned();
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "v1"});
    let layout_index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&layout_index).unwrap()).unwrap();
    (layout, index_digest, arm_digest)
}

#[test]
fn oci_layout_platform_selects_manifest() {
    let signer = Signer::new();
    let (layout, index_digest, arm_digest) = multi_platform_layout(&signer.vouch);
    let image = format!("oci:{}:v1", layout.display());

    let whole = signer.attest(&image, &["--approve", "--reason", "ok"]).success();
    assert!(signer.verify(&whole).subject_matches(&vouch_protocol::Digest::parse(&index_digest).unwrap()));
    assert!(summary_line(&whole.stderr, "image").starts_with("index"), "{}", whole.stderr);

    let one = signer.attest(&image, &["--approve", "--reason", "ok", "--platform", "linux/arm/v7"]).success();
    assert!(signer.verify(&one).subject_matches(&vouch_protocol::Digest::parse(&arm_digest).unwrap()));
    let chosen = summary_line(&one.stderr, "image");
    assert!(chosen.contains("linux/arm/v7"), "{chosen}");
    assert!(chosen.contains(&index_digest), "{chosen}");

    let missing = signer.attest(&image, &["--approve", "--reason", "ok", "--platform", "windows/amd64"]).failure();
    assert!(missing.stderr.contains("windows/amd64"), "{}", missing.stderr);
}

#[test]
fn platform_with_registry_reference_is_rejected() {
    let signer = Signer::new();
    let run = signer.attest(IMAGE, &["--approve", "--reason", "ok", "--platform", "linux/amd64"]).failure();
    assert!(run.stderr.contains("--platform applies to `oci:DIR` layouts only"), "{}", run.stderr);
}

/// Builds an OCI layout whose only entry is one image manifest with an image config for
/// `os`/`architecture`; returns the folder and the sizes of `index.json`, the manifest
/// and the config. The manifest is padded with an annotation to be the largest file.
fn single_manifest_layout(vouch: &Vouch, os: &str, architecture: &str) -> (PathBuf, [u64; 3]) {
    let layout = vouch.path("single");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();

    let config =
        serde_json::json!({"architecture": architecture, "os": os, "rootfs": {"type": "layers", "diff_ids": []}});
    let config = serde_json::to_vec(&config).unwrap();
    let config_descriptor = write_blob(&layout, "application/vnd.oci.image.config.v1+json", &config);
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_descriptor, "layers": [], "annotations": {"padding": "p".repeat(1000)}});
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let entry = write_blob(&layout, "application/vnd.oci.image.manifest.v1+json", &manifest);
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [entry]})).unwrap();
    std::fs::write(layout.join("index.json"), &index).unwrap();
    (layout, [index.len() as u64, manifest.len() as u64, config.len() as u64])
}

#[test]
fn oci_layout_manifest_size_edge() {
    let signer = Signer::new();
    let (layout, [index, manifest, config]) = single_manifest_layout(&signer.vouch, "linux", "amd64");
    assert!(manifest > index, "the manifest must be larger than index.json");
    assert!(manifest > config, "the manifest must be larger than the config");
    let image = format!("oci:{}", layout.display());
    let review = ["--approve", "--reason", "ok", "--platform", "linux/amd64", "--max-input-bytes"];

    let at = manifest.to_string();
    let run = signer.attest(&image, &[&review[..], &[at.as_str()]].concat()).success();
    assert_eq!(summary_line(&run.stderr, "image"), "single manifest");

    let past = (manifest - 1).to_string();
    let run = signer.attest(&image, &[&review[..], &[past.as_str()]].concat()).failure();
    assert!(run.stderr.contains(&format!("{manifest} bytes by its descriptor")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("over the limit of {past} bytes for manifests")), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn oci_layout_index_json_size_edge() {
    let signer = Signer::new();
    let (layout, [index, ..]) = single_manifest_layout(&signer.vouch, "linux", "amd64");
    let image = format!("oci:{}", layout.display());
    let past = (index - 1).to_string();
    let run = signer.attest(&image, &["--approve", "--reason", "ok", "--max-input-bytes", &past]).failure();
    assert!(run.stderr.contains("index.json"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("over the limit of {past} bytes")), "{}", run.stderr);
}

#[test]
fn oci_single_manifest_platform_is_checked() {
    let signer = Signer::new();
    let (layout, _) = single_manifest_layout(&signer.vouch, "linux", "arm64");
    let image = format!("oci:{}", layout.display());

    let run = signer.attest(&image, &["--approve", "--reason", "ok", "--platform", "linux/arm64"]).success();
    assert_eq!(summary_line(&run.stderr, "image"), "single manifest");

    let run = signer.attest(&image, &["--approve", "--reason", "ok", "--platform", "linux/amd64"]).failure();
    assert!(run.stderr.contains("records platform linux/arm64"), "{}", run.stderr);
    assert!(run.stderr.contains("requested linux/amd64"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

/// Prints the `os/architecture` of the image config of the layout's first manifest.
const PYTHON_CONFIG_PLATFORM: &str = r#"
import json, os, sys
root = sys.argv[1]
def blob(digest):
    algorithm, encoded = digest.split(':')
    return json.load(open(os.path.join(root, 'blobs', algorithm, encoded)))
manifest = blob(json.load(open(os.path.join(root, 'index.json')))['manifests'][0]['digest'])
config = blob(manifest['config']['digest'])
print(config['os'] + '/' + config['architecture'])
"#;

#[test]
fn oci_corpus_layout_platform_mismatch_names_both() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let signer = Signer::new();
    let layout = corpus.join("oci/layout-one-image");
    let recorded = python3(PYTHON_CONFIG_PLATFORM, &[&layout]);
    let recorded = recorded.trim();
    let image = format!("oci:{}", layout.display());
    signer.attest(&image, &["--approve", "--reason", "ok", "--platform", recorded]).success();

    let other = if recorded == "linux/riscv64" { "linux/s390x" } else { "linux/riscv64" };
    let run = signer.attest(&image, &["--approve", "--reason", "ok", "--platform", other]).failure();
    assert!(run.stderr.contains(&format!("records platform {recorded}")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("requested {other}")), "{}", run.stderr);
}

/// A Trivy report whose bytes any re-encoding would change: keys out of order, an
/// integer beyond 64 bits, a number with a trailing zero and an escaped slash.
const TRIVY_EXACT: &str = r#"{"SchemaVersion": 2, "ArtifactName": "app", "Results": [{"Target": "app (alpine 3.19)", "Class": "os-pkgs", "Vulnerabilities": [{"VulnerabilityID": "CVE-2024-0001", "PkgName": "zlib", "InstalledVersion": "1.2", "Severity": "HIGH", "CVSS": {"nvd": {"V3Score": 7.50}}}]}], "Metadata": {"Size": 123456789012345678901234567890, "ZLast": "z", "ALast": "a\/b"}}"#;

/// Reads the envelope on stdin with Python (whose integers are exact) and prints the
/// report's `Metadata.Size` as text and the order of the `Metadata` keys.
const PYTHON_EMBEDDED_REPORT: &str = r#"
import base64, json, sys
envelope = json.load(open(sys.argv[1]))
statement = json.loads(base64.b64decode(envelope["payload"]))
metadata = statement["predicate"]["scanner"]["result"]["Metadata"]
print(json.dumps({"size": str(metadata["Size"]), "keys": list(metadata)}))
"#;

#[test]
fn scanner_report_is_embedded_byte_for_byte() {
    let signer = Signer::new();
    let path = write(&signer.vouch, "exact.json", format!("\n  {TRIVY_EXACT}\n\n").as_bytes());
    let run = signer.attest(IMAGE, &["--trivy", path.to_str().unwrap()]).success();
    let statement = signer.verify(&run);
    assert_eq!(statement.predicate_type, COSIGN_VULN);

    let envelope = Envelope::from_json("stdout", run.stdout.as_bytes()).unwrap();
    let payload = String::from_utf8(envelope.payload).unwrap();
    assert!(payload.contains(&format!("\"result\":{TRIVY_EXACT}")), "{payload}");
    assert!(!payload.contains(&format!("{TRIVY_EXACT}\n")), "{payload}");

    let envelope_path = write(&signer.vouch, "exact.intoto.json", run.stdout.as_bytes());
    let reading: Value = serde_json::from_str(&python3(PYTHON_EMBEDDED_REPORT, &[&envelope_path])).unwrap();
    assert_eq!(reading["size"], "123456789012345678901234567890");
    assert_eq!(reading["keys"], serde_json::json!(["Size", "ZLast", "ALast"]));
    assert!(summary_line(&run.stderr, "vulnerabilities").contains("high=1"), "{}", run.stderr);
}

#[test]
fn sbom_and_provenance_are_embedded_byte_for_byte() {
    let signer = Signer::new();
    let sbom = r#"{"specVersion": "1.5", "bomFormat": "CycloneDX", "version": 1, "metadata": {"size": 123456789012345678901234567890}, "components": [{"type": "library", "name": "zlib", "version": "1.2"}]}"#;
    let provenance = r#"{"runDetails": {"builder": {"id": "https://builder.example/v1"}}, "buildDefinition": {"externalParameters": {"n": 1.0e2}, "buildType": "https://build.example/type/v1"}}"#;
    for (flag, document) in [("--sbom", sbom), ("--provenance", provenance)] {
        let path = write(&signer.vouch, "document.json", format!("{document}\n").as_bytes());
        let run = signer.attest(IMAGE, &[flag, path.to_str().unwrap()]).success();
        signer.verify(&run);
        let envelope = Envelope::from_json("stdout", run.stdout.as_bytes()).unwrap();
        let payload = String::from_utf8(envelope.payload).unwrap();
        assert!(payload.ends_with(&format!("\"predicate\":{document}}}")), "{flag}: {payload}");
    }
}

/// Signs an approval of IMAGE with `signer`'s key `ci` and writes the envelope to a file.
fn approval_envelope(signer: &Signer, file_name: &str) -> PathBuf {
    let run = signer.attest(IMAGE, &["--approve", "--reason", "first reviewer"]).success();
    write(&signer.vouch, file_name, run.stdout.as_bytes())
}

#[test]
fn envelope_existing_signature_is_verified() {
    let signer = Signer::new();
    let path = approval_envelope(&signer, "first.json");
    signer.vouch.generate_unencrypted("second");
    let run =
        signer.vouch.run(&["attest", IMAGE, "--envelope", path.to_str().unwrap(), "--key", "second", "--dry-run"]);
    let run = run.success();
    let line = summary_line(&run.stderr, "existing signature");
    assert_eq!(line, format!("#1 (keyid {}) verified with key `ci`", signer.keyid));
}

#[test]
fn envelope_signature_by_public_only_key_is_verified() {
    let author = Signer::new();
    let path = approval_envelope(&author, "first.json");
    let exported = author.vouch.path("ci.pub");
    author.vouch.run(&["keys", "export", "ci", "--out", exported.to_str().unwrap()]).success();

    let countersigner = Vouch::new();
    countersigner.generate_unencrypted("ci");
    countersigner.run(&["keys", "import", "alice", exported.to_str().unwrap()]).success();
    let args = ["attest", IMAGE, "--envelope", path.to_str().unwrap(), "--key", "ci", "--dry-run"];
    let run = countersigner.run(&args).success();
    assert!(summary_line(&run.stderr, "existing signature").ends_with("verified with key `alice`"), "{}", run.stderr);
    let envelope = Envelope::from_json("stdout", run.stdout.as_bytes()).unwrap();
    assert_eq!(envelope.signatures.len(), 2);

    let stranger = Vouch::new();
    stranger.generate_unencrypted("ci");
    let run = stranger.run(&args).success();
    let line = summary_line(&run.stderr, "existing signature");
    assert!(line.ends_with("not checked: no keyring key matches"), "{}", run.stderr);
    assert!(line.contains(author.keyid.as_str()), "{line}");
}

#[test]
fn envelope_with_tampered_signature_is_rejected() {
    let signer = Signer::new();
    let path = approval_envelope(&signer, "first.json");
    let mut envelope = Envelope::from_json("first", &std::fs::read(&path).unwrap()).unwrap();
    let payload = String::from_utf8(envelope.payload.clone()).unwrap();
    assert!(payload.contains("first reviewer"), "{payload}");
    envelope.payload = payload.replace("first reviewer", "first reviewez").into_bytes();
    let tampered = write(&signer.vouch, "tampered.json", envelope.to_json().as_bytes());
    signer.vouch.generate_unencrypted("second");

    let file = tampered.to_str().unwrap();
    let run = signer.vouch.run(&["attest", IMAGE, "--envelope", file, "--key", "second", "--dry-run"]).failure();
    assert!(run.stderr.contains("does not verify with keyring key `ci`"), "{}", run.stderr);
    assert!(run.stderr.contains("tampered.json"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn envelope_signed_by_same_key_without_keyid_is_rejected() {
    let signer = Signer::new();
    let path = approval_envelope(&signer, "first.json");
    let mut envelope = Envelope::from_json("first", &std::fs::read(&path).unwrap()).unwrap();
    envelope.signatures[0].keyid = String::new();
    let anonymous = write(&signer.vouch, "anonymous.json", envelope.to_json().as_bytes());

    let run = signer.attest(IMAGE, &["--envelope", anonymous.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("already has a signature by key `ci`"), "{}", run.stderr);
    assert!(run.stderr.contains("keyid empty"), "{}", run.stderr);
}
