//! Building a validator set from the ledger: the top validators by power, the rule
//! against a dominant validator, and the proposer priorities carried into the new set.
//!
//! # Order and priorities
//! A set lists its validators by voting power, highest first, with ties broken by the
//! lower public key bytes. The same order picks the top `validators_max`. A validator
//! that stays in the set keeps its proposer priority. A validator that joins starts at
//! `-(total + total / 8)` of the new set's total power, as in CometBFT
//! (`types/validator_set.go`). Priorities stay within about one total power below zero
//! after centering, so the newcomer starts below every member and proposes only after
//! the rotation has raised it. A priority of zero would put it ahead of every validator
//! that just proposed, so it could propose at once. Worse, a validator could unbond and
//! bond again to swap a low priority for zero.

use vouch_protocol::keys::PublicKey;

use crate::staking::ledger::Ledger;
use crate::staking::params::StakingParams;
use crate::validators::{TOTAL_VOTING_POWER_MAX, Validator, ValidatorSet, ValidatorSetError, VotingPower};

/// A validator with 1/3 or more of a set's voting power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dominant {
    pub public_key: PublicKey,
    pub power: u64,
    pub total: u64,
}

/// Returns the validators of the next set: unjailed, with power, the `validators_max`
/// highest by power, in set order.
pub fn active_validators(ledger: &Ledger, params: &StakingParams) -> Vec<Validator> {
    let mut candidates: Vec<(PublicKey, u64)> = ledger.candidates(params).collect();
    candidates.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.as_bytes().cmp(right.0.as_bytes())));
    candidates.truncate(params.validators_max);
    candidates
        .into_iter()
        .map(|(public_key, power)| Validator { public_key, voting_power: VotingPower(power) })
        .collect()
}

/// Returns the sum of the validators' powers, or `None` past
/// [`TOTAL_VOTING_POWER_MAX`].
pub fn total_power(validators: &[Validator]) -> Option<u64> {
    let total: u128 = validators.iter().map(|validator| u128::from(validator.voting_power.0)).sum();
    u64::try_from(total).ok().filter(|total| *total <= TOTAL_VOTING_POWER_MAX)
}

/// Returns the validator of highest power if it has 1/3 or more of the total.
pub fn dominant(validators: &[Validator]) -> Option<Dominant> {
    let total: u128 = validators.iter().map(|validator| u128::from(validator.voting_power.0)).sum();
    let largest = validators.first()?;
    let power = u128::from(largest.voting_power.0);
    (3 * power >= total).then(|| Dominant {
        public_key: largest.public_key,
        power: largest.voting_power.0,
        total: u64::try_from(total).unwrap_or(u64::MAX),
    })
}

/// Returns whether the largest share of power grew from `before` to `after`, comparing
/// `largest_after / total_after` with `largest_before / total_before` exactly. An empty
/// set has no share, so any set is a growth from it.
pub fn largest_share_grew(before: &[Validator], after: &[Validator]) -> bool {
    let share = |validators: &[Validator]| {
        let total: u128 = validators.iter().map(|validator| u128::from(validator.voting_power.0)).sum();
        let largest = validators.first().map_or(0, |validator| u128::from(validator.voting_power.0));
        (largest, total)
    };
    let (largest_before, total_before) = share(before);
    let (largest_after, total_after) = share(after);
    if total_before == 0 {
        return total_after > 0;
    }
    // The products of values below 2^64 fit in u128.
    largest_after * total_before > largest_before * total_after
}

/// Returns the starting priority of a validator that joins a set of `total` power.
pub fn joining_priority(total: VotingPower) -> i64 {
    let total = i128::from(total.0);
    let priority = -(total + total / 8);
    i64::try_from(priority).expect("total power is at most i64::MAX / 8")
}

/// Builds the set of `validators` whose priorities continue from `carried`, the set
/// before the change after its own step to the new height.
pub fn next_set(carried: &ValidatorSet, validators: Vec<Validator>) -> Result<ValidatorSet, ValidatorSetError> {
    let total = total_power(&validators).map_or(VotingPower(TOTAL_VOTING_POWER_MAX), VotingPower);
    let joining = joining_priority(total);
    let priorities = validators
        .iter()
        .map(|validator| {
            carried.index_of(&validator.public_key).map_or(joining, |index| {
                let index = usize::try_from(index).expect("u32 fits in usize");
                carried.priorities().as_slice()[index]
            })
        })
        .collect();
    ValidatorSet::with_priorities(validators, priorities)
}

#[cfg(test)]
mod tests {
    use vouch_protocol::keys::SigningKey;

    use super::*;
    use crate::staking::ledger::ValidatorStake;

    fn key(seed: u8) -> PublicKey {
        SigningKey::from_seed(&[seed; 32]).public_key()
    }

    fn validator(seed: u8, power: u64) -> Validator {
        Validator { public_key: key(seed), voting_power: VotingPower(power) }
    }

    fn params(validators_max: usize) -> StakingParams {
        StakingParams { validators_max, ..StakingParams::default() }
    }

    fn ledger(stakes: &[(u8, u64)]) -> Ledger {
        let mut ledger = Ledger::default();
        for (seed, power) in stakes {
            ledger.insert(ValidatorStake::new(key(*seed), power * 1_000_000));
        }
        ledger
    }

    #[test]
    fn active_set_is_top_by_power_then_key() {
        let ledger = ledger(&[(1, 5), (2, 9), (3, 5), (4, 1), (5, 0)]);
        let set = active_validators(&ledger, &params(3));
        let powers: Vec<u64> = set.iter().map(|validator| validator.voting_power.0).collect();
        assert_eq!(powers, vec![9, 5, 5]);
        assert_eq!(set[0].public_key, key(2));
        let (low, high) = if key(1).as_bytes() < key(3).as_bytes() { (1, 3) } else { (3, 1) };
        assert_eq!(set[1].public_key, key(low), "ties go to the lower key bytes");
        assert_eq!(set[2].public_key, key(high));
    }

    #[test]
    fn active_set_skips_jailed_and_powerless() {
        let mut ledger = ledger(&[(1, 5), (2, 9)]);
        ledger.insert(ValidatorStake::new(key(3), 999_999));
        ledger.get_mut(&key(2)).unwrap().jailed_until =
            Some(crate::staking::BlockPosition { height: vouch_protocol::chain::Height(9), time_unix_ms: 0 });
        let set = active_validators(&ledger, &params(10));
        assert_eq!(set, vec![validator(1, 5)]);
    }

    #[test]
    fn dominance_starts_at_one_third() {
        assert_eq!(dominant(&[validator(1, 2), validator(2, 2), validator(3, 2)]).map(|found| found.power), Some(2));
        assert_eq!(dominant(&[validator(1, 33), validator(2, 34), validator(3, 33)]).map(|found| found.total), None);
        assert_eq!(dominant(&[validator(1, 1), validator(2, 1), validator(3, 1), validator(4, 1)]), None);
        assert_eq!(
            dominant(&[validator(1, 34), validator(2, 33), validator(3, 33)]).map(|found| found.power),
            Some(34)
        );
        assert_eq!(dominant(&[validator(1, 1)]).map(|found| found.public_key), Some(key(1)));
        assert_eq!(dominant(&[]), None);
    }

    #[test]
    fn largest_share_growth_is_exact() {
        let before = [validator(1, 4), validator(2, 4), validator(3, 4)];
        assert!(!largest_share_grew(&before, &[validator(1, 4), validator(2, 4), validator(3, 4), validator(4, 1)]));
        assert!(largest_share_grew(&before, &[validator(1, 5), validator(2, 4), validator(3, 4)]));
        assert!(!largest_share_grew(&before, &[validator(1, 8), validator(2, 8), validator(3, 8)]));
        assert!(largest_share_grew(&[], &before));
    }

    #[test]
    fn joining_priority_is_nine_eighths_below() {
        assert_eq!(joining_priority(VotingPower(8)), -9);
        assert_eq!(joining_priority(VotingPower(100)), -112);
        assert_eq!(joining_priority(VotingPower(0)), 0);
        let max = TOTAL_VOTING_POWER_MAX;
        assert_eq!(joining_priority(VotingPower(max)), -(max as i64) - (max / 8) as i64);
    }

    #[test]
    fn next_set_keeps_priorities_by_key() {
        let carried = ValidatorSet::with_priorities(vec![validator(1, 3), validator(2, 3)], vec![4, -4]).unwrap();
        let next = next_set(&carried, vec![validator(2, 6), validator(3, 2), validator(1, 3)]).unwrap();
        assert_eq!(next.priorities().as_slice(), &[-4, -12, 4]);
    }

    #[test]
    fn joining_validator_waits_for_its_turn() {
        // Four equal validators after many heights, then a fifth joins with equal power:
        // under priority 0 it would propose at once, under the joining priority it
        // proposes only after the four others had their turn.
        let members: Vec<Validator> = (1..=4).map(|seed| validator(seed, 10)).collect();
        let mut carried = ValidatorSet::new(members.clone()).unwrap();
        for _ in 0..7 {
            carried = carried.for_next_height();
        }
        let mut joined = members;
        joined.push(validator(5, 10));
        let set = next_set(&carried, joined).unwrap();
        let mut schedule = crate::ProposerSchedule::new(&set);
        let first_turn = (0..20).find(|round| schedule.proposer(*round) == 4).unwrap();
        assert!(first_turn >= 4, "the joining validator proposed at round {first_turn}");
    }
}
