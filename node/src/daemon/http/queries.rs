//! The read-only endpoints: images, attestations, blocks, status, validators, accounts,
//! attesters, policies and proposals.
//!
//! Queries call the app directly on the runtime's worker threads: each reads committed
//! state from memory or the database cache and returns in well under a millisecond, so
//! moving it to the blocking pool would cost more than it saves. The exception is an
//! idle release that reopens the database: queries wait for it, about 1 s on a
//! 320,000-attestation ledger, once after each heavy load.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use serde::Deserialize;
use vouch_protocol::api::{
    AccountResponse, AttestationsResponse, AttestersResponse, BlockResponse, ImageStatusResponse, PoliciesResponse,
    ProposalsResponse, StatusResponse, ValidatorsResponse,
};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::reference::{NAME_LENGTH_MAX, Reference};

use crate::daemon::http::ApiState;
use crate::daemon::http::error::{ApiError, code};

/// The software version that `GET /v1/status` reports.
const NODE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The query string of `GET /v1/images/{digest}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageQuery {
    /// Whether to add the Merkle proof, the header and the commit.
    #[serde(default)]
    proof: bool,
    /// The repository (`registry/path`) whose verdicts to return.
    repository: Option<String>,
}

/// `GET /v1/images/{digest}`.
pub async fn image_status(
    State(state): State<Arc<ApiState>>,
    PathText(digest): PathText,
    query: Result<Query<ImageQuery>, QueryRejection>,
) -> Result<Json<ImageStatusResponse>, ApiError> {
    let image = parse_digest(&digest)?;
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(code::INVALID_QUERY, rejection.body_text()))?;
    let repository = query.repository.as_deref();
    if let Some(name) = repository {
        check_repository(name)?;
    }
    Ok(Json(state.app.image_status(&image, repository, query.proof)?))
}

/// `GET /v1/images/{digest}/attestations`.
pub async fn attestations(
    State(state): State<Arc<ApiState>>,
    PathText(digest): PathText,
    _: NoQuery,
) -> Result<Json<AttestationsResponse>, ApiError> {
    let image = parse_digest(&digest)?;
    Ok(Json(state.app.attestations(&image)?))
}

/// `GET /v1/blocks/{height}`.
pub async fn block(
    State(state): State<Arc<ApiState>>,
    PathText(height): PathText,
    _: NoQuery,
) -> Result<Json<BlockResponse>, ApiError> {
    let height = parse_height(&height)?;
    match state.app.block(height)? {
        Some(block) => Ok(Json(block)),
        None => {
            let latest = state.app.tip().height;
            Err(ApiError::not_found(format!("no block at height {height}; the latest height is {latest}")))
        }
    }
}

/// `GET /v1/status`.
pub async fn status(State(state): State<Arc<ApiState>>, _: NoQuery) -> Json<StatusResponse> {
    let tip = state.app.tip();
    Json(StatusResponse {
        chain_id: state.app.chain_id().to_string(),
        node_version: NODE_VERSION.to_owned(),
        latest_height: tip.height.0,
        latest_block_hash: tip.block_hash.map(|hash| hash.to_hex()),
        latest_time_unix_ms: tip.block_hash.map(|_| tip.time_unix_ms),
        state_root: tip.state_root.to_hex(),
        mempool_txs: state.mempool.len(),
    })
}

/// The query string of `GET /v1/validators`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorsQuery {
    /// The height whose signing set to return; the next block's set when absent.
    height: Option<String>,
}

/// `GET /v1/validators` and `GET /v1/validators?height=H`.
pub async fn validators(
    State(state): State<Arc<ApiState>>,
    uri: axum::http::Uri,
    query: Result<Query<ValidatorsQuery>, QueryRejection>,
) -> Result<Json<ValidatorsResponse>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        let given = uri.query().unwrap_or_default();
        let message =
            format!("{}; /v1/validators takes only the parameter `height`, but got {given:?}", rejection.body_text());
        ApiError::bad_request(code::INVALID_QUERY, message)
    })?;
    match query.height {
        None => Ok(Json(state.app.validators())),
        Some(text) => Ok(Json(state.app.validators_at(parse_height(&text)?)?)),
    }
}

/// `GET /v1/accounts/{public_key}`.
pub async fn account(
    State(state): State<Arc<ApiState>>,
    PathText(public_key): PathText,
    _: NoQuery,
) -> Result<Json<AccountResponse>, ApiError> {
    if public_key.bytes().any(|byte| byte.is_ascii_uppercase()) {
        let message = format!("public key {public_key:?} has upper-case hex; give it as 64 lower-case hex characters");
        return Err(ApiError::bad_request(code::INVALID_PUBLIC_KEY, message));
    }
    let key = PublicKey::from_hex(&public_key).map_err(|error| {
        ApiError::bad_request(code::INVALID_PUBLIC_KEY, format!("{error}; give the key as 64 lowercase hex characters"))
    })?;
    Ok(Json(state.app.account(&key)?))
}

/// `GET /v1/attesters`.
pub async fn attesters(State(state): State<Arc<ApiState>>, _: NoQuery) -> Result<Json<AttestersResponse>, ApiError> {
    Ok(Json(state.app.attesters()?))
}

/// `GET /v1/policies`.
pub async fn policies(State(state): State<Arc<ApiState>>, _: NoQuery) -> Result<Json<PoliciesResponse>, ApiError> {
    Ok(Json(state.app.policies()?))
}

/// `GET /v1/proposals`.
pub async fn proposals(State(state): State<Arc<ApiState>>, _: NoQuery) -> Result<Json<ProposalsResponse>, ApiError> {
    Ok(Json(state.app.proposals()?))
}

/// The one path parameter of a route, as text. A parameter that is not UTF-8 after
/// percent-decoding gets a JSON error like every other bad input.
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<PathText, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => Ok(PathText(text)),
            Err(rejection) => Err(ApiError::new(rejection.status(), code::INVALID_PATH, rejection.body_text())),
        }
    }
}

/// The absence of a query string, for endpoints that take no parameters: an unknown
/// parameter is rejected like on `GET /v1/images/{digest}`.
pub struct NoQuery;

impl<S: Send + Sync> FromRequestParts<S> for NoQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<NoQuery, ApiError> {
        match parts.uri.query() {
            None | Some("") => Ok(NoQuery),
            Some(query) => Err(ApiError::bad_request(
                code::INVALID_QUERY,
                format!("{} takes no query parameters, but got {query:?}; remove them", parts.uri.path()),
            )),
        }
    }
}

/// Parses a block height written as plain decimal digits without a sign or leading zero.
fn parse_height(text: &str) -> Result<u64, ApiError> {
    let canonical = text.bytes().all(|byte| byte.is_ascii_digit()) && !(text.len() > 1 && text.starts_with('0'));
    match text.parse::<u64>() {
        Ok(height) if canonical => Ok(height),
        _ => Err(ApiError::bad_request(
            code::INVALID_HEIGHT,
            format!("height {text:?} is not a decimal number from 1 (digits only, no sign or leading zero)"),
        )),
    }
}

fn parse_digest(text: &str) -> Result<Digest, ApiError> {
    Digest::parse(text).map_err(|error| ApiError::bad_request(code::INVALID_DIGEST, error.to_string()))
}

fn check_repository(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > NAME_LENGTH_MAX {
        let message = format!(
            "repository is {} bytes; give a registry/repository name of 1 to {NAME_LENGTH_MAX} bytes",
            name.len()
        );
        return Err(ApiError::bad_request(code::INVALID_QUERY, message));
    }
    // Verdicts are stored under the normalized name, so any other spelling of the same
    // repository would silently match nothing.
    // NOTE: `Reference::parse` keeps the upper-case letters of a registry, so a verdict
    // stored under such a name cannot be queried here.
    let message = match Reference::parse(name) {
        Ok(_) if name.bytes().any(|byte| byte.is_ascii_uppercase()) => format!(
            "repository {name:?} has upper-case letters; give {:?}, because registry hosts are written in lower case",
            name.to_ascii_lowercase()
        ),
        Ok(reference) if reference.name() == name && !name.contains(['@', ' ']) => return Ok(()),
        Ok(reference) => format!(
            "repository {name:?} is not a normalized registry/path name; give {:?}, without a tag or digest",
            reference.name()
        ),
        Err(error) => format!("repository {name:?} is not a registry/path name: {error}"),
    };
    Err(ApiError::bad_request(code::INVALID_QUERY, message))
}
