//! The HTTP API against the in-memory app double: every endpoint, every error code, and
//! each bound at and past its edge. Requests go through the router in process.

mod daemon_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use daemon_support::{
    DoubleApp, account_tx, attestation, bad_tx, commit_next_block, doomed_tx, image_of, validator_key,
};
use serde_json::{Value, json};
use tower::ServiceExt;
use vouch_node::daemon::http::body::{HEADER_BYTES_MAX, URI_BYTES_MAX};
use vouch_node::daemon::http::{self, ApiLimits, ApiState, RateConfig};
use vouch_node::daemon::mempool::{Mempool, MempoolLimits};
use vouch_node::daemon::producer::ProducerConfig;
use vouch_node::daemon::waiters::CommitWaiters;
use vouch_protocol::chain::Transaction;
use vouch_protocol::reference::NAME_LENGTH_MAX;

const LIMITS: ApiLimits = ApiLimits {
    body_bytes_max: 64 * 1024,
    body_read_timeout: Duration::from_secs(30),
    concurrency_max: 64,
    rate: RateConfig { per_second: 1_000_000, burst: 1_000_000, exempt: Vec::new() },
};

const MEMPOOL: MempoolLimits = MempoolLimits { txs_max: 1_000, bytes_max: 1 << 20 };

struct Api {
    app: Arc<DoubleApp>,
    state: Arc<ApiState>,
    router: Router,
    /// The consensus folder of the engines that commit the blocks.
    consensus_dir: tempfile::TempDir,
}

fn api_with(limits: ApiLimits, mempool: MempoolLimits, commit_wait_timeout: Duration, waiters_max: usize) -> Api {
    let app = Arc::new(DoubleApp::new());
    let state = Arc::new(ApiState {
        app: app.clone(),
        mempool: Arc::new(Mempool::new(mempool)),
        waiters: Arc::new(CommitWaiters::new(waiters_max)),
        commit_wait_timeout,
    });
    let router = http::router(state.clone(), &limits);
    let consensus_dir = tempfile::tempdir().expect("temporary folder");
    Api { app, state, router, consensus_dir }
}

fn api() -> Api {
    api_with(LIMITS, MEMPOOL, Duration::from_secs(600), 100)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Reply {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {}", self.json))
    }

    fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or_else(|| panic!("no error message in {}", self.json))
    }
}

async fn call(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("the router never fails");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", String::from_utf8_lossy(&bytes)));
    Reply { status, headers, json }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(body.into()).expect("request")
}

fn submit_body(tx: &Transaction, wait: bool) -> String {
    json!({ "tx": BASE64.encode(tx.bytes()), "wait": wait }).to_string()
}

fn from_ip(mut request: Request<Body>, last: u8) -> Request<Body> {
    let address = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), 40_000);
    request.extensions_mut().insert(ConnectInfo(address));
    request
}

/// Commits the next block with a consensus engine that opens and decides it.
async fn produce(api: &Api) {
    let (app, mempool, waiters) = (api.app.clone(), api.state.mempool.clone(), api.state.waiters.clone());
    let dir = api.consensus_dir.path().to_owned();
    let blocks = ProducerConfig {
        interval: Duration::from_millis(5),
        empty_interval: Duration::from_secs(1),
        txs_max: 100,
        bytes_max: 1 << 20,
    };
    let clock = Arc::new(|| 1_800_000_000_000);
    let commit = move || commit_next_block(app, mempool, waiters, blocks, &dir, clock).map(drop).expect("block");
    tokio::task::spawn_blocking(commit).await.expect("no panic");
}

/// Commits `tx` through the API and a produced block.
async fn commit(api: &Api, tx: &Transaction) {
    let reply = call(&api.router, post("/v1/txs", submit_body(tx, false))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.json);
    produce(api).await;
}

// --- GET /v1/status ---

#[tokio::test]
async fn status_at_genesis() {
    let api = api();
    let reply = call(&api.router, get("/v1/status")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["chain_id"], "vouch-test");
    assert_eq!(reply.json["node_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(reply.json["latest_height"], 0);
    assert_eq!(reply.json["latest_block_hash"], Value::Null);
    assert_eq!(reply.json["latest_time_unix_ms"], Value::Null);
    assert_eq!(reply.json["mempool_txs"], 0);
}

#[tokio::test]
async fn status_after_a_block() {
    let api = api();
    commit(&api, &account_tx("a")).await;
    call(&api.router, post("/v1/txs", submit_body(&account_tx("b"), false))).await;
    let reply = call(&api.router, get("/v1/status")).await;
    let block = &api.app.blocks()[0];
    assert_eq!(reply.json["latest_height"], 1);
    assert_eq!(reply.json["latest_block_hash"], block.header.hash().to_hex());
    assert_eq!(reply.json["latest_time_unix_ms"], block.header.time_unix_ms);
    assert_eq!(reply.json["mempool_txs"], 1);
}

// --- GET /v1/images/{digest} ---

#[tokio::test]
async fn image_status_of_attested_image() {
    let api = api();
    commit(&api, &attestation("app")).await;
    let uri = format!("/v1/images/{}", image_of("app"));
    let reply = call(&api.router, get(&uri)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["image"], image_of("app").to_string());
    assert_eq!(reply.json["status"], "approved");
    assert_eq!(reply.json["proof"], Value::Null);
}

#[tokio::test]
async fn image_status_passes_proof_and_repository() {
    let api = api();
    commit(&api, &attestation("app")).await;
    let uri = format!("/v1/images/{}?proof=true&repository=registry.example/team/app", image_of("app"));
    let reply = call(&api.router, get(&uri)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["repository"], "registry.example/team/app");
    let header = reply.json["proof"]["header"].as_str().expect("a proof with a header");
    assert_eq!(BASE64.decode(header).expect("base64"), api.app.blocks()[0].header.to_bytes());
}

#[tokio::test]
async fn image_status_rejects_bad_digests() {
    let api = api();
    for digest in ["sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "latest", &"A".repeat(71)] {
        let reply = call(&api.router, get(&format!("/v1/images/{digest}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{digest}");
        assert_eq!(reply.code(), "invalid_digest", "{digest}");
    }
}

#[tokio::test]
async fn image_status_rejects_bad_queries() {
    let api = api();
    let image = image_of("app");
    for query in ["proof=maybe", "prof=true", "repository="] {
        let reply = call(&api.router, get(&format!("/v1/images/{image}?{query}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.code(), "invalid_query", "{query}");
    }
}

#[tokio::test]
async fn repository_length_limit_holds_at_the_edge() {
    let api = api();
    let image = image_of("app");
    let registry = "registry.example/";
    let at_limit = format!("{registry}{}", "r".repeat(NAME_LENGTH_MAX - registry.len()));
    let reply = call(&api.router, get(&format!("/v1/images/{image}?repository={at_limit}"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let over = format!("{registry}{}", "r".repeat(NAME_LENGTH_MAX + 1 - registry.len()));
    let reply = call(&api.router, get(&format!("/v1/images/{image}?repository={over}"))).await;
    assert_eq!(reply.code(), "invalid_query");
    assert!(reply.message().contains(&(NAME_LENGTH_MAX + 1).to_string()), "{}", reply.message());
}

#[tokio::test]
async fn repository_must_be_normalized() {
    let api = api();
    let image = image_of("app");
    let cases = [
        ("docker.io/library/busybox:latest", Some("docker.io/library/busybox")),
        ("busybox", Some("docker.io/library/busybox")),
        ("index.docker.io/library/busybox", Some("docker.io/library/busybox")),
        ("REGISTRY.example/team/app", None),
        ("%00", None),
        ("%00%ff", None),
        ("registry.example/team/app%20x", None),
    ];
    for (query, suggestion) in cases {
        let reply = call(&api.router, get(&format!("/v1/images/{image}?repository={query}"))).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{query}");
        if let Some(normalized) = suggestion {
            assert!(reply.message().contains(&format!("give \"{normalized}\"")), "{query}: {}", reply.message());
        }
    }
    for normalized in ["docker.io/library/busybox", "localhost:5000/app", "registry.example/team/app"] {
        let reply = call(&api.router, get(&format!("/v1/images/{image}?repository={normalized}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{normalized}: {}", reply.json);
    }
}

#[tokio::test]
async fn heights_must_be_plain_decimal() {
    let api = api();
    commit(&api, &attestation("app")).await;
    for height in ["+1", "01", "-1", "%201", "1e0", "0x1"] {
        let reply = call(&api.router, get(&format!("/v1/blocks/{height}"))).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_height"), "{height}");
    }
    let reply = call(&api.router, get("/v1/blocks/1")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
}

#[tokio::test]
async fn account_rejects_upper_case_hex() {
    let api = api();
    let key = validator_key().public_key().to_hex();
    let reply = call(&api.router, get(&format!("/v1/accounts/{}", key.to_ascii_uppercase()))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_public_key"));
    assert!(reply.message().contains("lower-case"), "{}", reply.message());
    let reply = call(&api.router, get(&format!("/v1/accounts/{key}"))).await;
    assert_ne!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.json);
}

#[tokio::test]
async fn parameterless_endpoints_reject_queries() {
    let api = api();
    let image = image_of("app");
    let key = validator_key().public_key().to_hex();
    let paths = [
        "/v1/status".to_owned(),
        "/v1/validators".to_owned(),
        "/v1/attesters".to_owned(),
        "/v1/policies".to_owned(),
        "/v1/proposals".to_owned(),
        format!("/v1/images/{image}/attestations"),
        format!("/v1/accounts/{key}"),
        "/v1/blocks/1".to_owned(),
    ];
    for path in &paths {
        let reply = call(&api.router, get(&format!("{path}?x=1"))).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{path}");
        assert!(reply.message().contains("\"x=1\""), "{path}: {}", reply.message());
    }
    let reply = call(&api.router, get("/v1/status?")).await;
    assert_eq!(reply.status, StatusCode::OK, "an empty query string is no parameter");
}

#[tokio::test]
async fn image_proof_before_any_block_is_not_found() {
    let api = api();
    let reply = call(&api.router, get(&format!("/v1/images/{}?proof=true", image_of("app")))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "not_found");
}

// --- GET /v1/images/{digest}/attestations ---

#[tokio::test]
async fn attestations_of_an_image() {
    let api = api();
    let tx = attestation("app");
    commit(&api, &tx).await;
    let reply = call(&api.router, get(&format!("/v1/images/{}/attestations", image_of("app")))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["attestations"][0]["tx_hash"], tx.hash().to_hex());
    assert_eq!(reply.json["attestations"][0]["height"], 1);
}

#[tokio::test]
async fn attestations_errors() {
    let api = api();
    let reply = call(&api.router, get(&format!("/v1/images/{}/attestations", image_of("none")))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert!(reply.message().contains(&image_of("none").to_string()), "{}", reply.message());
    let reply = call(&api.router, get("/v1/images/sha256:12/attestations")).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_digest"));
}

// --- GET /v1/blocks/{height} ---

#[tokio::test]
async fn block_by_height() {
    let api = api();
    let tx = account_tx("a");
    commit(&api, &tx).await;
    let reply = call(&api.router, get("/v1/blocks/1")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["height"], 1);
    assert_eq!(reply.json["hash"], api.app.blocks()[0].header.hash().to_hex());
    assert_eq!(reply.json["txs"], json!([tx.hash().to_hex()]));
}

#[tokio::test]
async fn block_errors() {
    let api = api();
    commit(&api, &account_tx("a")).await;
    for (height, status, code) in [
        ("0", StatusCode::NOT_FOUND, "not_found"),
        ("2", StatusCode::NOT_FOUND, "not_found"),
        ("-1", StatusCode::BAD_REQUEST, "invalid_height"),
        ("one", StatusCode::BAD_REQUEST, "invalid_height"),
        ("18446744073709551616", StatusCode::BAD_REQUEST, "invalid_height"),
    ] {
        let reply = call(&api.router, get(&format!("/v1/blocks/{height}"))).await;
        assert_eq!((reply.status, reply.code()), (status, code), "height {height}");
    }
    let reply = call(&api.router, get("/v1/blocks/2")).await;
    assert!(reply.message().contains("latest height is 1"), "{}", reply.message());
}

// --- validators, accounts, attesters, policies, proposals ---

#[tokio::test]
async fn validators_list() {
    let api = api();
    let reply = call(&api.router, get("/v1/validators")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["validators"][0]["public_key"], validator_key().public_key().to_hex());
}

#[tokio::test]
async fn account_by_key() {
    let api = api();
    let key = validator_key().public_key().to_hex();
    let reply = call(&api.router, get(&format!("/v1/accounts/{key}"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["public_key"], key);
    assert_eq!(reply.json["stake"], 10);
}

#[tokio::test]
async fn account_rejects_bad_keys() {
    let api = api();
    for key in ["abcd", &"zz".repeat(32), &"00".repeat(33)] {
        let reply = call(&api.router, get(&format!("/v1/accounts/{key}"))).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_public_key"), "{key}");
    }
}

#[tokio::test]
async fn registry_lists() {
    let api = api();
    for (uri, field) in [("/v1/attesters", "attesters"), ("/v1/policies", "policies"), ("/v1/proposals", "proposals")] {
        let reply = call(&api.router, get(uri)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert!(reply.json[field].is_array(), "{uri}: {}", reply.json);
    }
}

#[tokio::test]
async fn query_failure_is_internal() {
    let api = api();
    api.app.fail_queries.store(true, Ordering::SeqCst);
    for uri in ["/v1/attesters", "/v1/policies", "/v1/proposals"] {
        let reply = call(&api.router, get(uri)).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::INTERNAL_SERVER_ERROR, "internal"), "{uri}");
        assert!(reply.message().contains("the double was told to fail"), "{}", reply.message());
    }
}

// --- routing ---

#[tokio::test]
async fn unknown_route_is_json_not_found() {
    let api = api();
    let reply = call(&api.router, get("/v2/status")).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert!(reply.message().contains("/v2/status"), "{}", reply.message());
}

#[tokio::test]
async fn wrong_method_is_json_method_not_allowed() {
    let api = api();
    let reply = call(&api.router, post("/v1/status", "")).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    let reply = call(&api.router, get("/v1/txs")).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
}

#[tokio::test]
async fn path_that_is_not_utf8_is_rejected() {
    let api = api();
    let reply = call(&api.router, get("/v1/images/%FF%FE")).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_path"));
}

// --- POST /v1/txs ---

#[tokio::test]
async fn submit_without_wait_is_accepted() {
    let api = api();
    let tx = attestation("app");
    let reply = call(&api.router, post("/v1/txs", submit_body(&tx, false))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json["tx_hash"], tx.hash().to_hex());
    assert_eq!(reply.json["state"], "accepted");
    assert_eq!(reply.json["height"], Value::Null);
    assert_eq!(reply.json["image"], image_of("app").to_string());
    assert_eq!(api.state.mempool.len(), 1);
}

#[tokio::test]
async fn submit_rejects_malformed_bodies() {
    let api = api();
    let good = BASE64.encode(b"Nx");
    let cases = [
        "not json".to_owned(),
        "{}".to_owned(),
        json!({ "tx": good, "wait": false, "extra": 1 }).to_string(),
        json!({ "tx": "!!!not base64!!!" }).to_string(),
        json!({ "tx": 17 }).to_string(),
        json!([good, false]).to_string(),
    ];
    for body in cases {
        let reply = call(&api.router, post("/v1/txs", body.clone())).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_body"), "{body}");
    }
    assert!(api.state.mempool.is_empty());
}

#[tokio::test]
async fn submit_errors_name_the_fix() {
    let api = api();
    let array = call(&api.router, post("/v1/txs", json!([BASE64.encode(b"Nx"), false]).to_string())).await;
    assert!(array.message().contains("not a JSON object"), "{}", array.message());
    let text = call(&api.router, post("/v1/txs", json!({ "tx": "!!!" }).to_string())).await;
    assert!(text.message().contains("standard base64"), "{}", text.message());
}

#[tokio::test]
async fn submit_reports_the_rejection_code() {
    let api = api();
    let reply = call(&api.router, post("/v1/txs", submit_body(&bad_tx("x"), false))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "tx_rejected"));
    assert!(reply.message().starts_with("signature_invalid: "), "{}", reply.message());
}

#[tokio::test]
async fn submit_rejects_a_waiting_duplicate() {
    let api = api();
    let tx = account_tx("twice");
    call(&api.router, post("/v1/txs", submit_body(&tx, false))).await;
    let reply = call(&api.router, post("/v1/txs", submit_body(&tx, false))).await;
    assert_eq!(reply.code(), "tx_rejected");
    assert!(reply.message().starts_with("duplicate: "), "{}", reply.message());
    assert!(reply.message().contains(&tx.hash().to_hex()), "{}", reply.message());
}

#[tokio::test]
async fn submit_rejects_a_committed_duplicate() {
    let api = api();
    let tx = account_tx("twice");
    commit(&api, &tx).await;
    let reply = call(&api.router, post("/v1/txs", submit_body(&tx, false))).await;
    assert_eq!(reply.code(), "tx_rejected");
    assert!(reply.message().starts_with("duplicate: "), "{}", reply.message());
}

#[tokio::test]
async fn submit_with_wait_answers_after_the_commit() {
    let api = api();
    let tx = attestation("waited");
    let router = api.router.clone();
    let body = submit_body(&tx, true);
    let request = tokio::spawn(async move { call(&router, post("/v1/txs", body)).await });

    while api.state.mempool.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    produce(&api).await;
    let reply = request.await.expect("no panic");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json["state"], "committed");
    assert_eq!(reply.json["height"], 1);
    assert_eq!(reply.json["outcome"], "applied");
    assert_eq!(reply.json["image"], image_of("waited").to_string());
}

#[tokio::test]
async fn submit_with_wait_reports_a_dropped_transaction() {
    let api = api();
    let router = api.router.clone();
    let body = submit_body(&doomed_tx("late"), true);
    let request = tokio::spawn(async move { call(&router, post("/v1/txs", body)).await });

    while api.state.mempool.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    produce(&api).await;
    let reply = request.await.expect("no panic");
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "tx_rejected"));
    assert!(reply.message().starts_with("nonce_mismatch: "), "{}", reply.message());
}

#[tokio::test]
async fn submit_with_wait_times_out_as_accepted() {
    let api = api_with(LIMITS, MEMPOOL, Duration::from_millis(20), 100);
    let reply = call(&api.router, post("/v1/txs", submit_body(&account_tx("slow"), true))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json["state"], "accepted");
    assert_eq!(api.state.mempool.len(), 1, "the transaction still waits for a block");
    assert!(api.state.waiters.is_empty(), "the timed-out wait is unregistered");
}

#[tokio::test]
async fn submit_with_wait_ends_at_shutdown() {
    let api = api();
    let router = api.router.clone();
    let body = submit_body(&account_tx("stopping"), true);
    let request = tokio::spawn(async move { call(&router, post("/v1/txs", body)).await });
    while api.state.mempool.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    api.state.waiters.close();
    let reply = request.await.expect("no panic");
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"));
}

// --- bounds ---

#[tokio::test]
async fn body_limit_holds_at_the_edge() {
    let limit = LIMITS.body_bytes_max;
    let api = api();
    let base = submit_body(&account_tx("sized"), false);
    // JSON allows trailing whitespace, which pads the body to an exact size.
    let at_limit = format!("{base}{}", " ".repeat(limit - base.len()));
    let reply = call(&api.router, post("/v1/txs", at_limit)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.json);

    let base = submit_body(&account_tx("sized-2"), false);
    let over = format!("{base}{}", " ".repeat(limit + 1 - base.len()));
    let reply = call(&api.router, post("/v1/txs", over)).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    assert!(reply.message().contains(&format!("api.body_bytes_max ({limit} bytes)")), "{}", reply.message());
    assert_eq!(api.state.mempool.len(), 1);
}

#[tokio::test]
async fn slow_body_times_out_as_json() {
    let limits = ApiLimits { body_read_timeout: Duration::from_millis(50), ..LIMITS };
    let api = api_with(limits, MEMPOOL, Duration::from_secs(600), 100);
    let reply = call(&api.router, post("/v1/txs", Body::new(StalledBody { sent: false }))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::REQUEST_TIMEOUT, "request_timeout"));
    assert!(reply.message().contains("api.body_read_timeout_ms (50 ms)"), "{}", reply.message());
}

/// A request body that sends its first bytes and then stalls forever.
struct StalledBody {
    sent: bool,
}

impl axum::body::HttpBody for StalledBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.sent {
            return std::task::Poll::Pending;
        }
        self.sent = true;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(axum::body::Bytes::from_static(b"{\"tx\":\"")))))
    }
}

#[tokio::test]
async fn content_length_over_limit_names_it() {
    let api = api();
    let request = Request::post("/v1/txs")
        .header(header::CONTENT_LENGTH, (LIMITS.body_bytes_max + 1).to_string())
        .body(Body::empty())
        .expect("request");
    let reply = call(&api.router, request).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    let expected = format!("Content-Length is {} bytes", LIMITS.body_bytes_max + 1);
    assert!(reply.message().contains(&expected), "{}", reply.message());
}

#[tokio::test]
async fn uri_limit_holds_at_the_edge() {
    let api = api();
    let prefix = "/v1/status?";
    let at_limit = format!("{prefix}{}", "a".repeat(URI_BYTES_MAX - prefix.len()));
    let reply = call(&api.router, get(&at_limit)).await;
    assert_ne!(reply.status, StatusCode::URI_TOO_LONG, "{}", reply.json);

    let over = format!("{prefix}{}", "a".repeat(URI_BYTES_MAX + 1 - prefix.len()));
    let reply = call(&api.router, get(&over)).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::URI_TOO_LONG, "uri_too_long"));
    assert!(reply.message().contains(&URI_BYTES_MAX.to_string()), "{}", reply.message());
}

#[tokio::test]
async fn header_limit_holds_at_the_edge() {
    let api = api();
    let name = "x-padding";
    let at_limit = Request::get("/v1/status")
        .header(name, "a".repeat(HEADER_BYTES_MAX - name.len()))
        .body(Body::empty())
        .expect("request");
    let reply = call(&api.router, at_limit).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);

    let over = Request::get("/v1/status")
        .header(name, "a".repeat(HEADER_BYTES_MAX + 1 - name.len()))
        .body(Body::empty())
        .expect("request");
    let reply = call(&api.router, over).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large"));
    assert!(reply.message().contains(&HEADER_BYTES_MAX.to_string()), "{}", reply.message());
}

#[tokio::test]
async fn mempool_full_is_retryable() {
    let api = api_with(LIMITS, MempoolLimits { txs_max: 2, bytes_max: 1 << 20 }, Duration::from_secs(1), 100);
    for label in ["a", "b"] {
        let reply = call(&api.router, post("/v1/txs", submit_body(&account_tx(label), false))).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{label}");
    }
    let reply = call(&api.router, post("/v1/txs", submit_body(&account_tx("c"), false))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "mempool_full"));
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
}

#[tokio::test]
async fn oversized_transaction_is_rejected() {
    let api = api_with(LIMITS, MempoolLimits { txs_max: 10, bytes_max: 16 }, Duration::from_secs(1), 100);
    let at_limit = Transaction::new([b"N".as_slice(), &[b'x'; 15]].concat());
    let reply = call(&api.router, post("/v1/txs", submit_body(&at_limit, false))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let over = Transaction::new([b"N".as_slice(), &[b'y'; 16]].concat());
    let reply = call(&api.router, post("/v1/txs", submit_body(&over, false))).await;
    assert_eq!(reply.code(), "tx_rejected");
    assert!(reply.message().starts_with("tx_too_large: "), "{}", reply.message());
}

#[tokio::test]
async fn rate_limit_holds_at_the_edge() {
    let limits = ApiLimits { rate: RateConfig { per_second: 1, burst: 3, exempt: Vec::new() }, ..LIMITS };
    let api = api_with(limits, MEMPOOL, Duration::from_secs(1), 100);
    for index in 0..3 {
        let reply = call(&api.router, from_ip(get("/v1/status"), 1)).await;
        assert_eq!(reply.status, StatusCode::OK, "request {index} of the burst");
    }
    let reply = call(&api.router, from_ip(get("/v1/status"), 1)).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    assert!(reply.message().contains("192.0.2.1"), "{}", reply.message());

    let reply = call(&api.router, from_ip(get("/v1/status"), 2)).await;
    assert_eq!(reply.status, StatusCode::OK, "another client has its own rate");
}

#[tokio::test]
async fn exempt_client_has_no_rate() {
    let exempt = vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))];
    let limits = ApiLimits { rate: RateConfig { per_second: 1, burst: 1, exempt }, ..LIMITS };
    let api = api_with(limits, MEMPOOL, Duration::from_secs(1), 100);
    for _ in 0..20 {
        assert_eq!(call(&api.router, from_ip(get("/v1/status"), 7)).await.status, StatusCode::OK);
    }
}

/// Starts `count` requests to `/v1/validators` that wait at the double's closed gate.
async fn hold_requests(api: &Api, count: usize) -> Vec<tokio::task::JoinHandle<Reply>> {
    api.app.gate.close();
    let mut held = Vec::new();
    for _ in 0..count {
        let router = api.router.clone();
        held.push(tokio::spawn(async move { call(&router, get("/v1/validators")).await }));
    }
    while api.app.gate.waiting.load(Ordering::SeqCst) < count {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_limit_holds_at_the_edge() {
    let api = api_with(ApiLimits { concurrency_max: 2, ..LIMITS }, MEMPOOL, Duration::from_secs(1), 100);
    let held = hold_requests(&api, 2).await;

    let reply = call(&api.router, get("/v1/status")).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "overloaded"));
    assert_eq!(reply.headers[header::RETRY_AFTER], "1");

    api.app.gate.open();
    for request in held {
        assert_eq!(request.await.expect("no panic").status, StatusCode::OK);
    }
    assert_eq!(call(&api.router, get("/v1/status")).await.status, StatusCode::OK, "permits come back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_below_the_limit_passes() {
    let api = api_with(ApiLimits { concurrency_max: 2, ..LIMITS }, MEMPOOL, Duration::from_secs(1), 100);
    let held = hold_requests(&api, 1).await;
    assert_eq!(call(&api.router, get("/v1/status")).await.status, StatusCode::OK);
    api.app.gate.open();
    for request in held {
        request.await.expect("no panic");
    }
}

#[tokio::test]
async fn waiting_submission_frees_its_concurrency_permit() {
    let api = api_with(ApiLimits { concurrency_max: 1, ..LIMITS }, MEMPOOL, Duration::from_secs(600), 100);
    let router = api.router.clone();
    let body = submit_body(&account_tx("waiting"), true);
    let request = tokio::spawn(async move { call(&router, post("/v1/txs", body)).await });
    while api.state.waiters.is_empty() || api.state.mempool.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Give the handler the moment between entering the mempool and releasing its
    // permit; a request that still finds it held is retried.
    let mut reply = call(&api.router, get("/v1/status")).await;
    while reply.status == StatusCode::SERVICE_UNAVAILABLE {
        tokio::time::sleep(Duration::from_millis(1)).await;
        reply = call(&api.router, get("/v1/status")).await;
    }
    assert_eq!(reply.status, StatusCode::OK);
    produce(&api).await;
    assert_eq!(request.await.expect("no panic").status, StatusCode::OK);
}

#[tokio::test]
async fn commit_waiters_limit_holds_at_the_edge() {
    let api = api_with(LIMITS, MEMPOOL, Duration::from_secs(600), 1);
    let router = api.router.clone();
    let body = submit_body(&account_tx("first"), true);
    let first = tokio::spawn(async move { call(&router, post("/v1/txs", body)).await });
    while api.state.waiters.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let reply = call(&api.router, post("/v1/txs", submit_body(&account_tx("second"), true))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "overloaded"));
    let reply = call(&api.router, post("/v1/txs", submit_body(&account_tx("third"), false))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "a submission without wait needs no waiter");

    while api.state.mempool.is_empty() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    produce(&api).await;
    assert_eq!(first.await.expect("no panic").status, StatusCode::OK);
}
