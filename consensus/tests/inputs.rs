//! Input checks of the consensus core: rejected messages, restarts after signing, BFT
//! time across heights, observers, and commit certificates.

mod support;

use support::{Fixture, GENESIS_MS, NOW_MS, TestValue, config, effects, key, validator_set, value};
use vouch_consensus::{
    CertificateError, CommitCertificate, Consensus, Effect, Input, InputError, PROPOSAL_ROUNDS_AHEAD_MAX,
    PreviousBlock, SignedStep, Step, VOTE_ROUNDS_AHEAD_MAX, Value, Vote, VoteKind,
};
use vouch_protocol::chain::Height;

const EQUAL: [u64; 4] = [1, 1, 1, 1];

fn started(me: usize) -> Fixture {
    let mut f = Fixture::new(&EQUAL, me);
    f.feed(f.start());
    f
}

#[test]
fn input_before_start_is_rejected() {
    let mut f = Fixture::new(&EQUAL, 1);
    let error = f.node.handle(NOW_MS, f.prevote(0, 0, None)).unwrap_err();
    assert!(matches!(error, InputError::NotStarted), "{error}");
}

#[test]
fn proposal_from_wrong_proposer_is_rejected() {
    let mut f = started(3);
    let error = f.node.handle(NOW_MS, f.proposal(2, 0, &value(7), None)).unwrap_err();
    assert!(matches!(error, InputError::WrongProposer { round: 0, index: 2, expected: 0, .. }), "{error}");
    assert_eq!(f.node.round_step(), Some((0, Step::Propose)));
    // The right proposer's proposal for the same round is still taken.
    assert_eq!(f.feed(f.proposal(0, 0, &value(7), None)), vec![f.validate(0, &value(7))]);
}

#[test]
fn proposal_with_bad_signature_is_rejected() {
    let mut f = started(3);
    let mut signed = f.signed_proposal(0, 0, &value(7), None);
    signed.signature = f.signed_proposal(0, 0, &value(8), None).signature;
    let error = f.node.handle(NOW_MS, Input::Proposal(signed)).unwrap_err();
    assert!(matches!(error, InputError::InvalidSignature { what: "proposal", index: 0, .. }), "{error}");
}

#[test]
fn proposal_far_ahead_is_rejected() {
    let mut f = started(3);
    let round = PROPOSAL_ROUNDS_AHEAD_MAX + 1;
    let proposer = (round % 4) as usize;
    let error = f.node.handle(NOW_MS, f.proposal(proposer, round, &value(7), None)).unwrap_err();
    assert!(matches!(error, InputError::RoundTooFarAhead { what: "proposal", current: 0, .. }), "{error}");
}

#[test]
fn vote_far_ahead_is_rejected() {
    let mut f = started(3);
    assert_eq!(f.feed(f.prevote(0, VOTE_ROUNDS_AHEAD_MAX, None)), vec![]);
    let error = f.node.handle(NOW_MS, f.prevote(1, VOTE_ROUNDS_AHEAD_MAX + 1, None)).unwrap_err();
    assert!(matches!(error, InputError::RoundTooFarAhead { what: "vote", current: 0, .. }), "{error}");
}

#[test]
fn conflicting_proposals_are_kept_up_to_limit() {
    // An equivocating proposer's extra proposals are kept up to PROPOSALS_PER_ROUND_MAX,
    // so a decision on any of them can still be found. The first one drives the prevote.
    let mut f = started(3);
    let first = value(1);
    assert_eq!(f.feed(f.proposal(0, 0, &first, None)), vec![f.validate(0, &first)]);
    for id in 2..=vouch_consensus::PROPOSALS_PER_ROUND_MAX as u64 {
        assert_eq!(f.feed(f.proposal(0, 0, &value(id), None)), vec![f.validate(0, &value(id))]);
    }
    let extra = value(99);
    let error = f.node.handle(NOW_MS, f.proposal(0, 0, &extra, None)).unwrap_err();
    assert!(matches!(error, InputError::TooManyProposals { index: 0, .. }), "{error}");
    assert_eq!(f.feed(f.verdict(&value(2), true)), vec![]);
    assert_eq!(f.feed(f.verdict(&first, true)), f.my_prevote(0, Some(&first)));
}

#[test]
fn proposal_with_later_pol_round_is_rejected() {
    let mut f = started(3);
    let error = f.node.handle(NOW_MS, f.proposal(0, 0, &value(7), Some(0))).unwrap_err();
    assert!(matches!(error, InputError::InvalidPolRound { round: 0, pol_round: 0 }), "{error}");
}

#[test]
fn vote_with_bad_signature_is_rejected() {
    let mut f = started(3);
    let vote = Vote {
        kind: VoteKind::Prevote,
        height: Height(1),
        round: 0,
        block_hash: None,
        time_unix_ms: NOW_MS,
        validator_index: 0,
    };
    let forged = vote.sign(&key(2), &support::chain_id());
    let error = f.node.handle(NOW_MS, Input::Vote(forged)).unwrap_err();
    assert!(matches!(error, InputError::InvalidSignature { what: "vote", index: 0, .. }), "{error}");
}

#[test]
fn vote_from_unknown_index_is_rejected() {
    let mut f = started(3);
    let mut signed = f.signed_vote(0, VoteKind::Prevote, 0, None);
    signed.vote.validator_index = 4;
    let error = f.node.handle(NOW_MS, Input::Vote(signed)).unwrap_err();
    assert!(matches!(error, InputError::UnknownValidator { index: 4, validators: 4, .. }), "{error}");
}

#[test]
fn vote_for_other_height_is_rejected() {
    let mut f = started(3);
    let mut other = Fixture::new(&EQUAL, 3);
    other.height = Height(2);
    let error = f.node.handle(NOW_MS, other.prevote(0, 0, None)).unwrap_err();
    assert!(matches!(error, InputError::WrongHeight { what: "vote", .. }), "{error}");
}

#[test]
fn votes_in_many_future_rounds_are_rejected() {
    let mut f = started(3);
    assert_eq!(f.feed(f.prevote(0, 3, None)), vec![]);
    assert_eq!(f.feed(f.precommit(0, 4, None)), vec![]);
    assert_eq!(f.feed(f.prevote(0, 4, None)), vec![]);
    let error = f.node.handle(NOW_MS, f.prevote(0, 5, None)).unwrap_err();
    assert!(matches!(error, InputError::TooManyFutureRounds { index: 0, round: 5, count: 2, .. }), "{error}");
}

#[test]
fn unrequested_verdict_is_rejected() {
    let mut f = started(3);
    let error = f.node.handle(NOW_MS, f.verdict(&value(7), true)).unwrap_err();
    assert!(matches!(error, InputError::UnexpectedVerdict { .. }), "{error}");
}

#[test]
fn unrequested_value_is_rejected() {
    let mut f = started(3);
    let error = f.node.handle(NOW_MS, f.proposal_value(0, &value(7))).unwrap_err();
    assert!(matches!(error, InputError::UnexpectedValue { round: 0, .. }), "{error}");
}

#[test]
fn value_with_wrong_time_is_rejected() {
    let mut f = started(0);
    let late = TestValue { id: 7, time_unix_ms: GENESIS_MS + 5 };
    let error = f.node.handle(NOW_MS, f.proposal_value(0, &late)).unwrap_err();
    assert!(matches!(error, InputError::WrongValueTime { expected: GENESIS_MS, found, .. } if found == GENESIS_MS + 5));
    // The request remains open, and a value with the right time is proposed.
    assert_eq!(
        f.feed(f.proposal_value(0, &value(7))),
        effects([f.my_proposal(0, &value(7), None), f.my_prevote(0, Some(&value(7)))])
    );
}

#[test]
fn late_verdict_changes_nothing() {
    let mut f = started(1);
    let v = value(7);
    f.run(vec![
        (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
        (f.timeout(0, Step::Propose), f.my_prevote(0, None)),
        (f.verdict(&v, true), vec![]),
    ]);
}

#[test]
fn start_rejects_lower_height_and_genesis() {
    let mut f = started(1);
    let again = f.node.handle(NOW_MS, f.start()).unwrap_err();
    assert!(matches!(again, InputError::InvalidStart { .. }), "{again}");

    let mut fresh = Fixture::new(&EQUAL, 1);
    fresh.height = Height(0);
    let genesis = fresh.node.handle(NOW_MS, fresh.start()).unwrap_err();
    assert!(genesis.to_string().contains("height 0 is the genesis state"), "{genesis}");

    let mut skipped = Fixture::new(&EQUAL, 1);
    skipped.height = Height(3);
    let error = skipped.node.handle(NOW_MS, skipped.start()).unwrap_err();
    assert!(error.to_string().contains("only height 1 follows the genesis"), "{error}");
}

#[test]
fn restart_does_not_sign_again() {
    // Validator 1 signed a prevote at height 1 round 0 before it restarted: it does not
    // prevote there again, but it still precommits after the others' nil polka.
    let position = SignedStep { height: Height(1), round: 0, step: Step::Prevote };
    let mut f = Fixture::restored(&EQUAL, 1, Some(position));
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose)]),
        (f.timeout(0, Step::Propose), vec![]),
        (f.prevote(0, 0, None), vec![]),
        (f.prevote(2, 0, None), vec![]),
        (f.prevote(3, 0, None), effects([vec![f.schedule(0, Step::Prevote)], f.my_precommit(0, None)])),
    ]);
    assert_eq!(f.node.last_signed(), Some(SignedStep { height: Height(1), round: 0, step: Step::Precommit }));
}

#[test]
fn restart_resumes_at_signed_round() {
    let position = SignedStep { height: Height(1), round: 2, step: Step::Precommit };
    let mut f = Fixture::restored(&EQUAL, 1, Some(position));
    f.run(vec![
        (f.start(), vec![f.schedule(2, Step::Propose)]),
        // Line 65 still moves the round on, where validator 3 proposes.
        (f.timeout(2, Step::Precommit), vec![f.schedule(3, Step::Propose)]),
        (f.timeout(3, Step::Propose), f.my_prevote(3, None)),
    ]);
}

#[test]
fn restarted_proposer_does_not_propose_twice() {
    let position = SignedStep { height: Height(1), round: 0, step: Step::Propose };
    let mut f = Fixture::restored(&EQUAL, 0, Some(position));
    f.run(vec![
        (f.start(), vec![f.schedule(0, Step::Propose), f.request_value(0)]),
        (f.proposal_value(0, &value(7)), vec![]),
    ]);
    assert_eq!(f.node.round_step(), Some((0, Step::Propose)));
}

#[test]
fn every_broadcast_follows_its_persist() {
    let mut f = Fixture::new(&EQUAL, 0);
    let v = value(7);
    let mut all = f.feed(f.start());
    all.extend(f.feed(f.proposal_value(0, &v)));
    all.extend(f.feed(f.prevote(1, 0, Some(&v))));
    all.extend(f.feed(f.prevote(2, 0, Some(&v))));
    let broadcasts =
        all.iter().filter(|effect| matches!(effect, Effect::BroadcastVote(_) | Effect::BroadcastProposal(_))).count();
    assert_eq!(broadcasts, 3);
    for (position, effect) in all.iter().enumerate() {
        let signed = match effect {
            Effect::BroadcastVote(signed) => {
                let step = if signed.vote.kind == VoteKind::Prevote { Step::Prevote } else { Step::Precommit };
                SignedStep { height: signed.vote.height, round: signed.vote.round, step }
            }
            Effect::BroadcastProposal(signed) => {
                SignedStep { height: signed.proposal.height, round: signed.proposal.round, step: Step::Propose }
            }
            _ => continue,
        };
        assert_eq!(all[position - 1], Effect::PersistSigned(signed), "effect {position}");
    }
}

/// Builds a certificate of height 1 for `v`, signed by `signers` with their vote times.
fn certificate(v: &TestValue, signers: &[(usize, u64)]) -> CommitCertificate {
    let precommits = signers
        .iter()
        .map(|&(from, time_unix_ms)| {
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: Height(1),
                round: 0,
                block_hash: Some(v.block_hash()),
                time_unix_ms,
                validator_index: from as u32,
            };
            vote.sign(&key(from), &support::chain_id())
        })
        .collect();
    CommitCertificate { height: Height(1), round: 0, block_hash: v.block_hash(), precommits }
}

fn height_two(me: usize, previous: CommitCertificate) -> (Fixture, Result<Vec<Effect<TestValue>>, InputError>) {
    let mut f = Fixture::new(&EQUAL, me);
    f.height = Height(2);
    let start = Input::StartHeight {
        height: Height(2),
        validators: f.set(),
        previous: PreviousBlock::Committed { certificate: previous, validators: f.set() },
    };
    let result = f.node.handle(NOW_MS, start);
    (f, result)
}

#[test]
fn block_time_is_median_of_commit() {
    let commit = certificate(&value(1), &[(0, 1000), (1, 2000), (2, 9000)]);
    let (mut f, started) = height_two(1, commit);
    f.block_time_ms = 2000;
    assert_eq!(started.unwrap(), vec![f.schedule(0, Step::Propose)]);
    assert_eq!(f.node.block_time_unix_ms(), Some(2000));

    let on_time = TestValue { id: 2, time_unix_ms: 2000 };
    assert_eq!(f.feed(f.proposal(0, 0, &on_time, None)), vec![f.validate(0, &on_time)]);
}

#[test]
fn block_time_from_proposer_clock_is_invalid() {
    let commit = certificate(&value(1), &[(0, 1000), (1, 2000), (2, 9000)]);
    let (mut f, started) = height_two(1, commit);
    f.block_time_ms = 2000;
    assert!(started.is_ok());

    let proposer_clock = TestValue { id: 2, time_unix_ms: 9000 };
    assert_eq!(f.feed(f.proposal(0, 0, &proposer_clock, None)), f.my_prevote(0, None));
}

#[test]
fn proposer_builds_with_bft_time() {
    let commit = certificate(&value(1), &[(1, 3000), (2, 3000), (3, 4000)]);
    let (mut f, started) = height_two(0, commit);
    f.block_time_ms = 3000;
    assert_eq!(started.unwrap(), vec![f.schedule(0, Step::Propose), f.request_value(0)]);
}

#[test]
fn start_rejects_commit_without_quorum() {
    let commit = certificate(&value(1), &[(0, 1000), (1, 2000)]);
    let (_, started) = height_two(1, commit);
    let error = started.unwrap_err();
    assert!(
        matches!(&error, InputError::InvalidPreviousCommit { source: CertificateError::InsufficientPower { .. }, .. }),
        "{error}"
    );
}

#[test]
fn observer_decides_without_signing() {
    for node_key in [None, Some(key(9))] {
        let mut f = Fixture::new(&EQUAL, 0);
        f.node = Consensus::new(config(), node_key, None).unwrap();
        let v = value(7);
        f.run(vec![
            (f.start(), vec![f.schedule(0, Step::Propose)]),
            (f.proposal(0, 0, &v, None), vec![f.validate(0, &v)]),
            (f.verdict(&v, true), vec![]),
            (f.prevote(0, 0, Some(&v)), vec![]),
            (f.prevote(1, 0, Some(&v)), vec![]),
            (f.prevote(2, 0, Some(&v)), vec![f.schedule(0, Step::Prevote)]),
            (f.precommit(0, 0, Some(&v)), vec![]),
            (f.precommit(1, 0, Some(&v)), vec![]),
            (f.precommit(3, 0, Some(&v)), vec![f.decide(0, &v, &[0, 1, 3])]),
        ]);
        assert_eq!(f.node.last_signed(), None);
    }
}

#[test]
fn certificate_verifies_and_rejects() {
    let set = validator_set(&EQUAL);
    let chain = support::chain_id();
    let v = value(1);
    assert!(certificate(&v, &[(0, 1), (2, 1), (3, 1)]).verify(&chain, &set).is_ok());

    let unordered = certificate(&v, &[(2, 1), (0, 1), (3, 1)]).verify(&chain, &set).unwrap_err();
    assert!(matches!(unordered, CertificateError::Unordered { index: 0, previous: 2, .. }), "{unordered}");

    let repeated = certificate(&v, &[(0, 1), (0, 1), (3, 1)]).verify(&chain, &set).unwrap_err();
    assert!(matches!(repeated, CertificateError::Unordered { index: 0, previous: 0, .. }), "{repeated}");

    let short = certificate(&v, &[(0, 1), (3, 1)]).verify(&chain, &set).unwrap_err();
    assert!(matches!(short, CertificateError::InsufficientPower { .. }), "{short}");

    let mut foreign = certificate(&v, &[(0, 1), (1, 1), (3, 1)]);
    foreign.block_hash = value(2).block_hash();
    let error = foreign.verify(&chain, &set).unwrap_err();
    assert!(matches!(error, CertificateError::ForeignVote { index: 0, .. }), "{error}");

    let mut forged = certificate(&v, &[(0, 1), (1, 1), (3, 1)]);
    forged.precommits[1].vote.time_unix_ms = 2;
    let error = forged.verify(&chain, &set).unwrap_err();
    assert!(matches!(error, CertificateError::InvalidSignature { index: 1, .. }), "{error}");

    let small_set = validator_set(&[1, 1]);
    let error = certificate(&v, &[(0, 1), (1, 1), (3, 1)]).verify(&chain, &small_set).unwrap_err();
    assert!(matches!(error, CertificateError::UnknownValidator { index: 3, validators: 2, .. }), "{error}");
}
