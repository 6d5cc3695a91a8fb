//! Tables of input and expected effects, one or more per rule of Algorithm 1 of "The
//! latest gossip on BFT consensus" (Buchman, Kwon and Milosevic, 2018), named by the
//! paper's line numbers.
//!
//! Unless a test states otherwise the network has four validators of power 1, so any
//! three are more than 2/3 of the power and any two are more than 1/3. With equal
//! powers the proposer of round r is validator r mod 4.

mod support;

use support::{Fixture, TestValue, effects, value};
use vouch_consensus::{Effect, Equivocation, Step, Value, VoteKind};

const EQUAL: [u64; 4] = [1, 1, 1, 1];

#[test]
fn happy_path_commits_in_round_zero() {
    // Lines 22, 34, 36, 49.
    let mut f = Fixture::new(&EQUAL, 1);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), f.my_prevote(0, Some(&v))),
        (f.prevote(0, 0, Some(&v)), vec![]),
        (f.prevote(2, 0, Some(&v)), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, Some(&v))])),
        (f.precommit(0, 0, Some(&v)), vec![]),
        (f.precommit(2, 0, Some(&v)), vec![f.decide(0, &v, &[0, 1, 2])]),
    ]);
    assert_eq!(f.node.locked(), Some((0, v.block_hash())));
    assert_eq!(f.node.valid(), Some((0, v.block_hash())));
}

#[test]
fn proposer_requests_value_then_proposes() {
    // Lines 14-19, then line 22 on its own proposal.
    let mut f = Fixture::new(&EQUAL, 0);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose), f.request_value(0)]),
        (f.proposal_value(0, &v), effects([f.my_proposal(0, &v, None), f.my_prevote(0, Some(&v))])),
    ]);
}

#[test]
fn invalid_proposal_gets_nil_prevote() {
    // Lines 23 and 26: valid(v) is false.
    let mut f = Fixture::new(&EQUAL, 1);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, false), f.my_prevote(0, None)),
    ]);
}

#[test]
fn wrong_block_time_gets_nil_prevote() {
    // BFT time: a block whose time differs from the commit's median is invalid, and the
    // application is not asked.
    let mut f = Fixture::new(&EQUAL, 1);
    let early = TestValue { id: 7, time_unix_ms: support::GENESIS_MS + 1 };
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(0, 0, &early, None), f.my_prevote(0, None)),
    ]);
}

#[test]
fn propose_timeout_prevotes_nil() {
    // Line 57; a late proposal and a repeated timeout change nothing.
    let mut f = Fixture::new(&EQUAL, 1);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), vec![]),
        (f.timeout(0, Step::Propose), vec![]),
    ]);
    assert_eq!(f.node.round_step(), Some((0, Step::Prevote)));
}

#[test]
fn prevote_timeout_precommits_nil() {
    // Line 34 schedules the timeout on prevotes for different values; line 61 fires.
    let mut f = Fixture::new(&EQUAL, 1);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, Some(&v)), vec![]),
        (f.prevote(2, 0, None), vec![f.schedule(0, Step::Prevote)]),
        (f.timeout(0, Step::Prevote), f.my_precommit(0, None)),
        (f.timeout(0, Step::Prevote), vec![]),
    ]);
}

#[test]
fn nil_polka_precommits_nil() {
    // Line 44.
    let mut f = Fixture::new(&EQUAL, 1);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, None), vec![]),
        (f.prevote(2, 0, None), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, None)])),
    ]);
    assert_eq!(f.node.locked(), None);
}

#[test]
fn precommit_timeout_starts_next_round() {
    // Line 47 schedules the timeout once; line 65 starts round 1, where validator 1 is
    // the proposer and requests a value.
    let mut f = Fixture::new(&EQUAL, 1);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, None), vec![]),
        (f.prevote(2, 0, None), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, None)])),
        (f.precommit(0, 0, None), vec![]),
        (f.precommit(2, 0, None), vec![f.schedule(0, Step::Precommit)]),
        (f.precommit(3, 0, None), vec![]),
        (f.timeout(0, Step::Precommit), vec![f.schedule(1, Step::Propose), f.request_value(1)]),
    ]);
    assert_eq!(f.node.round_step(), Some((1, Step::Propose)));
}

/// Rows that lock validator `f.me` on `v` in round 0 and end the round with nil
/// precommits from validators 0 and 1.
fn lock_in_round_zero(f: &Fixture, v: &TestValue) -> Vec<(vouch_consensus::Input<TestValue>, Vec<Effect<TestValue>>)> {
    vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(0, 0, v, None), vec![f.validate(0, v)]),
        (f.verdict(v, true), f.my_prevote(0, Some(v))),
        (f.prevote(0, 0, Some(v)), vec![]),
        (f.prevote(1, 0, Some(v)), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, Some(v))])),
        (f.precommit(0, 0, None), vec![]),
        (f.precommit(1, 0, None), vec![f.schedule(0, Step::Precommit)]),
        (f.timeout(0, Step::Precommit), vec![f.schedule(1, Step::Propose)]),
    ]
}

#[test]
fn lock_prevotes_nil_for_other_value() {
    // Line 36 locks on v; in round 1 lines 23 and 26 prevote nil for a new value w
    // without waiting for its verdict.
    let mut f = Fixture::new(&EQUAL, 3);
    let (v, w) = (value(7), value(8));
    f.run(lock_in_round_zero(&f, &v));
    f.run(vec![(f.proposal(1, 1, &w, None), effects([vec![f.validate(1, &w)], f.my_prevote(1, None)]))]);
    assert_eq!(f.node.locked(), Some((0, v.block_hash())));
}

#[test]
fn lock_prevotes_for_locked_value_again() {
    // Line 23: a new proposal of the locked value gets a prevote for it.
    let mut f = Fixture::new(&EQUAL, 3);
    let v = value(7);
    f.run(lock_in_round_zero(&f, &v));
    f.run(vec![(f.proposal(1, 1, &v, None), f.my_prevote(1, Some(&v)))]);
}

#[test]
fn later_polka_unlocks_through_repeated_proposal() {
    // Lines 28-30: locked on v in round 0, a proposal of w with proof-of-lock round 1
    // (where w had a polka) gets a prevote for w, since lockedRound 0 <= vr 1.
    let mut f = Fixture::new(&EQUAL, 3);
    let (v, w) = (value(7), value(8));
    f.run(lock_in_round_zero(&f, &v));
    f.run(vec![
        (f.timeout(1, Step::Propose), f.my_prevote(1, None)),
        (f.prevote(0, 1, Some(&w)), vec![]),
        (f.prevote(1, 1, Some(&w)), vec![f.schedule(1, Step::Prevote)]),
        (f.prevote(2, 1, Some(&w)), vec![]),
        (f.timeout(1, Step::Prevote), f.my_precommit(1, None)),
        (f.precommit(0, 1, None), vec![]),
        (f.precommit(1, 1, None), vec![f.schedule(1, Step::Precommit)]),
        (f.timeout(1, Step::Precommit), vec![f.schedule(2, Step::Propose)]),
        (f.proposal(2, 2, &w, Some(1)), vec![f.validate(2, &w)]),
        (f.verdict(&w, true), f.my_prevote(2, Some(&w))),
    ]);
}

#[test]
fn older_polka_does_not_unlock() {
    // Lines 29 and 32: locked on v in round 1, a proposal of w with proof-of-lock round
    // 0 gets a nil prevote, since lockedRound 1 > vr 0.
    let mut f = Fixture::new(&EQUAL, 3);
    let (v, w) = (value(7), value(8));
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, Some(&w)), vec![]),
        (f.prevote(1, 0, Some(&w)), vec![f.schedule(0, Step::Prevote)]),
        (f.prevote(2, 0, Some(&w)), vec![]),
        (f.timeout(0, Step::Prevote), f.my_precommit(0, None)),
        (f.precommit(0, 0, None), vec![]),
        (f.precommit(1, 0, None), vec![f.schedule(0, Step::Precommit)]),
        (f.timeout(0, Step::Precommit), vec![f.schedule(1, Step::Propose)]),
        (f.proposal(1, 1, &v, None), vec![f.validate(1, &v)]),
        (f.verdict(&v, true), f.my_prevote(1, Some(&v))),
        (f.prevote(0, 1, Some(&v)), vec![]),
        (f.prevote(1, 1, Some(&v)), effects([vec![f.schedule(1, Step::Prevote)], f.my_precommit(1, Some(&v))])),
        (f.precommit(0, 1, None), vec![]),
        (f.precommit(1, 1, None), vec![f.schedule(1, Step::Precommit)]),
        (f.timeout(1, Step::Precommit), vec![f.schedule(2, Step::Propose)]),
        (f.proposal(2, 2, &w, Some(0)), effects([vec![f.validate(2, &w)], f.my_prevote(2, None)])),
    ]);
    assert_eq!(f.node.locked(), Some((1, v.block_hash())));
}

#[test]
fn repeated_proposal_waits_for_its_polka() {
    // Line 28 needs the prevotes of round vr; without them the proposal waits for the
    // propose timeout (line 57).
    let mut f = Fixture::new(&EQUAL, 2);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, None), vec![]),
        (f.prevote(1, 0, None), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, None)])),
        (f.precommit(0, 0, None), vec![]),
        (f.precommit(1, 0, None), vec![f.schedule(0, Step::Precommit)]),
        (f.timeout(0, Step::Precommit), vec![f.schedule(1, Step::Propose)]),
        (f.proposal(1, 1, &v, Some(0)), vec![f.validate(1, &v)]),
        (f.verdict(&v, true), vec![]),
        (f.timeout(1, Step::Propose), f.my_prevote(1, None)),
    ]);
}

#[test]
fn polka_after_precommit_updates_valid_only() {
    // Lines 36 and 42-43 in the precommit step: the value becomes valid, no lock.
    let mut f = Fixture::new(&EQUAL, 3);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, Some(&v)), vec![]),
        (f.prevote(1, 0, Some(&v)), vec![f.schedule(0, Step::Prevote)]),
        (f.timeout(0, Step::Prevote), f.my_precommit(0, None)),
        (f.prevote(2, 0, Some(&v)), vec![]),
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), vec![]),
    ]);
    assert_eq!(f.node.locked(), None);
    assert_eq!(f.node.valid(), Some((0, v.block_hash())));
}

#[test]
fn proposer_reproposes_valid_value() {
    // Lines 15-16 and 19: validator 1 saw a polka for v in round 0, so as proposer of
    // round 1 it proposes v with proof-of-lock round 0, then prevotes it (line 28).
    let mut f = Fixture::new(&EQUAL, 1);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, Some(&v)), vec![]),
        (f.prevote(2, 0, Some(&v)), vec![f.schedule(0, Step::Prevote)]),
        (f.timeout(0, Step::Prevote), f.my_precommit(0, None)),
        (f.prevote(3, 0, Some(&v)), vec![]),
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), vec![]),
        (f.precommit(0, 0, None), vec![]),
        (f.precommit(2, 0, None), vec![f.schedule(0, Step::Precommit)]),
        (
            f.timeout(0, Step::Precommit),
            effects([vec![f.schedule(1, Step::Propose)], f.my_proposal(1, &v, Some(0)), f.my_prevote(1, Some(&v))]),
        ),
    ]);
}

#[test]
fn round_skip_on_one_third_power() {
    // Line 55: one validator in round 5 is not enough; a second one (2 of 4 > 1/3) is.
    let mut f = Fixture::new(&EQUAL, 3);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.prevote(0, 5, Some(&v)), vec![]),
        (f.precommit(0, 5, None), vec![]),
        (f.prevote(1, 5, Some(&v)), vec![f.schedule(5, Step::Propose)]),
    ]);
    assert_eq!(f.node.round_step(), Some((5, Step::Propose)));
}

#[test]
fn commit_from_earlier_round() {
    // Line 49: precommits of round 0 decide even when the validator is in round 1.
    let mut f = Fixture::new(&EQUAL, 3);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), f.my_prevote(0, Some(&v))),
        (f.prevote(0, 1, None), vec![]),
        (f.prevote(1, 1, None), vec![f.schedule(1, Step::Propose)]),
        (f.precommit(0, 0, Some(&v)), vec![]),
        (f.precommit(1, 0, Some(&v)), vec![]),
        (f.precommit(2, 0, Some(&v)), vec![f.decide(0, &v, &[0, 1, 2])]),
    ]);
}

#[test]
fn commit_waits_for_proposal_and_verdict() {
    // Line 49 needs the proposal and valid(v): precommits alone do not decide.
    let mut f = Fixture::new(&EQUAL, 3);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.precommit(0, 0, Some(&v)), vec![]),
        (f.precommit(1, 0, Some(&v)), vec![]),
        (f.precommit(2, 0, Some(&v)), vec![f.schedule(0, Step::Precommit)]),
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), vec![f.decide(0, &v, &[0, 1, 2])]),
    ]);
}

#[test]
fn duplicate_vote_counts_once() {
    let mut f = Fixture::new(&EQUAL, 3);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.prevote(0, 0, Some(&v)), vec![]),
        (f.prevote(0, 0, Some(&v)), vec![]),
        (f.prevote(1, 0, Some(&v)), vec![f.schedule(0, Step::Prevote)]),
    ]);
}

#[test]
fn equivocation_is_reported_and_counted_per_value() {
    let mut f = Fixture::new(&EQUAL, 3);
    let (v, w) = (value(7), value(8));
    let first = f.signed_vote(0, VoteKind::Prevote, 0, Some(&v));
    let second = f.signed_vote(0, VoteKind::Prevote, 0, Some(&w));
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(0, 0, &w, None), vec![f.validate(0, &w)]),
        (f.verdict(&w, true), f.my_prevote(0, Some(&w))),
        (vouch_consensus::Input::Vote(first), vec![]),
        (vouch_consensus::Input::Vote(second), vec![Effect::Evidence(Equivocation { first, second })]),
        (vouch_consensus::Input::Vote(second), vec![]),
        // Validator 0's second vote counts for w, as the paper counts messages per
        // value: w has validators 3, 0 and 1, a polka, while the sum of all prevotes
        // still counts validator 0 once.
        (f.prevote(1, 0, Some(&w)), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, Some(&w))])),
    ]);
    assert_eq!(f.node.round_step(), Some((0, Step::Precommit)));
}

#[test]
fn small_validators_cannot_commit_alone() {
    // Powers 1, 1, 1 and 10: the three small validators hold 3 of 13, so neither their
    // prevotes nor their precommits reach 2/3 without validator 3, the round 0 proposer.
    let mut f = Fixture::new(&[1, 1, 1, 10], 0);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(3, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), f.my_prevote(0, Some(&v))),
        (f.prevote(1, 0, Some(&v)), vec![]),
        (f.prevote(2, 0, Some(&v)), vec![]),
        (f.prevote(3, 0, Some(&v)), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, Some(&v))])),
        (f.precommit(1, 0, Some(&v)), vec![]),
        (f.precommit(2, 0, Some(&v)), vec![]),
        (f.precommit(3, 0, Some(&v)), vec![f.decide(0, &v, &[0, 1, 2, 3])]),
    ]);
}

#[test]
fn big_validator_commits_with_one_small() {
    // Powers 1, 1, 1 and 10: validators 0 and 3 hold 11 of 13, more than 2/3.
    let mut f = Fixture::new(&[1, 1, 1, 10], 0);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.proposal(3, 0, &v, None), vec![f.validate(0, &v)]),
        (f.verdict(&v, true), f.my_prevote(0, Some(&v))),
        (f.prevote(3, 0, Some(&v)), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, Some(&v))])),
        (f.precommit(3, 0, Some(&v)), vec![f.decide(0, &v, &[0, 3])]),
    ]);
}

#[test]
fn round_skip_weighs_power() {
    // Powers 1, 1, 1 and 10: validators 1 and 2 (2 of 13) do not move validator 0 to
    // round 4; validator 3 (10 of 13) does. Validator 3 proposes round 4.
    let mut f = Fixture::new(&[1, 1, 1, 10], 0);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.prevote(1, 4, None), vec![]),
        (f.prevote(2, 4, None), vec![]),
        (f.prevote(3, 4, None), vec![f.schedule(4, Step::Propose)]),
    ]);
}

#[test]
fn exactly_two_thirds_is_not_enough() {
    // Powers 1, 1, 1: two validators hold exactly 2/3, which is not more than 2/3.
    let mut f = Fixture::new(&[1, 1, 1], 0);
    let v = value(7);
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose), f.request_value(0)]),
        (f.proposal_value(0, &v), effects([f.my_proposal(0, &v, None), f.my_prevote(0, Some(&v))])),
        (f.prevote(1, 0, Some(&v)), vec![]),
        (f.prevote(2, 0, Some(&v)), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, Some(&v))])),
        (f.precommit(1, 0, Some(&v)), vec![]),
        (f.precommit(2, 0, Some(&v)), vec![f.decide(0, &v, &[0, 1, 2])]),
    ]);
}
