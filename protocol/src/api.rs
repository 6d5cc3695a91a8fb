//! The JSON bodies of the node's HTTP API (`/v1/...`), shared by `vouchd` and every
//! client, so both sides parse the same shapes. docs/API.md describes each endpoint.
//!
//! Hashes and keys are lowercase hex. Canonical binary values (transactions, records,
//! headers, commits, proofs) are standard base64 of their [`crate::encoding`] bytes, so
//! a client checks exactly the bytes the chain signed and hashed.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::ledger::{ImageStatus, Verdict};

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable error code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable code such as `invalid_digest`, `tx_rejected` or `rate_limited`; see
    /// docs/API.md for the list.
    pub code: String,
    /// The failure and how to fix it.
    pub message: String,
}

/// `POST /v1/txs`: a transaction to submit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitTxRequest {
    /// Base64 of the canonical encoding of a [`crate::ledger::LedgerTx`].
    pub tx: String,
    /// Whether to respond only after the transaction is committed (or the wait times out).
    #[serde(default)]
    pub wait: bool,
}

/// The state of a submitted transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// Checked and queued for a block.
    Accepted,
    /// Committed in a block.
    Committed,
}

/// The response to `POST /v1/txs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitTxResponse {
    /// The transaction's hash, hex.
    pub tx_hash: String,
    /// Its state.
    pub state: TxState,
    /// The height of the block that committed it, once committed.
    pub height: Option<u64>,
    /// The image that an attestation concerns, for attestations.
    pub image: Option<Digest>,
    /// The block's outcome for it, once committed: `applied`, or the reason it had no
    /// effect (for example a proposal that was rejected when applied).
    pub outcome: Option<String>,
}

/// `GET /v1/images/{digest}`: the ledger's decision about an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStatusResponse {
    /// The image.
    pub image: Digest,
    /// The status under `repository`, or over every name when none was asked for.
    pub status: ImageStatus,
    /// The repository the query named, if any.
    pub repository: Option<String>,
    /// The state height of the response: the state after the block at that height.
    pub height: u64,
    /// The names the image was seen under and the policies bound to each.
    pub names: Vec<NameView>,
    /// One verdict per bound policy.
    pub verdicts: Vec<VerdictView>,
    /// The proof, when the query asked for `proof=true`.
    pub proof: Option<ImageProof>,
}

/// One name an image was seen under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameView {
    /// The repository name; empty for an image seen under no name.
    pub name: String,
    /// The binding scope that applies to it.
    pub scope: String,
    /// The policies of that binding.
    pub policies: Vec<String>,
}

/// One policy's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictView {
    /// The policy's name.
    pub policy: String,
    /// The version that decided.
    pub policy_version: u32,
    /// The code's BLAKE3 hash, hex.
    pub code_hash: String,
    /// The outcome.
    pub verdict: Verdict,
    /// The reasons.
    pub reasons: Vec<String>,
    /// When the verdict expires, block time in Unix milliseconds.
    pub expires_at_ms: Option<i64>,
    /// The height of the evaluation.
    pub height: u64,
    /// The envelope hashes the policy considered, hex.
    pub attestations: Vec<String>,
}

/// The data a light client needs to check an image status without trusting the node.
///
/// The record at state height `height` is proven against the `app_hash` of the header
/// at `height + 1`, which `commit` certifies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageProof {
    /// The state height of the record.
    pub height: u64,
    /// Base64 of the canonical [`crate::ledger::ImageRecord`], or `None` when the
    /// image is absent from the state (the proof is then a proof of absence).
    pub record: Option<String>,
    /// Base64 of the canonical [`crate::state::StateProof`].
    pub state_proof: String,
    /// Base64 of the canonical header at `height + 1`.
    pub header: String,
    /// Base64 of the canonical commit of that header.
    pub commit: String,
}

/// `GET /v1/images/{digest}/attestations`: the committed attestations of an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationsResponse {
    /// The image.
    pub image: Digest,
    /// The attestations, oldest first.
    pub attestations: Vec<AttestationView>,
}

/// One committed attestation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationView {
    /// BLAKE3 hash of the envelope bytes, hex.
    pub envelope_hash: String,
    /// The attester's key id.
    pub attester: String,
    /// The attester's registered name.
    pub attester_name: Option<String>,
    /// The attester's role.
    pub role: Option<String>,
    /// The in-toto predicate type.
    pub predicate_type: String,
    /// The names the subjects gave for the image.
    pub subject_names: Vec<String>,
    /// The transaction's hash, hex.
    pub tx_hash: String,
    /// The height that committed it.
    pub height: u64,
    /// The block time of that height, Unix milliseconds.
    pub time_unix_ms: u64,
}

/// `GET /v1/blocks/{height}`: a committed block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockResponse {
    /// The height.
    pub height: u64,
    /// The block hash (the header's hash), hex.
    pub hash: String,
    /// The block time, Unix milliseconds.
    pub time_unix_ms: u64,
    /// The state root after the previous block, hex.
    pub app_hash: String,
    /// The transaction hashes, in block order, hex.
    pub txs: Vec<String>,
    /// Base64 of the canonical header.
    pub header: String,
    /// Base64 of the canonical commit.
    pub commit: String,
}

/// `GET /v1/status`: the node's view of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// The chain id.
    pub chain_id: String,
    /// The node software's version.
    pub node_version: String,
    /// The latest committed height; 0 before the first block.
    pub latest_height: u64,
    /// The latest block's hash, hex, once there is one.
    pub latest_block_hash: Option<String>,
    /// The latest block's time, Unix milliseconds.
    pub latest_time_unix_ms: Option<u64>,
    /// The state root after the latest block, hex.
    pub state_root: String,
    /// Transactions waiting for a block.
    pub mempool_txs: usize,
}

/// `GET /v1/validators`: the validator set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsResponse {
    /// The height the set applies to.
    pub height: u64,
    /// The validators in commit index order.
    pub validators: Vec<ValidatorView>,
}

/// One validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorView {
    /// Its name.
    pub name: String,
    /// Its consensus key, hex.
    pub public_key: String,
    /// Its bonded stake.
    pub stake: u64,
}

/// `GET /v1/accounts/{public_key}`: what a signer needs to build its next transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountResponse {
    /// The account's public key, hex.
    pub public_key: String,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
    /// Its bonded stake if it is a validator, otherwise 0.
    pub stake: u64,
}

/// `GET /v1/attesters`: the registered attesters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestersResponse {
    /// The attesters, sorted by key id.
    pub attesters: Vec<AttesterView>,
}

/// One registered attester.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttesterView {
    /// Its key id.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Its public key, hex.
    pub public_key: String,
    /// The height of its registration.
    pub registered_at: u64,
}

/// `GET /v1/policies`: deployed policies and bindings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoliciesResponse {
    /// The deployed policies, sorted by name.
    pub policies: Vec<PolicyView>,
    /// The bindings, sorted by scope.
    pub bindings: Vec<BindingView>,
}

/// One deployed policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    /// Its name.
    pub name: String,
    /// Its current version.
    pub version: u32,
    /// The code's BLAKE3 hash, hex.
    pub code_hash: String,
    /// The height of this version's deployment.
    pub deployed_at: u64,
    /// Its storage entries, sorted by key.
    pub storage: Vec<(String, String)>,
}

/// One binding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingView {
    /// The scope pattern.
    pub scope: String,
    /// The bound policies and their parameters (JSON text, empty for defaults).
    pub policies: Vec<(String, String)>,
}

/// `GET /v1/proposals`: governance proposals, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalsResponse {
    /// The proposals.
    pub proposals: Vec<ProposalView>,
}

/// One governance proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    /// Its id.
    pub id: u64,
    /// The proposer's key, hex.
    pub proposer: String,
    /// A one-line summary of the action, such as `register attester scanner-a (scanner)`.
    pub action: String,
    /// The proposer's description.
    pub description: String,
    /// `voting`, `passed`, `rejected`, `expired` or `failed: <reason>`.
    pub status: String,
    /// The height that opened it.
    pub submitted_at: u64,
    /// The last height at which votes count.
    pub voting_ends_at: u64,
    /// Stake that voted yes.
    pub yes_stake: u64,
    /// Stake that voted no.
    pub no_stake: u64,
    /// Total bonded stake.
    pub total_stake: u64,
}
