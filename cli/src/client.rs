//! A small blocking HTTP client for the node's JSON API (`/v1/...`), with a timeout on
//! every request, a bound on response bodies, and errors that name the URL, the HTTP
//! status and the node's error code and message.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use vouch_protocol::api::{
    AccountResponse, AttestationsResponse, AttestersResponse, BlockResponse, ErrorResponse, ImageStatusResponse,
    PoliciesResponse, ProposalsResponse, StatusResponse, SubmitTxRequest, SubmitTxResponse, ValidatorsResponse,
};
use vouch_protocol::digest::Digest;

use crate::output::escape_message;

/// Environment variable that sets the default of `--node`.
pub const NODE_ENV: &str = "VOUCH_NODE";
/// Node URL used when neither `--node` nor `VOUCH_NODE` is given: `vouchd`'s default
/// API address.
pub const DEFAULT_NODE_URL: &str = "http://127.0.0.1:7070";
/// Default of `--timeout`, in seconds. It covers a submission that waits for its
/// block, so it is longer than a read needs.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// Largest `--timeout`, in seconds: one hour, far beyond a block's commit wait.
pub const TIMEOUT_SECS_MAX: u64 = 60 * 60;
/// The API's path prefix, which the client adds to every request.
const API_PREFIX: &str = "/v1";
/// Largest response body read, in bytes: an image status with its proof carries the
/// image record twice (as JSON and as base64), and a record is at most 4 MiB.
pub const RESPONSE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Number of characters of a non-JSON error body quoted in an error message.
const BODY_EXCERPT_CHARS: usize = 200;

/// Failures of a request to the node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid node URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "cannot reach the node at {url}: {reason}; is vouchd running there? Start one with `vouchd start --dev` or pass --node URL"
    )]
    Unreachable { url: String, reason: String },
    #[error("request to {url} timed out after {seconds} s; raise --timeout or check the node")]
    TimedOut { url: String, seconds: u64 },
    #[error("{url}: HTTP {status}: {code}: {message}")]
    Rejected { url: String, status: u16, code: String, message: String },
    #[error("{url}: HTTP {status} without a JSON error body: {excerpt:?}")]
    UnexpectedStatus { url: String, status: u16, excerpt: String },
    #[error("{url}: response body is over the limit of {max} bytes")]
    ResponseTooLarge { url: String, max: u64 },
    #[error("{url}: invalid response: {reason}")]
    InvalidResponse { url: String, reason: String },
}

/// Options that choose the node and how long to wait for it.
#[derive(clap::Args, Clone, Debug)]
pub struct NodeArgs {
    /// Node API URL, such as http://127.0.0.1:7070 (plain HTTP only).
    #[arg(long, env = NODE_ENV, default_value = DEFAULT_NODE_URL, value_name = "URL")]
    pub node: String,
    /// Timeout of each request to the node, in seconds (1 to 3600).
    #[arg(
        long,
        default_value_t = DEFAULT_TIMEOUT_SECS,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=TIMEOUT_SECS_MAX)
    )]
    pub timeout: u64,
}

impl NodeArgs {
    /// Builds a client for the chosen node.
    pub fn client(&self) -> Result<NodeClient, ClientError> {
        NodeClient::new(&self.node, Duration::from_secs(self.timeout))
    }
}

/// A client of one node.
pub struct NodeClient {
    base: String,
    timeout: Duration,
    agent: ureq::Agent,
}

impl NodeClient {
    /// Creates a client of the node at `url` (`http://host:port`, with an optional
    /// path prefix).
    // NOTE: this build has no TLS support (ureq without its rustls feature), so an
    // https:// node is rejected here. Nodes listen on plain HTTP for now.
    pub fn new(url: &str, timeout: Duration) -> Result<NodeClient, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl { url: url.to_owned(), reason: reason.to_owned() };
        if url.starts_with("https://") {
            return Err(invalid("this vouch build speaks plain HTTP only; use an http:// URL"));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(invalid("it must start with http://, as in http://127.0.0.1:7070"));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("it has no host"));
        }
        let base = url.trim_end_matches('/');
        if let Some(without) = base.strip_suffix(API_PREFIX) {
            return Err(invalid(&format!(
                "drop the trailing {API_PREFIX}, which vouch adds to every request: use {without}"
            )));
        }
        check_uri(base).map_err(|reason| invalid(&reason))?;
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Ok(NodeClient { base: base.to_owned(), timeout, agent: config.into() })
    }

    /// Returns the node's URL without a final `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<StatusResponse, ClientError> {
        self.get("/v1/status", &[])
    }

    /// `GET /v1/accounts/{public_key}`.
    pub fn account(&self, public_key_hex: &str) -> Result<AccountResponse, ClientError> {
        self.get(&format!("/v1/accounts/{public_key_hex}"), &[])
    }

    /// `GET /v1/images/{digest}`, optionally for one repository and with the proof.
    pub fn image(
        &self,
        digest: &Digest,
        repository: Option<&str>,
        proof: bool,
    ) -> Result<ImageStatusResponse, ClientError> {
        let mut query = Vec::new();
        if let Some(repository) = repository {
            query.push(("repository", repository));
        }
        if proof {
            query.push(("proof", "true"));
        }
        self.get(&format!("/v1/images/{digest}"), &query)
    }

    /// `GET /v1/images/{digest}/attestations`.
    pub fn attestations(&self, digest: &Digest) -> Result<AttestationsResponse, ClientError> {
        self.get(&format!("/v1/images/{digest}/attestations"), &[])
    }

    /// `GET /v1/blocks/{height}`.
    pub fn block(&self, height: u64) -> Result<BlockResponse, ClientError> {
        self.get(&format!("/v1/blocks/{height}"), &[])
    }

    /// `GET /v1/validators?height=H`: the set that signs the block at `height`.
    pub fn validators_at(&self, height: u64) -> Result<ValidatorsResponse, ClientError> {
        self.get("/v1/validators", &[("height", &height.to_string())])
    }

    /// `GET /v1/attesters`.
    pub fn attesters(&self) -> Result<AttestersResponse, ClientError> {
        self.get("/v1/attesters", &[])
    }

    /// `GET /v1/policies`.
    pub fn policies(&self) -> Result<PoliciesResponse, ClientError> {
        self.get("/v1/policies", &[])
    }

    /// `GET /v1/proposals`.
    pub fn proposals(&self) -> Result<ProposalsResponse, ClientError> {
        self.get("/v1/proposals", &[])
    }

    /// `POST /v1/txs`.
    pub fn submit(&self, request: &SubmitTxRequest) -> Result<SubmitTxResponse, ClientError> {
        self.post("/v1/txs", request)
    }

    fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        tracing::debug!(url, "GET");
        let mut request = self.agent.get(&url);
        for (name, value) in query {
            request = request.query(*name, *value);
        }
        let response = request.call().map_err(|error| self.transport_error(&url, error))?;
        self.read(&url, response)
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        tracing::debug!(url, "POST");
        let bytes = serde_json::to_vec(body).map_err(|error| ClientError::InvalidResponse {
            url: url.clone(),
            reason: format!("cannot encode the request: {error}"),
        })?;
        let response = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&bytes[..])
            .map_err(|error| self.transport_error(&url, error))?;
        self.read(&url, response)
    }

    /// Reads a bounded body and decodes it: as `T` for a 2xx status, else as the node's
    /// error body.
    fn read<T: DeserializeOwned>(
        &self,
        url: &str,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<T, ClientError> {
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_vec()
            .map_err(|error| self.transport_error(url, error))?;
        if !(200..300).contains(&status) {
            return Err(status_error(url, status, &bytes));
        }
        vouch_protocol::input::parse_json(url, &bytes)
            .map_err(|error| ClientError::InvalidResponse { url: url.to_owned(), reason: error.to_string() })
    }

    fn transport_error(&self, url: &str, error: ureq::Error) -> ClientError {
        let url = url.to_owned();
        match error {
            ureq::Error::Timeout(_) => ClientError::TimedOut { url, seconds: self.timeout.as_secs() },
            ureq::Error::BodyExceedsLimit(_) => ClientError::ResponseTooLarge { url, max: RESPONSE_BYTES_MAX },
            ureq::Error::BadUri(reason) => ClientError::InvalidUrl { url, reason },
            other => ClientError::Unreachable { url, reason: other.to_string() },
        }
    }
}

/// Checks that a request URL under `base` parses as an HTTP URI with a host, so that a
/// bad `--node` fails before anything is signed.
fn check_uri(base: &str) -> Result<(), String> {
    let uri: ureq::http::Uri =
        format!("{base}{API_PREFIX}/status").parse().map_err(|error| format!("it is not a valid URL: {error}"))?;
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err("it has no host".to_owned()),
    }
}

/// Builds the error of a non-2xx response from the node's `ErrorResponse`, with
/// control characters escaped, or from an excerpt of the body when it is not one.
fn status_error(url: &str, status: u16, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorResponse>(bytes) {
        Ok(body) => {
            let code = escape_message(&body.error.code);
            ClientError::Rejected { url: url.to_owned(), status, code, message: escape_message(&body.error.message) }
        }
        Err(_) => ClientError::UnexpectedStatus {
            url: url.to_owned(),
            status,
            excerpt: String::from_utf8_lossy(bytes).chars().take(BODY_EXCERPT_CHARS).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_must_be_plain_http_with_host() {
        let timeout = Duration::from_secs(1);
        let bad =
            ["https://node:7070", "node:7070", "ftp://x", "http://", "http:///v1", "not-a-url", "http://a b:7070"];
        for url in bad {
            let error = NodeClient::new(url, timeout).err().unwrap();
            assert!(matches!(error, ClientError::InvalidUrl { .. }), "{url}: {error}");
            assert!(error.to_string().contains(url), "{error}");
        }
        let client = NodeClient::new("http://127.0.0.1:7070/", timeout).unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:7070");
        let client = NodeClient::new("http://proxy.example/vouch", timeout).unwrap();
        assert_eq!(client.base_url(), "http://proxy.example/vouch");
    }

    #[test]
    fn url_with_api_prefix_gets_hint() {
        for url in ["http://127.0.0.1:7070/v1", "http://127.0.0.1:7070/v1/"] {
            let error = NodeClient::new(url, Duration::from_secs(1)).err().unwrap().to_string();
            assert!(error.contains("drop the trailing /v1"), "{error}");
            assert!(error.contains("use http://127.0.0.1:7070"), "{error}");
        }
    }

    #[test]
    fn error_body_gives_code_and_message() {
        let body = br#"{"error": {"code": "not_found", "message": "no such image"}}"#;
        let error = status_error("http://n/v1/images/x", 404, body);
        assert_eq!(error.to_string(), "http://n/v1/images/x: HTTP 404: not_found: no such image");
    }

    #[test]
    fn non_json_error_body_is_quoted() {
        let body = "x".repeat(BODY_EXCERPT_CHARS + 50);
        let error = status_error("http://n/v1/status", 502, body.as_bytes());
        let ClientError::UnexpectedStatus { excerpt, status: 502, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(excerpt.chars().count(), BODY_EXCERPT_CHARS);
    }
}
