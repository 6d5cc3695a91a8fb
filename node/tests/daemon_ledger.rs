//! A real `vouchd` on a home whose ledger database was removed, emptied or damaged, or
//! whose `storage.data_dir` is a file: each start is rejected with exit code 1 and a
//! message that names the fix.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const VOUCHD: &str = env!("CARGO_BIN_EXE_vouchd");

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn init_home(home: &Path) {
    let output = Command::new(VOUCHD)
        .args(["init", "--home", path_str(home), "--chain-id", "ledger-test"])
        .output()
        .expect("vouchd runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Starts the node, waits until it serves, stops it with SIGTERM and returns its output.
fn run_until_serving(home: &Path, extra: &[&str]) -> Output {
    let mut child = Command::new(VOUCHD)
        .args(["start", "--home", path_str(home), "--api-addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vouchd runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let mut serving = false;
    while stdout.read_line(&mut line).expect("read") > 0 {
        if line.contains("http://127.0.0.1:") {
            serving = true;
            break;
        }
        line.clear();
    }
    if serving {
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }
    let output = child.wait_with_output().expect("vouchd exits");
    assert!(serving, "vouchd did not serve: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Starts the node, expecting it to fail before it serves; returns its stderr.
/// A node that starts anyway is stopped after a minute, so the test fails instead of
/// hanging.
fn start_fails(home: &Path) -> String {
    let mut child = Command::new(VOUCHD)
        .args(["start", "--home", path_str(home), "--api-addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vouchd runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().expect("poll vouchd").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().expect("stop vouchd");
            let output = child.wait_with_output().expect("vouchd exits");
            panic!("vouchd kept running: {}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("vouchd exits");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("http://"), "it must not serve: {stderr}");
    stderr
}

fn home_with_ledger() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary folder");
    init_home(dir.path());
    run_until_serving(dir.path(), &[]);
    assert!(dir.path().join("ledger.json").is_file(), "the first start records the ledger marker");
    dir
}

#[test]
fn deleted_data_folder_is_rejected() {
    let home = home_with_ledger();
    std::fs::remove_dir_all(home.path().join("data")).expect("remove the data folder");
    let message = start_fails(home.path());
    assert!(message.contains("is missing or empty"), "{message}");
    assert!(message.contains("restore the database from a backup"), "{message}");
    assert!(message.contains("--recreate-ledger"), "{message}");
    assert!(!home.path().join("data").exists(), "the rejected start creates no database to remove before a restore");

    // An empty folder, as a restore in progress leaves it, is rejected the same way.
    std::fs::create_dir(home.path().join("data")).expect("create an empty data folder");
    assert!(start_fails(home.path()).contains("is missing or empty"));
    let entries = std::fs::read_dir(home.path().join("data")).expect("the folder is still there").count();
    assert_eq!(entries, 0, "the rejected start leaves the empty folder empty");

    // The explicit flag starts a new chain from genesis.
    let output = run_until_serving(home.path(), &["--recreate-ledger"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("re-creating the ledger"));
}

#[test]
fn emptied_database_file_is_rejected() {
    let home = home_with_ledger();
    let db = home.path().join("data").join("db");
    assert!(db.is_file(), "sled keeps its log in data/db");
    std::fs::File::create(&db).expect("truncate the database file to 0 bytes");
    let message = start_fails(home.path());
    assert!(message.contains("is missing or empty"), "{message}");
}

#[test]
fn deleted_blob_is_reported_corrupt() {
    let home = home_with_ledger();
    let blobs: Vec<_> = std::fs::read_dir(home.path().join("data").join("blobs"))
        .expect("sled stores large values in data/blobs")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert!(!blobs.is_empty(), "the genesis policies are stored as blobs");
    for blob in &blobs {
        std::fs::remove_file(blob).expect("remove a blob");
    }
    let message = start_fails(home.path());
    assert!(message.contains("is corrupt"), "{message}");
    assert!(message.contains("restore it from a backup"), "{message}");
    assert!(!message.contains("panicked at"), "no panic output: {message}");
}

#[test]
fn data_dir_that_is_a_file_is_named() {
    let home = tempfile::tempdir().expect("temporary folder");
    init_home(home.path());
    let config = std::fs::read_to_string(home.path().join("config.toml")).expect("config");
    let config = config.replace("data_dir = \"data\"", "data_dir = \"ledger-file\"");
    std::fs::write(home.path().join("config.toml"), config).expect("write config");
    std::fs::write(home.path().join("ledger-file"), "not a folder").expect("write");
    let message = start_fails(home.path());
    assert!(message.contains("storage.data_dir"), "{message}");
    assert!(message.contains("ledger-file is not a folder"), "{message}");
    assert!(!message.contains("another vouchd"), "{message}");
}

#[test]
fn changed_genesis_is_rejected() {
    let home = home_with_ledger();
    let path = home.path().join("genesis.json");
    let mut genesis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    genesis["governance"]["voting_period_blocks"] = serde_json::json!(7);
    std::fs::write(&path, serde_json::to_string_pretty(&genesis).expect("JSON")).expect("write");
    let message = start_fails(home.path());
    assert!(message.contains("ledger.json records the ledger of chain ledger-test"), "{message}");
    assert!(message.contains("restore the genesis.json"), "{message}");
}

#[test]
fn empty_marker_guards_and_is_rewritten() {
    let home = home_with_ledger();
    let marker = home.path().join("ledger.json");
    let recorded = std::fs::read_to_string(&marker).expect("read the marker");

    // An empty marker, as an interrupted write of an earlier build leaves it, still
    // rejects a start over a missing database.
    std::fs::write(&marker, b"").expect("empty the marker");
    let data = home.path().join("data");
    let saved = home.path().join("data-saved");
    std::fs::rename(&data, &saved).expect("move the database away");
    let message = start_fails(home.path());
    assert!(message.contains("is missing or empty"), "{message}");
    assert!(message.contains("--recreate-ledger"), "{message}");

    // With the database back (the rejected start created nothing in its place), the
    // start writes the marker again.
    assert!(!data.exists(), "the rejected start creates no database");
    std::fs::rename(&saved, &data).expect("move the database back");
    let output = run_until_serving(home.path(), &[]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("the ledger marker is empty"));
    assert_eq!(std::fs::read_to_string(&marker).expect("read the marker again"), recorded);
}

#[test]
fn stop_saves_filters_for_next_start() {
    let home = tempfile::tempdir().expect("temporary folder");
    init_home(home.path());
    let first = run_until_serving(home.path(), &[]);
    let first = String::from_utf8_lossy(&first.stderr);
    assert!(first.contains("saved the newest key filters for the next start"), "{first}");

    let second = run_until_serving(home.path(), &[]);
    let second = String::from_utf8_lossy(&second.stderr);
    let filled = second.lines().find(|line| line.contains("key filter filled")).expect("the fill is logged");
    assert!(filled.contains("scanned=0"), "the saved filters replace the scan: {filled}");
}
