//! The messages that simulated validators exchange, as bytes on the wire, and their
//! decoding with size limits.

use serde::{Deserialize, Serialize};
use vouch_consensus::messages::VOTE_BYTES_MAX;
use vouch_consensus::{CommitCertificate, Equivocation, MessageError, SignedProposal, SignedVote, Value};
use vouch_protocol::chain::Height;
use vouch_protocol::encoding::{self, EncodingError};

use crate::config::{STANDBY_MAX, VALIDATORS_MAX};
use crate::value::SimBlock;

/// Maximum size of an encoded commit: a block and a certificate of every validator.
pub const COMMIT_BYTES_MAX: usize = 256 + SimBlock::BYTES_MAX + (VALIDATORS_MAX + STANDBY_MAX) * VOTE_BYTES_MAX;

/// Maximum size of an encoded piece of evidence: two votes.
pub const EVIDENCE_BYTES_MAX: usize = 2 * VOTE_BYTES_MAX;

/// One message on the simulated network. Signed messages travel as bytes, so a
/// Byzantine sender can send bytes that do not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// An encoded [`SignedProposal`].
    Proposal(Vec<u8>),
    /// An encoded [`SignedVote`].
    Vote(Vec<u8>),
    /// The sender's current height. A peer that is ahead replies with its commit.
    Status { height: Height },
    /// An encoded [`CommitMessage`], for a validator that is behind.
    Commit(Vec<u8>),
    /// An encoded [`Equivocation`] that the sender holds for a block.
    Evidence(Vec<u8>),
}

/// A decided block with the certificate that proves it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitMessage {
    pub value: SimBlock,
    pub certificate: CommitCertificate,
}

/// A packet after decoding. Signatures are not checked yet.
#[derive(Clone, Debug)]
pub enum Message {
    Proposal(SignedProposal<SimBlock>),
    Vote(SignedVote),
    Status { height: Height },
    Commit(CommitMessage),
    Evidence(Equivocation),
}

/// Errors from decoding a packet.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("commit is {size} bytes, over the limit of {COMMIT_BYTES_MAX} bytes")]
    CommitTooLarge { size: usize },
    #[error("commit is not a canonical encoding: {0}")]
    Commit(#[source] EncodingError),
    #[error("evidence is {size} bytes, over the limit of {EVIDENCE_BYTES_MAX} bytes")]
    EvidenceTooLarge { size: usize },
    #[error("evidence is not a canonical encoding: {0}")]
    Evidence(#[source] EncodingError),
}

impl Packet {
    /// Returns the packet of a signed proposal.
    pub fn proposal(signed: &SignedProposal<SimBlock>) -> Packet {
        Packet::Proposal(signed.to_bytes())
    }

    /// Returns the packet of a signed vote.
    pub fn vote(signed: &SignedVote) -> Packet {
        Packet::Vote(signed.to_bytes())
    }

    /// Returns the packet of a commit.
    pub fn commit(value: &SimBlock, certificate: &CommitCertificate) -> Packet {
        let message = CommitMessage { value: value.clone(), certificate: certificate.clone() };
        Packet::Commit(encoding::encode(&message))
    }

    /// Returns the packet of a piece of evidence.
    pub fn evidence(evidence: &Equivocation) -> Packet {
        Packet::Evidence(encoding::encode(evidence))
    }

    /// Decodes the packet, rejecting oversize input before decoding.
    pub fn decode(&self) -> Result<Message, PacketError> {
        Ok(match self {
            Packet::Proposal(bytes) => Message::Proposal(SignedProposal::from_bytes(bytes)?),
            Packet::Vote(bytes) => Message::Vote(SignedVote::from_bytes(bytes)?),
            Packet::Status { height } => Message::Status { height: *height },
            Packet::Commit(bytes) => {
                if bytes.len() > COMMIT_BYTES_MAX {
                    return Err(PacketError::CommitTooLarge { size: bytes.len() });
                }
                Message::Commit(encoding::decode(bytes).map_err(PacketError::Commit)?)
            }
            Packet::Evidence(bytes) => {
                if bytes.len() > EVIDENCE_BYTES_MAX {
                    return Err(PacketError::EvidenceTooLarge { size: bytes.len() });
                }
                Message::Evidence(encoding::decode(bytes).map_err(PacketError::Evidence)?)
            }
        })
    }

    /// Feeds the packet into a trace hash.
    pub fn hash_into(&self, hasher: &mut blake3::Hasher) {
        let (tag, bytes): (u8, &[u8]) = match self {
            Packet::Proposal(bytes) => (0, bytes),
            Packet::Vote(bytes) => (1, bytes),
            Packet::Status { height } => {
                hasher.update(&[2]);
                hasher.update(&height.0.to_le_bytes());
                return;
            }
            Packet::Commit(bytes) => (3, bytes),
            Packet::Evidence(bytes) => (4, bytes),
        };
        hasher.update(&[tag]);
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
}
