//! Proposals and votes: their fields, the bytes a validator signs, and their wire
//! encoding with size limits.
//!
//! # Signed bytes
//! A vote signs the canonical encoding of `(height, round, block_hash, time_unix_ms)`
//! under [`SignKind::Prevote`] or [`SignKind::Precommit`], so a prevote can never count
//! as a precommit. A proposal signs `(height, round, pol_round, block_hash)` under
//! [`SignKind::Proposal`]; the proposed value travels beside the signature and binds to
//! it through its hash. The validator index is not signed: it only selects the key
//! that the signature must verify with.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use vouch_protocol::chain::{BLOCK_BYTES_MAX, Block, BlockHash, Height};
use vouch_protocol::encoding::{self, EncodingError};
use vouch_protocol::keys::{PublicKey, Signature, SigningKey};
use vouch_protocol::signing::{self, ChainId, SignKind, SignatureError};

/// Maximum size of an encoded signed vote: its fixed fields come to 134 bytes.
pub const VOTE_BYTES_MAX: usize = 256;

/// Bytes that a signed proposal may add to its value's encoding: height, rounds,
/// proposer index and signature come to 93 bytes.
pub const PROPOSAL_OVERHEAD_BYTES_MAX: usize = 256;

/// The value that validators agree on at each height. The core reads only its hash and
/// its time, and the application builds and validates everything else.
pub trait Value: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned {
    /// Maximum size of the value's canonical encoding.
    const BYTES_MAX: usize;

    /// Returns the hash that votes name the value by.
    fn block_hash(&self) -> BlockHash;

    /// Returns the time the value states for itself, which must equal the BFT time that
    /// the core expects at its height.
    fn time_unix_ms(&self) -> u64;
}

impl Value for Block {
    const BYTES_MAX: usize = BLOCK_BYTES_MAX;

    fn block_hash(&self) -> BlockHash {
        self.header.hash()
    }

    fn time_unix_ms(&self) -> u64 {
        self.header.time_unix_ms
    }
}

/// Errors from decoding a proposal or vote received from the network.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("{what} is {size} bytes, over the limit of {max} bytes")]
    TooLarge { what: &'static str, size: usize, max: usize },
    #[error("{what} is not a canonical encoding: {source}")]
    Encoding {
        what: &'static str,
        #[source]
        source: EncodingError,
    },
}

/// The two kinds of vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum VoteKind {
    /// A first-stage vote: the value looks acceptable to the voter in this round.
    Prevote,
    /// A second-stage vote, cast after prevotes of more than 2/3 of the power.
    Precommit,
}

impl VoteKind {
    /// Returns the signature domain of this kind.
    pub fn sign_kind(self) -> SignKind {
        match self {
            VoteKind::Prevote => SignKind::Prevote,
            VoteKind::Precommit => SignKind::Precommit,
        }
    }
}

impl fmt::Display for VoteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sign_kind().name())
    }
}

/// A prevote or precommit for a block hash, or for nil (no block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Prevote or precommit, which selects the signature domain.
    pub kind: VoteKind,
    /// The height voted at.
    pub height: Height,
    /// The round voted in.
    pub round: u32,
    /// The block voted for, or `None` for nil.
    pub block_hash: Option<BlockHash>,
    /// The validator's clock when it voted, in milliseconds since the Unix epoch. The
    /// precommits of a commit set the next block's time (see [`crate::time`]).
    pub time_unix_ms: u64,
    /// The voter's index in the validator set of `height`.
    pub validator_index: u32,
}

#[derive(Serialize)]
struct VoteSigned {
    height: Height,
    round: u32,
    block_hash: Option<BlockHash>,
    time_unix_ms: u64,
}

impl Vote {
    /// Returns the canonical bytes that the voter signs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        encoding::encode(&VoteSigned {
            height: self.height,
            round: self.round,
            block_hash: self.block_hash,
            time_unix_ms: self.time_unix_ms,
        })
    }

    /// Signs the vote for `chain_id`.
    pub fn sign(self, key: &SigningKey, chain_id: &ChainId) -> SignedVote {
        let signature = signing::sign(key, chain_id, self.kind.sign_kind(), &self.signed_bytes());
        SignedVote { vote: self, signature }
    }
}

/// A vote with its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedVote {
    /// The signed fields.
    pub vote: Vote,
    /// The voter's signature over [`Vote::signed_bytes`].
    pub signature: Signature,
}

impl SignedVote {
    /// Verifies the signature with the voter's `key` on `chain_id`.
    pub fn verify(&self, chain_id: &ChainId, key: &PublicKey) -> Result<(), SignatureError> {
        signing::verify(key, chain_id, self.vote.kind.sign_kind(), &self.vote.signed_bytes(), &self.signature)
    }

    /// Encodes the vote for the network.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a vote received from the network, rejecting oversize input before
    /// decoding. The signature is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedVote, MessageError> {
        decode_bounded("vote", bytes, VOTE_BYTES_MAX)
    }
}

/// A proposer's value for one round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal<V> {
    /// The height proposed for.
    pub height: Height,
    /// The round proposed in.
    pub round: u32,
    /// The proof-of-lock round, set when the proposer re-proposes a value: the earlier
    /// round in which more than 2/3 of the power prevoted for it. `None` for a new value.
    pub pol_round: Option<u32>,
    /// The proposed value, bound to the signature through its hash.
    pub value: V,
    /// The proposer's index in the validator set of `height`.
    pub proposer_index: u32,
}

#[derive(Serialize)]
struct ProposalSigned {
    height: Height,
    round: u32,
    pol_round: Option<u32>,
    block_hash: BlockHash,
}

impl<V: Value> Proposal<V> {
    /// Returns the canonical bytes that the proposer signs.
    pub fn signed_bytes(&self) -> Vec<u8> {
        encoding::encode(&ProposalSigned {
            height: self.height,
            round: self.round,
            pol_round: self.pol_round,
            block_hash: self.value.block_hash(),
        })
    }

    /// Signs the proposal for `chain_id`.
    pub fn sign(self, key: &SigningKey, chain_id: &ChainId) -> SignedProposal<V> {
        let signature = signing::sign(key, chain_id, SignKind::Proposal, &self.signed_bytes());
        SignedProposal { proposal: self, signature }
    }
}

/// A proposal with its signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedProposal<V> {
    /// The proposal, with the value that its signature covers by hash.
    pub proposal: Proposal<V>,
    /// The proposer's signature over [`Proposal::signed_bytes`].
    pub signature: Signature,
}

impl<V: Value> SignedProposal<V> {
    /// Verifies the signature with the proposer's `key` on `chain_id`.
    pub fn verify(&self, chain_id: &ChainId, key: &PublicKey) -> Result<(), SignatureError> {
        signing::verify(key, chain_id, SignKind::Proposal, &self.proposal.signed_bytes(), &self.signature)
    }

    /// Encodes the proposal for the network.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a proposal received from the network, rejecting input over the value's
    /// limit plus [`PROPOSAL_OVERHEAD_BYTES_MAX`] before decoding. The signature is not
    /// checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedProposal<V>, MessageError> {
        decode_bounded("proposal", bytes, V::BYTES_MAX.saturating_add(PROPOSAL_OVERHEAD_BYTES_MAX))
    }
}

fn decode_bounded<T: Serialize + DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<T, MessageError> {
    if bytes.len() > max {
        return Err(MessageError::TooLarge { what, size: bytes.len(), max });
    }
    encoding::decode(bytes).map_err(|source| MessageError::Encoding { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> ChainId {
        ChainId::new("test-chain").unwrap()
    }

    fn vote(kind: VoteKind) -> Vote {
        Vote {
            kind,
            height: Height(7),
            round: 2,
            block_hash: Some(BlockHash([9; 32])),
            time_unix_ms: 1_700_000_000_000,
            validator_index: 3,
        }
    }

    #[test]
    fn vote_round_trips_and_verifies() {
        let key = SigningKey::from_seed(&[1; 32]);
        let signed = vote(VoteKind::Precommit).sign(&key, &chain());
        let bytes = signed.to_bytes();
        assert!(bytes.len() <= VOTE_BYTES_MAX, "{} bytes", bytes.len());
        let decoded = SignedVote::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, signed);
        assert!(decoded.verify(&chain(), &key.public_key()).is_ok());
    }

    #[test]
    fn prevote_signature_fails_as_precommit() {
        let key = SigningKey::from_seed(&[1; 32]);
        let mut signed = vote(VoteKind::Prevote).sign(&key, &chain());
        signed.vote.kind = VoteKind::Precommit;
        assert!(signed.verify(&chain(), &key.public_key()).is_err());
    }

    #[test]
    fn vote_signature_covers_time() {
        let key = SigningKey::from_seed(&[1; 32]);
        let mut signed = vote(VoteKind::Precommit).sign(&key, &chain());
        signed.vote.time_unix_ms += 1;
        assert!(signed.verify(&chain(), &key.public_key()).is_err());
    }

    #[test]
    fn vote_from_bytes_rejects_oversize() {
        let error = SignedVote::from_bytes(&[0; VOTE_BYTES_MAX + 1]).unwrap_err();
        assert!(matches!(error, MessageError::TooLarge { size: 257, max: VOTE_BYTES_MAX, .. }), "{error}");
    }

    #[test]
    fn vote_from_bytes_rejects_trailing_bytes() {
        let key = SigningKey::from_seed(&[1; 32]);
        let mut bytes = vote(VoteKind::Prevote).sign(&key, &chain()).to_bytes();
        bytes.push(0);
        assert!(matches!(SignedVote::from_bytes(&bytes), Err(MessageError::Encoding { what: "vote", .. })));
    }
}
