//! Seeded runs of the simulator: 504 seeds across the six fault mixes, the same seed
//! giving the same run, and adversaries with 1/3 of the power, which the checks must
//! catch. `VOUCH_SIM_SEEDS_PER_MIX` changes the number of seeds per mix.

use std::time::Duration;

use vouch_sim::{
    Adversary, Failure, FaultMix, Latency, RunReport, SimConfig, Stakes, VALIDATORS_MIN, replay_command, run,
};

/// Seeds per fault mix unless `VOUCH_SIM_SEEDS_PER_MIX` is set: 6 mixes make 504.
const SEEDS_PER_MIX: u64 = 84;

fn seeds_per_mix() -> u64 {
    match std::env::var("VOUCH_SIM_SEEDS_PER_MIX") {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("VOUCH_SIM_SEEDS_PER_MIX={text:?} is not a number")),
        Err(_) => SEEDS_PER_MIX,
    }
}

/// Runs the seeds of one mix, with 4 to 10 validators in turn, and fails with the
/// replay command of every failing seed.
fn run_mix(mix: &str, first_seed: u64) {
    let faults: FaultMix = mix.parse().unwrap();
    let mut failed = Vec::new();
    for seed in first_seed..first_seed + seeds_per_mix() {
        let config = SimConfig { validators: VALIDATORS_MIN + (seed % 7) as usize, faults, ..SimConfig::default() };
        let report = run(&config, seed).unwrap();
        if !report.passed() {
            let command = replay_command(&config, seed).expect("the mixes use replayable settings");
            failed.push(format!("seed {seed}: {}\n  replay: {command}", report.failures[0]));
        }
    }
    assert!(failed.is_empty(), "{} seeds of mix {mix} failed:\n{}", failed.len(), failed.join("\n"));
}

#[test]
fn seeds_without_faults_pass() {
    run_mix("none", 0);
}

#[test]
fn seeds_with_drops_pass() {
    run_mix("drops", 10_000);
}

#[test]
fn seeds_with_partitions_pass() {
    run_mix("partitions", 20_000);
}

#[test]
fn seeds_with_crashes_pass() {
    run_mix("crashes", 30_000);
}

#[test]
fn seeds_with_byzantine_pass() {
    run_mix("byzantine", 40_000);
}

#[test]
fn seeds_with_all_faults_pass() {
    run_mix("all", 50_000);
}

fn all_faults(validators: usize) -> SimConfig {
    SimConfig { validators, faults: FaultMix::all(), ..SimConfig::default() }
}

#[test]
fn same_seed_gives_same_run() {
    let config = all_faults(7);
    let first = run(&config, 13).unwrap();
    let second = run(&config, 13).unwrap();
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(first.committed, second.committed);
    assert_eq!(first.state_hash(), second.state_hash());
    assert_eq!(first.events, second.events);
    assert!(first.passed(), "{:?}", first.failures);
    assert!(first.crashes > 0, "the run injected no crash");
    assert!(first.power_cuts > 0, "no crash happened in the middle of an input");
    assert!(first.partitions > 0, "the run injected no partition");

    let other = run(&config, 14).unwrap();
    assert_ne!(other.trace_hash, first.trace_hash);
}

fn split_brain(count: usize, seed: u64) -> RunReport {
    let config = SimConfig {
        validators: 4,
        stakes: Stakes::Equal,
        faults: "byzantine".parse().unwrap(),
        adversary: Adversary::SplitBrain { count },
        ..SimConfig::default()
    };
    run(&config, seed).unwrap()
}

#[test]
fn split_brain_with_third_breaks_agreement() {
    // Two of four equal validators have 1/2 of the power, so each honest validator gets
    // a quorum for its own value and the checker must report a broken agreement.
    for seed in 0..4 {
        let report = split_brain(2, seed);
        let agreement = report.failures.iter().any(|failure| matches!(failure, Failure::Agreement { .. }));
        assert!(agreement, "seed {seed}: no agreement failure in {:?}", report.failures);
    }
}

#[test]
fn split_brain_minority_keeps_agreement() {
    for seed in 0..4 {
        let report = split_brain(1, seed);
        assert!(report.passed(), "seed {seed}: {:?}", report.failures);
        assert!(report.misbehaviour.equivocations > 0, "seed {seed}: the adversary never equivocated");
    }
}

#[test]
fn offline_validator_costs_one_round() {
    // The other validators must all vote in every round, so a proposal that reaches one
    // before it has committed the height before must wait for it rather than be dropped.
    let config = SimConfig { validators: 4, heights: 60, stakes: Stakes::Equal, offline: 1, ..SimConfig::default() };
    let report = run(&config, 1).unwrap();
    assert!(report.passed(), "{:?}", report.failures);
    assert!(report.rounds.len() >= 60);
    for rounds in &report.rounds {
        let expected = if rounds.first_proposer == 3 { 1 } else { 0 };
        assert_eq!(rounds.round, expected, "height {} proposed first by {}", rounds.height, rounds.first_proposer);
    }
}

#[test]
fn latency_is_three_message_delays() {
    let latency = Latency { base: Duration::from_millis(100), jitter: Duration::ZERO };
    let config = SimConfig { validators: 4, heights: 10, stakes: Stakes::Equal, latency, ..SimConfig::default() };
    let report = run(&config, 9).unwrap();
    assert!(report.passed(), "{:?}", report.failures);
    let slowest = report.commit_latencies_ms.iter().max().copied();
    assert_eq!(slowest, Some(300));
}

#[test]
fn crash_before_guard_write_replays_again() {
    // This seed cuts a validator's power between a signature record's log sync and its
    // guard write. Its recovery once appended that signature to the log a second time,
    // so its next restart failed to replay.
    let config = SimConfig { validators: 4, faults: "crashes".parse().unwrap(), ..SimConfig::default() };
    let report = run(&config, 4_700_034).unwrap();
    assert!(report.passed(), "{:?}", report.failures);
    assert!(report.power_cuts > 0, "the seed no longer cuts the power in the middle of an input");
}

#[test]
fn byzantine_double_voters_are_jailed() {
    // The checks fail a run whose jailed validator stays in the set, whose honest
    // validator is slashed, or whose detected offence is not committed in time. This
    // test adds that the Byzantine validators do get slashed.
    let mut slashes = 0;
    for seed in 0..6 {
        let config =
            SimConfig { validators: 4 + seed as usize, faults: "byzantine".parse().unwrap(), ..SimConfig::default() };
        let report = run(&config, seed).unwrap();
        assert!(report.passed(), "seed {seed}: {:?}", report.failures);
        slashes += report.stake.slashes;
    }
    assert!(slashes >= 3, "only {slashes} slashes in six runs with Byzantine validators");
}

#[test]
fn staking_operations_change_sets() {
    let faults = "crashes,partitions".parse().unwrap();
    let config = SimConfig { validators: 7, heights: 40, stakes: Stakes::Equal, faults, ..SimConfig::default() };
    let mut total = vouch_sim::StakeCounts::default();
    for seed in 0..3 {
        let report = run(&config, seed).unwrap();
        assert!(report.passed(), "seed {seed}: {:?}", report.failures);
        total.add(&report.stake);
    }
    assert!(total.operations_applied > 0, "{total:?}");
    assert!(total.operations_rejected > 0, "{total:?}");
    assert!(total.joined > 0, "no validator joined a set: {total:?}");
    assert!(total.left > 0, "no validator left a set: {total:?}");
}

#[test]
fn runs_without_staking_keep_genesis_set() {
    let config = SimConfig { validators: 4, standby: 0, staking_operations: false, ..SimConfig::default() };
    let report = run(&config, 3).unwrap();
    assert!(report.passed(), "{:?}", report.failures);
    assert_eq!(report.stake.set_changes, 0);
    assert_eq!(report.validators_last, 4);
}

#[test]
fn long_run_releases_unbonded_stake() {
    // Unbonding outlasts the simulated evidence age of 200 heights, so only a run this
    // long releases stake.
    let config = SimConfig { validators: 4, heights: 260, ..SimConfig::default() };
    let report = run(&config, 0).unwrap();
    assert!(report.passed(), "{:?}", report.failures);
    assert!(report.stake.released_stake > 0, "{:?}", report.stake);
}
