//! `vouch-testnet simulate`: runs seeds of the deterministic consensus simulator on
//! worker threads and prints a summary, or measures the consensus speed figures.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::signing::{self, ChainId, SignKind};
use vouch_sim::{FaultMix, Latency, RunReport, SimConfig, StakeCounts, Stakes, replay_command, run};

/// Failing seeds printed in full; the rest are counted.
const FAILURES_PRINTED_MAX: usize = 20;

/// Seeds one invocation may run.
const SEEDS_MAX: u64 = 10_000_000;

#[derive(Args)]
pub struct SimulateArgs {
    /// Validators in each run, 4 to 10 [default: the simulator's, 4].
    #[arg(long)]
    validators: Option<usize>,
    /// Number of seeds to run.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// The first seed; the run covers seeds from it upwards.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Faults to inject: a comma-separated list of none, drops, partitions, crashes,
    /// byzantine, all.
    #[arg(long, default_value = "none")]
    faults: FaultMix,
    /// Heights that every honest validator must commit in each run [default: the
    /// simulator's, 10].
    #[arg(long)]
    heights: Option<u64>,
    /// Give every validator voting power 1 instead of drawing powers from the seed.
    #[arg(long)]
    equal_stakes: bool,
    /// Honest validators that stay down for the whole run.
    #[arg(long, default_value_t = 0)]
    offline: usize,
    /// Honest nodes that run without stake until staking operations create them, 0 to 2
    /// [default: the simulator's, 1].
    #[arg(long)]
    standby: Option<usize>,
    /// Build blocks without random staking operations (evidence is still included).
    #[arg(long)]
    no_staking_operations: bool,
    /// Fixed part of each message's one-way delay, in milliseconds [default: 5].
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Random part of each message's one-way delay, up to this many milliseconds
    /// [default: 45].
    #[arg(long)]
    jitter_ms: Option<u64>,
    /// Worker threads [default: the available cores].
    #[arg(long)]
    jobs: Option<usize>,
    /// Measure the speed figures (zero latency, 100 ms latency, one validator of four
    /// down) instead of running seeds; build with --release for meaningful numbers.
    #[arg(long)]
    bench: bool,
}

/// Runs the subcommand.
pub fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    if args.bench {
        return bench();
    }
    let config = config(&args);
    config.validate().context("invalid simulation settings")?;
    if args.seeds == 0 || args.seeds > SEEDS_MAX {
        bail!("--seeds is {}; use 1 to {SEEDS_MAX}", args.seeds);
    }
    let last_seed = args.first_seed.checked_add(args.seeds - 1).context("--first-seed plus --seeds passes u64::MAX")?;
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)).max(1);

    let started = Instant::now();
    let summary = run_seeds(&config, args.first_seed..=last_seed, jobs);
    let wall = started.elapsed();
    print_summary(&config, &summary, wall, jobs);
    if !summary.failed.is_empty() {
        bail!("{} of {} seeds failed", summary.failed.len(), summary.runs);
    }
    Ok(())
}

fn config(args: &SimulateArgs) -> SimConfig {
    let defaults = SimConfig::default();
    let latency = Latency {
        base: args.latency_ms.map_or(defaults.latency.base, Duration::from_millis),
        jitter: args.jitter_ms.map_or(defaults.latency.jitter, Duration::from_millis),
    };
    SimConfig {
        validators: args.validators.unwrap_or(defaults.validators),
        heights: args.heights.unwrap_or(defaults.heights),
        faults: args.faults,
        stakes: if args.equal_stakes { Stakes::Equal } else { Stakes::Random },
        offline: args.offline,
        standby: args.standby.unwrap_or(defaults.standby),
        staking_operations: !args.no_staking_operations,
        latency,
        ..defaults
    }
}

/// The merged outcome of many runs.
#[derive(Default)]
struct Summary {
    runs: u64,
    /// Failing seeds with their first failure.
    failed: Vec<(u64, String)>,
    heights: u64,
    events: u64,
    virtual_ms: u64,
    signature_checks: u64,
    crashes: u64,
    power_cuts: u64,
    partitions: u64,
    /// Byzantine messages withheld, equivocations and malformed messages.
    misbehaviour: [u64; 3],
    stake: StakeCounts,
    /// Runs whose last set has fewer validators than the genesis, or more.
    runs_set_shrank: u64,
    runs_set_grew: u64,
    /// Virtual commit latency in milliseconds, with its count.
    latencies: BTreeMap<u64, u64>,
}

impl Summary {
    fn add(&mut self, report: &RunReport) {
        self.runs += 1;
        if let Some(failure) = report.failures.first() {
            self.failed.push((report.seed, failure.to_string()));
        }
        self.heights += report.heights_committed;
        self.events += report.events;
        self.virtual_ms += report.virtual_ms;
        self.signature_checks += report.signature_checks;
        self.crashes += u64::from(report.crashes);
        self.power_cuts += u64::from(report.power_cuts);
        self.partitions += u64::from(report.partitions);
        let misbehaviour = report.misbehaviour;
        for (total, count) in self.misbehaviour.iter_mut().zip([
            misbehaviour.withheld,
            misbehaviour.equivocations,
            misbehaviour.malformed,
        ]) {
            *total += count;
        }
        for latency in &report.commit_latencies_ms {
            *self.latencies.entry(*latency).or_default() += 1;
        }
        self.stake.add(&report.stake);
    }

    fn merge(&mut self, other: Summary) {
        self.runs += other.runs;
        self.failed.extend(other.failed);
        self.heights += other.heights;
        self.events += other.events;
        self.virtual_ms += other.virtual_ms;
        self.signature_checks += other.signature_checks;
        self.crashes += other.crashes;
        self.power_cuts += other.power_cuts;
        self.partitions += other.partitions;
        for (total, count) in self.misbehaviour.iter_mut().zip(other.misbehaviour) {
            *total += count;
        }
        for (latency, count) in other.latencies {
            *self.latencies.entry(latency).or_default() += count;
        }
        self.stake.add(&other.stake);
        self.runs_set_shrank += other.runs_set_shrank;
        self.runs_set_grew += other.runs_set_grew;
    }
}

/// Runs the seeds on `jobs` threads that each take the next seed in turn.
fn run_seeds(config: &SimConfig, seeds: std::ops::RangeInclusive<u64>, jobs: usize) -> Summary {
    let next = AtomicU64::new(*seeds.start());
    let last = *seeds.end();
    let merged = Mutex::new(Summary::default());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let mut summary = Summary::default();
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed > last {
                        break;
                    }
                    let report = run(config, seed).expect("the settings were validated");
                    summary.add(&report);
                    summary.runs_set_shrank += u64::from(report.validators_last < config.validators);
                    summary.runs_set_grew += u64::from(report.validators_last > config.validators);
                }
                merged.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).merge(summary);
            });
        }
    });
    let mut summary = merged.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    summary.failed.sort();
    summary
}

fn print_summary(config: &SimConfig, summary: &Summary, wall: Duration, jobs: usize) {
    println!(
        "simulated {} seeds: {} validators, faults {}, {} heights each, {jobs} threads",
        summary.runs, config.validators, config.faults, config.heights
    );
    println!("passed: {}, failed: {}", summary.runs - summary.failed.len() as u64, summary.failed.len());
    for (seed, failure) in summary.failed.iter().take(FAILURES_PRINTED_MAX) {
        println!("  seed {seed}: {failure}");
        if let Some(command) = replay_command(config, *seed) {
            println!("    replay: {command}");
        }
    }
    if summary.failed.len() > FAILURES_PRINTED_MAX {
        println!("  ... and {} more failing seeds", summary.failed.len() - FAILURES_PRINTED_MAX);
    }
    println!("heights committed (fewest per run, summed): {}", summary.heights);
    println!("events: {}, virtual time: {:.1} s", summary.events, summary.virtual_ms as f64 / 1000.0);
    println!(
        "faults: {} crashes ({} in the middle of an input), {} partitions",
        summary.crashes, summary.power_cuts, summary.partitions
    );
    let [withheld, equivocations, malformed] = summary.misbehaviour;
    println!("byzantine: {withheld} messages withheld, {equivocations} equivocations, {malformed} malformed messages");
    print_stake(summary);
    println!("wall time: {:.2} s", wall.as_secs_f64());
    print_latencies(&summary.latencies);
    print_signature_share(summary.signature_checks, wall.mul_f64(jobs as f64));
}

/// Prints what committed blocks did to the stake.
fn print_stake(summary: &Summary) {
    let stake = &summary.stake;
    println!(
        "evidence: {} offences committed, {} slashes with jail ({} stake slashed), oldest at commit {} heights",
        stake.evidence, stake.slashes, stake.slashed_stake, stake.evidence_age_heights_max
    );
    println!(
        "staking: {} operations applied, {} rejected, {} stake released from unbonding",
        stake.operations_applied, stake.operations_rejected, stake.released_stake
    );
    println!(
        "validator sets: {} changes, {} joins, {} leaves; last set smaller than genesis in {} runs, larger in {}",
        stake.set_changes, stake.joined, stake.left, summary.runs_set_shrank, summary.runs_set_grew
    );
}

/// Prints the histogram of virtual commit latency with its percentiles.
fn print_latencies(latencies: &BTreeMap<u64, u64>) {
    let total: u64 = latencies.values().sum();
    if total == 0 {
        return;
    }
    println!("virtual commit latency over {total} commits (height start to decision, per validator):");
    let bounds = [0, 100, 200, 300, 400, 500, 1_000, 2_000, 5_000, 10_000, u64::MAX];
    for pair in bounds.windows(2) {
        let count: u64 = latencies.range(pair[0]..pair[1]).map(|(_, count)| count).sum();
        if count > 0 {
            let label =
                if pair[1] == u64::MAX { format!(">= {} ms", pair[0]) } else { format!("{}..{} ms", pair[0], pair[1]) };
            println!("  {label:>16}: {count:>9} ({:.1}%)", 100.0 * count as f64 / total as f64);
        }
    }
    let percentile = |share: f64| {
        let rank = ((total as f64 * share).ceil() as u64).max(1);
        let mut seen = 0;
        latencies.iter().find(|(_, count)| {
            seen += **count;
            seen >= rank
        })
    };
    let p = |share| percentile(share).map_or(0, |(latency, _)| *latency);
    println!("  p50 {} ms, p90 {} ms, p99 {} ms, max {} ms", p(0.5), p(0.9), p(0.99), p(1.0));
}

/// Prints the estimated share of CPU time spent checking signatures: the count of
/// checks times the cost of one check measured here.
fn print_signature_share(checks: u64, cpu: Duration) {
    let cost = verify_cost();
    let spent = cost.mul_f64(checks as f64);
    // The count includes the checker's own checks, so the share is an upper bound,
    // and it can exceed the CPU time measured on a loaded machine.
    let share = (100.0 * spent.as_secs_f64() / cpu.as_secs_f64().max(f64::MIN_POSITIVE)).min(100.0);
    println!(
        "signature checks: at most {checks}, {:.1} us each: at most {share:.0}% of {:.2} s of CPU time (estimate)",
        cost.as_secs_f64() * 1e6,
        cpu.as_secs_f64()
    );
}

/// Measures the time of one ed25519 verification of a vote-sized message: the fastest
/// of several batches, so that other load on the machine counts as little as possible.
fn verify_cost() -> Duration {
    const BATCHES: u32 = 10;
    const CHECKS: u32 = 500;
    let key = SigningKey::from_seed(&[7; 32]);
    let chain_id = ChainId::new("vouch-sim").expect("a valid chain id");
    let message = [3u8; 60];
    let signature = signing::sign(&key, &chain_id, SignKind::Prevote, &message);
    let public_key = key.public_key();
    let batch = || {
        let started = Instant::now();
        for _ in 0..CHECKS {
            signing::verify(&public_key, &chain_id, SignKind::Prevote, &message, &signature)
                .expect("the signature is valid");
        }
        started.elapsed() / CHECKS
    };
    (0..BATCHES).map(|_| batch()).min().expect("at least one batch")
}

/// Runs the three speed measurements on this thread and prints their figures.
fn bench() -> anyhow::Result<()> {
    let base = SimConfig {
        validators: 4,
        stakes: Stakes::Equal,
        standby: 0,
        staking_operations: false,
        events_max: 50_000_000,
        ..SimConfig::default()
    };

    let zero = Latency { base: Duration::ZERO, jitter: Duration::ZERO };
    let config = SimConfig { heights: 2_000, latency: zero, ..base.clone() };
    let started = Instant::now();
    let report = checked_run(&config)?;
    let wall = started.elapsed();
    println!("zero-latency links, 4 validators, empty blocks, real signatures, one core:");
    println!(
        "  {} heights in {:.2} s: {:.0} heights/s",
        report.heights_committed,
        wall.as_secs_f64(),
        report.heights_committed as f64 / wall.as_secs_f64()
    );
    print_signature_share(report.signature_checks, wall);

    let latency = Latency { base: Duration::from_millis(100), jitter: Duration::ZERO };
    let config = SimConfig { heights: 200, latency, ..base.clone() };
    let report = checked_run(&config)?;
    println!("100 ms one-way latency, 4 validators, {} heights:", report.heights_committed);
    let mut latencies = BTreeMap::new();
    for latency in &report.commit_latencies_ms {
        *latencies.entry(*latency).or_default() += 1;
    }
    print_latencies(&latencies);

    let config = SimConfig { heights: 200, offline: 1, ..base };
    let report = checked_run(&config)?;
    print_offline(&config, &report);
    Ok(())
}

fn checked_run(config: &SimConfig) -> anyhow::Result<RunReport> {
    let report = run(config, 1).context("invalid bench settings")?;
    if let Some(failure) = report.failures.first() {
        bail!("bench run failed: {failure}");
    }
    Ok(report)
}

/// Prints the share of heights committed with one validator down, and the rounds lost
/// at the heights whose first proposer it was.
fn print_offline(config: &SimConfig, report: &RunReport) {
    let down = config.validators as u32 - 1;
    println!("one of four validators down (validator {down}), {} heights:", config.heights);
    println!(
        "  heights committed: {} of {} ({:.0}%)",
        report.heights_committed,
        config.heights,
        100.0 * report.heights_committed as f64 / config.heights as f64
    );
    let (its, others): (Vec<_>, Vec<_>) = report.rounds.iter().partition(|rounds| rounds.first_proposer == down);
    let lost =
        |rounds: &[&vouch_sim::HeightRounds]| rounds.iter().map(|rounds| u64::from(rounds.round)).max().unwrap_or(0);
    println!("  heights it should have proposed: {}, most rounds lost at one: {}", its.len(), lost(&its));
    println!("  other heights: {}, most rounds lost at one: {}", others.len(), lost(&others));
}
