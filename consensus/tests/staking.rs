//! Property tests of staking over random blocks of operations and evidence: stake is
//! conserved, sets follow the ledger two heights later within their size limit, and
//! operations alone never make a validator dominant.

use std::num::NonZeroU64;

use proptest::prelude::*;
use vouch_consensus::staking::{
    BlockPosition, GenesisValidator, Staking, StakingOperation, StakingParams, active_validators, dominant,
};
use vouch_consensus::{Equivocation, Vote, VoteKind};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::keys::{PublicKey, SigningKey};
use vouch_protocol::signing::ChainId;

const KEYS: u8 = 8;

fn chain() -> ChainId {
    ChainId::new("staking-properties").unwrap()
}

fn signer(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed + 1; 32])
}

fn key(seed: u8) -> PublicKey {
    signer(seed).public_key()
}

fn params() -> StakingParams {
    StakingParams {
        stake_per_power: NonZeroU64::new(10).unwrap(),
        min_self_bond: 50,
        validators_max: 5,
        candidates_max: 7,
        unbonding_entries_max: 3,
        unbonding_heights: 4,
        unbonding_time_ms: 4,
        dominant_power_allowed: false,
        evidence_max_age_heights: 3,
        evidence_max_age_ms: 3,
        evidence_per_block_max: 2,
        slash_fraction_bps: 2_500,
        jail_heights: 3,
        jail_time_ms: 3,
    }
}

#[derive(Clone, Debug)]
enum Step {
    Operation {
        kind: u8,
        seed: u8,
        amount: u64,
    },
    /// A double vote by the validator at this position of the set, this many heights back.
    Offence {
        position: u8,
        back: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..4u8, 0..KEYS, 0..400u64).prop_map(|(kind, seed, amount)| Step::Operation { kind, seed, amount }),
        1 => (0..5u8, 1..5u8).prop_map(|(position, back)| Step::Offence { position, back }),
    ]
}

fn operation(kind: u8, seed: u8, amount: u64) -> StakingOperation {
    let public_key = key(seed);
    match kind {
        0 => StakingOperation::CreateValidator { public_key, self_bond: amount },
        1 => StakingOperation::Bond { public_key, amount },
        2 => StakingOperation::Unbond { public_key, amount },
        _ => StakingOperation::Unjail { public_key },
    }
}

fn offence(staking: &Staking, position: u8, back: u8) -> Option<Equivocation> {
    let height = Height(staking.last_block().height.0.checked_sub(u64::from(back))?);
    let members = staking.members_at(height)?;
    let index = u32::from(position) % members.len() as u32;
    let validator = members.get(index as usize)?;
    let seed = (0..KEYS).find(|seed| key(*seed) == validator.public_key)?;
    let vote = |block_hash| {
        Vote { kind: VoteKind::Precommit, height, round: 0, block_hash, time_unix_ms: 0, validator_index: index }
            .sign(&signer(seed), &chain())
    };
    Some(Equivocation { first: vote(Some(BlockHash([1; 32]))), second: vote(None) })
}

struct Run {
    staking: Staking,
    deposited: u128,
    released: u128,
    slashed: u128,
    offences: usize,
    sets: Vec<Vec<(PublicKey, u64, i64)>>,
}

fn run(steps: &[Vec<Step>]) -> Run {
    let genesis: Vec<GenesisValidator> =
        (0..4).map(|seed| GenesisValidator { public_key: key(seed), self_bond: 100 }).collect();
    let staking = Staking::genesis(params(), chain(), 0, &genesis).unwrap();
    let mut run = Run { staking, deposited: 400, released: 0, slashed: 0, offences: 0, sets: Vec::new() };

    for (index, block) in steps.iter().enumerate() {
        let at = BlockPosition { height: Height(index as u64 + 1), time_unix_ms: index as u64 + 1 };
        let mut operations = Vec::new();
        let mut evidence = Vec::new();
        for step in block {
            match step {
                Step::Operation { kind, seed, amount } => operations.push(operation(*kind, *seed, *amount)),
                Step::Offence { position, back } => {
                    let piece = offence(&run.staking, *position, *back);
                    let fresh = |piece: &Equivocation| {
                        run.staking.check_evidence(piece, at).is_ok()
                            && !evidence.iter().any(|other: &Equivocation| other.first.vote == piece.first.vote)
                    };
                    if let Some(piece) = piece.filter(fresh) {
                        evidence.push(piece);
                    }
                }
            }
        }
        evidence.truncate(run.staking.params().evidence_per_block_max);
        let outcome = run.staking.apply_block(at, &evidence, &operations).unwrap();

        for (operation, result) in operations.iter().zip(&outcome.operations) {
            match (operation, result) {
                (StakingOperation::CreateValidator { self_bond: amount, .. }, Ok(()))
                | (StakingOperation::Bond { amount, .. }, Ok(())) => run.deposited += u128::from(*amount),
                _ => {}
            }
        }
        run.released += outcome.released.iter().map(|(_, amount)| u128::from(*amount)).sum::<u128>();
        run.slashed += outcome.slashes.iter().map(|slash| u128::from(slash.bonded + slash.unbonding)).sum::<u128>();
        run.offences += outcome.slashes.len();

        let fixed = run.staking.validators_at(Height(at.height.0 + 2)).unwrap();
        run.sets.push(
            fixed
                .validators()
                .iter()
                .zip(fixed.priorities().as_slice())
                .map(|(validator, priority)| (validator.public_key, validator.voting_power.0, *priority))
                .collect(),
        );
    }
    run
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn staking_invariants_hold(steps in prop::collection::vec(prop::collection::vec(step(), 0..4), 1..40)) {
        let run = run(&steps);
        let ledger = run.staking.ledger();
        for record in ledger.records() {
            prop_assert!(record.is_balanced(), "record of {} is not balanced", record.public_key);
        }
        let held: u128 = ledger.records().map(|record| u128::from(record.bonded) + u128::from(record.unbonding_total())).sum();
        prop_assert_eq!(run.deposited, held + run.released + run.slashed, "stake was created or lost");

        let last = run.staking.last_block().height;
        let fixed = run.staking.validators_at(Height(last.0 + 2)).unwrap();
        let active = active_validators(ledger, run.staking.params());
        if !active.is_empty() {
            prop_assert_eq!(fixed.validators(), &active[..], "the newest set is not the ledger's top validators");
        }
        for set in &run.sets {
            prop_assert!(set.len() <= run.staking.params().validators_max);
            for pair in set.windows(2) {
                let ordered = pair[0].1 > pair[1].1 || (pair[0].1 == pair[1].1 && pair[0].0.as_bytes() < pair[1].0.as_bytes());
                prop_assert!(ordered, "set out of order: {:?}", pair);
            }
        }
        if run.offences == 0 {
            for set in &run.sets {
                let validators: Vec<vouch_consensus::Validator> = set
                    .iter()
                    .map(|(public_key, power, _)| vouch_consensus::Validator {
                        public_key: *public_key,
                        voting_power: vouch_consensus::VotingPower(*power),
                    })
                    .collect();
                prop_assert!(dominant(&validators).is_none(), "operations made a validator dominant: {:?}", set);
            }
        }
    }

    #[test]
    fn staking_is_deterministic(steps in prop::collection::vec(prop::collection::vec(step(), 0..4), 1..20)) {
        let first = run(&steps);
        let second = run(&steps);
        prop_assert_eq!(first.sets, second.sets);
        prop_assert_eq!(first.staking.ledger(), second.staking.ledger());
    }
}

#[test]
fn offences_reach_the_ledger() {
    let steps: Vec<Vec<Step>> = (0..12)
        .map(|height| {
            vec![Step::Offence { position: height as u8, back: 1 }, Step::Operation { kind: 3, seed: 0, amount: 0 }]
        })
        .collect();
    let run = run(&steps);
    assert!(run.offences >= 2, "only {} offences were committed", run.offences);
    assert!(run.slashed > 0);
    assert!(run.staking.ledger().records().any(|record| record.last_slashed.is_some()));
}
