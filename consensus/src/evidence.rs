//! Evidence of double signing: two conflicting votes of one validator, checked against
//! the validator set of their height.
//!
//! # What counts as evidence
//! Both votes have the same height, round, kind and validator index, name different
//! values (two block hashes, or nil and a block), and carry valid signatures by the key
//! at that index in the set of that height. Neither the order of the two votes nor
//! their times matter: [`EvidenceKey`] names the offence, so one offence is committed
//! once whichever pair of votes proves it.

use std::fmt;

use serde::{Deserialize, Serialize};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::signing::{ChainId, SignatureError};

use crate::messages::VoteKind;
use crate::validators::Validator;
use crate::votes::Equivocation;

/// The offence that a piece of evidence proves: who double-signed, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EvidenceKey {
    /// The offender's public key, as bytes so that keys order the same on every node.
    pub public_key: [u8; 32],
    /// The height of the conflicting votes.
    pub height: Height,
    /// The round of the conflicting votes.
    pub round: u32,
    /// The kind of the conflicting votes.
    pub kind: VoteKind,
}

impl fmt::Display for EvidenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.public_key.iter().map(|byte| format!("{byte:02x}")).collect::<String>();
        write!(f, "{} by {key} at height {} round {}", self.kind, self.height, self.round)
    }
}

/// A verified piece of evidence: the offence and the offender's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedEvidence {
    /// The offence.
    pub key: EvidenceKey,
    /// The offender.
    pub public_key: PublicKey,
}

/// Errors from checking a piece of evidence.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(
        "evidence votes are at different positions: {first} and {second}; both votes must have the same height, round, kind and validator index"
    )]
    DifferentPositions { first: String, second: String },
    #[error("evidence votes both name {value}; conflicting votes name different values")]
    SameValue { value: String },
    #[error("evidence names validator index {index}, but the set of height {height} has {validators} validators")]
    UnknownValidator { height: Height, index: u32, validators: usize },
    #[error("the {vote} vote of the evidence has an invalid signature: {source}")]
    InvalidSignature {
        vote: &'static str,
        #[source]
        source: SignatureError,
    },
    #[error(
        "evidence of height {height} cannot go in block {block_height}; evidence must be of a height before the block's"
    )]
    NotCommittedYet { height: Height, block_height: Height },
    #[error(
        "evidence of height {height} is unknown to this node: it keeps validator sets from height {oldest} on, so the evidence is older than the maximum age"
    )]
    UnknownHeight { height: Height, oldest: Height },
    #[error(
        "evidence {offence} is {age_heights} heights and {age_ms} ms old, over both limits of {max_heights} heights and {max_ms} ms; evidence that old is rejected"
    )]
    Expired { offence: EvidenceKey, age_heights: u64, age_ms: u64, max_heights: u64, max_ms: u64 },
    #[error("evidence {offence} was already committed at height {committed}; each offence is committed once")]
    Duplicate { offence: EvidenceKey, committed: Height },
    #[error("evidence {offence} appears twice in one block; include each offence once")]
    DuplicateInBlock { offence: EvidenceKey },
}

/// Checks that `evidence` proves a double sign by one of `validators`, the members of
/// the set of the votes' height in index order, and returns the offence.
pub fn verify_equivocation(
    evidence: &Equivocation,
    chain_id: &ChainId,
    validators: &[Validator],
) -> Result<VerifiedEvidence, EvidenceError> {
    let (first, second) = (evidence.first.vote, evidence.second.vote);
    let position = |vote: &crate::messages::Vote| (vote.height, vote.round, vote.kind, vote.validator_index);
    if position(&first) != position(&second) {
        let describe = |vote: &crate::messages::Vote| {
            format!("{} at height {} round {} by index {}", vote.kind, vote.height, vote.round, vote.validator_index)
        };
        return Err(EvidenceError::DifferentPositions { first: describe(&first), second: describe(&second) });
    }
    if first.block_hash == second.block_hash {
        let value = first.block_hash.map_or_else(|| "nil".to_owned(), |hash| format!("block {hash}"));
        return Err(EvidenceError::SameValue { value });
    }

    let index = first.validator_index;
    let unknown = EvidenceError::UnknownValidator { height: first.height, index, validators: validators.len() };
    let validator = usize::try_from(index).ok().and_then(|position| validators.get(position)).ok_or(unknown)?;
    let check = |vote: &'static str, signed: &crate::messages::SignedVote| {
        signed
            .verify(chain_id, &validator.public_key)
            .map_err(|source| EvidenceError::InvalidSignature { vote, source })
    };
    check("first", &evidence.first)?;
    check("second", &evidence.second)?;

    let key = EvidenceKey {
        public_key: *validator.public_key.as_bytes(),
        height: first.height,
        round: first.round,
        kind: first.kind,
    };
    Ok(VerifiedEvidence { key, public_key: validator.public_key })
}

#[cfg(test)]
mod tests {
    use vouch_protocol::chain::BlockHash;
    use vouch_protocol::keys::SigningKey;

    use super::*;
    use crate::messages::{SignedVote, Vote};
    use crate::validators::VotingPower;

    fn chain() -> ChainId {
        ChainId::new("evidence-test").unwrap()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_seed(&[seed; 32])
    }

    fn set() -> Vec<Validator> {
        (1..=4).map(|seed| Validator { public_key: key(seed).public_key(), voting_power: VotingPower(1) }).collect()
    }

    fn vote(index: u32, value: Option<u8>) -> Vote {
        Vote {
            kind: VoteKind::Prevote,
            height: Height(5),
            round: 1,
            block_hash: value.map(|byte| BlockHash([byte; 32])),
            time_unix_ms: 10,
            validator_index: index,
        }
    }

    fn signed(index: u32, value: Option<u8>) -> SignedVote {
        vote(index, value).sign(&key(index as u8 + 1), &chain())
    }

    #[test]
    fn conflicting_votes_verify() {
        let evidence = Equivocation { first: signed(2, Some(1)), second: signed(2, None) };
        let verified = verify_equivocation(&evidence, &chain(), &set()).unwrap();
        assert_eq!(verified.public_key, key(3).public_key());
        assert_eq!(verified.key.height, Height(5));
        assert_eq!(verified.key.round, 1);
        assert_eq!(verified.key.kind, VoteKind::Prevote);

        let swapped = Equivocation { first: evidence.second, second: evidence.first };
        assert_eq!(verify_equivocation(&swapped, &chain(), &set()).unwrap().key, verified.key);
    }

    #[test]
    fn evidence_rejections_table() {
        let other_round = {
            let mut vote = vote(2, None);
            vote.round = 2;
            vote.sign(&key(3), &chain())
        };
        let other_kind = {
            let mut vote = vote(2, None);
            vote.kind = VoteKind::Precommit;
            vote.sign(&key(3), &chain())
        };
        let wrong_signer = vote(2, None).sign(&key(9), &chain());
        let other_chain = vote(2, None).sign(&key(3), &ChainId::new("other-chain").unwrap());
        let beyond_set = Equivocation { first: signed(4, Some(1)), second: signed(4, None) };

        type Check = fn(&EvidenceError) -> bool;
        let cases: Vec<(&str, Equivocation, Check)> = vec![
            ("same value", Equivocation { first: signed(2, Some(1)), second: signed(2, Some(1)) }, |error| {
                matches!(error, EvidenceError::SameValue { .. })
            }),
            ("other round", Equivocation { first: signed(2, Some(1)), second: other_round }, |error| {
                matches!(error, EvidenceError::DifferentPositions { .. })
            }),
            ("other kind", Equivocation { first: signed(2, Some(1)), second: other_kind }, |error| {
                matches!(error, EvidenceError::DifferentPositions { .. })
            }),
            ("other validator", Equivocation { first: signed(2, Some(1)), second: signed(1, None) }, |error| {
                matches!(error, EvidenceError::DifferentPositions { .. })
            }),
            ("index past set", beyond_set, |error| {
                matches!(error, EvidenceError::UnknownValidator { index: 4, validators: 4, .. })
            }),
            ("wrong signer", Equivocation { first: signed(2, Some(1)), second: wrong_signer }, |error| {
                matches!(error, EvidenceError::InvalidSignature { vote: "second", .. })
            }),
            ("other chain", Equivocation { first: other_chain, second: signed(2, Some(1)) }, |error| {
                matches!(error, EvidenceError::InvalidSignature { vote: "first", .. })
            }),
        ];
        for (name, evidence, expected) in cases {
            let error = verify_equivocation(&evidence, &chain(), &set()).unwrap_err();
            assert!(expected(&error), "{name}: unexpected error {error}");
        }
    }
}
