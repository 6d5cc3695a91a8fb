//! Hostile files and keyring folders given to the `vouch` binary: each gives a clear
//! one-line error or a warning, never a hang or advice about an option the command lacks.

mod common;

use common::Vouch;

#[test]
fn import_over_limit_names_no_missing_option() {
    let vouch = Vouch::new();
    let file = vouch.path("huge-key.json");
    std::fs::write(&file, vec![b' '; 64 * 1024 + 1]).unwrap();
    let run = vouch.run(&["keys", "import", "big", file.to_str().unwrap(), "--no-passphrase"]).failure();
    assert!(run.stderr.contains("over the limit of 65536 bytes"), "{}", run.stderr);
    assert!(!run.stderr.contains("--max-input-bytes"), "{}", run.stderr);
}

#[test]
fn passphrase_file_over_limit_names_no_missing_option() {
    let vouch = Vouch::new();
    let file = vouch.path("pass.txt");
    std::fs::write(&file, vec![b'x'; 4097]).unwrap();
    let run = vouch.run(&["keys", "generate", "k", "--passphrase-file", file.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("over the limit of 4096 bytes"), "{}", run.stderr);
    assert!(!run.stderr.contains("--max-input-bytes"), "{}", run.stderr);
}

#[test]
fn attest_over_limit_names_the_option() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let report = vouch.path("trivy.json");
    std::fs::write(&report, br#"{"SchemaVersion": 2, "Results": []}"#).unwrap();
    let image = format!("registry.example/app@sha256:{}", "5".repeat(64));
    let args = ["attest", &image, "--trivy", report.to_str().unwrap(), "--key", "ci", "--dry-run"];
    let run = vouch.run(&[&args[..], &["--max-input-bytes", "10"]].concat()).failure();
    assert!(run.stderr.contains("over the limit of 10 bytes"), "{}", run.stderr);
    assert!(run.stderr.contains("--max-input-bytes"), "{}", run.stderr);
}
