//! Commit certificates: the signed precommits of more than 2/3 of the voting power for
//! one block, which prove the block was decided and set the next block's time.
//!
//! # Invariants
//! A certificate that passed [`CommitCertificate::verify`] has precommits for its own
//! height, round and block only, in strictly increasing validator index order, each
//! with a valid signature, together holding more than 2/3 of the set's power.

use serde::{Deserialize, Serialize};
use vouch_protocol::chain::{BlockHash, Commit, CommitSignature, Height};
use vouch_protocol::signing::{ChainId, SignatureError};

use crate::messages::{SignedVote, VoteKind};
use crate::time::weighted_median_time;
use crate::validators::{VALIDATORS_MAX, ValidatorSet, VotingPower};

/// Errors from checking a commit certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("commit certificate for height {height} has {count} precommits, over the limit of {max}")]
    TooMany { height: Height, count: usize, max: usize },
    #[error(
        "commit certificate for height {height} round {round} block {block_hash} holds a vote of validator {index} for another height, round, kind or block"
    )]
    ForeignVote { height: Height, round: u32, block_hash: BlockHash, index: u32 },
    #[error(
        "commit certificate for height {height}: validator index {index} follows {previous}; indexes must increase"
    )]
    Unordered { height: Height, index: u32, previous: u32 },
    #[error(
        "commit certificate for height {height}: validator index {index} is out of range for a set of {validators}"
    )]
    UnknownValidator { height: Height, index: u32, validators: usize },
    #[error("commit certificate for height {height}: precommit of validator {index} is invalid: {source}")]
    InvalidSignature {
        height: Height,
        index: u32,
        #[source]
        source: SignatureError,
    },
    #[error(
        "commit certificate for height {height} is signed by voting power {signed} of {total}; more than 2/3 is needed"
    )]
    InsufficientPower { height: Height, signed: VotingPower, total: VotingPower },
}

/// The precommits that decided a block, sorted by validator index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCertificate {
    /// The decided height.
    pub height: Height,
    /// The round whose precommits decided it.
    pub round: u32,
    /// The decided block.
    pub block_hash: BlockHash,
    /// The precommits for the block in that round, in increasing validator index order.
    pub precommits: Vec<SignedVote>,
}

impl CommitCertificate {
    /// Checks every precommit against `validators`, the set of the certificate's height,
    /// and that the signers hold more than 2/3 of its power.
    pub fn verify(&self, chain_id: &ChainId, validators: &ValidatorSet) -> Result<(), CertificateError> {
        let height = self.height;
        if self.precommits.len() > VALIDATORS_MAX {
            return Err(CertificateError::TooMany { height, count: self.precommits.len(), max: VALIDATORS_MAX });
        }

        let mut previous: Option<u32> = None;
        let mut signed: u64 = 0;
        for precommit in &self.precommits {
            let index = precommit.vote.validator_index;
            self.check_vote(precommit)?;
            if let Some(previous) = previous.filter(|previous| index <= *previous) {
                return Err(CertificateError::Unordered { height, index, previous });
            }
            previous = Some(index);

            let validator = validators.get(index).ok_or(CertificateError::UnknownValidator {
                height,
                index,
                validators: validators.len(),
            })?;
            precommit.verify(chain_id, &validator.public_key).map_err(|source| CertificateError::InvalidSignature {
                height,
                index,
                source,
            })?;
            signed += validator.voting_power.0;
        }

        let signed = VotingPower(signed);
        if !validators.is_quorum(signed) {
            return Err(CertificateError::InsufficientPower { height, signed, total: validators.total_power() });
        }
        Ok(())
    }

    /// Returns the ledger's form of this certificate: each precommit's validator index,
    /// vote time and signature. The protocol's `Precommit` encodes exactly the bytes
    /// that a precommit vote signs, so the commit verifies with the same signatures.
    pub fn to_commit(&self) -> Commit {
        let signatures = self
            .precommits
            .iter()
            .map(|precommit| CommitSignature {
                validator_index: precommit.vote.validator_index,
                time_unix_ms: precommit.vote.time_unix_ms,
                signature: precommit.signature,
            })
            .collect();
        Commit { height: self.height, round: self.round, block_hash: self.block_hash, signatures }
    }

    /// Returns the BFT time of the next block: the power-weighted median of the
    /// precommit times. Precommits of validators outside `validators` are skipped, so
    /// call this on a verified certificate.
    pub fn next_block_time_unix_ms(&self, validators: &ValidatorSet) -> Option<u64> {
        let times: Vec<(u64, VotingPower)> = self
            .precommits
            .iter()
            .filter_map(|precommit| {
                let validator = validators.get(precommit.vote.validator_index)?;
                Some((precommit.vote.time_unix_ms, validator.voting_power))
            })
            .collect();
        weighted_median_time(&times)
    }

    fn check_vote(&self, precommit: &SignedVote) -> Result<(), CertificateError> {
        let vote = &precommit.vote;
        let matches = vote.kind == VoteKind::Precommit
            && vote.height == self.height
            && vote.round == self.round
            && vote.block_hash == Some(self.block_hash);
        if !matches {
            return Err(CertificateError::ForeignVote {
                height: self.height,
                round: self.round,
                block_hash: self.block_hash,
                index: vote.validator_index,
            });
        }
        Ok(())
    }
}
