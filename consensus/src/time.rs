//! BFT time: block times taken from the validators' vote times, so no single proposer
//! sets the chain's clock.
//!
//! The time of block `h + 1` is the power-weighted median of the times in the precommits
//! of the commit certificate of block `h`. A certificate carries more than 2/3 of
//! the total power and faulty validators have less than 1/3 of it, so faulty validators
//! have less than half of the certificate's power. The median is then never earlier than the
//! earliest honest time nor later than the latest honest one.
//!
//! An honest validator votes for a block with the time `max(now, block time + 1 ms)`
//! ([`vote_time`]), so block times strictly increase from height to height.

use crate::validators::VotingPower;

/// Returns the earliest time `t` such that the votes with times at or before `t` have
/// more than half of the votes' total power, or `None` when the votes have no power.
///
/// `votes` are `(time_unix_ms, voting power)` pairs in any order.
pub fn weighted_median_time(votes: &[(u64, VotingPower)]) -> Option<u64> {
    let total: u128 = votes.iter().map(|(_, power)| u128::from(power.0)).sum();
    if total == 0 {
        return None;
    }

    let mut sorted = votes.to_vec();
    sorted.sort_unstable_by_key(|(time, _)| *time);

    let mut accumulated: u128 = 0;
    for (time, power) in sorted {
        accumulated += u128::from(power.0);
        if 2 * accumulated > total {
            return Some(time);
        }
    }
    unreachable!("the loop ends once the accumulated power passes half of the total")
}

/// Returns the time that a validator puts in a vote for a block with time
/// `block_time_unix_ms`: its clock, but at least 1 ms after the block's time.
pub fn vote_time(now_unix_ms: u64, block_time_unix_ms: u64) -> u64 {
    now_unix_ms.max(block_time_unix_ms.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn votes(pairs: &[(u64, u64)]) -> Vec<(u64, VotingPower)> {
        pairs.iter().map(|&(time, power)| (time, VotingPower(power))).collect()
    }

    #[test]
    fn median_of_equal_powers() {
        assert_eq!(weighted_median_time(&votes(&[(30, 1), (10, 1), (20, 1)])), Some(20));
        // With an even count the upper middle time wins: 2 of 4 is not more than half.
        assert_eq!(weighted_median_time(&votes(&[(10, 1), (20, 1), (30, 1), (40, 1)])), Some(30));
    }

    #[test]
    fn median_follows_power() {
        // Times at or before 10 have 5 of 9: more than half.
        assert_eq!(weighted_median_time(&votes(&[(10, 5), (20, 2), (30, 2)])), Some(10));
        // Times at or after 30 have 5 of 9, and the votes at or before 20 have only 4.
        assert_eq!(weighted_median_time(&votes(&[(10, 2), (20, 2), (30, 5)])), Some(30));
    }

    #[test]
    fn median_ignores_outlier_minority() {
        // A faulty validator with less than half of the power cannot move the time
        // outside the honest times, however far off its clock is.
        let honest = [(1000, 3), (1010, 3), (1020, 3)];
        for outlier in [0, u64::MAX] {
            let mut pairs = honest.to_vec();
            pairs.push((outlier, 4));
            let median = weighted_median_time(&votes(&pairs)).unwrap();
            assert!((1000..=1020).contains(&median), "outlier {outlier} moved the median to {median}");
        }
    }

    #[test]
    fn median_of_nothing_is_none() {
        assert_eq!(weighted_median_time(&[]), None);
        assert_eq!(weighted_median_time(&votes(&[(5, 0)])), None);
    }

    #[test]
    fn median_handles_large_powers() {
        let big = crate::validators::TOTAL_VOTING_POWER_MAX;
        assert_eq!(weighted_median_time(&votes(&[(1, big), (2, big), (3, 1)])), Some(2));
    }

    #[test]
    fn vote_time_stays_after_block_time() {
        assert_eq!(vote_time(5000, 1000), 5000);
        assert_eq!(vote_time(900, 1000), 1001);
        assert_eq!(vote_time(1000, 1000), 1001);
        assert_eq!(vote_time(0, u64::MAX), u64::MAX);
    }
}
