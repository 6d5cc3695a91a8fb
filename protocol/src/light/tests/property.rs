//! Property tests over chains with random validator-set changes. An honest header is
//! always reached, and a forged one is rejected when no trusted set could vouch for it.
//! One skip succeeds exactly when an independent sum of the powers predicts it.

use proptest::prelude::*;

use super::generator::{Members, TestChain, sign_commit};
use super::skipping::forged_block;
use crate::chain::Height;
use crate::light::{LightError, TrustOptions, Verifier};

/// One change between two heights: (kind, which validator, new power).
type Change = (u8, usize, u64);

/// Applies `changes` to an initial set, one per height, giving the sets of heights 1 to
/// `changes.len() + 1`. New validators take key numbers from 1 upward.
fn sets_from(initial: &[u64], changes: &[Change]) -> Vec<Members> {
    let mut next_key: u16 = 1;
    let mut fresh = |power: u64| {
        next_key += 1;
        (next_key - 1, power)
    };
    let mut current: Members = initial.iter().map(|power| fresh(*power)).collect();
    let mut sets = vec![current.clone()];
    for (kind, which, power) in changes {
        let index = which % current.len();
        match kind % 5 {
            0 => {}
            1 if current.len() < 6 => current.push(fresh(*power)),
            2 if current.len() > 1 => {
                current.remove(index);
            }
            3 => current[index].1 = *power,
            4 => current = (0..current.len()).map(|_| fresh(*power)).collect(),
            _ => current[index].1 = *power,
        }
        sets.push(current.clone());
    }
    sets
}

fn chain_sets() -> impl Strategy<Value = Vec<Members>> {
    let initial = prop::collection::vec(1..=50u64, 1..=5);
    let changes = prop::collection::vec((any::<u8>(), any::<usize>(), 1..=50u64), 2..=16);
    (initial, changes).prop_map(|(initial, changes)| sets_from(&initial, &changes))
}

fn total(members: &Members) -> u128 {
    members.iter().map(|(_, power)| u128::from(*power)).sum()
}

/// Sums the power in `trusted` of the key numbers in `signers`.
fn overlap(trusted: &Members, signers: &[u16]) -> u128 {
    trusted.iter().filter(|(number, _)| signers.contains(number)).map(|(_, power)| u128::from(*power)).sum()
}

/// Returns a verifier trusting height `height` of `chain` (0 for the genesis).
fn verifier_at(chain: &TestChain, height: u64, options: TrustOptions) -> Verifier {
    if height == 0 { chain.verifier(options) } else { chain.verifier_at(height, options) }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn honest_header_is_always_reached(sets in chain_sets(), pick in any::<u64>()) {
        let chain = TestChain::new(sets);
        let target = 1 + pick % chain.last_height();
        let mut verifier = chain.verifier(TrustOptions::default());

        let verified = verifier.verify_height(Height(target), &mut chain.provider(), chain.now()).unwrap();
        prop_assert_eq!(verifier.trusted().header_hash(), Some(chain.header(target).hash()));
        prop_assert!(u64::from(verified.intermediate_blocks) < target);
    }

    #[test]
    fn forged_header_without_trusted_signers_is_rejected(
        sets in chain_sets(),
        pick in any::<u64>(),
        insider in any::<usize>(),
    ) {
        let chain = TestChain::new(sets);
        let target = 2 + pick % (chain.last_height() - 1);

        // Attackers with fresh keys, joined by one honest key when it has at most 1/3
        // of every set that a trusted state below the target may name as its next set.
        let mut members: Members = vec![(500, 10), (501, 10)];
        let candidate = chain.members(target)[insider % chain.members(target).len()].0;
        let weak = chain.sets[..target as usize].iter().all(|set| overlap(set, &[candidate]) * 3 <= total(set));
        if weak {
            members.push((candidate, 10));
        }
        let fork = forged_block(&chain, target, &members);

        let mut verifier = chain.verifier(TrustOptions::default());
        let result = verifier.verify_block(fork, &mut chain.provider(), chain.now());
        prop_assert!(result.is_err(), "target {}: {:?}", target, result);
        prop_assert!(verifier.trusted().height() < Height(target));
    }

    #[test]
    fn single_skip_matches_power_count(
        sets in chain_sets(),
        from in any::<u64>(),
        gap in any::<u64>(),
        signer_mask in any::<u8>(),
    ) {
        let mut chain = TestChain::new(sets);
        prop_assume!(chain.last_height() >= 2);
        let trusted = from % (chain.last_height() - 1);
        let target = trusted + 2 + gap % (chain.last_height() - trusted - 1);

        let members = chain.members(target).clone();
        let signers: Vec<u16> = members
            .iter()
            .enumerate()
            .filter(|(index, _)| signer_mask & (1 << index) != 0)
            .map(|(_, (number, _))| *number)
            .collect();
        chain.blocks[target as usize - 1].commit = sign_commit(chain.header(target), &members, &signers);

        // The trusted state at height h names the set of height h + 1 as its next set.
        let trusted_set = &chain.sets[trusted as usize];
        let own_enough = overlap(&members, &signers) * 3 > total(&members) * 2;
        let trust_enough = overlap(trusted_set, &signers) * 3 > total(trusted_set);

        let no_bisection = TrustOptions { bisection_steps_max: 0, ..TrustOptions::default() };
        let mut verifier = verifier_at(&chain, trusted, no_bisection);
        let result = verifier.verify_height(Height(target), &mut chain.provider(), chain.now());
        match result {
            Ok(_) => prop_assert!(own_enough && trust_enough, "accepted {} -> {}", trusted, target),
            Err(LightError::InsufficientPower { .. }) => prop_assert!(!own_enough),
            Err(LightError::BisectionLimit { .. }) => prop_assert!(own_enough && !trust_enough),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}
