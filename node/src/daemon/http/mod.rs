//! The node's HTTP JSON API (`/v1/...`), with bounds on body size, concurrency and each
//! client's rate. docs/API.md documents every endpoint, body and error code.

pub mod body;
pub mod error;
pub mod limits;
mod queries;
pub mod server;
mod submit;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::sync::Semaphore;

pub use body::BodyLimits;
pub use error::ApiError;
pub use limits::{RateConfig, RateLimiter};
pub use server::ConnectionLimits;
pub use submit::DROPPED_REJECTION;

use crate::daemon::chain::ChainApp;
use crate::daemon::mempool::Mempool;
use crate::daemon::waiters::CommitWaiters;

/// The state shared by the handlers.
pub struct ApiState {
    /// The ledger state machine.
    pub app: Arc<dyn ChainApp>,
    /// The mempool that submissions enter.
    pub mempool: Arc<Mempool>,
    /// The submissions waiting for their commit.
    pub waiters: Arc<CommitWaiters>,
    /// How long a submission with `"wait": true` waits.
    pub commit_wait_timeout: Duration,
}

/// The request bounds of the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiLimits {
    /// Maximum request body size in bytes.
    pub body_bytes_max: usize,
    /// Longest time a client may take to send a request body.
    pub body_read_timeout: Duration,
    /// Maximum number of requests handled at one time.
    pub concurrency_max: usize,
    /// Each client's rate.
    pub rate: RateConfig,
}

/// Builds the API's router with its bounds: the URI and header sizes are checked first,
/// then the rate, then the concurrency, and then the body is read within its size and
/// time limits.
pub fn router(state: Arc<ApiState>, limits: &ApiLimits) -> Router {
    let permits = Arc::new(Semaphore::new(limits.concurrency_max));
    let rate = Arc::new(RateLimiter::new(&limits.rate));
    let body_limits = BodyLimits { bytes_max: limits.body_bytes_max, read_timeout: limits.body_read_timeout };
    Router::new()
        .route("/v1/images/{digest}", get(queries::image_status))
        .route("/v1/images/{digest}/attestations", get(queries::attestations))
        .route("/v1/txs", post(submit::submit_tx))
        .route("/v1/blocks/{height}", get(queries::block))
        .route("/v1/status", get(queries::status))
        .route("/v1/validators", get(queries::validators))
        .route("/v1/accounts/{public_key}", get(queries::account))
        .route("/v1/attesters", get(queries::attesters))
        .route("/v1/policies", get(queries::policies))
        .route("/v1/proposals", get(queries::proposals))
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_bytes_max))
        .layer(axum::middleware::from_fn_with_state(body_limits, body::read_body))
        .layer(axum::middleware::from_fn_with_state(permits, limits::limit_concurrency))
        .layer(axum::middleware::from_fn_with_state(rate, limits::limit_rate))
        .layer(axum::middleware::from_fn(body::check_head))
        .with_state(state)
}

async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no endpoint {}; docs/API.md lists the endpoints under /v1", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    let message = format!("{} does not accept {method}; docs/API.md lists the methods", uri.path());
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, error::code::METHOD_NOT_ALLOWED, message)
}
