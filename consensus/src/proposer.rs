//! Weighted round-robin proposer selection: which validator proposes at each height and
//! round, the same on every node.
//!
//! # The rule
//! Every validator has an integer priority. One step of the rotation does, in order:
//! 1. Rescale: if the highest and lowest priorities are more than twice the total voting
//!    power apart, divide every priority (truncating toward zero) by the smallest
//!    integer that brings the spread within twice the total.
//! 2. Center: subtract the average priority, rounded toward negative infinity, from every
//!    priority, so priorities stay around zero.
//! 3. Raise every priority by the validator's voting power.
//! 4. Choose the validator with the highest priority. On a tie the lowest validator
//!    index wins.
//! 5. Lower the chosen validator's priority by the total voting power.
//!
//! Steps 3 and 5 keep the sum of priorities unchanged, so over any long run each
//! validator is chosen in proportion to its voting power, and a validator with a small
//! power still proposes regularly instead of starving.
//!
//! A [`ValidatorSet`] contains the priorities before the first step of its height. The
//! proposer of round `r` is the validator chosen by step `r + 1` from there, and the next
//! height's set starts one step later ([`ValidatorSet::for_next_height`]), so the rotation
//! continues across heights whatever round each height ended in.
//!
//! This is the proposer priority algorithm of CometBFT (`types/validator_set.go`), with
//! two differences that every Vouch node shares. Ties go to the lowest index instead of
//! the lowest address. Rescaling and centering run before every step instead of once per
//! batch of steps, so the proposer of a round does not depend on how a node reached it.

use crate::validators::{Validator, ValidatorSet, VotingPower};

/// The proposer priorities of a validator set, in index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposerPriorities(Vec<i64>);

impl ProposerPriorities {
    pub(crate) fn new(priorities: Vec<i64>) -> ProposerPriorities {
        ProposerPriorities(priorities)
    }

    /// Returns the priorities in index order, for the host to store with the set.
    pub fn as_slice(&self) -> &[i64] {
        &self.0
    }

    /// Runs one step of the rotation and returns the index of the chosen validator.
    pub(crate) fn step(&mut self, validators: &[Validator], total: VotingPower) -> u32 {
        assert_eq!(self.0.len(), validators.len(), "one priority per validator");
        let total = i128::from(total.0);
        let mut priorities: Vec<i128> = self.0.iter().map(|&priority| i128::from(priority)).collect();

        rescale(&mut priorities, 2 * total);
        center(&mut priorities);
        for (priority, validator) in priorities.iter_mut().zip(validators) {
            *priority += i128::from(validator.voting_power.0);
        }

        let chosen = highest(&priorities);
        priorities[chosen] -= total;

        self.0 = priorities.into_iter().map(clip).collect();
        u32::try_from(chosen).expect("a set has at most VALIDATORS_MAX validators")
    }
}

/// The proposers of one height, computed round by round up to the highest round
/// requested so far.
#[derive(Clone, Debug)]
pub struct ProposerSchedule {
    set: ValidatorSet,
    next: ProposerPriorities,
    proposers: Vec<u32>,
}

impl ProposerSchedule {
    /// Starts the schedule of the height that `set` belongs to.
    pub fn new(set: &ValidatorSet) -> ProposerSchedule {
        ProposerSchedule { set: set.clone(), next: set.priorities().clone(), proposers: Vec::new() }
    }

    /// Returns the index of the proposer of `round`.
    ///
    /// The cost is one step per round not computed before, so callers bound `round`
    /// first (the core accepts rounds up to a fixed distance past its own).
    pub fn proposer(&mut self, round: u32) -> u32 {
        let wanted = usize::try_from(round).expect("u32 fits in usize");
        while self.proposers.len() <= wanted {
            let chosen = self.next.step(self.set.validators(), self.set.total_power());
            self.proposers.push(chosen);
        }
        self.proposers[wanted]
    }
}

/// Divides every priority so that the spread is at most `window`.
fn rescale(priorities: &mut [i128], window: i128) {
    let (Some(&max), Some(&min)) = (priorities.iter().max(), priorities.iter().min()) else {
        return;
    };
    let spread = max - min;
    if window <= 0 || spread <= window {
        return;
    }
    let ratio = (spread + window - 1) / window;
    for priority in priorities.iter_mut() {
        *priority /= ratio;
    }
}

/// Subtracts the floor of the average from every priority.
fn center(priorities: &mut [i128]) {
    let count = i128::try_from(priorities.len()).expect("a set has at most VALIDATORS_MAX validators");
    if count == 0 {
        return;
    }
    let average = priorities.iter().sum::<i128>().div_euclid(count);
    for priority in priorities.iter_mut() {
        *priority -= average;
    }
}

/// Returns the position of the highest priority, the lowest position on a tie.
fn highest(priorities: &[i128]) -> usize {
    let mut best = 0;
    for (position, priority) in priorities.iter().enumerate().skip(1) {
        if *priority > priorities[best] {
            best = position;
        }
    }
    best
}

/// Clamps a priority to `i64`. With the total power bounded by
/// `TOTAL_VOTING_POWER_MAX` a priority never reaches either end.
fn clip(priority: i128) -> i64 {
    i64::try_from(priority).unwrap_or(if priority < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use vouch_protocol::keys::SigningKey;

    use super::*;

    fn set(powers: &[u64]) -> ValidatorSet {
        let validators = powers
            .iter()
            .enumerate()
            .map(|(i, &power)| Validator {
                public_key: SigningKey::from_seed(&[i as u8 + 1; 32]).public_key(),
                voting_power: VotingPower(power),
            })
            .collect();
        ValidatorSet::new(validators).unwrap()
    }

    fn sequence(set: &ValidatorSet, rounds: u32) -> Vec<u32> {
        let mut schedule = ProposerSchedule::new(set);
        (0..rounds).map(|round| schedule.proposer(round)).collect()
    }

    #[test]
    fn equal_powers_rotate_by_index() {
        // Step 1 from [0,0,0]: [1,1,1], tie to index 0, which drops to -2, and so on.
        assert_eq!(sequence(&set(&[1, 1, 1]), 6), vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn powers_one_two_three_follow_hand_table() {
        // total 6; priorities before the pick, then the pick and the priorities after:
        // [1,2,3] -> 2 -> [1,2,-3]
        // [2,4,0] -> 1 -> [2,-2,0]
        // [3,0,3] -> 0 (tie with 2, lower index) -> [-3,0,3]
        // [-2,2,6] -> 2 -> [-2,2,0]
        // [-1,4,3] -> 1 -> [-1,-2,3]
        // [0,0,6] -> 2 -> [0,0,0], and the cycle repeats.
        let expected = vec![2, 1, 0, 2, 1, 2];
        let set = set(&[1, 2, 3]);
        assert_eq!(sequence(&set, 6), expected);
        assert_eq!(sequence(&set, 12)[6..], expected[..]);
    }

    #[test]
    fn dominant_validator_still_yields() {
        // total 4: [3,1] -> 0 -> [-1,1]; [2,2] -> 0 -> [-2,2]; [1,3] -> 1 -> [1,-1];
        // [4,0] -> 0 -> [0,0].
        assert_eq!(sequence(&set(&[3, 1]), 4), vec![0, 0, 1, 0]);
    }

    #[test]
    fn rescale_brings_spread_within_window() {
        // Spread 2000 over a window of 4 gives ratio 500: [2,-2]; centered; then
        // [3,-1] -> 0 -> [1,-1].
        let base = set(&[1, 1]);
        let restored = ValidatorSet::with_priorities(base.validators().to_vec(), vec![1000, -1000]).unwrap();
        let mut priorities = restored.priorities().clone();
        assert_eq!(priorities.step(restored.validators(), restored.total_power()), 0);
        assert_eq!(priorities.as_slice(), &[1, -1]);
    }

    #[test]
    fn center_rounds_average_down() {
        // Sum -3 over 2 validators: the average rounds down to -2, giving [1,0]; then
        // [2,1] -> 0 -> [0,1].
        let base = set(&[1, 1]);
        let restored = ValidatorSet::with_priorities(base.validators().to_vec(), vec![-1, -2]).unwrap();
        let mut priorities = restored.priorities().clone();
        assert_eq!(priorities.step(restored.validators(), restored.total_power()), 0);
        assert_eq!(priorities.as_slice(), &[0, 1]);
    }

    #[test]
    fn frequencies_follow_power() {
        let powers = [10, 20, 30, 40, 7];
        let total: u64 = powers.iter().sum();
        let set = set(&powers);
        let rounds = (total * 50) as u32;
        let mut counts = vec![0u64; powers.len()];
        for proposer in sequence(&set, rounds) {
            counts[proposer as usize] += 1;
        }
        for (index, &power) in powers.iter().enumerate() {
            let expected = power * 50;
            assert!(counts[index].abs_diff(expected) <= 1, "validator {index}: {} of {expected}", counts[index]);
        }
    }

    #[test]
    fn next_height_continues_rotation() {
        let set = set(&[1, 2, 3]);
        let rotation = sequence(&set, 4);
        let mut next = ProposerSchedule::new(&set.for_next_height());
        assert_eq!(next.proposer(0), rotation[1]);
        assert_eq!(next.proposer(2), rotation[3]);
    }

    #[test]
    fn schedule_is_same_in_any_query_order() {
        let set = set(&[5, 1, 9, 3]);
        let mut forward = ProposerSchedule::new(&set);
        let ascending: Vec<u32> = (0..50).map(|round| forward.proposer(round)).collect();
        let mut backward = ProposerSchedule::new(&set);
        let descending: Vec<u32> = (0..50).rev().map(|round| backward.proposer(round)).collect();
        assert_eq!(ascending, descending.into_iter().rev().collect::<Vec<_>>());
    }

    #[test]
    fn schedule_handles_maximum_total_power() {
        let half = crate::validators::TOTAL_VOTING_POWER_MAX / 2;
        let set = set(&[half, half - 1, 1]);
        let proposers = sequence(&set, 200);
        assert!(proposers.iter().all(|&index| index < 3));
        assert!(proposers.contains(&0));
        assert!(proposers.contains(&1));
    }
}
