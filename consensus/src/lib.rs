//! A sans-IO Tendermint consensus core with stake-weighted voting.
//!
//! The core is a state machine. [`Consensus::handle`] takes one [`Input`] (a start of a
//! height, a proposal or vote from the network, an expired timeout, a response of the
//! application) with the host's clock time. It returns the [`Effect`]s that the host
//! performs in order: send, schedule a timeout, call the application, persist before
//! sending, commit. The core reads no clock, opens no socket and writes no file, so a
//! simulator can run many instances on one thread from a seed.
//!
//! # What is agreed on
//! A [`Value`] is opaque to the core except for its hash, which votes name, and its
//! block time, which must equal the BFT time ([`time`]) fixed by the previous height's
//! commit. Proposals carry the whole value; the application judges its validity through
//! [`Effect::ValidateValue`] and [`Input::Verdict`]. `vouch_protocol::chain::Block`
//! implements [`Value`].
//!
//! # Signing and restarts
//! A validator's instance keeps its signing key and signs its own proposals and votes.
//! Before each broadcast of a signed message it emits [`Effect::PersistSigned`] with
//! the (height, round, step) of that message, and the host must store it durably before
//! it performs the broadcast. A restarted instance is given the last stored position and
//! never signs at or before it again.
//!
//! # Core and host
//! Every module at the top of this crate belongs to the core and performs no IO. The
//! [`host`] module contains what a validator's host runs beside it: the write-ahead log,
//! the double-sign guard and their storage, behind [`host::DurableConsensus`].
//!
//! # Stake and evidence
//! [`staking`] turns committed blocks into validator sets: bonded stake gives voting
//! power, changes take effect two heights after their block, and committed
//! [`evidence`] of double signing slashes and jails. It is pure logic like the core.

mod actions;
pub mod certificate;
pub mod effect;
pub mod error;
pub mod evidence;
mod height;
pub mod host;
pub mod input;
mod machine;
pub mod messages;
pub mod proposer;
mod rules;
pub mod staking;
pub mod time;
pub mod timeouts;
pub mod validators;
pub mod votes;

pub use certificate::{CertificateError, CommitCertificate};
pub use effect::{Decision, Effect, SignedStep, Timeout};
pub use error::{ConfigError, InputError};
pub use evidence::{EvidenceError, EvidenceKey, VerifiedEvidence, verify_equivocation};
pub use height::{FUTURE_ROUNDS_PER_VALIDATOR_MAX, PROPOSALS_PER_ROUND_MAX};
pub use input::{Input, PreviousBlock};
pub use machine::{Consensus, ConsensusConfig, PROPOSAL_ROUNDS_AHEAD_MAX, VOTE_ROUNDS_AHEAD_MAX};
pub use messages::{MessageError, Proposal, SignedProposal, SignedVote, Value, Vote, VoteKind};
pub use proposer::{ProposerPriorities, ProposerSchedule};
pub use timeouts::{Step, TimeoutConfig, TimeoutConfigError};
pub use validators::{Validator, ValidatorSet, ValidatorSetError, VotingPower};
pub use votes::{Equivocation, VOTES_PER_HEIGHT_MAX};
