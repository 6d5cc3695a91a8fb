//! Hostile files and keyring folders given to the `vouch` binary: each gives a clear
//! one-line error or a warning, never a hang or advice about an option the command lacks.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Run, Vouch};

/// How long a command may run before the test calls it hung. It only guards against a
/// command that never returns, so it is far above any normal run.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// Runs a command, killing it and failing the test if it is still running after
/// [`HANG_GUARD`].
fn run_or_fail_on_hang(mut command: Command, what: &str) -> Run {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("start vouch");
    let started = Instant::now();
    while child.try_wait().expect("poll vouch").is_none() {
        if started.elapsed() > HANG_GUARD {
            child.kill().expect("kill vouch");
            panic!("{what} did not finish within {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("collect vouch output");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

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

#[cfg(unix)]
#[test]
fn keyring_fifo_does_not_hang() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let fifo = vouch.keyring().join("stuck.json");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo failed");

    let list = run_or_fail_on_hang(vouch.command(&["keys", "list"]), "keys list").success();
    assert!(list.stdout.contains("ci "), "{}", list.stdout);
    assert!(list.stderr.contains("stuck.json"), "{}", list.stderr);
    assert!(list.stderr.contains("not a regular file"), "{}", list.stderr);

    let show = run_or_fail_on_hang(vouch.command(&["keys", "show", "stuck"]), "keys show").failure();
    assert!(show.stderr.contains("not a regular file"), "{}", show.stderr);
}

#[test]
fn keyring_that_is_a_file_is_named() {
    let vouch = Vouch::new();
    std::fs::write(vouch.keyring(), b"not a folder").unwrap();
    let keyring = vouch.keyring().display().to_string();

    let generate = vouch.run(&["keys", "generate", "ci", "--no-passphrase"]).failure();
    assert!(generate.stderr.contains(&format!("keyring {keyring} is not a folder")), "{}", generate.stderr);
    assert!(!generate.stderr.contains(".ci.json."), "{}", generate.stderr);
    let list = vouch.run(&["keys", "list"]).failure();
    assert!(list.stderr.contains(&format!("keyring {keyring} is not a folder")), "{}", list.stderr);
    assert_eq!(std::fs::read(vouch.keyring()).unwrap(), b"not a folder");
}

#[test]
fn review_options_without_decision_are_rejected() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let report = vouch.path("trivy.json");
    std::fs::write(&report, br#"{"SchemaVersion": 2, "Results": []}"#).unwrap();
    let image = format!("registry.example/app@sha256:{}", "5".repeat(64));
    let args = ["attest", &image, "--trivy", report.to_str().unwrap(), "--key", "ci", "--dry-run"];
    let review_options: [&[&str]; 3] = [&["--expires", "1d"], &["--reason", "ok"], &["--reviewer", "alice"]];
    for option in review_options {
        let run = vouch.run(&[&args[..], option].concat()).expect_code(2);
        assert!(run.stderr.contains("--approve"), "{option:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{option:?} signed an envelope: {}", run.stdout);
    }
}

/// A report under `--max-input-bytes` whose statement is over the DSSE payload limit
/// fails before the key is unlocked, so no passphrase is asked for in vain.
#[test]
fn statement_over_payload_limit_fails_before_unlock() {
    let vouch = Vouch::new();
    vouch.run_with_passphrase("pw", &["keys", "generate", "locked"]).success();
    let report = vouch.path("trivy.json");
    let padding = "x".repeat(vouch_protocol::dsse::PAYLOAD_BYTES_MAX);
    std::fs::write(&report, format!(r#"{{"SchemaVersion": 2, "Results": [], "Padding": "{padding}"}}"#)).unwrap();
    let image = format!("registry.example/app@sha256:{}", "5".repeat(64));
    let args = ["attest", &image, "--trivy", report.to_str().unwrap(), "--key", "locked", "--dry-run"];
    let run = vouch.run(&args).failure();
    assert!(run.stderr.contains("over the DSSE payload limit"), "{}", run.stderr);
    assert!(run.stderr.contains("trivy.json"), "{}", run.stderr);
    assert!(!run.stderr.contains("passphrase"), "{}", run.stderr);
}

#[test]
fn export_into_missing_folder_names_out_path() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let out = vouch.path("missing/ci.json");
    let run = vouch.run(&["keys", "export", "ci", "--out", out.to_str().unwrap()]).failure();
    assert!(run.stderr.contains(&format!("cannot write {}:", out.display())), "{}", run.stderr);
    assert!(!run.stderr.contains(".ci.json."), "{}", run.stderr);
}
