//! `vouch-testnet load query`: asks a node for image verdicts from many connections and
//! measures the answers per second, next to the rate of the node's cheapest endpoint
//! (`/v1/status`) measured the same way in the same run as the HTTP stack's ceiling.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::http::Connection;
use crate::workload;

/// Settings of one query run.
pub struct QueryRun {
    /// The node's socket address.
    pub address: SocketAddr,
    /// The run whose images to ask about.
    pub run: String,
    /// Number of images of that run.
    pub images: u64,
    /// Whether to ask for proofs.
    pub proof: bool,
    /// Parallel connections.
    pub connections: usize,
    /// Length of each measurement.
    pub duration: Duration,
}

/// The figures of one query run.
pub struct QueryReport {
    /// Verdict responses per second.
    pub verdicts_per_second: f64,
    /// `/v1/status` responses per second.
    pub status_per_second: f64,
}

impl QueryRun {
    /// Runs both measurements and returns the figures.
    pub fn run(&self) -> anyhow::Result<QueryReport> {
        if self.images == 0 {
            bail!("--images is 0; give the number of images the submit run attested");
        }
        let status_per_second = self.measure(|_| "/v1/status".to_owned())?;
        let suffix = if self.proof { "?proof=true" } else { "" };
        let (run, images) = (self.run.clone(), self.images);
        let verdicts_per_second =
            self.measure(move |n| format!("/v1/images/{}{suffix}", workload::image(&run, n % images)))?;
        Ok(QueryReport { verdicts_per_second, status_per_second })
    }

    fn measure(&self, path: impl Fn(u64) -> String + Send + Sync + 'static) -> anyhow::Result<f64> {
        let path = Arc::new(path);
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let workers: Vec<_> = (0..self.connections.max(1) as u64)
            .map(|worker| {
                let (address, path, stop, answered) = (self.address, path.clone(), stop.clone(), answered.clone());
                thread::spawn(move || -> anyhow::Result<()> {
                    let mut connection = Connection::open(address, Duration::from_secs(10))?;
                    let mut n = worker.wrapping_mul(7_919);
                    while !stop.load(Ordering::Relaxed) {
                        let target = path(n);
                        let response = connection.get(&target)?;
                        if response.status != 200 {
                            bail!(
                                "GET {target} returned HTTP {}: {}",
                                response.status,
                                String::from_utf8_lossy(&response.body)
                            );
                        }
                        answered.fetch_add(1, Ordering::Relaxed);
                        n = n.wrapping_add(1);
                    }
                    Ok(())
                })
            })
            .collect();
        thread::sleep(self.duration);
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            worker.join().map_err(|_| anyhow::anyhow!("a query thread panicked"))??;
        }
        Ok(answered.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
    }
}
