//! The records of the consensus write-ahead log: the start of a height, each input the
//! core accepted with its clock time, and each signature the core produced.
//!
//! Replaying the start record and the inputs in order through a new core rebuilds the
//! height's state exactly, because the core is deterministic and ed25519 signatures
//! are too. The signature records let the replay check that.

use serde::{Deserialize, Serialize};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::keys::Signature;

use crate::certificate::CommitCertificate;
use crate::effect::{SignedStep, Timeout};
use crate::input::{Input, PreviousBlock};
use crate::messages::{PROPOSAL_OVERHEAD_BYTES_MAX, SignedProposal, SignedVote, Value};
use crate::validators::{Validator, ValidatorSet, ValidatorSetError};

/// The version of the record layout, stored in every start record.
pub(crate) const LOG_FORMAT: u32 = 1;

/// Maximum size of an encoded start record. A set of 256 validators is 12 KiB with its
/// priorities, and the previous height's certificate of 256 precommits is 35 KiB. The
/// start record contains the set twice and the certificate once.
pub(crate) const START_RECORD_BYTES_MAX: usize = 128 * 1024;

/// Bytes that an input record adds around a proposal, beyond the proposal's own
/// overhead: the record tag, the input tag and the clock time.
const INPUT_RECORD_OVERHEAD_BYTES: usize = 64;

/// Returns the maximum size of one record's encoding for values of type `V`: the larger
/// of a start record and an input record carrying a proposal of the largest value.
pub(crate) fn record_bytes_max<V: Value>() -> usize {
    let proposal = V::BYTES_MAX.saturating_add(PROPOSAL_OVERHEAD_BYTES_MAX).saturating_add(INPUT_RECORD_OVERHEAD_BYTES);
    proposal.max(START_RECORD_BYTES_MAX)
}

/// A validator set as stored: its members and proposer priorities in index order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSet {
    validators: Vec<Validator>,
    priorities: Vec<i64>,
}

impl StoredSet {
    fn new(set: &ValidatorSet) -> StoredSet {
        StoredSet { validators: set.validators().to_vec(), priorities: set.priorities().as_slice().to_vec() }
    }

    fn to_set(&self) -> Result<ValidatorSet, ValidatorSetError> {
        ValidatorSet::with_priorities(self.validators.clone(), self.priorities.clone())
    }
}

/// [`PreviousBlock`] as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredPrevious {
    Genesis { time_unix_ms: u64 },
    Committed { certificate: CommitCertificate, validators: StoredSet },
}

/// The first record of every log file: the height's start input, and the last position
/// the core had signed at before it, which the replaying core must start from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StartRecord {
    pub(crate) format: u32,
    pub(crate) now_unix_ms: u64,
    pub(crate) last_signed: Option<SignedStep>,
    pub(crate) height: Height,
    validators: StoredSet,
    previous: StoredPrevious,
}

impl StartRecord {
    pub(crate) fn new(
        now_unix_ms: u64,
        last_signed: Option<SignedStep>,
        height: Height,
        validators: &ValidatorSet,
        previous: &PreviousBlock,
    ) -> StartRecord {
        let previous = match previous {
            PreviousBlock::Genesis { time_unix_ms } => StoredPrevious::Genesis { time_unix_ms: *time_unix_ms },
            PreviousBlock::Committed { certificate, validators } => {
                StoredPrevious::Committed { certificate: certificate.clone(), validators: StoredSet::new(validators) }
            }
        };
        StartRecord {
            format: LOG_FORMAT,
            now_unix_ms,
            last_signed,
            height,
            validators: StoredSet::new(validators),
            previous,
        }
    }

    /// Rebuilds the start input.
    pub(crate) fn to_input<V>(&self) -> Result<Input<V>, ValidatorSetError> {
        let previous = match &self.previous {
            StoredPrevious::Genesis { time_unix_ms } => PreviousBlock::Genesis { time_unix_ms: *time_unix_ms },
            StoredPrevious::Committed { certificate, validators } => {
                PreviousBlock::Committed { certificate: certificate.clone(), validators: validators.to_set()? }
            }
        };
        Ok(Input::StartHeight { height: self.height, validators: self.validators.to_set()?, previous })
    }
}

/// An input other than the start of a height, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "V: Value")]
pub(crate) enum StoredInput<V> {
    Proposal(SignedProposal<V>),
    Vote(SignedVote),
    Timeout(Timeout),
    ProposalValue { height: Height, round: u32, value: V },
    Verdict { height: Height, block_hash: BlockHash, valid: bool },
}

impl<V: Value> StoredInput<V> {
    /// Returns the stored form of `input`, or `None` for a start input, which goes in a
    /// [`StartRecord`].
    pub(crate) fn new(input: &Input<V>) -> Option<StoredInput<V>> {
        Some(match input {
            Input::StartHeight { .. } => return None,
            Input::Proposal(signed) => StoredInput::Proposal(signed.clone()),
            Input::Vote(signed) => StoredInput::Vote(*signed),
            Input::Timeout(timeout) => StoredInput::Timeout(*timeout),
            Input::ProposalValue { height, round, value } => {
                StoredInput::ProposalValue { height: *height, round: *round, value: value.clone() }
            }
            Input::Verdict { height, block_hash, valid } => {
                StoredInput::Verdict { height: *height, block_hash: *block_hash, valid: *valid }
            }
        })
    }

    pub(crate) fn into_input(self) -> Input<V> {
        match self {
            StoredInput::Proposal(signed) => Input::Proposal(signed),
            StoredInput::Vote(signed) => Input::Vote(signed),
            StoredInput::Timeout(timeout) => Input::Timeout(timeout),
            StoredInput::ProposalValue { height, round, value } => Input::ProposalValue { height, round, value },
            StoredInput::Verdict { height, block_hash, valid } => Input::Verdict { height, block_hash, valid },
        }
    }
}

/// One record of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "V: Value")]
pub(crate) enum Record<V> {
    /// The first record of a file.
    Start(StartRecord),
    /// An input that the core accepted, with the clock time it was handled at.
    Input { now_unix_ms: u64, input: StoredInput<V> },
    /// A signature that the core produced, written and synced before it is sent.
    Signed { position: SignedStep, signature: Signature },
}

impl<V> Record<V> {
    /// Returns the record's name for errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Record::Start(_) => "start",
            Record::Input { .. } => "input",
            Record::Signed { .. } => "signature",
        }
    }
}
