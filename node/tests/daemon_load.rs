//! A measurement, not a check: verdict queries per second through the whole HTTP stack
//! (loopback sockets, hyper, axum, the rate and concurrency layers) against the app
//! double, with the rate of direct calls to the double in the same run as the
//! reference. Run with `cargo test -p vouch-node --test daemon_load -- --ignored --nocapture`;
//! the dev profile builds dependencies (tokio, hyper, axum) optimized.

mod daemon_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon_support::{DoubleApp, validator_key};
use vouch_node::daemon::chain::ChainApp;
use vouch_node::daemon::config::Config;
use vouch_node::daemon::producer::system_clock;
use vouch_node::daemon::run::{self, RunOptions};

/// Client connections, each on its own thread with keep-alive.
const CLIENTS: usize = 8;

/// Requests per client connection.
const REQUESTS_PER_CLIENT: usize = 5_000;

/// Direct calls of the reference loop.
const DIRECT_CALLS: usize = 200_000;

/// Sends `count` keep-alive GET requests for `path` and checks that each response is 200.
fn query_loop(address: SocketAddr, path: &str, count: usize) {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
    for _ in 0..count {
        writer.write_all(request.as_bytes()).expect("send");
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
    }
}

#[test]
#[ignore = "a measurement; run it on a quiet machine with --ignored --nocapture"]
fn verdict_queries_per_second() {
    let app = Arc::new(DoubleApp::new());
    let image = daemon_support::image_of("load");

    let started = Instant::now();
    for _ in 0..DIRECT_CALLS {
        std::hint::black_box(app.image_status(&image, None, false).expect("status"));
    }
    let direct_rate = DIRECT_CALLS as f64 / started.elapsed().as_secs_f64();

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let listener = runtime.block_on(run::bind("127.0.0.1:0".parse().expect("address"))).expect("bind");
    let address = listener.local_addr().expect("address");
    let mut config = Config::default();
    config.api.rate_exempt = vec!["127.0.0.1".to_owned()];
    config.blocks.empty_interval = Duration::from_secs(3600);
    config.blocks.interval = Duration::from_secs(3600);
    let options = RunOptions::from_config(&config, system_clock()).expect("options");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = runtime.spawn(run::serve(app.clone(), validator_key(), listener, options, async move {
        let _ = stopped.await;
    }));

    let path = format!("/v1/images/{image}");
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || query_loop(address, &path, REQUESTS_PER_CLIENT))
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    let http_rate = (CLIENTS * REQUESTS_PER_CLIENT) as f64 / started.elapsed().as_secs_f64();

    stop.send(()).expect("stop");
    runtime.block_on(serving).expect("join").expect("clean stop");
    println!(
        "verdict queries without proof: {http_rate:.0}/s over HTTP ({CLIENTS} keep-alive clients, {} cores); \
         direct calls to the double: {direct_rate:.0}/s on one thread; ratio {:.3}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        http_rate / direct_rate
    );
}
