//! `vouch-testnet load submit`: submits signed attestations to a node as fast as it
//! accepts them and measures how many it commits per second.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vouch_protocol::api::{BlockResponse, ErrorResponse, StatusResponse};
use vouch_protocol::keys::SigningKey;

use crate::http::Connection;
use crate::verify_rate;
use crate::workload;

/// Settings of one submission run.
pub struct SubmitRun {
    /// The node's socket address.
    pub address: std::net::SocketAddr,
    /// Run name; images are derived from it, so a query run can find them.
    pub run: String,
    /// Number of attestations to submit.
    pub count: u64,
    /// Findings per report.
    pub findings: usize,
    /// Parallel connections.
    pub connections: usize,
    /// The attester key.
    pub key: SigningKey,
    /// How long to wait for a new block once all submissions are in, while
    /// transactions still wait in the node's mempool.
    pub settle: Duration,
}

/// The figures of one submission run.
pub struct SubmitReport {
    /// Attestations the node accepted.
    pub accepted: u64,
    /// Attestations committed in blocks during the run.
    pub committed: u64,
    /// Seconds from the first submission to the commit of the last accepted one.
    pub seconds: f64,
    /// Single-core ed25519 verifications per second, measured before the load.
    pub verify_rate: f64,
    /// Rejections by error code.
    pub rejections: Vec<(String, u64)>,
}

impl SubmitRun {
    /// Runs the submission and returns the figures.
    pub fn run(&self) -> anyhow::Result<SubmitReport> {
        let verify_rate = verify_rate::ed25519_verifies_per_second(Duration::from_secs(2));
        eprintln!("ed25519 verify_strict on one core: {verify_rate:.0}/s");
        let bodies = self.prepare()?;
        let mut control = Connection::open(self.address, Duration::from_secs(10))?;
        let start_height = status(&mut control)?.latest_height;

        let accepted = Arc::new(AtomicU64::new(0));
        let rejections = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
        let started = Instant::now();
        let watcher = HeightWatcher::start(self.address, started, self.settle);
        let chunks: Vec<Vec<Vec<u8>>> = split(bodies, self.connections);
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (address, accepted, rejections) = (self.address, accepted.clone(), rejections.clone());
                thread::spawn(move || submit_all(address, chunk, &accepted, &rejections))
            })
            .collect();
        for worker in workers {
            worker.join().map_err(|_| anyhow::anyhow!("a submission thread panicked"))??;
        }
        let accepted = accepted.load(Ordering::Relaxed);
        eprintln!("submitted: {accepted} accepted in {:.1} s", started.elapsed().as_secs_f64());

        let heights = watcher.until_drained()?;
        let (committed, seconds) = count_commits(self.address, start_height, &heights, started)?;
        let rejections = rejections.lock().map_err(|_| anyhow::anyhow!("rejection list poisoned"))?.clone();
        Ok(SubmitReport { accepted, committed: committed.min(accepted), seconds, verify_rate, rejections })
    }

    fn prepare(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        let started = Instant::now();
        let threads = thread::available_parallelism().map_or(2, usize::from);
        let per_thread = self.count.div_ceil(threads as u64);
        let parts: Vec<_> = (0..threads as u64)
            .map(|part| {
                let (run, findings, seed) = (self.run.clone(), self.findings, *self.key.seed());
                let range = (part * per_thread)..((part + 1) * per_thread).min(self.count);
                thread::spawn(move || {
                    let key = SigningKey::from_seed(&seed);
                    range.map(|index| workload::submit_body(&run, index, findings, &key)).collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut bodies = Vec::with_capacity(self.count as usize);
        for part in parts {
            bodies.extend(part.join().map_err(|_| anyhow::anyhow!("a preparation thread panicked"))??);
        }
        eprintln!("prepared {} signed attestations in {:.1} s", bodies.len(), started.elapsed().as_secs_f64());
        Ok(bodies)
    }
}

fn split(bodies: Vec<Vec<u8>>, parts: usize) -> Vec<Vec<Vec<u8>>> {
    let mut chunks: Vec<Vec<Vec<u8>>> = (0..parts.max(1)).map(|_| Vec::new()).collect();
    let count = chunks.len();
    for (index, body) in bodies.into_iter().enumerate() {
        chunks[index % count].push(body);
    }
    chunks
}

fn submit_all(
    address: std::net::SocketAddr,
    bodies: Vec<Vec<u8>>,
    accepted: &AtomicU64,
    rejections: &Mutex<Vec<(String, u64)>>,
) -> anyhow::Result<()> {
    let mut connection = Connection::open(address, Duration::from_secs(30))?;
    for body in bodies {
        loop {
            let response = connection.post_json("/v1/txs", &body)?;
            match response.status {
                200 | 202 => {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                429 | 503 => thread::sleep(Duration::from_millis(5)),
                _ => {
                    let code = serde_json::from_slice::<ErrorResponse>(&response.body)
                        .map_or_else(|_| format!("http {}", response.status), |error| error.error.code);
                    count_rejection(rejections, code);
                    break;
                }
            }
        }
    }
    Ok(())
}

fn count_rejection(rejections: &Mutex<Vec<(String, u64)>>, code: String) {
    let Ok(mut list) = rejections.lock() else { return };
    match list.iter_mut().find(|(known, _)| *known == code) {
        Some((_, count)) => *count += 1,
        None => list.push((code, 1)),
    }
}

/// Polls `GET /v1/status` on its own connection from the first submission on, noting
/// when each new height was first seen. Blocks are read only after the run, because
/// serializing every block during the run took CPU from the node being measured.
struct HeightWatcher {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<anyhow::Result<Vec<(u64, Duration)>>>,
}

impl HeightWatcher {
    fn start(address: SocketAddr, started: Instant, settle: Duration) -> HeightWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || watch_heights(address, started, settle, &stopping));
        HeightWatcher { stop, thread }
    }

    /// Waits until the node's mempool is empty or the settle time passes without a
    /// new height, then returns each height seen with the time it was first seen.
    fn until_drained(self) -> anyhow::Result<Vec<(u64, Duration)>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| anyhow::anyhow!("the height watcher panicked"))?
    }
}

/// Polls the node's status until `stop` is set and the mempool has drained, or until
/// `settle` passes without a new height after `stop` is set.
fn watch_heights(
    address: SocketAddr,
    started: Instant,
    settle: Duration,
    stop: &AtomicBool,
) -> anyhow::Result<Vec<(u64, Duration)>> {
    let mut control = Connection::open(address, Duration::from_secs(10))?;
    let mut heights = Vec::new();
    let mut seen = status_again(&mut control, address)?.latest_height;
    let mut last_progress = Instant::now();
    loop {
        let current = status_again(&mut control, address)?;
        if current.latest_height > seen {
            let at = started.elapsed();
            heights.extend((seen + 1..=current.latest_height).map(|height| (height, at)));
            seen = current.latest_height;
            last_progress = Instant::now();
        }
        if stop.load(Ordering::Relaxed) {
            if current.mempool_txs == 0 {
                break;
            }
            if last_progress.elapsed() > settle {
                eprintln!("no new block for {settle:?}; {} transactions still wait", current.mempool_txs);
                break;
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(heights)
}

/// Reads the blocks seen during the run and returns the transactions they committed
/// and the seconds from the first submission to the first sight of the last block
/// that committed any.
fn count_commits(
    address: SocketAddr,
    start_height: u64,
    heights: &[(u64, Duration)],
    started: Instant,
) -> anyhow::Result<(u64, f64)> {
    let mut control = Connection::open(address, Duration::from_secs(30))?;
    let mut committed = 0;
    let mut end = started.elapsed();
    for (height, seen_at) in heights.iter().filter(|(height, _)| *height > start_height) {
        let txs = block(&mut control, *height)?.txs.len() as u64;
        if txs > 0 {
            committed += txs;
            end = *seen_at;
        }
    }
    Ok((committed, end.as_secs_f64()))
}

/// Reads the status, opening a new connection once if the node closed the old one,
/// as it does with connections idle for longer than its header read timeout.
fn status_again(control: &mut Connection, address: SocketAddr) -> anyhow::Result<StatusResponse> {
    match status(control) {
        Ok(status) => Ok(status),
        Err(_) => {
            *control = Connection::open(address, Duration::from_secs(10))?;
            status(control)
        }
    }
}

fn status(connection: &mut Connection) -> anyhow::Result<StatusResponse> {
    let response = connection.get("/v1/status")?;
    if response.status != 200 {
        bail!("GET /v1/status returned HTTP {}", response.status);
    }
    serde_json::from_slice(&response.body).context("GET /v1/status returned a body that is not a status")
}

fn block(connection: &mut Connection, height: u64) -> anyhow::Result<BlockResponse> {
    let response = connection.get(&format!("/v1/blocks/{height}"))?;
    if response.status != 200 {
        bail!("GET /v1/blocks/{height} returned HTTP {}", response.status);
    }
    serde_json::from_slice(&response.body).with_context(|| format!("GET /v1/blocks/{height}: not a block body"))
}
