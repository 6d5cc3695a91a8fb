//! The built `vouchd` binary as a process: `init`, a start on a home that another
//! process holds, and a clean stop on SIGTERM.
//!
//! The tests marked `ignore` start a chain, which needs the ledger app wired into
//! `vouchd start`; they run with `cargo test -- --ignored` once it is.

mod daemon_support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use daemon_support::http_request;

const VOUCHD: &str = env!("CARGO_BIN_EXE_vouchd");

fn vouchd(args: &[&str]) -> Output {
    Command::new(VOUCHD).args(args).env_remove("RUST_LOG").output().expect("vouchd runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn init_home(home: &Path) {
    let output = vouchd(&["init", "--home", path_str(home), "--chain-id", "process-test"]);
    assert!(output.status.success(), "init failed: {}", stderr(&output));
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn init_creates_the_home() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = dir.path().join("node");
    let output = vouchd(&[
        "init",
        "--home",
        path_str(&home),
        "--chain-id",
        "process-test",
        "--validator-name",
        "val-1",
        "--stake",
        "7",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("vouchd start --home"), "{stdout}");

    let genesis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("genesis.json")).expect("genesis")).expect("JSON");
    assert_eq!(genesis["chain_id"], "process-test");
    assert_eq!(genesis["validators"][0]["name"], "val-1");
    assert_eq!(genesis["validators"][0]["stake"], 7);

    let key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("node_key.json")).expect("key")).expect("JSON");
    assert_eq!(key["public_key"], genesis["validators"][0]["public_key"]);
    assert!(!stderr(&output).contains(key["seed"].as_str().expect("seed")), "the seed is never logged");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join("node_key.json")).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn init_refuses_a_non_empty_home() {
    let dir = tempfile::tempdir().expect("temporary folder");
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
    let output = vouchd(&["init", "--home", path_str(dir.path()), "--chain-id", "process-test"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("is not empty (it holds notes.txt)"), "{message}");
}

#[test]
fn init_rejects_an_invalid_chain_id() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let output = vouchd(&["init", "--home", path_str(&dir.path().join("n")), "--chain-id", "Vouch_Main"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--chain-id: invalid chain id \"Vouch_Main\""), "{}", stderr(&output));
    assert!(!dir.path().join("n").exists(), "nothing is written");
}

#[test]
fn start_needs_an_initialized_home() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let output = vouchd(&["start", "--home", path_str(dir.path())]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("vouchd init --home"), "{}", stderr(&output));
}

#[test]
fn start_names_an_invalid_config_field() {
    let dir = tempfile::tempdir().expect("temporary folder");
    init_home(dir.path());
    std::fs::write(dir.path().join("config.toml"), "[blocks]\ninterval_ms = 0\n").expect("write");
    let output = vouchd(&["start", "--home", path_str(dir.path())]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("`blocks.interval_ms` is 0"), "{}", stderr(&output));
}

/// A Python process that holds the home's lock with `flock`, as a running vouchd does.
struct LockHolder {
    child: Child,
}

impl LockHolder {
    fn hold(lock_path: &Path) -> LockHolder {
        let script = "import fcntl, os, sys\n\
                      f = open(sys.argv[1], 'a+')\n\
                      fcntl.flock(f, fcntl.LOCK_EX)\n\
                      f.truncate(0); f.write(str(os.getpid()) + '\\n'); f.flush()\n\
                      print('locked', flush=True)\n\
                      sys.stdin.read()\n";
        let mut child = Command::new("python3")
            .args(["-c", script, path_str(lock_path)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "locked");
        LockHolder { child }
    }

    fn release(mut self) {
        self.child.stdin.take().expect("stdin").write_all(b"").expect("write");
        self.child.wait().expect("python exits");
    }
}

#[test]
fn start_on_a_locked_home_names_the_holder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    init_home(dir.path());
    let holder = LockHolder::hold(&dir.path().join("vouchd.lock"));

    let output = vouchd(&["start", "--home", path_str(dir.path())]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains(&format!("in use by vouchd process {}", holder.child.id())), "{message}");
    assert!(message.contains("vouchd.lock"), "{message}");
    holder.release();
}

/// A running `vouchd start` and the API address it printed.
struct RunningNode {
    child: Child,
    address: std::net::SocketAddr,
    /// Kept open so that vouchd can still write to its stdout.
    _stdout: BufReader<std::process::ChildStdout>,
}

fn start_node(args: &[&str]) -> RunningNode {
    let mut child =
        Command::new(VOUCHD).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("vouchd runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("read") > 0 {
        if let Some(url) = line.trim().strip_prefix("API      http://") {
            let address = url.parse().expect("the printed address");
            return RunningNode { child, address, _stdout: stdout };
        }
        line.clear();
    }
    let output = child.wait_with_output().expect("vouchd exits");
    panic!("vouchd printed no API address: {}", stderr(&output));
}

fn send_sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
}

#[test]
fn second_start_names_the_running_node() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = path_str(dir.path());
    let node = start_node(&["start", "--dev", "--home", home, "--api-addr", "127.0.0.1:0"]);

    let output = vouchd(&["start", "--home", home, "--api-addr", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(&format!("in use by vouchd process {}", node.child.id())), "{}", stderr(&output));

    send_sigterm(&node.child);
    assert!(node.child.wait_with_output().expect("exit").status.success());
}

#[test]
fn sigterm_stops_the_dev_chain_cleanly() {
    let node = start_node(&["start", "--dev", "--api-addr", "127.0.0.1:0"]);
    let (status, body) = http_request(node.address, "GET", "/v1/status", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"chain_id\":\"vouch-dev\""), "{body}");

    send_sigterm(&node.child);
    let output = node.child.wait_with_output().expect("vouchd exits");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn dev_home_is_kept_when_given() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = dir.path().join("dev");
    let node = start_node(&["start", "--dev", "--home", path_str(&home), "--api-addr", "127.0.0.1:0"]);
    send_sigterm(&node.child);
    assert!(node.child.wait_with_output().expect("exit").status.success());
    assert!(home.join("genesis.json").is_file(), "a given dev home stays");

    // A second start resumes the same chain.
    let node = start_node(&["start", "--dev", "--home", path_str(&home), "--api-addr", "127.0.0.1:0"]);
    send_sigterm(&node.child);
    assert!(node.child.wait_with_output().expect("exit").status.success());
}
