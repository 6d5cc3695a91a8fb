//! Skipping verification over honest generated chains: set changes, bisection and its
//! limit, jailed validators, and the trust period.

use std::time::Duration;

use super::generator::{Members, TestChain, validator_set};
use crate::chain::Height;
use crate::light::{LightError, TrustOptions};

fn four_equal() -> Members {
    vec![(1, 10), (2, 10), (3, 10), (4, 10)]
}

/// Builds a chain whose set is `before` up to height `change - 1` and `after` from `change`
/// on, with `heights` blocks.
fn changing_chain(before: &Members, after: &Members, change: u64, heights: u64) -> TestChain {
    let sets = (1..=heights + 1).map(|height| if height < change { before.clone() } else { after.clone() }).collect();
    TestChain::new(sets)
}

/// Builds a chain of `heights` blocks where every height has a set disjoint from the one
/// before, so no skip is ever possible.
fn disjoint_chain(heights: u64) -> TestChain {
    let sets = (0..=heights as u16).map(|height| vec![(100 + 2 * height, 5), (101 + 2 * height, 7)]).collect();
    TestChain::new(sets)
}

fn options_with_limit(bisection_steps_max: u32) -> TrustOptions {
    TrustOptions { bisection_steps_max, ..TrustOptions::default() }
}

#[test]
fn fixed_set_skips_to_target() {
    let chain = TestChain::fixed(&four_equal(), 20);
    let mut verifier = chain.verifier(TrustOptions::default());

    let verified = verifier.verify_height(Height(20), &mut chain.provider(), chain.now()).unwrap();
    assert_eq!(verified.height, Height(20));
    assert_eq!(verified.intermediate_blocks, 0);
    assert_eq!(verifier.trusted().height(), Height(20));
    assert_eq!(verifier.trusted().header_hash(), Some(chain.header(20).hash()));
}

#[test]
fn set_change_with_trusted_overlap_skips() {
    // Validators 3 and 4 leave, 5 and 6 join, and 1 and 2 keep half the old power.
    let after = vec![(1, 10), (2, 10), (5, 20), (6, 5)];
    let chain = changing_chain(&four_equal(), &after, 6, 20);
    let mut verifier = chain.verifier(TrustOptions::default());

    let verified = verifier.verify_height(Height(20), &mut chain.provider(), chain.now()).unwrap();
    assert_eq!(verified.intermediate_blocks, 0);
    assert_eq!(verifier.trusted().next_validators(), &validator_set(&after));
}

#[test]
fn set_change_without_overlap_bisects() {
    let after = vec![(5, 10), (6, 10), (7, 10), (8, 10)];
    let chain = changing_chain(&four_equal(), &after, 11, 20);
    let mut verifier = chain.verifier(TrustOptions::default());

    // Genesis -> 20 fails the 1/3 rule; the pivot 10 shares the genesis set and names
    // the new set as its next one, which then vouches for 20.
    let verified = verifier.verify_height(Height(20), &mut chain.provider(), chain.now()).unwrap();
    assert_eq!(verified.intermediate_blocks, 1);
    assert_eq!(verifier.trusted().header_hash(), Some(chain.header(20).hash()));
    assert_eq!(verifier.trusted().next_validators(), &validator_set(&after));
}

#[test]
fn reweighted_set_counts_trusted_power() {
    // The same four keys, but 4 now has almost all the power: the trusted powers of
    // 1, 2 and 3 still count, so the skip succeeds.
    let reweighted = vec![(1, 1), (2, 1), (3, 1), (4, 97)];
    let chain = changing_chain(&four_equal(), &reweighted, 3, 12);
    let mut verifier = chain.verifier(TrustOptions::default());
    assert_eq!(verifier.verify_height(Height(12), &mut chain.provider(), chain.now()).unwrap().intermediate_blocks, 0);

    // A target signed by 4 alone has 97 of 100 of its own set, but only 10 of 40 of
    // the trusted set, so the verifier needs the intermediate heights.
    let mut chain = changing_chain(&four_equal(), &reweighted, 3, 12);
    chain.resign(12, &[4]);
    let mut verifier = chain.verifier(options_with_limit(0));
    let error = verifier.verify_height(Height(12), &mut chain.provider(), chain.now()).unwrap_err();
    assert!(matches!(error, LightError::BisectionLimit { target: Height(12), steps_max: 0, .. }), "{error}");

    let mut verifier = chain.verifier(TrustOptions::default());
    let verified = verifier.verify_height(Height(12), &mut chain.provider(), chain.now()).unwrap();
    assert!(verified.intermediate_blocks >= 1, "{verified:?}");
}

#[test]
fn disjoint_sets_step_through_every_height() {
    let chain = disjoint_chain(6);
    let mut verifier = chain.verifier(TrustOptions::default());

    let verified = verifier.verify_height(Height(6), &mut chain.provider(), chain.now()).unwrap();
    assert_eq!(verified.intermediate_blocks, 5);
    assert_eq!(verifier.trusted().header_hash(), Some(chain.header(6).hash()));
}

#[test]
fn bisection_limit_at_edge() {
    let chain = disjoint_chain(6);

    let mut at_limit = chain.verifier(options_with_limit(5));
    assert_eq!(at_limit.verify_height(Height(6), &mut chain.provider(), chain.now()).unwrap().intermediate_blocks, 5);

    let mut past_limit = chain.verifier(options_with_limit(4));
    let error = past_limit.verify_height(Height(6), &mut chain.provider(), chain.now()).unwrap_err();
    assert!(matches!(error, LightError::BisectionLimit { target: Height(6), steps_max: 4, .. }), "{error}");
    assert!(error.to_string().contains("raise the bisection limit"), "{error}");
}

#[test]
fn progress_before_limit_stays_trusted() {
    let chain = disjoint_chain(6);
    let mut verifier = chain.verifier(options_with_limit(4));
    verifier.verify_height(Height(6), &mut chain.provider(), chain.now()).unwrap_err();

    // Each block verified on the way is still trusted, so a second call finishes.
    let reached = verifier.trusted().height();
    assert!(reached > Height(0), "{reached}");
    assert!(reached < Height(6), "{reached}");
    assert!(verifier.verify_height(Height(6), &mut chain.provider(), chain.now()).is_ok());
}

#[test]
fn adjacent_heights_need_no_overlap() {
    let chain = disjoint_chain(3);
    let mut verifier = chain.verifier(options_with_limit(0));
    for height in 1..=3 {
        let verified = verifier.verify_height(Height(height), &mut chain.provider(), chain.now()).unwrap();
        assert_eq!(verified.intermediate_blocks, 0);
    }
}

#[test]
fn jailed_validator_signature_is_unknown() {
    // Validator 4 is jailed and leaves the set at height 5.
    let chain = changing_chain(&four_equal(), &vec![(1, 10), (2, 10), (3, 10)], 5, 8);
    let mut block = chain.light_block(8);
    let mut extra = super::generator::sign_at_indexes(chain.header(8), &[(3, 4)]);
    block.signed_header.commit.signatures.append(&mut extra.signatures);

    let mut verifier = chain.verifier(TrustOptions::default());
    let error = verifier.verify_block(block, &mut chain.provider(), chain.now()).unwrap_err();
    assert!(matches!(error, LightError::UnknownValidator { index: 3, validators: 3, .. }), "{error}");
}

#[test]
fn jailed_validator_cannot_vouch_after_removal() {
    // 4 has 20 of 50 at genesis, more than 1/3, and is jailed at height 5.
    let before = vec![(1, 10), (2, 10), (3, 10), (4, 20)];
    let chain = changing_chain(&before, &vec![(1, 10), (2, 10), (3, 10)], 5, 10);

    // A fork at height 10 signed by 4 and two keys of its own.
    let fork_members = vec![(4, 20), (9, 10), (10, 10)];
    let fork = forged_block(&chain, 10, &fork_members);

    // Trusting genesis, 4's old power is more than 1/3, so the fork skips through: the
    // trust model assumes less than 1/3 of the trusted power is faulty.
    let mut from_genesis = chain.verifier(TrustOptions::default());
    assert!(from_genesis.verify_block(fork.clone(), &mut chain.provider(), chain.now()).is_ok());

    // Once the client trusts a height past the jailing, 4's signature counts for
    // nothing: bisection walks to height 9, whose next set is not the fork's.
    let mut after_jail = chain.verifier(TrustOptions::default());
    after_jail.verify_height(Height(6), &mut chain.provider(), chain.now()).unwrap();
    let error = after_jail.verify_block(fork, &mut chain.provider(), chain.now()).unwrap_err();
    assert!(
        matches!(error, LightError::ValidatorsNotLinked { height: Height(10), trusted_height: Height(9), .. }),
        "{error}"
    );
}

/// Builds a block at `height` that follows `chain`'s previous header but names and is
/// signed by `members`.
pub(super) fn forged_block(chain: &TestChain, height: u64, members: &Members) -> crate::light::LightBlock {
    let mut header = chain.header(height).clone();
    header.validators_hash = validator_set(members).hash();
    header.next_validators_hash = header.validators_hash;
    let commit = super::generator::sign_commit(&header, members, &super::generator::numbers(members));
    crate::light::LightBlock {
        signed_header: crate::light::SignedHeader { header, commit },
        validators: validator_set(members),
    }
}

#[test]
fn expired_trust_names_the_fix() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let options = TrustOptions { trust_period: Duration::from_secs(60), ..TrustOptions::default() };
    let mut verifier = chain.verifier(options);
    let genesis_expiry = super::generator::GENESIS_TIME_UNIX_MS + 60_000;

    // One millisecond before the genesis expires, verification works.
    verifier.verify_height(Height(2), &mut chain.provider(), genesis_expiry - 1).unwrap();

    // Height 2 (time genesis + 2 s) is now trusted and expires 2 s after the genesis.
    let error = verifier.verify_height(Height(5), &mut chain.provider(), genesis_expiry + 2_000).unwrap_err();
    assert!(
        matches!(error, LightError::TrustExpired { trusted_height: Height(2), trust_period_ms: 60_000, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("start from a newer root of trust"), "{error}");
    assert!(verifier.verify_height(Height(5), &mut chain.provider(), genesis_expiry + 1_999).is_ok());
}

#[test]
fn checkpoint_root_verifies_later_heights() {
    let after = vec![(5, 10), (6, 10), (7, 10), (8, 10)];
    let chain = changing_chain(&four_equal(), &after, 11, 20);
    let mut verifier = chain.verifier_at(12, TrustOptions::default());
    assert_eq!(verifier.verify_height(Height(20), &mut chain.provider(), chain.now()).unwrap().intermediate_blocks, 0);
}

#[test]
fn target_at_trusted_height_must_match() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let mut verifier = chain.verifier_at(3, TrustOptions::default());
    assert!(verifier.verify_block(chain.light_block(3), &mut chain.provider(), chain.now()).is_ok());

    let fork = forged_block(&chain, 3, &vec![(9, 1)]);
    let error = verifier.verify_block(fork, &mut chain.provider(), chain.now()).unwrap_err();
    assert!(matches!(error, LightError::ConflictingHeader { height: Height(3), .. }), "{error}");
}

#[test]
fn target_below_trusted_height_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let mut verifier = chain.verifier_at(4, TrustOptions::default());
    let error = verifier.verify_height(Height(2), &mut chain.provider(), chain.now()).unwrap_err();
    assert!(
        matches!(error, LightError::HeightNotAboveTrusted { height: Height(2), trusted_height: Height(4) }),
        "{error}"
    );
}

#[test]
fn invalid_options_are_rejected() {
    let chain = TestChain::fixed(&four_equal(), 1);
    let trusted = crate::light::TrustedState::from_genesis(&chain.genesis).unwrap();
    let zero = TrustOptions { trust_period: Duration::ZERO, ..TrustOptions::default() };
    let error = crate::light::Verifier::new(trusted.clone(), zero).unwrap_err();
    assert!(error.to_string().contains("trust_period is 0 ms"), "{error}");

    let drift = TrustOptions { clock_drift: Duration::from_secs(60), trust_period: Duration::from_secs(60), ..zero };
    let error = crate::light::Verifier::new(trusted, drift).unwrap_err();
    assert!(error.to_string().contains("clock_drift"), "{error}");
}
