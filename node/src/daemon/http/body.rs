//! Request head and body bounds with JSON error responses: the URI length and header size are
//! checked first, then the body is read whole, within `api.body_bytes_max` and
//! `api.body_read_timeout_ms`, before a handler sees it.
//!
//! # Invariants
//! A handler receives a body that is complete and at most `body_bytes_max` bytes long,
//! so no handler waits on a slow client.

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::daemon::http::error::{ApiError, code};

/// Maximum length of a request's URI (path and query) in bytes. Every valid request is
/// far shorter: the longest path contains a sha512 digest, and a repository name in the
/// query has at most 255 bytes.
pub const URI_BYTES_MAX: usize = 8 * 1024;

/// Maximum total size of a request's header names and values in bytes.
pub const HEADER_BYTES_MAX: usize = 64 * 1024;

/// The body bounds of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Maximum body size in bytes (`api.body_bytes_max`).
    pub bytes_max: usize,
    /// Maximum time a client may take to send the whole body (`api.body_read_timeout_ms`).
    pub read_timeout: Duration,
}

/// Rejects a long URI with 414 `uri_too_long` and large headers with 431
/// `headers_too_large`, before anything else runs.
pub async fn check_head(request: Request, next: Next) -> Response {
    let uri_bytes = request.uri().path_and_query().map_or(0, |path| path.as_str().len());
    if uri_bytes > URI_BYTES_MAX {
        let message = format!("the URI is {uri_bytes} bytes, over the maximum of {URI_BYTES_MAX}; shorten it");
        return ApiError::new(StatusCode::URI_TOO_LONG, code::URI_TOO_LONG, message).into_response();
    }
    let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if header_bytes > HEADER_BYTES_MAX {
        let message = format!(
            "the headers are {header_bytes} bytes, over the maximum of {HEADER_BYTES_MAX}; send fewer or shorter headers"
        );
        return ApiError::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, code::HEADERS_TOO_LARGE, message)
            .into_response();
    }
    next.run(request).await
}

/// Reads the whole body within the limits, or rejects it with 413 `body_too_large` (before
/// reading, when `Content-Length` is over the limit), 408 `request_timeout` or 400
/// `invalid_body`, and passes the request on with the body in memory.
pub async fn read_body(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if let Some(length) = declared_length(&parts.headers)
        && length > limits.bytes_max as u64
    {
        let what = format!("Content-Length is {length} bytes");
        return too_large(&what, limits.bytes_max).into_response();
    }
    let bytes = match tokio::time::timeout(limits.read_timeout, collect(body, limits.bytes_max)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => return error.into_response(),
        Err(_elapsed) => return timed_out(limits.read_timeout).into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Returns the `Content-Length` header's value when it is a decimal number.
fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads the body's data frames into memory, stopping once it exceeds `bytes_max`.
async fn collect(body: Body, bytes_max: usize) -> Result<Bytes, ApiError> {
    let mut body = std::pin::pin!(body);
    let mut buffer = Vec::new();
    while let Some(frame) = std::future::poll_fn(|context| body.as_mut().poll_frame(context)).await {
        let frame = frame.map_err(|error| {
            ApiError::bad_request(code::INVALID_BODY, format!("reading the request body failed: {error}"))
        })?;
        let Ok(data) = frame.into_data() else { continue };
        if buffer.len() + data.len() > bytes_max {
            return Err(too_large("the body is longer", bytes_max));
        }
        buffer.extend_from_slice(&data);
    }
    Ok(Bytes::from(buffer))
}

fn too_large(what: &str, bytes_max: usize) -> ApiError {
    let message =
        format!("{what}, over api.body_bytes_max ({bytes_max} bytes); send a smaller body or raise api.body_bytes_max");
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code::BODY_TOO_LARGE, message)
}

fn timed_out(read_timeout: Duration) -> ApiError {
    tracing::debug!(timeout_ms = read_timeout.as_millis() as u64, "request body timed out");
    let message = format!(
        "the request body did not arrive within api.body_read_timeout_ms ({} ms); send the whole body at once",
        read_timeout.as_millis()
    );
    ApiError::new(StatusCode::REQUEST_TIMEOUT, code::REQUEST_TIMEOUT, message)
}
