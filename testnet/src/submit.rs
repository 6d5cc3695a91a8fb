//! `vouch-testnet load submit`: submits signed attestations to a node as fast as it
//! accepts them and measures how many it commits per second.

use std::sync::atomic::{AtomicU64, Ordering};
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
    /// How long to wait for the last commit after the last submission.
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

        let committed = wait_for_commits(&mut control, start_height, accepted, self.settle)?;
        let seconds = started.elapsed().as_secs_f64();
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

/// Polls the node until `expected` transactions are committed above `start_height` or
/// `settle` passes without a new block; returns the committed count.
fn wait_for_commits(
    control: &mut Connection,
    start_height: u64,
    expected: u64,
    settle: Duration,
) -> anyhow::Result<u64> {
    let mut committed = 0;
    let mut seen_height = start_height;
    let mut last_progress = Instant::now();
    while committed < expected {
        let latest = status(control)?.latest_height;
        for height in (seen_height + 1)..=latest {
            committed += block(control, height)?.txs.len() as u64;
        }
        if latest > seen_height {
            last_progress = Instant::now();
            seen_height = latest;
        } else if last_progress.elapsed() > settle {
            eprintln!("no new block for {settle:?}; {committed} of {expected} committed");
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(committed)
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
