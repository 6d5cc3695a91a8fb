//! Counting a commit's voting power: the signers' share of the set that signed it, and
//! the share of a trusted set among those signers.
//!
//! # Invariants
//! Power is only counted for signatures that verified against the signing set, and each
//! validator of a set counts at most once, because commit indexes strictly increase and
//! a set's keys are distinct. Sums are `u128`, and thresholds compare `3 * signed`
//! with `2 * total` or `total`, so no division rounds.

use crate::chain::{ChainError, Commit, Height};
use crate::light::{LightError, ValidatorSet};
use crate::signing::ChainId;

/// Verifies every signature of `commit` against `signers`, the set of the commit's
/// height, and returns the voting power of the validators that signed.
pub(crate) fn signed_power(chain_id: &ChainId, commit: &Commit, signers: &ValidatorSet) -> Result<u128, LightError> {
    commit.verify_signatures(chain_id, &signers.keys()).map_err(|error| signature_error(signers, error))?;

    let power = commit
        .signatures
        .iter()
        .map(|entry| {
            let validator = signers.get(entry.validator_index).expect("verify_signatures checked every index");
            u128::from(validator.power)
        })
        .sum();
    Ok(power)
}

/// Returns the voting power in `trusted` of the validators that signed `commit`, whose
/// signatures already verified against `signers`. A signer that is not in `trusted`
/// adds nothing.
pub(crate) fn trusted_power(commit: &Commit, signers: &ValidatorSet, trusted: &ValidatorSet) -> u128 {
    commit
        .signatures
        .iter()
        .filter_map(|entry| signers.get(entry.validator_index))
        .filter_map(|validator| trusted.power_of(&validator.public_key))
        .map(u128::from)
        .sum()
}

/// Fails unless `signed` is more than 2/3 of `total`.
pub(crate) fn require_over_two_thirds(height: Height, signed: u128, total: u128) -> Result<(), LightError> {
    if !is_over_two_thirds(signed, total) {
        return Err(LightError::InsufficientPower { height, signed, total });
    }
    Ok(())
}

/// Returns whether `signed` is more than 2/3 of `total`, exactly: `3 * signed > 2 * total`.
pub(crate) fn is_over_two_thirds(signed: u128, total: u128) -> bool {
    signed.saturating_mul(3) > total.saturating_mul(2)
}

/// Returns whether `signed` is more than 1/3 of `total`, exactly: `3 * signed > total`.
pub(crate) fn is_over_one_third(signed: u128, total: u128) -> bool {
    signed.saturating_mul(3) > total
}

/// Gives each failure of [`Commit::verify_signatures`] its own variant.
fn signature_error(signers: &ValidatorSet, error: ChainError) -> LightError {
    match error {
        ChainError::UnknownValidator { height, index, validators } => {
            LightError::UnknownValidator { height, index, validators }
        }
        ChainError::UnorderedSignatures { height, index, previous } if index == previous => {
            LightError::DuplicateValidator { height, index }
        }
        ChainError::UnorderedSignatures { height, index, previous } => {
            LightError::UnorderedValidators { height, index, previous }
        }
        ChainError::InvalidSignature { height, index, source } => {
            let public_key = signers.get(index).map_or_else(String::new, |validator| validator.public_key.to_hex());
            LightError::InvalidSignature { height, index, public_key, reason: source.to_string() }
        }
        other => LightError::InvalidCommit(other),
    }
}
