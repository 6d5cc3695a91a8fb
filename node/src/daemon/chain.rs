//! The seam between the daemon and the ledger state machine: the calls that the mempool,
//! the consensus engine and the HTTP API make on the application.
//!
//! `vouch_node::app::App` implements [`ChainApp`]; the unit tests of the daemon use an
//! in-memory double. The types beside the trait are the daemon's view of the app's
//! results; the daemon reads only the fields documented here.
//!
//! # Invariants
//! - Every method may be called from several threads at once: queries run while
//!   [`ChainApp::apply_block`] runs on the engine's thread (`vouchd-producer`).
//! - Only the engine calls [`ChainApp::propose_block`] and [`ChainApp::apply_block`],
//!   one block at a time.

use std::fmt;

use vouch_protocol::api::{
    AccountResponse, AttestationsResponse, AttestersResponse, BlockResponse, ImageStatusResponse, PoliciesResponse,
    ProposalsResponse, ValidatorsResponse,
};
use vouch_protocol::chain::{Block, BlockHash, Commit, Height, Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::signing::ChainId;
use vouch_protocol::state::StateRoot;

/// The ledger state machine as the daemon drives it.
pub trait ChainApp: Send + Sync + 'static {
    /// Returns the chain id that every signature of this chain covers.
    fn chain_id(&self) -> &ChainId;

    /// Returns the latest committed block and the state after it.
    fn tip(&self) -> ChainTip;

    /// Checks a transaction against the latest committed state, for the mempool.
    fn check_tx(&self, tx: &Transaction) -> Result<CheckedTx, TxRejection>;

    /// Builds the next block from candidate transactions; candidates that fail the
    /// checks are left out.
    fn propose_block(&self, txs: Vec<Transaction>, time_unix_ms: u64, proposer: &PublicKey) -> Result<Block, AppError>;

    /// Verifies the commit, executes the block and persists its effects.
    fn apply_block(&self, block: &Block, commit: &Commit) -> Result<BlockOutcome, AppError>;

    /// Returns the height and outcome of a committed transaction, or `None` if no block
    /// holds it.
    fn tx_outcome(&self, hash: &TxHash) -> Result<Option<(Height, String)>, AppError>;

    /// Returns the status of an image, under one repository or over every name.
    fn image_status(
        &self,
        image: &Digest,
        repository: Option<&str>,
        proof: bool,
    ) -> Result<ImageStatusResponse, QueryError>;

    /// Returns the committed attestations of an image.
    fn attestations(&self, image: &Digest) -> Result<AttestationsResponse, QueryError>;

    /// Returns the committed block at `height`, or `None` above the latest height.
    fn block(&self, height: u64) -> Result<Option<BlockResponse>, QueryError>;

    /// Returns the current validator set.
    fn validators(&self) -> ValidatorsResponse;

    /// Returns the validator set that signs the block at `height`.
    fn validators_at(&self, height: u64) -> Result<ValidatorsResponse, QueryError> {
        Err(QueryError::NotFound(format!("this node serves no validator set by height, such as {height}")))
    }

    /// Returns the consensus set of `height` with its proposer priorities when the
    /// ledger stores a set per height (a chain with staking), or `None` when the genesis
    /// set signs every block.
    fn consensus_set(&self, height: Height) -> Result<Option<vouch_consensus::ValidatorSet>, QueryError> {
        let _ = height;
        Ok(None)
    }

    /// Saves what speeds up the next start, once the node stopped committing.
    fn save_for_restart(&self) -> Result<(), AppError> {
        Ok(())
    }

    /// Empties the caches that only save reads, while the node is idle, and returns
    /// the bytes they were charged. The default has no caches.
    fn release_caches(&self) -> usize {
        0
    }

    /// Has the store give back the memory it keeps beyond its caches, while the node
    /// is idle, and returns whether it did anything. The default has no store.
    fn release_store_memory(&self) -> bool {
        false
    }

    /// Returns an account's next nonce and stake.
    fn account(&self, key: &PublicKey) -> Result<AccountResponse, QueryError>;

    /// Returns the registered attesters.
    fn attesters(&self) -> Result<AttestersResponse, QueryError>;

    /// Returns the deployed policies and their bindings.
    fn policies(&self) -> Result<PoliciesResponse, QueryError>;

    /// Returns the governance proposals.
    fn proposals(&self) -> Result<ProposalsResponse, QueryError>;
}

/// The latest committed block and the state after it, as the daemon sees them
/// (`daemon::ledger` maps the app's tip to this).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainTip {
    /// The latest committed height, [`Height::GENESIS`] before the first block.
    pub height: Height,
    /// The latest block's hash, `None` before the first block.
    pub block_hash: Option<BlockHash>,
    /// The latest block's time (the genesis time before the first block), Unix
    /// milliseconds.
    pub time_unix_ms: u64,
    /// The state root after the latest block.
    pub state_root: StateRoot,
}

/// A transaction that passed the mempool checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedTx {
    /// The transaction's hash.
    pub hash: TxHash,
    /// The image an attestation concerns; `None` for account transactions.
    pub image: Option<Digest>,
}

/// The reason a transaction is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TxRejection {
    /// A stable snake_case code such as `signature_invalid` or `nonce_mismatch`.
    pub code: &'static str,
    /// The problem with the transaction, naming the value and the fix.
    pub message: String,
}

/// The daemon's view of an applied block: the outcome of each transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The outcome of each transaction, in block order.
    pub tx_outcomes: Vec<(TxHash, String)>,
}

/// A failure of the state machine to build, verify or persist a block.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The block or its commit breaks a rule of the chain.
    #[error("invalid block at height {height}: {reason}")]
    InvalidBlock { height: Height, reason: String },
    /// Reading or writing the ledger store failed.
    #[error("ledger store: {0}")]
    Store(String),
    /// The store, the state or the policy runtime of this node failed.
    #[error("{0}")]
    Node(String),
}

/// A failure of a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The requested object does not exist; the message names it.
    #[error("{0}")]
    NotFound(String),
    /// The response needs a block that is not committed yet; the message names it.
    #[error("{0}")]
    NotReady(String),
    /// Reading the state failed on this node.
    #[error("{0}")]
    Internal(String),
}

impl fmt::Display for ChainTip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "height {} state root {}", self.height, self.state_root)
    }
}
