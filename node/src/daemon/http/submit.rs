//! `POST /v1/txs`: check a transaction into the mempool and, on request, wait for the
//! block that commits it.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use vouch_protocol::api::{SubmitTxRequest, SubmitTxResponse, TxState};
use vouch_protocol::chain::{Height, Transaction};

use crate::daemon::chain::CheckedTx;
use crate::daemon::http::ApiState;
use crate::daemon::http::error::{ApiError, code};
use crate::daemon::http::limits::HeldPermit;
use crate::daemon::waiters::{CommitWait, TxFate};

/// The rejection code of a transaction that passed the mempool's check but that the
/// block left out, and that passes the check again now.
pub const DROPPED_REJECTION: &str = "dropped";

/// `POST /v1/txs`.
pub async fn submit_tx(
    State(state): State<Arc<ApiState>>,
    permit: Option<Extension<HeldPermit>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SubmitTxResponse>), ApiError> {
    let request = parse_request(body)?;
    let tx =
        Transaction::new(BASE64.decode(request.tx.as_bytes()).map_err(|error| {
            ApiError::bad_request(
                code::INVALID_BODY,
                format!("field `tx` is not base64: {error}; encode the transaction bytes with standard base64 (RFC 4648, with padding)"),
            )
        })?);
    let hash = tx.hash();

    // The wait exists before the transaction enters the mempool, so its block cannot
    // be missed.
    let wait = match request.wait {
        true => Some(state.waiters.register(hash).map_err(|error| ApiError::overloaded(error.to_string()))?),
        false => None,
    };
    let kept = wait.as_ref().map(|_| tx.clone());
    let checked = check_in(&state, tx).await?;

    match (wait, kept) {
        (Some(wait), Some(tx)) => {
            // A waiting submission holds no concurrency permit: its bound is
            // `api.commit_waiters_max`.
            if let Some(Extension(permit)) = permit {
                permit.release();
            }
            wait_for_commit(&state, checked, wait, tx).await
        }
        _ => Ok((StatusCode::ACCEPTED, Json(accepted(&checked)))),
    }
}

fn parse_request(body: Result<Bytes, BytesRejection>) -> Result<SubmitTxRequest, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code::BODY_TOO_LARGE, rejection.body_text())
        } else {
            ApiError::bad_request(code::INVALID_BODY, rejection.body_text())
        }
    })?;
    // serde accepts a struct as a JSON array of its fields too; the API takes objects only.
    if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            code::INVALID_BODY,
            "the body is not a JSON object; send {\"tx\": \"<base64 of the transaction>\", \"wait\": true|false}",
        ));
    }
    serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request(
            code::INVALID_BODY,
            format!("{error}; send {{\"tx\": \"<base64 of the transaction>\", \"wait\": true|false}}"),
        )
    })
}

/// The largest transaction checked on the API worker itself. Checking a 4.6 KB
/// attestation takes about 120 µs, while handing it to the blocking pool and back cost
/// two thread switches, which took about a tenth of the node's CPU under submission
/// load. Larger envelopes, of up to megabytes, go to the blocking pool so that they do
/// not hold up the worker's other requests.
pub const INLINE_CHECK_BYTES_MAX: usize = 64 * 1024;

/// Runs the mempool's checks, on the blocking pool for transactions larger than
/// [`INLINE_CHECK_BYTES_MAX`].
async fn check_in(state: &ApiState, tx: Transaction) -> Result<CheckedTx, ApiError> {
    if tx.len() <= INLINE_CHECK_BYTES_MAX {
        return Ok(state.mempool.submit(state.app.as_ref(), tx)?);
    }
    let app = Arc::clone(&state.app);
    let mempool = Arc::clone(&state.mempool);
    let checked = tokio::task::spawn_blocking(move || mempool.submit(app.as_ref(), tx))
        .await
        .map_err(|error| ApiError::internal(format!("the transaction check did not finish: {error}")))?;
    Ok(checked?)
}

async fn wait_for_commit(
    state: &ApiState,
    checked: CheckedTx,
    mut wait: CommitWait,
    tx: Transaction,
) -> Result<(StatusCode, Json<SubmitTxResponse>), ApiError> {
    let fate = tokio::time::timeout(state.commit_wait_timeout, wait.fate()).await;
    match fate {
        Ok(Some(TxFate::Committed { height })) => Ok((StatusCode::OK, Json(committed(state, &checked, height)?))),
        Ok(Some(TxFate::Dropped { height })) => Err(dropped(state, tx, height).await),
        Ok(None) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::SHUTTING_DOWN,
            format!("the node is stopping before transaction {} was committed; submit it again later", checked.hash),
        )),
        // The transaction stays in the mempool and may still be committed.
        Err(_elapsed) => Ok((StatusCode::ACCEPTED, Json(accepted(&checked)))),
    }
}

fn accepted(checked: &CheckedTx) -> SubmitTxResponse {
    SubmitTxResponse {
        tx_hash: checked.hash.to_hex(),
        state: TxState::Accepted,
        height: None,
        image: checked.image.clone(),
        outcome: None,
    }
}

fn committed(state: &ApiState, checked: &CheckedTx, height: Height) -> Result<SubmitTxResponse, ApiError> {
    let outcome = state.app.tx_outcome(&checked.hash)?.map(|(_, outcome)| outcome);
    Ok(SubmitTxResponse {
        tx_hash: checked.hash.to_hex(),
        state: TxState::Committed,
        height: Some(height.0),
        image: checked.image.clone(),
        outcome,
    })
}

/// Explains why a block left a transaction out, by checking it again against the state
/// after that block.
async fn dropped(state: &ApiState, tx: Transaction, height: Height) -> ApiError {
    let app = Arc::clone(&state.app);
    let hash = tx.hash();
    match tokio::task::spawn_blocking(move || app.check_tx(&tx)).await {
        Ok(Err(rejection)) => rejection.into(),
        Ok(Ok(_)) => ApiError::tx_rejected(
            DROPPED_REJECTION,
            &format!("the block at height {height} left transaction {hash} out; submit it again"),
        ),
        Err(error) => ApiError::internal(format!("the transaction check did not finish: {error}")),
    }
}
