//! A real `vouchd` on loopback against clients that hold connections: slow bodies,
//! idle connections, too many connections from one IP and oversized requests. Every
//! wait is bounded by a socket read timeout; no test measures time.

mod daemon_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use daemon_support::http_request;

const VOUCHD: &str = env!("CARGO_BIN_EXE_vouchd");

/// Upper bound of every wait for the node's response.
const READ_BOUND: Duration = Duration::from_secs(60);

/// The per-IP connection cap of the test node.
const PER_IP_MAX: usize = 8;

/// The concurrency limit of the test node: more than [`PER_IP_MAX`], fewer than the
/// slow clients of the attack.
const CONCURRENCY_MAX: usize = 16;

/// The number of slow-body connections an attacker opens from one IP.
const ATTACK_CONNECTIONS: usize = 40;

/// The request body limit of the test node.
const BODY_BYTES_MAX: usize = 4096;

/// The address of the attacking client: loopback, but not the fresh client's address.
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 7));

struct RunningNode {
    child: Child,
    address: SocketAddr,
    _stdout: BufReader<ChildStdout>,
    _home: tempfile::TempDir,
}

impl RunningNode {
    fn stop(self) -> Output {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        self.child.wait_with_output().expect("vouchd exits")
    }
}

/// Initializes a home, replaces its config.toml with `config` and starts the node.
fn start_node(config: &str) -> RunningNode {
    let home = tempfile::tempdir().expect("temporary folder");
    let dir = home.path().to_str().expect("UTF-8 path");
    let output = Command::new(VOUCHD).args(["init", "--home", dir, "--chain-id", "conn-test"]).output().expect("init");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::write(home.path().join("config.toml"), config).expect("write config");

    let mut child = Command::new(VOUCHD)
        .args(["start", "--home", dir, "--api-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vouchd runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("read") > 0 {
        if let Some(url) = line.trim().strip_prefix("API      http://") {
            let address = url.parse().expect("the printed address");
            return RunningNode { child, address, _stdout: stdout, _home: home };
        }
        line.clear();
    }
    let output = child.wait_with_output().expect("vouchd exits");
    panic!("vouchd printed no API address: {}", String::from_utf8_lossy(&output.stderr));
}

fn guarded_config(body_read_timeout_ms: u64, header_read_timeout_ms: u64) -> String {
    format!(
        "[api]\nconcurrency_max = {CONCURRENCY_MAX}\nconnections_per_ip_max = {PER_IP_MAX}\n\
         body_bytes_max = {BODY_BYTES_MAX}\nbody_read_timeout_ms = {body_read_timeout_ms}\n\
         header_read_timeout_ms = {header_read_timeout_ms}\n"
    )
}

/// Opens a connection from `source` (any port) to `node`.
fn connect_from(source: IpAddr, node: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(source, 0)).expect("bind the source address");
        socket.connect(node).await.expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(READ_BOUND)).expect("read timeout");
    stream
}

/// Reads until the node closes the connection; returns the status code (0 when the
/// node closed without a response) and the text read.
fn read_until_closed(stream: &mut TcpStream) -> (u16, String) {
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(error) => panic!("the node neither responded nor closed within {READ_BOUND:?}: {error}"),
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, text)
}

const SLOW_BODY_HEAD: &str = "POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Length: 1000\r\n\r\n{\"tx\":\"";

#[test]
fn slow_bodies_from_one_ip_leave_others_served() {
    // A long body timeout keeps the slow clients' connections open during the test.
    let node = start_node(&guarded_config(600_000, 600_000));
    let mut slow = Vec::new();
    for _ in 0..ATTACK_CONNECTIONS {
        let mut stream = connect_from(ATTACKER, node.address);
        // A rejected connection may be closed before this write; that is the point.
        let _ = stream.write_all(SLOW_BODY_HEAD.as_bytes());
        slow.push(stream);
    }

    // The connections over the per-IP cap get 503 and are closed.
    let mut rejected = 0;
    for stream in slow.iter_mut().skip(PER_IP_MAX) {
        let (status, text) = read_until_closed(stream);
        assert!(status == 503 || status == 0, "{text}");
        if status == 503 {
            assert!(text.contains("\"code\":\"overloaded\""), "{text}");
        }
        rejected += 1;
    }
    assert_eq!(rejected, ATTACK_CONNECTIONS - PER_IP_MAX);

    let (status, body) = http_request(node.address, "GET", "/v1/status", "");
    assert_eq!(status, 200, "a fresh client is served while the slow bodies are open: {body}");

    drop(slow);
    let log = String::from_utf8_lossy(&node.stop().stderr).into_owned();
    assert!(log.contains("api.connections_per_ip_max"), "the refusals are logged: {log}");
}

#[test]
fn slow_body_times_out_with_408() {
    let node = start_node(&guarded_config(300, 600_000));
    let mut stream = connect_from(ATTACKER, node.address);
    stream.write_all(SLOW_BODY_HEAD.as_bytes()).expect("send the head");
    let (status, text) = read_until_closed(&mut stream);
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    assert!(text.contains("api.body_read_timeout_ms"), "{text}");
    node.stop();
}

#[test]
fn idle_connection_is_closed() {
    let node = start_node(&guarded_config(600_000, 300));
    let mut idle = connect_from(ATTACKER, node.address);
    idle.write_all(b"GET /v1/status HTTP/1.1\r\n").expect("send a partial head");
    let (status, text) = read_until_closed(&mut idle);
    assert_eq!(status, 0, "closed without an answer: {text}");

    // A keep-alive connection idle after its first request is closed too.
    let mut keep_alive = connect_from(ATTACKER, node.address);
    keep_alive.write_all(b"GET /v1/status HTTP/1.1\r\nHost: node\r\n\r\n").expect("send");
    let (status, text) = read_until_closed(&mut keep_alive);
    assert_eq!(status, 200, "{text}");
    node.stop();
}

#[test]
fn content_length_over_limit_is_rejected_unread() {
    let node = start_node(&guarded_config(600_000, 600_000));
    for (length, expected) in [(BODY_BYTES_MAX + 1, 413), (1_000_000, 413)] {
        let mut stream = connect_from(ATTACKER, node.address);
        let head = format!("POST /v1/txs HTTP/1.1\r\nHost: node\r\nContent-Length: {length}\r\n\r\n");
        stream.write_all(head.as_bytes()).expect("send the head");
        let (status, text) = read_until_closed(&mut stream);
        assert_eq!(status, expected, "{text}");
        assert!(text.contains("\"code\":\"body_too_large\""), "{text}");
        assert!(text.contains(&format!("api.body_bytes_max ({BODY_BYTES_MAX} bytes)")), "{text}");
    }

    // A body of exactly the limit is read and reaches the handler.
    let body = format!("{{\"tx\":\"{}\"}}", "A".repeat(BODY_BYTES_MAX - 9));
    assert_eq!(body.len(), BODY_BYTES_MAX);
    let (status, text) = http_request(node.address, "POST", "/v1/txs", &body);
    assert_ne!(status, 413, "{text}");
    node.stop();
}
