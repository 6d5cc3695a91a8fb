//! A small blocking HTTP client of one node's API, for tests that submit transactions
//! and read blocks and attestations while the node may be killed at any moment.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use vouch_protocol::api::{
    AttestationsResponse, BlockResponse, ErrorResponse, StatusResponse, SubmitTxRequest, SubmitTxResponse, TxState,
};
use vouch_protocol::chain::Transaction;
use vouch_protocol::digest::Digest;

/// Maximum time of one request. It is longer than the node's default commit wait
/// (10 s), so a waiting submission ends with the node's response, not with this limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Maximum size of a response body read by this client.
const RESPONSE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// A failed request.
#[derive(Debug)]
pub enum HttpError {
    /// No response: the connection was refused, reset or timed out (as when the node
    /// is killed during the request).
    Transport { url: String, reason: String },
    /// The node responded with an error status and its error body.
    Status { url: String, status: u16, code: String, message: String },
    /// The node responded with a body that does not decode.
    InvalidBody { url: String, reason: String },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Transport { url, reason } => write!(f, "{url}: no response: {reason}"),
            HttpError::Status { url, status, code, message } => write!(f, "{url}: HTTP {status}: {code}: {message}"),
            HttpError::InvalidBody { url, reason } => write!(f, "{url}: invalid response body: {reason}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// What `POST /v1/txs` did with a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// The node reported that the block at `height` committed the transaction.
    Committed { height: u64 },
    /// The node accepted the transaction into its mempool without a commit yet.
    Accepted,
}

/// A client of one node at `http://127.0.0.1:PORT`.
#[derive(Clone)]
pub struct NodeHttp {
    base: String,
    agent: ureq::Agent,
}

impl NodeHttp {
    /// Creates a client of the node at `url`.
    pub fn new(url: &str) -> NodeHttp {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        NodeHttp { base: url.trim_end_matches('/').to_owned(), agent: config.into() }
    }

    /// Sends `POST /v1/txs`. With `wait: true` the node responds after the block that
    /// commits the transaction, or after its commit wait ends.
    pub fn submit(&self, tx: &Transaction, wait: bool) -> Result<Submitted, HttpError> {
        let url = format!("{}/v1/txs", self.base);
        let request = SubmitTxRequest { tx: STANDARD.encode(tx.bytes()), wait };
        let body = serde_json::to_vec(&request).expect("a submit request serializes");
        let result = self.agent.post(&url).header("content-type", "application/json").send(&body[..]);
        let response = result.map_err(|error| transport(&url, error))?;
        let submitted: SubmitTxResponse = read(&url, response)?;
        match (submitted.state, submitted.height) {
            (TxState::Committed, Some(height)) => Ok(Submitted::Committed { height }),
            (TxState::Committed, None) => Err(HttpError::InvalidBody {
                url,
                reason: format!("transaction {} is committed but the response has no height", submitted.tx_hash),
            }),
            (TxState::Accepted, _) => Ok(Submitted::Accepted),
        }
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<StatusResponse, HttpError> {
        self.get("/v1/status")
    }

    /// Sends `GET /v1/blocks/{height}`. Returns `None` when the node has no block there
    /// (404).
    pub fn block(&self, height: u64) -> Result<Option<BlockResponse>, HttpError> {
        match self.get(&format!("/v1/blocks/{height}")) {
            Ok(block) => Ok(Some(block)),
            Err(HttpError::Status { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /v1/images/{digest}/attestations`.
    pub fn attestations(&self, image: &Digest) -> Result<AttestationsResponse, HttpError> {
        self.get(&format!("/v1/images/{image}/attestations"))
    }

    /// `GET /v1/validators?height=H`: the set that signs the block at `height`.
    pub fn validators_at(&self, height: u64) -> Result<vouch_protocol::api::ValidatorsResponse, HttpError> {
        self.get(&format!("/v1/validators?height={height}"))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HttpError> {
        let url = format!("{}{path}", self.base);
        let response = self.agent.get(&url).call().map_err(|error| transport(&url, error))?;
        read(&url, response)
    }
}

fn transport(url: &str, error: ureq::Error) -> HttpError {
    HttpError::Transport { url: url.to_owned(), reason: error.to_string() }
}

/// Reads a bounded body: `T` for a 2xx status, the node's error body otherwise.
fn read<T: DeserializeOwned>(url: &str, mut response: ureq::http::Response<ureq::Body>) -> Result<T, HttpError> {
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(RESPONSE_BYTES_MAX)
        .read_to_vec()
        .map_err(|error| transport(url, error))?;
    if !(200..300).contains(&status) {
        return Err(match serde_json::from_slice::<ErrorResponse>(&bytes) {
            Ok(body) => {
                HttpError::Status { url: url.to_owned(), status, code: body.error.code, message: body.error.message }
            }
            Err(_) => HttpError::Status {
                url: url.to_owned(),
                status,
                code: "unknown".to_owned(),
                message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            },
        });
    }
    serde_json::from_slice(&bytes)
        .map_err(|error| HttpError::InvalidBody { url: url.to_owned(), reason: error.to_string() })
}
