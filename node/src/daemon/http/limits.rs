//! Request bounds in front of every handler: a per-client-IP rate and a global
//! concurrency limit.
//!
//! The rate is a generic cell rate algorithm (GCRA), the token bucket written as one
//! "theoretical arrival time" per client: a client may send `burst` requests at once
//! and then one every `1 / per_second` seconds.
//!
//! # Invariants
//! At most [`RATE_CLIENTS_MAX`] client IPs are tracked; when all of them are active, a
//! request from a new IP is answered `overloaded` instead of growing the table.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::daemon::http::error::{ApiError, code};

/// Maximum number of client IPs whose rate is tracked at one time.
pub const RATE_CLIENTS_MAX: usize = 65_536;

/// A client's allowed rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateConfig {
    /// Requests per second on average; at least 1.
    pub per_second: u32,
    /// Requests at once above the average; at least 1.
    pub burst: u32,
    /// Client IPs without a rate.
    pub exempt: Vec<IpAddr>,
}

/// The answer of the rate limiter to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    /// The request may proceed.
    Allowed,
    /// The client is over its rate; it may retry after this time.
    Limited { retry_after: Duration },
    /// The table of clients is full of active clients.
    TableFull,
}

/// Per-client-IP rate limiter.
#[derive(Debug)]
pub struct RateLimiter {
    /// Nanoseconds between two requests at the average rate.
    interval_ns: u64,
    /// How far a client's theoretical arrival time may run ahead of now.
    tolerance_ns: u64,
    exempt: HashSet<IpAddr>,
    clients_max: usize,
    epoch: Instant,
    arrivals: Mutex<HashMap<IpAddr, u64>>,
}

impl RateLimiter {
    /// Creates a limiter that tracks at most [`RATE_CLIENTS_MAX`] clients.
    pub fn new(config: &RateConfig) -> RateLimiter {
        RateLimiter::with_clients_max(config, RATE_CLIENTS_MAX)
    }

    /// Creates a limiter that tracks at most `clients_max` clients.
    pub fn with_clients_max(config: &RateConfig, clients_max: usize) -> RateLimiter {
        let interval_ns = 1_000_000_000 / u64::from(config.per_second.max(1));
        let tolerance_ns = interval_ns.saturating_mul(u64::from(config.burst.max(1) - 1));
        RateLimiter {
            interval_ns,
            tolerance_ns,
            exempt: config.exempt.iter().copied().collect(),
            clients_max,
            epoch: Instant::now(),
            arrivals: Mutex::new(HashMap::new()),
        }
    }

    /// Decides about a request from `client` now.
    pub fn check(&self, client: IpAddr) -> RateDecision {
        let now_ns = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(client, now_ns)
    }

    /// Decides about a request from `client` at `now_ns` nanoseconds after the limiter
    /// was created.
    pub fn check_at(&self, client: IpAddr, now_ns: u64) -> RateDecision {
        if self.exempt.contains(&client) {
            return RateDecision::Allowed;
        }
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        if !arrivals.contains_key(&client) && arrivals.len() >= self.clients_max {
            // A client whose arrival time has passed is as good as new: forget it.
            arrivals.retain(|_, arrival| *arrival > now_ns);
            if arrivals.len() >= self.clients_max {
                return RateDecision::TableFull;
            }
        }

        let arrival = arrivals.get(&client).copied().unwrap_or(now_ns).max(now_ns);
        let ahead = arrival - now_ns;
        if ahead > self.tolerance_ns {
            return RateDecision::Limited { retry_after: Duration::from_nanos(ahead - self.tolerance_ns) };
        }
        arrivals.insert(client, arrival + self.interval_ns);
        RateDecision::Allowed
    }
}

/// Answers a request over its client's rate with 429 `rate_limited`.
pub async fn limit_rate(State(limiter): State<Arc<RateLimiter>>, request: Request, next: Next) -> Response {
    // Without connection info (only in tests that call the router directly) every
    // request counts as one client.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    match limiter.check(client) {
        RateDecision::Allowed => next.run(request).await,
        RateDecision::Limited { retry_after } => {
            tracing::debug!(peer = %client, "request over the client's rate");
            let message = format!("client {client} is over its request rate; retry after the Retry-After seconds");
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, code::RATE_LIMITED, message)
                .retry_after(retry_after)
                .into_response()
        }
        RateDecision::TableFull => {
            tracing::warn!(peer = %client, clients = RATE_CLIENTS_MAX, "rate table full of active clients");
            ApiError::overloaded("the node tracks as many active clients as it may; retry shortly").into_response()
        }
    }
}

/// A concurrency permit that a handler may give back before its request ends, as a
/// submission does while it waits for its commit.
#[derive(Clone, Debug)]
pub struct HeldPermit(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl HeldPermit {
    /// Gives the permit back to the global limit.
    pub fn release(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// Answers with 503 `overloaded` when `api.concurrency_max` requests are in progress.
pub async fn limit_concurrency(State(permits): State<Arc<Semaphore>>, mut request: Request, next: Next) -> Response {
    let Ok(permit) = permits.try_acquire_owned() else {
        tracing::debug!("request over the concurrency limit");
        return ApiError::overloaded("the node handles as many requests as it may; retry shortly").into_response();
    };
    let held = HeldPermit(Arc::new(Mutex::new(Some(permit))));
    request.extensions_mut().insert(held.clone());
    let response = next.run(request).await;
    held.release();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn limiter(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(&RateConfig { per_second, burst, exempt: Vec::new() })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    #[test]
    fn burst_passes_and_one_more_is_limited() {
        let limiter = limiter(10, 5);
        for index in 0..5 {
            assert_eq!(limiter.check_at(ip(1), SECOND), RateDecision::Allowed, "request {index} of the burst");
        }
        let decision = limiter.check_at(ip(1), SECOND);
        assert_eq!(decision, RateDecision::Limited { retry_after: Duration::from_millis(100) });
    }

    #[test]
    fn rate_refills_over_time() {
        let limiter = limiter(10, 1);
        assert_eq!(limiter.check_at(ip(1), SECOND), RateDecision::Allowed);
        assert!(matches!(limiter.check_at(ip(1), SECOND + SECOND / 10 - 1), RateDecision::Limited { .. }));
        assert_eq!(limiter.check_at(ip(1), SECOND + SECOND / 10), RateDecision::Allowed);
    }

    #[test]
    fn clients_have_separate_buckets() {
        let limiter = limiter(1, 1);
        assert_eq!(limiter.check_at(ip(1), SECOND), RateDecision::Allowed);
        assert!(matches!(limiter.check_at(ip(1), SECOND), RateDecision::Limited { .. }));
        assert_eq!(limiter.check_at(ip(2), SECOND), RateDecision::Allowed);
    }

    #[test]
    fn exempt_client_is_never_limited() {
        let config = RateConfig { per_second: 1, burst: 1, exempt: vec![ip(9)] };
        let limiter = RateLimiter::new(&config);
        for _ in 0..100 {
            assert_eq!(limiter.check_at(ip(9), SECOND), RateDecision::Allowed);
        }
    }

    #[test]
    fn full_table_forgets_idle_clients() {
        let config = RateConfig { per_second: 1, burst: 1, exempt: Vec::new() };
        let limiter = RateLimiter::with_clients_max(&config, 2);
        assert_eq!(limiter.check_at(ip(1), SECOND), RateDecision::Allowed);
        assert_eq!(limiter.check_at(ip(2), SECOND), RateDecision::Allowed);
        // Both clients are still active at the same instant: no room for a third.
        assert_eq!(limiter.check_at(ip(3), SECOND), RateDecision::TableFull);
        // A second later both arrival times have passed, so both are forgotten.
        assert_eq!(limiter.check_at(ip(3), 2 * SECOND), RateDecision::Allowed);
    }
}
