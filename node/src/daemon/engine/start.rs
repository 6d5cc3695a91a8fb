//! The start of the height after the ledger's tip: its validator set from the ledger and
//! the decision of the height before it, which fixes the new block's BFT time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use vouch_consensus::host::HeightStart;
use vouch_consensus::{
    CommitCertificate, PreviousBlock, SignedVote, Validator, ValidatorSet, Vote, VoteKind, VotingPower,
};
use vouch_protocol::chain::{Commit, Height};
use vouch_protocol::keys::PublicKey;

use crate::daemon::chain::ChainApp;
use crate::daemon::engine::EngineError;

/// Returns the start of the height after the app's tip.
pub(crate) fn after_tip(app: &dyn ChainApp) -> Result<HeightStart, EngineError> {
    let tip = app.tip();
    let height = tip.height.next().expect("a chain never reaches height u64::MAX");
    let previous = match tip.height {
        Height::GENESIS => PreviousBlock::Genesis { time_unix_ms: first_block_time(tip.time_unix_ms) },
        last => PreviousBlock::Committed {
            certificate: certificate_of(&stored_commit(app, last)?),
            validators: set_of(app, last)?,
        },
    };
    Ok(HeightStart { height, validators: set_of(app, height)?, previous })
}

/// Returns the set of `height`: the ledger's stored set on a chain with staking,
/// otherwise the genesis set stepped to `height`.
fn set_of(app: &dyn ChainApp, height: Height) -> Result<ValidatorSet, EngineError> {
    match ledger_set(app, height)? {
        Some(set) => Ok(set),
        None => Ok(set_at(&genesis_set(app)?, height)),
    }
}

/// Returns the ledger's stored set of `height` with its proposer priorities, or `None`
/// on a chain whose genesis set signs every block.
pub(crate) fn ledger_set(app: &dyn ChainApp, height: Height) -> Result<Option<ValidatorSet>, EngineError> {
    app.consensus_set(height).map_err(|error| EngineError::ValidatorSetRead { height, reason: error.to_string() })
}

/// Returns the time of block 1: 1 ms after the genesis time, because the ledger accepts
/// only block times after the previous one, and the genesis counts as the first.
pub(crate) fn first_block_time(genesis_time_unix_ms: u64) -> u64 {
    genesis_time_unix_ms.saturating_add(1)
}

/// Returns the set of `height` from the set at genesis: its proposer priorities advance
/// one step per height.
// NOTE: a chain without staking stores no proposer priorities, so each start steps the
// genesis set once per committed height, which costs time in proportion to the height.
// A chain with staking stores each height's set with its priorities.
fn set_at(genesis_set: &ValidatorSet, height: Height) -> ValidatorSet {
    let mut set = genesis_set.clone();
    for _ in 1..height.0 {
        set = set.for_next_height();
    }
    set
}

/// Returns the ledger's validators in commit index order as a consensus set, with the
/// proposer priorities of height 1.
fn genesis_set(app: &dyn ChainApp) -> Result<ValidatorSet, EngineError> {
    let mut validators = Vec::new();
    for view in app.validators().validators {
        let public_key =
            PublicKey::from_hex(&view.public_key).map_err(|_| EngineError::ValidatorKey { key: view.public_key })?;
        validators.push(Validator { public_key, voting_power: VotingPower(view.stake) });
    }
    Ok(ValidatorSet::new(validators)?)
}

/// Reads the commit of `height` from the ledger.
fn stored_commit(app: &dyn ChainApp, height: Height) -> Result<Commit, EngineError> {
    let failed = |reason: String| EngineError::PreviousCommit { height, reason };
    let block = app.block(height.0).map_err(|error| failed(error.to_string()))?;
    let block = block.ok_or_else(|| failed("the ledger has no block at this height".to_owned()))?;
    let bytes = BASE64.decode(&block.commit).map_err(|error| failed(format!("the commit is not base64: {error}")))?;
    Commit::from_bytes(&bytes).map_err(|error| failed(error.to_string()))
}

/// Rebuilds the commit certificate of a stored commit. Each commit signature signs the
/// same bytes as a precommit vote, so the certificate verifies with the same signatures.
pub fn certificate_of(commit: &Commit) -> CommitCertificate {
    let precommits = commit
        .signatures
        .iter()
        .map(|entry| SignedVote {
            vote: Vote {
                kind: VoteKind::Precommit,
                height: commit.height,
                round: commit.round,
                block_hash: Some(commit.block_hash),
                time_unix_ms: entry.time_unix_ms,
                validator_index: entry.validator_index,
            },
            signature: entry.signature,
        })
        .collect();
    CommitCertificate { height: commit.height, round: commit.round, block_hash: commit.block_hash, precommits }
}

/// Returns the smallest power that is more than 2/3 of `total`.
pub(crate) fn quorum_power(total: VotingPower) -> u64 {
    let total = u128::from(total.0);
    u64::try_from(total * 2 / 3 + 1).expect("2/3 of a u64 plus one fits in u64")
}

#[cfg(test)]
mod tests {
    use vouch_protocol::chain::{BlockHash, CommitSignature, Precommit};
    use vouch_protocol::keys::SigningKey;
    use vouch_protocol::signing::ChainId;

    use super::*;

    #[test]
    fn certificate_of_a_commit_verifies() {
        let chain_id = ChainId::new("engine-test").unwrap();
        let key = SigningKey::from_seed(&[3; 32]);
        let block_hash = BlockHash([7; 32]);
        let precommit = Precommit { height: Height(4), round: 2, block_hash: Some(block_hash), time_unix_ms: 55 };
        let signature = precommit.sign(&key, &chain_id);
        let commit = Commit {
            height: Height(4),
            round: 2,
            block_hash,
            signatures: vec![CommitSignature { validator_index: 0, time_unix_ms: 55, signature }],
        };

        let set =
            ValidatorSet::new(vec![Validator { public_key: key.public_key(), voting_power: VotingPower(5) }]).unwrap();
        let certificate = certificate_of(&commit);
        certificate.verify(&chain_id, &set).expect("the stored signatures verify as precommits");
        assert_eq!(certificate.to_commit(), commit, "the round trip keeps every field");
        assert_eq!(certificate.next_block_time_unix_ms(&set), Some(55));
    }

    #[test]
    fn quorum_power_is_more_than_two_thirds() {
        assert_eq!(quorum_power(VotingPower(100)), 67);
        assert_eq!(quorum_power(VotingPower(3)), 3);
        assert_eq!(quorum_power(VotingPower(1)), 1);
        assert_eq!(quorum_power(VotingPower(200)), 134);
    }
}
