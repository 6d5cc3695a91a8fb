//! Table tests of the staking state machine: each row is one block's input and the
//! outcome it must have.

use std::num::NonZeroU64;

use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::keys::{PublicKey, SigningKey};
use vouch_protocol::signing::ChainId;

use super::*;
use crate::evidence::EvidenceError;
use crate::messages::{Vote, VoteKind};
use crate::votes::Equivocation;

const GENESIS_MS: u64 = 1_000;
const BLOCK_MS: u64 = 10;

fn chain() -> ChainId {
    ChainId::new("staking-test").unwrap()
}

fn signer(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

fn key(seed: u8) -> PublicKey {
    signer(seed).public_key()
}

fn hex(seed: u8) -> String {
    key(seed).to_hex()
}

/// Small limits so that every edge is a few blocks away.
fn params() -> StakingParams {
    StakingParams {
        stake_per_power: NonZeroU64::new(1).unwrap(),
        min_self_bond: 10,
        validators_max: 4,
        candidates_max: 6,
        unbonding_entries_max: 2,
        unbonding_heights: 5,
        unbonding_time_ms: 50,
        dominant_power_allowed: false,
        evidence_max_age_heights: 3,
        evidence_max_age_ms: 30,
        evidence_per_block_max: 2,
        slash_fraction_bps: 1_000,
        jail_heights: 4,
        jail_time_ms: 40,
    }
}

fn genesis_of(params: StakingParams, stakes: &[(u8, u64)]) -> Result<Staking, GenesisError> {
    let validators: Vec<GenesisValidator> = stakes
        .iter()
        .map(|(seed, self_bond)| GenesisValidator { public_key: key(*seed), self_bond: *self_bond })
        .collect();
    Staking::genesis(params, chain(), GENESIS_MS, &validators)
}

/// Four validators of 100 each.
fn four() -> Staking {
    genesis_of(params(), &[(1, 100), (2, 100), (3, 100), (4, 100)]).unwrap()
}

fn position(height: u64) -> BlockPosition {
    BlockPosition { height: Height(height), time_unix_ms: GENESIS_MS + BLOCK_MS * height }
}

/// Applies the next block, at the regular block time.
fn block(staking: &mut Staking, evidence: &[Equivocation], operations: &[StakingOperation]) -> BlockOutcome {
    let at = position(staking.last_block().height.0 + 1);
    staking.apply_block(at, evidence, operations).unwrap()
}

fn empty_blocks(staking: &mut Staking, count: u64) {
    for _ in 0..count {
        block(staking, &[], &[]);
    }
}

/// Two conflicting prevotes of validator `seed` at `height` and `round`.
fn double_vote(staking: &Staking, seed: u8, height: u64, round: u32) -> Equivocation {
    let members = staking.members_at(Height(height)).unwrap();
    let position = members.iter().position(|member| member.public_key == key(seed)).unwrap();
    let validator_index = u32::try_from(position).unwrap();
    let vote = |value: Option<u8>| {
        let vote = Vote {
            kind: VoteKind::Prevote,
            height: Height(height),
            round,
            block_hash: value.map(|byte| BlockHash([byte; 32])),
            time_unix_ms: GENESIS_MS + BLOCK_MS * height + 1,
            validator_index,
        };
        vote.sign(&signer(seed), &chain())
    };
    Equivocation { first: vote(Some(7)), second: vote(None) }
}

fn members(staking: &Staking, height: u64) -> Vec<PublicKey> {
    let set = staking.validators_at(Height(height)).unwrap();
    set.validators().iter().map(|validator| validator.public_key).collect()
}

fn create(seed: u8, self_bond: u64) -> StakingOperation {
    StakingOperation::CreateValidator { public_key: key(seed), self_bond }
}

fn bond(seed: u8, amount: u64) -> StakingOperation {
    StakingOperation::Bond { public_key: key(seed), amount }
}

fn unbond(seed: u8, amount: u64) -> StakingOperation {
    StakingOperation::Unbond { public_key: key(seed), amount }
}

fn unjail(seed: u8) -> StakingOperation {
    StakingOperation::Unjail { public_key: key(seed) }
}

#[test]
fn operations_table() {
    let dominant = |power, total| StakingError::DominantValidator { public_key: hex(1), power, total };
    let rows: Vec<(StakingOperation, Result<(), StakingError>)> = vec![
        (create(5, 9), Err(StakingError::SelfBondTooSmall { self_bond: 9, min: 10 })),
        (create(5, 10), Ok(())),
        (create(1, 50), Err(StakingError::ValidatorExists { public_key: hex(1) })),
        (bond(6, 5), Err(StakingError::ValidatorNotFound { public_key: hex(6) })),
        (bond(5, 0), Err(StakingError::ZeroAmount { operation: "bond" })),
        // 150 of 450 is exactly 1/3: rejected.
        (bond(1, 50), Err(dominant(150, 450))),
        (bond(1, 49), Ok(())),
        (unbond(2, 0), Err(StakingError::ZeroAmount { operation: "unbond" })),
        (unbond(2, 101), Err(StakingError::UnbondMoreThanBonded { public_key: hex(2), amount: 101, bonded: 100 })),
        (
            unbond(2, 95),
            Err(StakingError::UnbondBelowMinimum {
                public_key: hex(2),
                amount: 95,
                bonded: 100,
                remaining: 5,
                min: 10,
                most: 90,
            }),
        ),
        // Validator 2 at 10 would leave validator 1 with 149 of 359.
        (unbond(2, 90), Err(dominant(149, 359))),
        (unbond(1, 49), Ok(())),
        (unbond(1, 1), Ok(())),
        (
            unbond(1, 1),
            Err(StakingError::TooManyUnbondingEntries { public_key: hex(1), count: 2, matures_height: Height(17) }),
        ),
        (create(6, 10), Ok(())),
        (create(7, 10), Err(StakingError::TooManyCandidates { count: 6 })),
        (unjail(1), Err(StakingError::NotJailed { public_key: hex(1) })),
        (bond(5, u64::MAX), Err(StakingError::StakeOverflow { public_key: hex(5), bonded: 10, amount: u64::MAX })),
    ];

    let mut staking = four();
    for (row, (operation, expected)) in rows.into_iter().enumerate() {
        let before = staking.ledger().clone();
        let outcome = block(&mut staking, &[], &[operation]);
        assert_eq!(outcome.operations, vec![expected.clone()], "row {row}: {}", operation.name());
        if expected.is_err() && outcome.released.is_empty() {
            assert_eq!(staking.ledger(), &before, "row {row}: a rejected operation changed the ledger");
        }
    }
    assert_eq!(staking.ledger().get(&key(1)).unwrap().bonded, 99);
    let record = staking.ledger().get(&key(1)).unwrap();
    assert_eq!(record.unbonding_total() + record.released, 50);
    assert!(staking.ledger().records().all(ValidatorStake::is_balanced));
}

#[test]
fn set_size_keeps_top_validators() {
    let mut staking = four();
    let outcome = block(&mut staking, &[], &[create(5, 101)]);
    let change = outcome.set_change.expect("a validator of power 101 enters the top 4");
    assert_eq!(change.height, Height(3));
    assert_eq!(change.joined, vec![key(5)]);
    // Of the four at 100, the one with the highest key bytes leaves.
    let highest = (1..=4).max_by_key(|seed| *key(*seed).as_bytes()).unwrap();
    assert_eq!(change.left, vec![key(highest)]);
    assert_eq!(members(&staking, 3).len(), 4);
    assert_eq!(members(&staking, 3)[0], key(5));
}

#[test]
fn set_change_takes_effect_two_heights_later() {
    let mut staking = four();
    block(&mut staking, &[], &[create(5, 40)]);
    assert_eq!(members(&staking, 2).len(), 4, "height 2 was fixed at the genesis");
    assert!(!members(&staking, 2).contains(&key(5)));
    assert_eq!(members(&staking, 3).len(), 4, "validators_max is 4, and 40 is the lowest power");
    block(&mut staking, &[], &[bond(5, 70)]);
    assert!(!members(&staking, 3).contains(&key(5)));
    assert!(members(&staking, 4).contains(&key(5)));
    assert_eq!(staking.validators_at(Height(5)), None, "height 5 is fixed at the end of block 3");
}

#[test]
fn joining_validator_starts_below_the_set() {
    let rejected = genesis_of(params(), &[(1, 100), (2, 100), (3, 100)]);
    assert!(rejected.is_err(), "three equal validators hold exactly 1/3 each");

    let allowed = StakingParams { dominant_power_allowed: true, ..params() };
    let mut staking = genesis_of(allowed, &[(1, 100), (2, 100), (3, 100)]).unwrap();
    block(&mut staking, &[], &[create(4, 100)]);
    let set = staking.validators_at(Height(3)).unwrap();
    let index = set.index_of(&key(4)).unwrap() as usize;
    assert_eq!(set.priorities().as_slice()[index], joining_priority(set.total_power()));
    assert_eq!(set.priorities().as_slice()[index], -450);
}

#[test]
fn unbonding_releases_after_both_periods() {
    let mut staking = four();
    block(&mut staking, &[], &[unbond(1, 50)]);
    // The entry started at height 1, time 1010, so it matures at height 6, time 1060.
    for height in 2..6 {
        let outcome = block(&mut staking, &[], &[]);
        assert_eq!(outcome.released, vec![], "height {height}");
    }
    let outcome = block(&mut staking, &[], &[]);
    assert_eq!(outcome.released, vec![(key(1), 50)]);
    let record = staking.ledger().get(&key(1)).unwrap();
    assert_eq!((record.bonded, record.released, record.unbonding.len()), (50, 50, 0));
}

#[test]
fn unbonding_waits_for_time_after_heights() {
    let mut staking = four();
    let at = |height: u64, time: u64| BlockPosition { height: Height(height), time_unix_ms: time };
    staking.apply_block(at(1, 1_001), &[], &[unbond(1, 50)]).unwrap();
    for height in 2..=6 {
        let outcome = staking.apply_block(at(height, 1_000 + height), &[], &[]).unwrap();
        assert_eq!(outcome.released, vec![], "height {height} is past the heights but not the time");
    }
    let outcome = staking.apply_block(at(7, 1_051), &[], &[]).unwrap();
    assert_eq!(outcome.released, vec![(key(1), 50)]);
}

#[test]
fn full_unbond_leaves_set_and_frees_key() {
    let mut staking = genesis_of(params(), &[(1, 100), (2, 100), (3, 100), (4, 100), (5, 100)]).unwrap();
    // With validators_max 4 one of the five waits outside the set until another leaves.
    let inside = members(&staking, 1)[0];
    let outside = (1..=5).map(key).find(|key| !members(&staking, 1).contains(key)).unwrap();
    let seed = (1..=5).find(|seed| key(*seed) == inside).unwrap();
    let outcome = block(&mut staking, &[], &[unbond(seed, 100)]);
    assert_eq!(outcome.operations, vec![Ok(())]);
    let change = outcome.set_change.unwrap();
    assert_eq!((change.joined, change.left), (vec![outside], vec![inside]));
    empty_blocks(&mut staking, 5);
    assert_eq!(staking.ledger().get(&inside), None, "the released, never slashed record is dropped");
    let outcome = block(&mut staking, &[], &[create(seed, 20)]);
    assert_eq!(outcome.operations, vec![Ok(())]);
}

#[test]
fn evidence_slashes_and_jails() {
    let mut staking = four();
    block(&mut staking, &[], &[]);
    let evidence = double_vote(&staking, 2, 1, 0);
    let outcome = block(&mut staking, &[evidence], &[]);

    let slash = outcome.slashes[0];
    assert_eq!(slash.public_key, key(2));
    assert_eq!((slash.bonded, slash.unbonding), (10, 0));
    assert_eq!(slash.jailed_until, Some(position(2).after(4, 40)));
    assert!(members(&staking, 3).contains(&key(2)), "the set of height 3 was fixed before");
    assert!(!members(&staking, 4).contains(&key(2)), "jailed at block 2, out at height 4");
    assert_eq!(outcome.set_change.unwrap().left, vec![key(2)]);
    let record = staking.ledger().get(&key(2)).unwrap();
    assert_eq!((record.bonded, record.slashed, record.last_slashed), (90, 10, Some(Height(2))));
}

#[test]
fn evidence_rejections_table() {
    let mut staking = four();
    empty_blocks(&mut staking, 2);
    let first = double_vote(&staking, 2, 1, 0);
    block(&mut staking, &[first], &[]);
    empty_blocks(&mut staking, 0);

    let other_round = double_vote(&staking, 3, 1, 1);
    let same_height = double_vote(&staking, 3, 4, 0);
    type Check = fn(&BlockError) -> bool;
    let rows: Vec<(&str, Vec<Equivocation>, Check)> = vec![
        ("committed before", vec![first], |error| {
            matches!(error, BlockError::Evidence { source: EvidenceError::Duplicate { committed: Height(3), .. }, .. })
        }),
        ("twice in one block", vec![other_round, other_round], |error| {
            matches!(error, BlockError::Evidence { index: 1, source: EvidenceError::DuplicateInBlock { .. } })
        }),
        (
            "over the count",
            vec![other_round, double_vote(&staking, 4, 1, 0), double_vote(&staking, 1, 1, 0)],
            |error| matches!(error, BlockError::TooMuchEvidence { count: 3, max: 2 }),
        ),
        ("of the block's height", vec![same_height], |error| {
            matches!(error, BlockError::Evidence { source: EvidenceError::NotCommittedYet { .. }, .. })
        }),
    ];
    for (name, evidence, expected) in rows {
        let error = staking.check_block(position(4), &evidence, &[]).unwrap_err();
        assert!(expected(&error), "{name}: unexpected error {error}");
    }
    assert!(staking.check_block(position(4), &[other_round], &[]).is_ok());
}

#[test]
fn evidence_expires_after_both_ages() {
    let mut staking = four();
    block(&mut staking, &[], &[]);
    let old = double_vote(&staking, 3, 1, 0);
    empty_blocks(&mut staking, 2);
    // Block 4 is 3 heights and 30 ms after height 1: at both limits, still accepted.
    assert!(staking.check_block(position(4), &[old], &[]).is_ok());
    block(&mut staking, &[], &[]);
    let error = staking.check_block(position(5), &[old], &[]).unwrap_err();
    assert!(
        matches!(error, BlockError::Evidence { source: EvidenceError::Expired { age_heights: 4, age_ms: 40, .. }, .. }),
        "{error}"
    );

    // Past the heights but within the time: still accepted.
    let mut slow = four();
    let at = |height: u64, time: u64| BlockPosition { height: Height(height), time_unix_ms: time };
    slow.apply_block(at(1, 1_001), &[], &[]).unwrap();
    let old = double_vote(&slow, 3, 1, 0);
    for height in 2..=9 {
        slow.apply_block(at(height, 1_000 + height), &[], &[]).unwrap();
    }
    assert!(slow.check_block(at(10, 1_010), &[old], &[]).is_ok());
}

#[test]
fn later_offence_covered_by_one_slash() {
    let mut staking = four();
    empty_blocks(&mut staking, 2);
    let first = double_vote(&staking, 2, 2, 0);
    block(&mut staking, &[first], &[]);
    let second = double_vote(&staking, 2, 3, 1);
    let outcome = block(&mut staking, &[second], &[]);
    assert_eq!(outcome.slashes[0].jailed_until, None);
    assert_eq!(outcome.slashes[0].bonded, 0);
    assert_eq!(staking.ledger().get(&key(2)).unwrap().bonded, 90);
}

#[test]
fn slash_reaches_unbonding_stake() {
    let mut staking = four();
    block(&mut staking, &[], &[]);
    let offence = double_vote(&staking, 3, 1, 0);
    block(&mut staking, &[], &[unbond(3, 50)]);
    let outcome = block(&mut staking, &[offence], &[]);
    assert_eq!((outcome.slashes[0].bonded, outcome.slashes[0].unbonding), (5, 5));
    let record = staking.ledger().get(&key(3)).unwrap();
    assert_eq!((record.bonded, record.unbonding_total()), (45, 45));
    assert!(record.is_balanced());
}

#[test]
fn unjail_after_jail_period() {
    let mut staking = four();
    block(&mut staking, &[], &[]);
    let offence = double_vote(&staking, 2, 1, 0);
    block(&mut staking, &[offence], &[]);
    let until = position(2).after(4, 40);

    let outcome = block(&mut staking, &[], &[unjail(2)]);
    assert_eq!(outcome.operations, vec![Err(StakingError::StillJailed { public_key: hex(2), until })]);
    empty_blocks(&mut staking, 2);
    let outcome = block(&mut staking, &[], &[unjail(2)]);
    assert_eq!(outcome.operations, vec![Ok(())], "height 6 reaches the jail's end");
    assert!(!members(&staking, 7).contains(&key(2)));
    assert!(members(&staking, 8).contains(&key(2)));
    let set = staking.validators_at(Height(8)).unwrap();
    let index = set.index_of(&key(2)).unwrap() as usize;
    assert_eq!(set.priorities().as_slice()[index], joining_priority(set.total_power()));
}

#[test]
fn unjail_needs_minimum_bond() {
    let slashing = StakingParams { slash_fraction_bps: 9_500, ..params() };
    let mut staking = genesis_of(slashing, &[(1, 100), (2, 100), (3, 100), (4, 100)]).unwrap();
    block(&mut staking, &[], &[]);
    let offence = double_vote(&staking, 2, 1, 0);
    block(&mut staking, &[offence], &[]);
    empty_blocks(&mut staking, 3);
    let outcome = block(&mut staking, &[], &[unjail(2)]);
    assert_eq!(
        outcome.operations,
        vec![Err(StakingError::UnjailBelowMinimum { public_key: hex(2), bonded: 5, min: 10 })]
    );
    let outcome = block(&mut staking, &[], &[bond(2, 5), unjail(2)]);
    assert_eq!(outcome.operations, vec![Ok(()), Ok(())]);
}

#[test]
fn jailing_may_leave_a_dominant_set() {
    let mut staking = four();
    block(&mut staking, &[], &[]);
    let offence = double_vote(&staking, 4, 1, 0);
    block(&mut staking, &[offence], &[]);
    let set = staking.validators_at(Height(4)).unwrap();
    assert_eq!(set.len(), 3);
    assert!(dominant(set.validators()).is_some(), "three equal validators hold 1/3 each");
    // Operations that grow the largest share stay rejected, and those that shrink it pass.
    let outcome = block(&mut staking, &[], &[bond(1, 1), create(5, 50)]);
    assert!(matches!(outcome.operations[0], Err(StakingError::DominantValidator { .. })));
    assert_eq!(outcome.operations[1], Ok(()));
}

#[test]
fn last_validator_is_never_jailed_out() {
    let alone = StakingParams { dominant_power_allowed: true, ..params() };
    let mut staking = genesis_of(alone, &[(1, 100)]).unwrap();
    block(&mut staking, &[], &[]);
    let offence = double_vote(&staking, 1, 1, 0);
    let outcome = block(&mut staking, &[offence], &[]);
    assert_eq!(outcome.slashes[0].bonded, 10);
    assert_eq!(outcome.set_change, None);
    assert_eq!(members(&staking, 4), vec![key(1)], "an empty set would halt the chain");
    let outcome = block(&mut staking, &[], &[unbond(1, 90)]);
    assert_eq!(outcome.operations, vec![Err(StakingError::EmptySet)]);
}

#[test]
fn genesis_rules_table() {
    let allowed = StakingParams { dominant_power_allowed: true, ..params() };
    let lowest = (1..=3).min_by_key(|seed| *key(*seed).as_bytes()).unwrap();
    let dominant_error = GenesisError::DominantValidator { public_key: hex(lowest), power: 100, total: 300 };
    type Row = (&'static str, StakingParams, Vec<(u8, u64)>, Result<usize, GenesisError>);
    let rows: Vec<Row> = vec![
        ("four equal", params(), vec![(1, 100), (2, 100), (3, 100), (4, 100)], Ok(4)),
        ("one third", params(), vec![(1, 100), (2, 100), (3, 100)], Err(dominant_error)),
        ("one third allowed", allowed.clone(), vec![(1, 100), (2, 100), (3, 100)], Ok(3)),
        ("single allowed", allowed, vec![(1, 100)], Ok(1)),
        (
            "below minimum",
            params(),
            vec![(1, 100), (2, 9)],
            Err(GenesisError::Validator { index: 1, source: StakingError::SelfBondTooSmall { self_bond: 9, min: 10 } }),
        ),
        (
            "duplicate",
            params(),
            vec![(1, 100), (1, 100)],
            Err(GenesisError::Validator { index: 1, source: StakingError::ValidatorExists { public_key: hex(1) } }),
        ),
        (
            "too many",
            params(),
            (1..=7).map(|seed| (seed, 100)).collect(),
            Err(GenesisError::Validator { index: 6, source: StakingError::TooManyCandidates { count: 6 } }),
        ),
        ("top four of six", params(), (1..=6).map(|seed| (seed, 100)).collect(), Ok(4)),
        ("empty", params(), vec![], Err(GenesisError::Set(crate::ValidatorSetError::Empty))),
        (
            "bad params",
            StakingParams { jail_heights: 0, ..params() },
            vec![(1, 100)],
            Err(GenesisError::Params(StakingParamsError::JailHeights)),
        ),
    ];
    for (name, params, stakes, expected) in rows {
        let result = genesis_of(params, &stakes).map(|staking| staking.validators_at(Height(1)).unwrap().len());
        assert_eq!(result, expected, "{name}");
    }
}

#[test]
fn old_heights_are_pruned() {
    let mut staking = four();
    empty_blocks(&mut staking, 10);
    // Whole sets are kept from the last block to two heights after it.
    assert_eq!(staking.validators_at(Height(9)), None);
    assert!(staking.validators_at(Height(10)).is_some());
    assert!(staking.validators_at(Height(12)).is_some());
    assert_eq!(staking.validators_at(Height(13)), None);
    // Evidence age is 3 heights and 30 ms, so members stay known back to height 7.
    let block_11 = position(11);
    let old = double_vote(&four_after(6), 1, 6, 0);
    let error = staking.check_evidence(&old, block_11).unwrap_err();
    assert!(matches!(error, EvidenceError::UnknownHeight { oldest: Height(7), .. }), "{error}");
    assert_eq!(staking.members_at(Height(7)).map(<[_]>::len), Some(4));
    assert_eq!(staking.members_at(Height(13)), None);
}

#[test]
fn members_follow_set_changes() {
    let mut staking = four();
    block(&mut staking, &[], &[create(5, 101)]);
    empty_blocks(&mut staking, 9);
    // The set changed at height 3, which is older than the evidence age now; the
    // members of heights 7 on are those of that change.
    let members = staking.members_at(Height(8)).unwrap();
    assert_eq!(members.len(), 4);
    assert_eq!(members[0].public_key, key(5));
    assert_eq!(members, staking.validators_at(Height(11)).unwrap().validators());
    let offence = double_vote(&staking, 5, 8, 0);
    assert!(staking.check_evidence(&offence, position(11)).is_ok());
}

/// Builds the four-validator chain and applies `blocks` empty blocks.
fn four_after(blocks: u64) -> Staking {
    let mut staking = four();
    empty_blocks(&mut staking, blocks);
    staking
}

#[test]
fn operation_count_limit() {
    let staking = four();
    let at = position(1);
    let at_limit = vec![bond(1, 1); OPERATIONS_PER_BLOCK_MAX];
    assert!(staking.check_block(at, &[], &at_limit).is_ok());
    let mut over = at_limit;
    over.push(bond(1, 1));
    let error = staking.check_block(at, &[], &over).unwrap_err();
    assert!(
        matches!(error, BlockError::TooManyOperations { count, max: OPERATIONS_PER_BLOCK_MAX } if count == OPERATIONS_PER_BLOCK_MAX + 1),
        "{error}"
    );
}

#[test]
fn total_power_limit_rejects_bond() {
    let allowed = StakingParams { dominant_power_allowed: true, ..params() };
    let mut staking = genesis_of(allowed, &[(1, 100), (2, 100)]).unwrap();
    let max = crate::validators::TOTAL_VOTING_POWER_MAX;
    let outcome = block(&mut staking, &[], &[bond(1, max - 200), bond(2, 1)]);
    assert_eq!(outcome.operations[0], Ok(()), "exactly the maximum total power");
    let total = u128::from(max) + 1;
    let expected = StakingError::Set(crate::ValidatorSetError::TotalPowerTooLarge { total, max });
    assert_eq!(outcome.operations[1], Err(expected));
    assert_eq!(staking.validators_at(Height(3)).unwrap().total_power().0, max);
}

#[test]
fn wrong_height_or_time_is_rejected() {
    let mut staking = four();
    let error = staking.apply_block(position(2), &[], &[]).unwrap_err();
    assert!(matches!(error, BlockError::WrongHeight { expected: Height(1), found: Height(2) }), "{error}");
    let early = BlockPosition { height: Height(1), time_unix_ms: GENESIS_MS - 1 };
    let error = staking.apply_block(early, &[], &[]).unwrap_err();
    assert!(matches!(error, BlockError::TimeDecreasing { previous: GENESIS_MS, .. }), "{error}");
    let genesis_time = BlockPosition { height: Height(1), time_unix_ms: GENESIS_MS };
    assert!(staking.apply_block(genesis_time, &[], &[]).is_ok(), "height 1 has the genesis time");
}
