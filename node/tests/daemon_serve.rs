//! The running node (`run::serve`) with the in-memory app double over a real loopback
//! socket: submissions commit, and a shutdown stops in the documented order.

mod daemon_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use daemon_support::{DoubleApp, account_tx, attestation, http_request, validator_key};
use tokio::sync::oneshot;
use vouch_node::daemon::chain::ChainApp;
use vouch_node::daemon::config::Config;
use vouch_node::daemon::producer::system_clock;
use vouch_node::daemon::run::{self, RunError, RunOptions};
use vouch_protocol::chain::{Height, Transaction};

struct Running {
    app: Arc<DoubleApp>,
    address: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), RunError>>,
    /// The home whose data folder contains the consensus files.
    _home: tempfile::TempDir,
}

async fn start(config: Config) -> Running {
    let app = Arc::new(DoubleApp::new());
    let listener = run::bind("127.0.0.1:0".parse().expect("address")).await.expect("bind");
    let address = listener.local_addr().expect("address");
    let home = tempfile::tempdir().expect("temporary home");
    let options = RunOptions::from_config(&config, home.path(), system_clock()).expect("options");
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let serving = tokio::spawn(run::serve(app.clone(), validator_key(), listener, options, shutdown));
    Running { app, address, stop, serving, _home: home }
}

fn fast_config() -> Config {
    let mut config = Config::default();
    config.blocks.interval = Duration::from_millis(10);
    config.blocks.empty_interval = Duration::from_millis(50);
    config
}

async fn request(address: std::net::SocketAddr, method: &'static str, path: String, body: String) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_request(address, method, &path, &body)).await.expect("no panic")
}

fn submit_body(tx: &Transaction, wait: bool) -> String {
    serde_json::json!({ "tx": BASE64.encode(tx.bytes()), "wait": wait }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_commits_over_a_socket() {
    let node = start(fast_config()).await;
    let tx = attestation("served");
    let (status, body) = request(node.address, "POST", "/v1/txs".to_owned(), submit_body(&tx, true)).await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["state"], "committed");
    let height = json["height"].as_u64().expect("a height");
    assert_eq!(node.app.committed_at(&tx.hash()), Some(Height(height)));

    let (status, body) = request(node.address, "GET", format!("/v1/blocks/{height}"), String::new()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&tx.hash().to_hex()), "{body}");

    node.stop.send(()).expect("the node listens");
    node.serving.await.expect("no panic").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_blocks_follow_the_interval() {
    let node = start(fast_config()).await;
    while node.app.tip().height < Height(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    node.stop.send(()).expect("the node listens");
    node.serving.await.expect("no panic").expect("clean stop");
    assert!(node.app.blocks().iter().all(|block| block.txs.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_block_in_progress() {
    let node = start(fast_config()).await;
    *node.app.apply_delay.lock().unwrap() = Duration::from_millis(300);
    let tx = account_tx("in-flight");
    let (status, _) = request(node.address, "POST", "/v1/txs".to_owned(), submit_body(&tx, false)).await;
    assert_eq!(status, 202);
    while node.app.committed_at(&tx.hash()).is_none() && !node.app.applying.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    node.stop.send(()).expect("the node listens");
    node.serving.await.expect("no panic").expect("clean stop");
    assert!(node.app.committed_at(&tx.hash()).is_some(), "the block being applied was finished");
    assert!(!node.app.applying.load(Ordering::SeqCst));

    let refused = std::net::TcpStream::connect(node.address);
    assert!(refused.is_err(), "the listener is closed after the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_failure_stops_the_node() {
    let node = start(fast_config()).await;
    node.app.fail_apply.store(true, Ordering::SeqCst);
    let result = node.serving.await.expect("no panic");
    assert!(matches!(result, Err(RunError::Engine(_))), "{result:?}");
    drop(node.stop);
}

#[tokio::test]
async fn bind_error_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address");
    let error = run::bind(address).await.expect_err("the port is taken");
    assert!(error.to_string().contains(&address.to_string()), "{error}");
}
