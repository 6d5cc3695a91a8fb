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

/// Replaces `path` with a FIFO.
#[cfg(unix)]
fn make_fifo(path: &std::path::Path) {
    let _ = std::fs::remove_file(path);
    let made = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo {} failed", path.display());
}

/// A single-manifest layout whose image config is an empty blob (size 0) that is a
/// FIFO: the size check passes, so only the file type check stops the read.
#[cfg(unix)]
#[test]
fn layout_fifo_blob_does_not_hang() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let layout = vouch.path("layout");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();

    let empty = vouch_protocol::Digest::sha256(b"");
    let config = serde_json::json!({"mediaType": "application/vnd.oci.image.config.v1+json", "digest": empty.to_string(), "size": 0});
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": []});
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = vouch_protocol::Digest::sha256(&manifest);
    std::fs::write(blobs.join(manifest_digest.hex()), &manifest).unwrap();
    let entry = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest.to_string(), "size": manifest.len()});
    std::fs::write(
        layout.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [entry]}).to_string(),
    )
    .unwrap();
    let fifo = blobs.join(empty.hex());
    make_fifo(&fifo);

    let image = format!("oci:{}", layout.display());
    let args =
        ["attest", &image, "--platform", "linux/amd64", "--approve", "--reason", "ok", "--key", "ci", "--dry-run"];
    let run = run_or_fail_on_hang(vouch.command(&args), "attest oci: --platform").failure();
    assert!(run.stderr.contains(&fifo.display().to_string()), "{}", run.stderr);
    assert!(run.stderr.contains("must be regular files"), "{}", run.stderr);
}

/// A report read from a FIFO, as `--trivy <(trivy image …)` passes it, is read like a
/// regular file.
#[cfg(unix)]
#[test]
fn report_from_fifo_is_read() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let fifo = vouch.path("trivy.json");
    make_fifo(&fifo);
    let writer_path = fifo.clone();
    std::thread::spawn(move || std::fs::write(writer_path, br#"{"SchemaVersion": 2, "Results": []}"#));

    let image = format!("registry.example/app@sha256:{}", "5".repeat(64));
    let args = ["attest", &image, "--trivy", fifo.to_str().unwrap(), "--key", "ci", "--dry-run"];
    let run = run_or_fail_on_hang(vouch.command(&args), "attest --trivy FIFO").success();
    assert!(run.stdout.contains("\"payloadType\""), "{}", run.stdout);
}

/// Writes a Trivy report padded to exactly `size` bytes.
fn padded_trivy_report(path: &std::path::Path, size: usize) {
    let (head, tail) = (r#"{"SchemaVersion": 2, "Results": [], "Padding": ""#, r#""}"#);
    let padding = "x".repeat(size - head.len() - tail.len());
    std::fs::write(path, format!("{head}{padding}{tail}")).unwrap();
}

/// A report at the DSSE payload limit is read and parsed, and only the statement
/// around it is too large. One byte more is rejected before parsing, whatever
/// `--max-input-bytes` allows, because the statement could never be signed.
#[test]
fn report_payload_limit_edge() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let max = vouch_protocol::dsse::PAYLOAD_BYTES_MAX;
    let report = vouch.path("trivy.json");
    let name = report.display().to_string();
    let image = format!("registry.example/app@sha256:{}", "5".repeat(64));
    let args = ["attest", &image, "--trivy", &name, "--key", "ci", "--dry-run"];

    padded_trivy_report(&report, max);
    let at = vouch.run(&args).failure();
    assert!(at.stderr.contains(&format!("the statement made from {name} is")), "{}", at.stderr);

    padded_trivy_report(&report, max + 1);
    let higher_limit = (4 * max).to_string();
    for extra in [&[][..], &["--max-input-bytes", &higher_limit][..]] {
        let past = vouch.run(&[&args[..], extra].concat()).failure();
        let expected = format!("{name}: file is {} bytes, over the DSSE payload limit of {max} bytes", max + 1);
        assert!(past.stderr.contains(&expected), "{extra:?}: {}", past.stderr);
        assert!(past.stderr.contains("attest a smaller file"), "{extra:?}: {}", past.stderr);
        assert!(!past.stderr.contains("--max-input-bytes"), "{extra:?}: {}", past.stderr);
    }
}

#[test]
fn envelope_file_over_envelope_limit() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let max = vouch_protocol::dsse::ENVELOPE_BYTES_MAX;
    let envelope = vouch.path("envelope.json");
    let name = envelope.display().to_string();
    std::fs::write(&envelope, vec![b' '; max + 1]).unwrap();
    let image = format!("registry.example/app@sha256:{}", "5".repeat(64));
    let run = vouch.run(&["attest", &image, "--envelope", &name, "--key", "ci", "--dry-run"]).failure();
    let expected = format!("{name}: file is {} bytes, over the DSSE envelope limit of {max} bytes", max + 1);
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(!run.stderr.contains("--max-input-bytes"), "{}", run.stderr);
}

#[test]
fn key_files_of_wrong_shape_name_the_format() {
    let vouch = Vouch::new();
    let file = vouch.path("key.json");
    for document in ["[]", "\"ed25519\"", "7"] {
        std::fs::write(&file, document).unwrap();
        let run = vouch.run(&["keys", "import", "imported", file.to_str().unwrap(), "--no-passphrase"]).failure();
        assert!(run.stderr.contains("expected a securesystemslib key object"), "{document}: {}", run.stderr);
        assert!(!run.stderr.contains("struct "), "{document}: {}", run.stderr);
    }

    vouch.generate_unencrypted("ci");
    let key_file = vouch.keyring().join("ci.json");
    for document in ["[]", "\"ci\"", "7"] {
        std::fs::write(&key_file, document).unwrap();
        let run = vouch.run(&["keys", "show", "ci"]).failure();
        assert!(run.stderr.contains("expected a Vouch key file object"), "{document}: {}", run.stderr);
        assert!(!run.stderr.contains("struct "), "{document}: {}", run.stderr);
    }
}
