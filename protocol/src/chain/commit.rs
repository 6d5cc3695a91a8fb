//! Precommits and commits: the validators' signatures that certify a block.

use serde::{Deserialize, Serialize};

use crate::chain::{BlockHash, COMMIT_SIGNATURES_MAX, ChainError, Height, check_size};
use crate::encoding;
use crate::keys::{PublicKey, Signature, SigningKey};
use crate::signing::{self, ChainId, SignKind};

/// Maximum size of an encoded commit: the fixed fields and [`COMMIT_SIGNATURES_MAX`]
/// signatures of 4 + 8 + 8 + 64 bytes each.
const COMMIT_BYTES_MAX: usize = 128 + COMMIT_SIGNATURES_MAX * 84;

/// The message that a validator signs to precommit a block, with
/// [`SignKind::Precommit`]. Its encoding is the one that the consensus core signs for
/// a precommit vote, so a commit is made of the votes themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precommit {
    /// The height of the block.
    pub height: Height,
    /// The consensus round in which the block was committed.
    pub round: u32,
    /// The hash of the block; a vote for no block (nil) never enters a commit.
    pub block_hash: Option<BlockHash>,
    /// The validator's clock when it voted, in milliseconds since the Unix epoch. The
    /// next block's time is the median of a commit's vote times, weighted by power.
    pub time_unix_ms: u64,
}

impl Precommit {
    /// Signs the precommit for `chain_id`.
    pub fn sign(&self, key: &SigningKey, chain_id: &ChainId) -> Signature {
        signing::sign(key, chain_id, SignKind::Precommit, &encoding::encode(self))
    }

    /// Verifies a precommit signature by `key` on `chain_id`.
    pub fn verify(
        &self,
        key: &PublicKey,
        chain_id: &ChainId,
        signature: &Signature,
    ) -> Result<(), signing::SignatureError> {
        signing::verify(key, chain_id, SignKind::Precommit, &encoding::encode(self), signature)
    }
}

/// One validator's precommit signature in a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSignature {
    /// The validator's position in the validator set of the block's height.
    pub validator_index: u32,
    /// The time of the validator's precommit, which its signature covers.
    pub time_unix_ms: u64,
    /// The validator's signature over the commit's [`Precommit`].
    pub signature: Signature,
}

/// The precommit signatures that certify one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// The height of the block.
    pub height: Height,
    /// The consensus round in which the block was committed.
    pub round: u32,
    /// The hash of the block.
    pub block_hash: BlockHash,
    /// The signatures, in strictly increasing validator index order.
    pub signatures: Vec<CommitSignature>,
}

impl Commit {
    /// Returns the message that `entry`, one of this commit's signatures, covers.
    pub fn precommit(&self, entry: &CommitSignature) -> Precommit {
        Precommit {
            height: self.height,
            round: self.round,
            block_hash: Some(self.block_hash),
            time_unix_ms: entry.time_unix_ms,
        }
    }

    /// Encodes the commit canonically.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a commit and checks its size and signature count.
    pub fn from_bytes(bytes: &[u8]) -> Result<Commit, ChainError> {
        check_size("commit", bytes.len(), COMMIT_BYTES_MAX)?;
        let commit: Commit = encoding::decode(bytes)?;
        commit.check_count()?;
        Ok(commit)
    }

    /// Verifies every signature against `validators`, the validator set of the commit's
    /// height in index order, and checks that indexes are in range and strictly
    /// increasing (so no validator counts twice).
    ///
    /// This does not count voting power: whether the signers hold more than 2/3 of it is
    /// the consensus layer's rule.
    pub fn verify_signatures(&self, chain_id: &ChainId, validators: &[PublicKey]) -> Result<(), ChainError> {
        self.check_count()?;
        let mut previous: Option<u32> = None;

        for entry in &self.signatures {
            let index = entry.validator_index;
            if let Some(previous) = previous.filter(|previous| index <= *previous) {
                return Err(ChainError::UnorderedSignatures { height: self.height, index, previous });
            }
            previous = Some(index);

            let key = validators.get(index as usize).ok_or(ChainError::UnknownValidator {
                height: self.height,
                index,
                validators: validators.len(),
            })?;
            let precommit = encoding::encode(&self.precommit(entry));
            signing::verify(key, chain_id, SignKind::Precommit, &precommit, &entry.signature)
                .map_err(|source| ChainError::InvalidSignature { height: self.height, index, source })?;
        }
        Ok(())
    }

    fn check_count(&self) -> Result<(), ChainError> {
        if self.signatures.len() > COMMIT_SIGNATURES_MAX {
            let count = self.signatures.len();
            return Err(ChainError::TooMany { what: "commit signatures", count, max: COMMIT_SIGNATURES_MAX });
        }
        Ok(())
    }
}
