//! Inputs that the host feeds into the core: messages, timeouts and the application's
//! responses.

use vouch_protocol::chain::{BlockHash, Height};

use crate::certificate::CommitCertificate;
use crate::effect::Timeout;
use crate::messages::{SignedProposal, SignedVote};
use crate::validators::ValidatorSet;

/// The decision of the block before a new height, which fixes the new block's time.
#[derive(Clone, Debug)]
pub enum PreviousBlock {
    /// The new height is 1; its block time is the genesis time.
    Genesis { time_unix_ms: u64 },
    /// The certificate of the previous height, with that height's validator set. The
    /// new block's time is the weighted median of the certificate's precommit times.
    Committed { certificate: CommitCertificate, validators: ValidatorSet },
}

/// One event for the core.
#[derive(Clone, Debug)]
pub enum Input<V> {
    /// Start consensus at `height` with its validator set.
    StartHeight { height: Height, validators: ValidatorSet, previous: PreviousBlock },
    /// A proposal received from the network.
    Proposal(SignedProposal<V>),
    /// A vote received from the network.
    Vote(SignedVote),
    /// A timeout that an earlier `Effect::ScheduleTimeout` asked for has expired.
    Timeout(Timeout),
    /// The application's value for an `Effect::RequestValue`.
    ProposalValue { height: Height, round: u32, value: V },
    /// The application's verdict for an `Effect::ValidateValue`.
    Verdict { height: Height, block_hash: BlockHash, valid: bool },
}

impl<V> Input<V> {
    /// Returns the input's name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Input::StartHeight { .. } => "start-height",
            Input::Proposal(_) => "proposal",
            Input::Vote(_) => "vote",
            Input::Timeout(_) => "timeout",
            Input::ProposalValue { .. } => "proposal-value",
            Input::Verdict { .. } => "verdict",
        }
    }
}
