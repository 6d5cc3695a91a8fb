//! API errors: a stable code, an HTTP status and a message, sent as
//! [`vouch_protocol::api::ErrorResponse`] JSON.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use vouch_protocol::api::{ErrorDetail, ErrorResponse};

use crate::daemon::chain::{AppError, QueryError, TxRejection};
use crate::daemon::mempool::MempoolError;

/// The stable error codes of the API; docs/API.md lists them with their statuses.
pub mod code {
    /// The digest in the path is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    pub const INVALID_DIGEST: &str = "invalid_digest";
    /// The public key in the path is not 64 hex characters of an ed25519 key.
    pub const INVALID_PUBLIC_KEY: &str = "invalid_public_key";
    /// The height in the path is not a decimal `u64`.
    pub const INVALID_HEIGHT: &str = "invalid_height";
    /// A path parameter is not valid UTF-8 after percent-decoding.
    pub const INVALID_PATH: &str = "invalid_path";
    /// The query string has an unknown parameter or a bad value.
    pub const INVALID_QUERY: &str = "invalid_query";
    /// The body is not the expected JSON, or its transaction is not base64.
    pub const INVALID_BODY: &str = "invalid_body";
    /// The route or the object does not exist.
    pub const NOT_FOUND: &str = "not_found";
    /// The route exists but not with this method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The transaction failed a check; the message starts with the check's own code.
    pub const TX_REJECTED: &str = "tx_rejected";
    /// The mempool contains its maximum number of transactions or bytes.
    pub const MEMPOOL_FULL: &str = "mempool_full";
    /// The body is larger than `api.body_bytes_max`.
    pub const BODY_TOO_LARGE: &str = "body_too_large";
    /// The body did not arrive within `api.body_read_timeout_ms`.
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// The URI is longer than the API accepts.
    pub const URI_TOO_LONG: &str = "uri_too_long";
    /// The request's headers are larger than the API accepts.
    pub const HEADERS_TOO_LARGE: &str = "headers_too_large";
    /// The client sent more requests than its rate allows.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// The node handles as many requests or waits as it may.
    pub const OVERLOADED: &str = "overloaded";
    /// The node is stopping; the request was not completed.
    pub const SHUTTING_DOWN: &str = "shutting_down";
    /// The node failed, and the message names the failed step.
    pub const INTERNAL: &str = "internal";
    /// The answer needs a block that is not committed yet; retry shortly.
    pub const NOT_READY: &str = "not_ready";
}

/// The rejection code of a transaction already waiting in the mempool, the same code
/// that the app gives a transaction already committed.
pub const DUPLICATE_REJECTION: &str = "duplicate";

/// The rejection code of a transaction over the mempool's size limit.
pub const TOO_LARGE_REJECTION: &str = "tx_too_large";

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    /// Creates an error with a status, a code from [`code`] and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// Adds a `Retry-After` header, in whole seconds rounded up.
    pub fn retry_after(mut self, after: Duration) -> ApiError {
        self.retry_after = Some(after);
        self
    }

    /// Creates a 400 error.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Creates a 404 `not_found` error.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
    }

    /// Creates a 503 `overloaded` error with a `Retry-After` of one second.
    pub fn overloaded(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code::OVERLOADED, message).retry_after(Duration::from_secs(1))
    }

    /// Creates a 422 `tx_rejected` error whose message starts with the rejection's code.
    pub fn tx_rejected(rejection_code: &str, message: &str) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code::TX_REJECTED, format!("{rejection_code}: {message}"))
    }

    /// Creates a 500 `internal` error and logs the failure, which is handled here.
    pub fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!(error = %message, "request failed inside the node");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, message)
    }

    /// Returns the HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Returns the stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        match error {
            QueryError::NotFound(message) => ApiError::not_found(message),
            QueryError::NotReady(message) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code::NOT_READY, message),
            QueryError::Internal(message) => ApiError::internal(format!("query failed: {message}")),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        ApiError::internal(error.to_string())
    }
}

impl From<TxRejection> for ApiError {
    fn from(rejection: TxRejection) -> ApiError {
        ApiError::tx_rejected(rejection.code, &rejection.message)
    }
}

impl From<MempoolError> for ApiError {
    fn from(error: MempoolError) -> ApiError {
        match error {
            MempoolError::Rejected(rejection) => rejection.into(),
            MempoolError::Duplicate { .. } => ApiError::tx_rejected(DUPLICATE_REJECTION, &error.to_string()),
            MempoolError::TooLarge { .. } => ApiError::tx_rejected(TOO_LARGE_REJECTION, &error.to_string()),
            MempoolError::Full { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code::MEMPOOL_FULL, error.to_string())
                    .retry_after(Duration::from_secs(1))
            }
        }
    }
}
