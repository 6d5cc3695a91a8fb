//! A real `vouchd` whose genesis lists two validators, one of them this node's key: it
//! starts, logs that it waits for peers with the power it has and needs, goes through a
//! round timeout, and commits nothing.

mod daemon_support;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use daemon_support::http_request;
use vouch_protocol::keys::SigningKey;

const VOUCHD: &str = env!("CARGO_BIN_EXE_vouchd");

/// Maximum wait for a line of output, after which the test fails instead of hanging.
/// No assertion depends on how fast the node is.
const OUTPUT_WAIT_MAX: Duration = Duration::from_secs(120);

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Initializes a home and adds a second validator with `stake` to its genesis.
fn init_with_peer(home: &Path, stake: u64) {
    let output = Command::new(VOUCHD)
        .args(["init", "--home", path_str(home), "--chain-id", "two-validators", "--stake", "100"])
        .output()
        .expect("vouchd runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let path = home.join("genesis.json");
    let mut genesis: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let peer = SigningKey::from_seed(&[77; 32]).public_key().to_hex();
    let validators = genesis["validators"].as_array_mut().expect("a validators list");
    validators.push(serde_json::json!({ "name": "peer", "public_key": peer, "stake": stake }));
    std::fs::write(&path, serde_json::to_string_pretty(&genesis).unwrap()).unwrap();
}

/// Forwards each line of `stream` to the returned channel.
fn lines(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Returns the first line that contains `text`, failing after [`OUTPUT_WAIT_MAX`].
fn wait_for_line(lines: &Receiver<String>, text: &str, child: &mut Child) -> String {
    let deadline = Instant::now() + OUTPUT_WAIT_MAX;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("vouchd printed no line containing {text:?}");
            }
        }
    }
}

/// Waits until `path` exists: the engine records its nil prevote there right after it
/// logs the expired timeout. Fails after [`OUTPUT_WAIT_MAX`].
fn wait_for_file(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + OUTPUT_WAIT_MAX;
    while !path.is_file() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not appear", path.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn latest_height(address: SocketAddr) -> u64 {
    let (status, body) = http_request(address, "GET", "/v1/status", "");
    assert_eq!(status, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    status["latest_height"].as_u64().expect("latest_height")
}

#[test]
fn validator_without_quorum_waits_for_peers() {
    let home = tempfile::tempdir().expect("temporary folder");
    init_with_peer(home.path(), 200);

    let mut child = Command::new(VOUCHD)
        .args(["start", "--home", path_str(home.path()), "--api-addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vouchd runs");
    let stdout = lines(child.stdout.take().expect("stdout"));
    let stderr = lines(child.stderr.take().expect("stderr"));

    let api = wait_for_line(&stdout, "http://", &mut child);
    let address: SocketAddr = api.split("http://").nth(1).expect("an address").trim().parse().expect("IP:PORT");

    // 100 of 300: a commit needs more than 200.
    let waiting = wait_for_line(&stderr, "waiting for peers", &mut child);
    assert!(waiting.contains("power=100"), "{waiting}");
    assert!(waiting.contains("total_power=300"), "{waiting}");
    assert!(waiting.contains("quorum_power=201"), "{waiting}");

    // The peer proposes round 0 and never does, so the propose timeout expires and this
    // validator prevotes nil, alone.
    let expired = wait_for_line(&stderr, "timeout expired", &mut child);
    assert!(expired.contains("step=propose"), "{expired}");
    let guard = home.path().join("data").join("consensus").join("sign-guard");
    wait_for_file(&guard, &mut child);
    assert_eq!(latest_height(address), 0, "one third of the power commits nothing");

    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(sent.success());
    let status = child.wait().expect("vouchd exits");
    assert_eq!(status.code(), Some(0), "a clean stop");
}

#[test]
fn node_key_outside_the_genesis_is_rejected() {
    let home = tempfile::tempdir().expect("temporary folder");
    init_with_peer(home.path(), 200);
    let path = home.path().join("genesis.json");
    let mut genesis: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    genesis["validators"].as_array_mut().unwrap().remove(0);
    std::fs::write(&path, serde_json::to_string_pretty(&genesis).unwrap()).unwrap();

    let output = Command::new(VOUCHD)
        .args(["start", "--home", path_str(home.path()), "--api-addr", "127.0.0.1:0"])
        .output()
        .expect("vouchd runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("among its validators"), "{stderr}");
    assert!(stderr.contains("peer ("), "the message lists the genesis validators: {stderr}");
}
