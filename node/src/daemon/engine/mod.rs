//! The consensus engine of `vouchd`: it runs the Tendermint core of `vouch-consensus`
//! with its write-ahead log and double-sign guard on a dedicated thread, and commits
//! each decided block through [`ChainApp::apply_block`].
//!
//! # Design
//! - [`driver`] owns the durable consensus instance and its loop: it feeds inputs
//!   (height starts, expired timeouts, the app's proposal values and verdicts) and waits between them.
//! - [`effects`] performs the core's effects: it builds the proposal from the mempool,
//!   judges a proposed block, and commits a decision with the certificate's commit.
//! - [`start`] derives each height's validator set and previous commit from the ledger.
//! - [`timers`] is the queue of round timeouts.
//! - [`idle`] empties caches and returns free memory after a stretch without
//!   transactions.
//!
//! The core counts its own proposal and votes when it signs them, so broadcasts need no
//! loopback. One validator holding all the power decides a height within one input.
//!
//! # Files
//! The log and the guard live in [`CONSENSUS_DIR`] under `storage.data_dir`:
//! `consensus/consensus.wal` and `consensus/sign-guard`.

mod driver;
mod effects;
mod idle;
mod start;
mod timers;

use std::path::{Path, PathBuf};

use vouch_consensus::host::HostError;
use vouch_consensus::{TimeoutConfig, ValidatorSetError};
use vouch_protocol::chain::Height;

use crate::daemon::chain::AppError;
use crate::daemon::producer::ProducerConfig;

pub use driver::{Engine, wait_before_first_height};
pub use idle::IdleRelease;
pub use start::certificate_of;
pub use timers::TIMERS_MAX;

/// The folder of the write-ahead log and the double-sign guard, inside the ledger's
/// data folder.
pub const CONSENSUS_DIR: &str = "consensus";

/// Returns the consensus folder of a node whose ledger lives in `data_dir`.
pub fn consensus_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(CONSENSUS_DIR)
}

/// Settings of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// When heights start and how many transactions a proposal takes.
    pub blocks: ProducerConfig,
    /// The round timeouts of the core.
    pub timeouts: TimeoutConfig,
    /// The folder of the write-ahead log and the double-sign guard.
    pub dir: PathBuf,
    /// The memory release after a stretch without transactions; `None` never releases.
    pub idle: Option<IdleRelease>,
}

/// The reason the engine stopped before shutdown.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot open the consensus folder {dir}: {source}; check that the data folder is writable")]
    OpenDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the consensus state in {dir} cannot be used: {source}")]
    Open {
        dir: PathBuf,
        #[source]
        source: HostError,
    },
    #[error("consensus stopped at height {height}: {source}")]
    Consensus {
        height: Height,
        #[source]
        source: HostError,
    },
    #[error("the ledger's validator set is invalid for consensus: {0}")]
    ValidatorSet(#[from] ValidatorSetError),
    #[error("the ledger lists validator key {key:?}, which is not a hex ed25519 public key")]
    ValidatorKey { key: String },
    #[error("reading the validator set of height {height} from the ledger failed: {reason}")]
    ValidatorSetRead { height: Height, reason: String },
    #[error("reading the commit of height {height} from the ledger failed: {reason}")]
    PreviousCommit { height: Height, reason: String },
    #[error("proposing the block at height {height} failed: {source}")]
    Propose {
        height: Height,
        #[source]
        source: AppError,
    },
    #[error(
        "the app built a block at height {proposed_height} with time {proposed_time_unix_ms} ms, but consensus requested height {height} with BFT time {time_unix_ms} ms"
    )]
    ProposalMismatch { height: Height, time_unix_ms: u64, proposed_height: Height, proposed_time_unix_ms: u64 },
    #[error("applying the decided block at height {height} failed: {source}")]
    Apply {
        height: Height,
        #[source]
        source: AppError,
    },
    #[error("after applying the block at height {applied}, the app's tip is at height {tip}")]
    TipNotAdvanced { applied: Height, tip: Height },
}
