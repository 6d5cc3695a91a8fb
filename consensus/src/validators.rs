//! The validator set of one height: keys, voting power, index order and the quorum
//! thresholds computed from it.
//!
//! # Invariants
//! - A set has 1 to [`VALIDATORS_MAX`] validators, each with non-zero voting power and a
//!   distinct public key.
//! - The total voting power is at most [`TOTAL_VOTING_POWER_MAX`], so sums of powers and
//!   the proposer priorities built from them never overflow.
//! - A validator's index is its position in the list given to [`ValidatorSet::new`].
//!   Every node must build the set in the same order, because votes and commits name
//!   validators by index.

use std::fmt;

use serde::{Deserialize, Serialize};
use vouch_protocol::keys::PublicKey;

use crate::proposer::ProposerPriorities;

/// Maximum number of validators in one set. Every validator sends each of its votes to
/// every other, so the message count of a round grows with the square of this number;
/// 256 validators make about 130,000 vote deliveries per round. It is below the protocol
/// crate's `COMMIT_SIGNATURES_MAX` (1024), so any commit of a set fits in a block.
pub const VALIDATORS_MAX: usize = 256;

/// Maximum total voting power of a set: `i64::MAX / 8`. Proposer priorities are `i64`
/// and stay within a window of twice the total power around zero, plus one step of
/// growth, so this bound leaves them far from overflow.
pub const TOTAL_VOTING_POWER_MAX: u64 = (i64::MAX / 8) as u64;

/// Voting power, proportional to a validator's bonded stake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VotingPower(pub u64);

impl fmt::Display for VotingPower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One member of a validator set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The key that signs the validator's proposals and votes.
    pub public_key: PublicKey,
    /// The weight of the validator's votes.
    pub voting_power: VotingPower,
}

/// Errors from building a validator set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("validator set is empty; a set needs at least one validator with non-zero voting power")]
    Empty,
    #[error("validator set has {count} validators, over the limit of {max}; remove validators or raise the limit")]
    TooMany { count: usize, max: usize },
    #[error("validator {index} ({public_key}) has zero voting power; remove it from the set instead")]
    ZeroPower { index: u32, public_key: String },
    #[error("validators {first} and {second} have the same public key {public_key}; each key may appear once")]
    DuplicateKey { first: u32, second: u32, public_key: String },
    #[error("total voting power {total} is over the limit of {max}; scale all powers down by the same factor")]
    TotalPowerTooLarge { total: u128, max: u64 },
    #[error("{priorities} proposer priorities were given for {validators} validators; give one per validator")]
    PriorityCountMismatch { priorities: usize, validators: usize },
}

/// The validators of one height in index order, with their proposer priorities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_power: VotingPower,
    priorities: ProposerPriorities,
}

impl ValidatorSet {
    /// Builds a set from validators in index order, with all proposer priorities at zero
    /// as at genesis.
    pub fn new(validators: Vec<Validator>) -> Result<ValidatorSet, ValidatorSetError> {
        let priorities = vec![0; validators.len()];
        ValidatorSet::with_priorities(validators, priorities)
    }

    /// Builds a set whose proposer priorities continue from an earlier height, for
    /// example as stored by the host. A validator that joins the set must come with
    /// [`crate::staking::joining_priority`], which `Staking` assigns when it builds a
    /// changed set, so that it cannot propose at once after joining.
    pub fn with_priorities(
        validators: Vec<Validator>,
        priorities: Vec<i64>,
    ) -> Result<ValidatorSet, ValidatorSetError> {
        let total_power = check_validators(&validators)?;
        if priorities.len() != validators.len() {
            return Err(ValidatorSetError::PriorityCountMismatch {
                priorities: priorities.len(),
                validators: validators.len(),
            });
        }
        Ok(ValidatorSet { validators, total_power, priorities: ProposerPriorities::new(priorities) })
    }

    /// Returns the number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Returns false: a set always has at least one validator.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// Returns the validator at `index`, or `None` past the end of the set.
    pub fn get(&self, index: u32) -> Option<&Validator> {
        self.validators.get(usize::try_from(index).ok()?)
    }

    /// Returns the index of the validator with `public_key`.
    pub fn index_of(&self, public_key: &PublicKey) -> Option<u32> {
        let position = self.validators.iter().position(|validator| validator.public_key == *public_key)?;
        Some(u32::try_from(position).expect("a set has at most VALIDATORS_MAX validators"))
    }

    /// Returns the validators in index order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// Returns the sum of all voting powers.
    pub fn total_power(&self) -> VotingPower {
        self.total_power
    }

    /// Returns the proposer priorities at round 0 of this set's height, in index order.
    pub fn priorities(&self) -> &ProposerPriorities {
        &self.priorities
    }

    /// Returns the set for the next height with the same validators: the proposer
    /// priorities advance by one step, so the proposer of the next height's round 0 is
    /// the one that follows this height's round 0 proposer in the rotation.
    pub fn for_next_height(&self) -> ValidatorSet {
        let mut priorities = self.priorities.clone();
        priorities.step(&self.validators, self.total_power);
        ValidatorSet { validators: self.validators.clone(), total_power: self.total_power, priorities }
    }

    /// Returns whether `power` is more than 2/3 of the set's total power.
    pub fn is_quorum(&self, power: VotingPower) -> bool {
        more_than_two_thirds(power, self.total_power)
    }

    /// Returns whether `power` is more than 1/3 of the set's total power, which
    /// guarantees that at least one correct validator is among its holders.
    pub fn is_one_third(&self, power: VotingPower) -> bool {
        more_than_one_third(power, self.total_power)
    }
}

/// Returns whether `3 * power > 2 * total`, in exact integer arithmetic.
pub fn more_than_two_thirds(power: VotingPower, total: VotingPower) -> bool {
    3 * u128::from(power.0) > 2 * u128::from(total.0)
}

/// Returns whether `3 * power > total`, in exact integer arithmetic.
pub fn more_than_one_third(power: VotingPower, total: VotingPower) -> bool {
    3 * u128::from(power.0) > u128::from(total.0)
}

/// Checks the set's rules and returns its total voting power.
fn check_validators(validators: &[Validator]) -> Result<VotingPower, ValidatorSetError> {
    if validators.is_empty() {
        return Err(ValidatorSetError::Empty);
    }
    if validators.len() > VALIDATORS_MAX {
        return Err(ValidatorSetError::TooMany { count: validators.len(), max: VALIDATORS_MAX });
    }

    let mut total: u128 = 0;
    for (position, validator) in validators.iter().enumerate() {
        let index = u32::try_from(position).expect("the count was checked against VALIDATORS_MAX");
        if validator.voting_power.0 == 0 {
            return Err(ValidatorSetError::ZeroPower { index, public_key: validator.public_key.to_hex() });
        }
        if let Some(first) = validators[..position].iter().position(|other| other.public_key == validator.public_key) {
            let first = u32::try_from(first).expect("the count was checked against VALIDATORS_MAX");
            let public_key = validator.public_key.to_hex();
            return Err(ValidatorSetError::DuplicateKey { first, second: index, public_key });
        }
        total += u128::from(validator.voting_power.0);
    }

    if total > u128::from(TOTAL_VOTING_POWER_MAX) {
        return Err(ValidatorSetError::TotalPowerTooLarge { total, max: TOTAL_VOTING_POWER_MAX });
    }
    Ok(VotingPower(u64::try_from(total).expect("the total is at most TOTAL_VOTING_POWER_MAX")))
}

#[cfg(test)]
mod tests {
    use vouch_protocol::keys::SigningKey;

    use super::*;

    fn validator(seed: u8, power: u64) -> Validator {
        let public_key = SigningKey::from_seed(&[seed; 32]).public_key();
        Validator { public_key, voting_power: VotingPower(power) }
    }

    #[test]
    fn set_rejects_empty() {
        assert_eq!(ValidatorSet::new(vec![]).unwrap_err(), ValidatorSetError::Empty);
    }

    #[test]
    fn set_rejects_zero_power() {
        let error = ValidatorSet::new(vec![validator(1, 5), validator(2, 0)]).unwrap_err();
        assert!(matches!(error, ValidatorSetError::ZeroPower { index: 1, .. }), "{error}");
    }

    #[test]
    fn set_rejects_duplicate_key() {
        let error = ValidatorSet::new(vec![validator(1, 5), validator(2, 1), validator(1, 7)]).unwrap_err();
        assert!(matches!(error, ValidatorSetError::DuplicateKey { first: 0, second: 2, .. }), "{error}");
        assert!(error.to_string().contains(&validator(1, 5).public_key.to_hex()), "{error}");
    }

    #[test]
    fn set_rejects_more_than_maximum() {
        let validators: Vec<Validator> = (0..=VALIDATORS_MAX)
            .map(|i| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                Validator { public_key: SigningKey::from_seed(&seed).public_key(), voting_power: VotingPower(1) }
            })
            .collect();
        let at_limit = ValidatorSet::new(validators[..VALIDATORS_MAX].to_vec()).map(|set| set.len());
        assert_eq!(at_limit, Ok(VALIDATORS_MAX));
        let error = ValidatorSet::new(validators).unwrap_err();
        assert_eq!(error, ValidatorSetError::TooMany { count: VALIDATORS_MAX + 1, max: VALIDATORS_MAX });
    }

    #[test]
    fn set_rejects_total_power_over_maximum() {
        let at_limit = ValidatorSet::new(vec![validator(1, TOTAL_VOTING_POWER_MAX - 1), validator(2, 1)]);
        assert_eq!(at_limit.map(|set| set.total_power()), Ok(VotingPower(TOTAL_VOTING_POWER_MAX)));

        let error = ValidatorSet::new(vec![validator(1, u64::MAX), validator(2, u64::MAX)]).unwrap_err();
        let total = 2 * u128::from(u64::MAX);
        assert_eq!(error, ValidatorSetError::TotalPowerTooLarge { total, max: TOTAL_VOTING_POWER_MAX });
    }

    #[test]
    fn set_rejects_priority_count_mismatch() {
        let error = ValidatorSet::with_priorities(vec![validator(1, 1)], vec![0, 0]).unwrap_err();
        assert_eq!(error, ValidatorSetError::PriorityCountMismatch { priorities: 2, validators: 1 });
    }

    #[test]
    fn index_of_finds_position() {
        let set = ValidatorSet::new(vec![validator(1, 1), validator(2, 1)]).unwrap();
        assert_eq!(set.index_of(&validator(2, 1).public_key), Some(1));
        assert_eq!(set.index_of(&validator(3, 1).public_key), None);
        assert_eq!(set.get(2), None);
    }

    #[test]
    fn two_thirds_threshold_is_strict() {
        let total = VotingPower(3);
        assert!(!more_than_two_thirds(VotingPower(2), total));
        assert!(more_than_two_thirds(VotingPower(3), total));
        assert!(!more_than_two_thirds(VotingPower(66), VotingPower(99)));
        assert!(more_than_two_thirds(VotingPower(67), VotingPower(100)));
    }

    #[test]
    fn one_third_threshold_is_strict() {
        assert!(!more_than_one_third(VotingPower(1), VotingPower(3)));
        assert!(more_than_one_third(VotingPower(2), VotingPower(3)));
        assert!(!more_than_one_third(VotingPower(33), VotingPower(99)));
        assert!(more_than_one_third(VotingPower(34), VotingPower(99)));
    }

    #[test]
    fn thresholds_do_not_overflow_at_maximum() {
        let total = VotingPower(TOTAL_VOTING_POWER_MAX);
        assert!(more_than_two_thirds(total, total));
        assert!(!more_than_two_thirds(VotingPower(TOTAL_VOTING_POWER_MAX / 3 * 2), total));
        assert!(more_than_two_thirds(VotingPower(u64::MAX), VotingPower(u64::MAX - 1)));
    }
}
