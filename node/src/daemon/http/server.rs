//! The API's connection layer: accepts TCP connections, caps them in total and per
//! client IP, and serves each with hyper's HTTP/1 server under a header read timeout.
//!
//! # Invariants
//! - At most `connections_max` connections are open, and at most
//!   `connections_per_ip_max` from one client IP unless that IP is exempt. A connection
//!   over a cap gets a 503 `overloaded` response (when the socket takes it at once) and is
//!   closed before any byte of it is read.
//! - A connection that does not send a complete request head within
//!   `header_read_timeout` is closed; this covers a keep-alive connection idle between
//!   two requests, because hyper restarts the timer for each request head.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

/// Time to wait after a failed accept before the next one, so that a full file table
/// (`EMFILE`) does not turn the accept loop into a busy loop.
pub const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Minimum time between two warnings about rejected connections, or about failed
/// accepts. The occurrences in between are counted and reported with the next warning.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The JSON body of the response to a connection over a cap.
const OVERLOADED_BODY: &str =
    r#"{"error":{"code":"overloaded","message":"the node holds as many connections as it may; retry shortly"}}"#;

/// The response written to a connection over a cap, before it is closed.
static OVERLOADED_RESPONSE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{OVERLOADED_BODY}",
        OVERLOADED_BODY.len()
    )
});

/// The bounds of the connection layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Maximum number of open connections.
    pub connections_max: usize,
    /// Maximum number of open connections from one client IP.
    pub connections_per_ip_max: usize,
    /// Client IPs that the per-IP cap does not apply to.
    pub exempt: Vec<IpAddr>,
    /// Maximum time a client may take to send a request head.
    pub header_read_timeout: Duration,
}

/// The connection cap that a new connection exceeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapExceeded {
    /// `connections_max` connections are open.
    Total,
    /// `connections_per_ip_max` connections from this client IP are open.
    PerIp,
}

/// The count of open connections, in total and per client IP.
#[derive(Debug)]
pub struct ConnectionTable {
    limits: ConnectionLimits,
    exempt: HashSet<IpAddr>,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// An admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct ConnectionSlot {
    table: Arc<ConnectionTable>,
    client: IpAddr,
}

impl ConnectionTable {
    /// Creates an empty table with these caps.
    pub fn new(limits: ConnectionLimits) -> Arc<ConnectionTable> {
        let exempt = limits.exempt.iter().copied().collect();
        Arc::new(ConnectionTable { limits, exempt, open: Mutex::new(OpenConnections::default()) })
    }

    /// Admits a connection from `client`, or names the cap it is over.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<ConnectionSlot, CapExceeded> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.limits.connections_max {
            return Err(CapExceeded::Total);
        }
        let from_client = open.per_ip.get(&client).copied().unwrap_or(0);
        if from_client >= self.limits.connections_per_ip_max && !self.exempt.contains(&client) {
            return Err(CapExceeded::PerIp);
        }
        open.total += 1;
        open.per_ip.insert(client, from_client + 1);
        Ok(ConnectionSlot { table: Arc::clone(self), client })
    }

    /// Returns the number of open connections.
    pub fn open_connections(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total -= 1;
        if let Some(count) = open.per_ip.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.per_ip.remove(&self.client);
            }
        }
    }
}

/// A warning logged at most once per [`WARNING_INTERVAL`], with the number of
/// occurrences since the previous one.
#[derive(Debug, Default)]
struct RepeatedWarning {
    last: Option<Instant>,
    suppressed: u64,
}

impl RepeatedWarning {
    /// Returns the number of occurrences to report now, or `None` while the interval
    /// since the last warning runs.
    fn occur(&mut self) -> Option<u64> {
        self.suppressed += 1;
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < WARNING_INTERVAL) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Serves `router` on `listener` until `stop` turns true, then lets every open
/// connection finish its request in progress and returns once all of them are closed.
pub async fn serve(listener: TcpListener, router: Router, limits: ConnectionLimits, stop: watch::Receiver<bool>) {
    let header_read_timeout = limits.header_read_timeout;
    let table = ConnectionTable::new(limits);
    // Each connection task owns a sender, so `recv` returns `None` once all have ended.
    let (open_sender, mut all_closed) = mpsc::channel::<()>(1);
    let mut accept_warning = RepeatedWarning::default();
    let mut rejection_warning = RepeatedWarning::default();

    let stopping = stopped(stop.clone());
    tokio::pin!(stopping);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stopping => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                if let Some(count) = accept_warning.occur() {
                    tracing::warn!(%error, failures = count, "accepting a connection failed; retrying");
                }
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let slot = match table.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(exceeded) => {
                reject_connection(&stream, peer, exceeded, &table, &mut rejection_warning);
                continue;
            }
        };
        let connection = serve_connection(stream, peer, router.clone(), header_read_timeout, stop.clone());
        let open = open_sender.clone();
        tokio::spawn(async move {
            connection.await;
            drop(slot);
            drop(open);
        });
    }
    drop(open_sender);
    let _ = all_closed.recv().await;
}

/// Writes a 503 response to a rejected connection if its socket takes the bytes at
/// once, then closes it, and logs a warning at most once per [`WARNING_INTERVAL`].
fn reject_connection(
    stream: &TcpStream,
    peer: SocketAddr,
    exceeded: CapExceeded,
    table: &ConnectionTable,
    warning: &mut RepeatedWarning,
) {
    let _ = stream.try_write(OVERLOADED_RESPONSE.as_bytes());
    if let Some(count) = warning.occur() {
        let limits = &table.limits;
        match exceeded {
            CapExceeded::Total => tracing::warn!(
                peer = %peer, rejected = count, connections_max = limits.connections_max,
                "overloaded: rejecting connections over api.connections_max"
            ),
            CapExceeded::PerIp => tracing::warn!(
                peer = %peer, rejected = count, connections_per_ip_max = limits.connections_per_ip_max,
                "overloaded: rejecting connections over api.connections_per_ip_max from one client IP"
            ),
        }
    }
}

/// Serves one connection until it closes, or until `stop` turns true and its request
/// in progress has its response.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
    stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            Ok::<_, Infallible>(
                router.oneshot(request.map(axum::body::Body::new)).await.unwrap_or_else(|never| match never {}),
            )
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);

    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        // Timeouts, resets and malformed requests end here; the client caused them.
        tracing::debug!(peer = %peer, %error, "connection closed with an error");
    }
}

/// Completes once `stop` turns true or its sender is gone.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn table(total: usize, per_ip: usize, exempt: Vec<IpAddr>) -> Arc<ConnectionTable> {
        ConnectionTable::new(ConnectionLimits {
            connections_max: total,
            connections_per_ip_max: per_ip,
            exempt,
            header_read_timeout: Duration::from_secs(1),
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    #[test]
    fn per_ip_cap_admits_up_to_the_edge() {
        let table = table(100, 3, Vec::new());
        let slots: Vec<_> = (0..3).map(|_| table.admit(ip(7)).expect("within the per-IP cap")).collect();
        assert_eq!(table.admit(ip(7)).unwrap_err(), CapExceeded::PerIp);
        assert!(table.admit(ip(8)).is_ok(), "another IP has its own count");
        drop(slots);
        assert!(table.admit(ip(7)).is_ok(), "dropped slots free their places");
    }

    #[test]
    fn total_cap_applies_to_every_ip() {
        let table = table(2, 10, vec![ip(1)]);
        let _first = table.admit(ip(1)).expect("first");
        let _second = table.admit(ip(2)).expect("second");
        assert_eq!(table.admit(ip(1)).unwrap_err(), CapExceeded::Total, "exempt IPs count toward the total");
        assert_eq!(table.open_connections(), 2);
    }

    #[test]
    fn exempt_ip_skips_the_per_ip_cap() {
        let table = table(100, 1, vec![ip(1)]);
        let _slots: Vec<_> = (0..5).map(|_| table.admit(ip(1)).expect("exempt")).collect();
        assert_eq!(table.open_connections(), 5);
    }

    #[test]
    fn overloaded_response_length_matches() {
        let text = OVERLOADED_RESPONSE.as_str();
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(json["error"]["code"], "overloaded");
    }

    #[test]
    fn repeated_warning_counts_suppressed() {
        let mut warning = RepeatedWarning::default();
        assert_eq!(warning.occur(), Some(1));
        assert_eq!(warning.occur(), None);
        assert_eq!(warning.occur(), None);
        warning.last = Some(Instant::now() - WARNING_INTERVAL);
        assert_eq!(warning.occur(), Some(3));
    }
}
