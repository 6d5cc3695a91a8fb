//! Effects: the actions that [`crate::Consensus::handle`] returns for the host to
//! perform.
//!
//! # Order
//! The host performs the effects of one call in the order given. A
//! [`Effect::PersistSigned`] comes right before the broadcast of the message it
//! describes: the host must make it durable first, and if that fails it must drop the
//! broadcast and stop the validator, so no signature leaves the process unrecorded.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vouch_protocol::chain::Height;

use crate::certificate::CommitCertificate;
use crate::messages::{SignedProposal, SignedVote};
use crate::timeouts::Step;
use crate::votes::Equivocation;

/// The position of a signed message: a validator signs at most one message per
/// (height, round, step), and only at positions after the last one it signed.
///
/// The derived order compares height, then round, then step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SignedStep {
    /// The height of the signed message.
    pub height: Height,
    /// The round of the signed message.
    pub round: u32,
    /// The step that the message belongs to: a proposal, a prevote or a precommit.
    pub step: Step,
}

impl fmt::Display for SignedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "height {} round {} {}", self.height, self.round, self.step)
    }
}

/// A timeout of one step of one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeout {
    /// The height that scheduled the timeout.
    pub height: Height,
    /// The round that scheduled the timeout.
    pub round: u32,
    /// The step whose wait expired.
    pub step: Step,
}

/// A decided value with the precommits that prove it.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<V> {
    /// The decided value.
    pub value: V,
    /// The precommits for the value, in validator index order.
    pub certificate: CommitCertificate,
}

/// One action for the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect<V> {
    /// Durably record that this validator signed at this position before performing
    /// the next effect, which broadcasts the signed message.
    PersistSigned(SignedStep),
    /// Send the proposal to all validators.
    BroadcastProposal(SignedProposal<V>),
    /// Send the vote to all validators.
    BroadcastVote(SignedVote),
    /// Feed `Input::Timeout(timeout)` back after `duration`.
    ScheduleTimeout { timeout: Timeout, duration: Duration },
    /// Build a value to propose at this height and round, with exactly this block time,
    /// and feed it back as `Input::ProposalValue`. The core treats that value as valid
    /// without a validation request, so the application must build only values it
    /// would accept from another proposer.
    RequestValue { height: Height, round: u32, time_unix_ms: u64 },
    /// Decide whether the value is valid at this height and feed the verdict back as
    /// `Input::Verdict`. The core requests this once per block hash and height.
    ValidateValue { height: Height, round: u32, value: V },
    /// The height is decided: commit the value with its certificate, then start the next
    /// height with `Input::StartHeight`.
    Decide(Decision<V>),
    /// A validator signed two different votes at one height, round and kind.
    Evidence(Equivocation),
}
