//! Errors of rejected inputs and configurations, one variant per failed check.

use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::signing::SignatureError;

use crate::certificate::CertificateError;
use crate::messages::VoteKind;
use crate::timeouts::TimeoutConfigError;

/// Errors from [`crate::Consensus::new`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid consensus timeouts: {0}")]
    Timeouts(#[from] TimeoutConfigError),
}

/// An input that the core dropped, and why. The core changed no state for it.
///
/// Errors about peers' messages name the misbehaving validator, so a host can score
/// the peer that relayed them. Messages of other heights are normal in gossip: the
/// host may keep those of the next height and feed them in once it starts that height.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("no height is started; feed Input::StartHeight first")]
    NotStarted,
    #[error("start height {height} is invalid: {reason}")]
    InvalidStart { height: Height, reason: String },
    #[error("previous commit for start height {height} is invalid: {source}")]
    InvalidPreviousCommit {
        height: Height,
        #[source]
        source: CertificateError,
    },
    #[error("{what} is for height {height}, but the core is at height {current}")]
    WrongHeight { what: &'static str, height: Height, current: Height },
    #[error("{what} for round {round} is more than {max} rounds past the current round {current}")]
    RoundTooFarAhead { what: &'static str, round: u32, current: u32, max: u32 },
    #[error(
        "{kind} of validator {index} for round {round}: it already has messages in {count} rounds past the current round {current}, the limit"
    )]
    TooManyFutureRounds { kind: VoteKind, index: u32, round: u32, current: u32, count: usize },
    #[error("{what} names validator index {index}, but the set of height {height} has {validators} validators")]
    UnknownValidator { what: &'static str, height: Height, index: u32, validators: usize },
    #[error("{what} of validator {index} at height {height} round {round} has an invalid signature: {source}")]
    InvalidSignature {
        what: &'static str,
        height: Height,
        round: u32,
        index: u32,
        #[source]
        source: SignatureError,
    },
    #[error(
        "proposal for height {height} round {round} is from validator {index}, but the proposer is validator {expected}"
    )]
    WrongProposer { height: Height, round: u32, index: u32, expected: u32 },
    #[error("proposal for round {round} has proof-of-lock round {pol_round}; it must be an earlier round")]
    InvalidPolRound { round: u32, pol_round: u32 },
    #[error("validator {index} sent over {max} different proposals for height {height} round {round}")]
    TooManyProposals { height: Height, round: u32, index: u32, max: usize },
    #[error("vote store of height {height} is full; the vote of validator {index} was not counted")]
    VoteStoreFull { height: Height, index: u32 },
    #[error("value for height {height} round {round} was not requested or is no longer needed (now round {current})")]
    UnexpectedValue { height: Height, round: u32, current: u32 },
    #[error(
        "value for height {height} has block time {found} ms, but BFT time fixes it at {expected} ms; build the block with the time from Effect::RequestValue"
    )]
    WrongValueTime { height: Height, expected: u64, found: u64 },
    #[error("verdict for block {block_hash} at height {height} was not requested")]
    UnexpectedVerdict { height: Height, block_hash: BlockHash },
}
