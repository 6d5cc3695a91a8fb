//! Crash safety of `vouchd`: clients submit signed attestations and wait for their
//! commits while the node is killed with SIGKILL at seeded random moments, many of them
//! while the block producer is building, applying or flushing a block. After each kill
//! the stopped node's ledger is audited in-process: heights are contiguous and linked,
//! and replaying the stored blocks recomputes the stored state roots. Every transaction
//! that the node reported `committed` is looked up in the store, and after the restart
//! it is looked up again through the HTTP API (in its block and in its image's
//! attestations).
//!
//! `VOUCH_CRASH_SEED` replays one run's schedule and `VOUCH_CRASH_KILLS` sets the
//! number of kills. The schedule is reproducible, but where each kill lands depends on
//! the machine's timing.
//!
//! NOTE: SIGKILL leaves the data the node had written in the kernel's page cache, so
//! these tests cover process crashes, not power loss.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vouch_node::store::{Backend, LedgerStore, SledBackend, WriteBatch};
use vouch_protocol::chain::{Height, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::SigningKey;
use vouch_tests::{
    AuditError, AuditReport, DevNode, HttpError, LedgerAudit, NodeHttp, SeededRng, StoppedLedger, Submitted,
    TestAttestation, ledger_data_dir, test_attestation, wait_for_sled_unlocked,
};

/// Kills of the default run.
const KILLS: u32 = 20;

/// Kills of the soak run.
const SOAK_KILLS: u32 = 100;

/// Clients that each submit one attestation at a time and wait for its commit.
const WAITING_CLIENTS: usize = 6;

/// Share of runs in which one more client submits without waiting, as fast as the
/// node accepts, so blocks grow to hundreds of transactions and take longer to apply.
const FLOOD_SHARE: (u64, u64) = (1, 2);

/// Minimum and maximum time that the clients submit before the node is killed.
const RUN_MIN: Duration = Duration::from_millis(300);
const RUN_MAX: Duration = Duration::from_millis(1_800);

/// Share of kills that wait for the producer to be busy, as numerator / denominator.
const MID_BLOCK_SHARE: (u64, u64) = (3, 4);

/// Share of restarts that are killed too, after a random delay, before the node starts
/// for the next run.
const START_KILL_SHARE: (u64, u64) = (1, 4);

/// Maximum delay of a kill during a restart. A debug build of the dev node printed its
/// address about half a second after a restart on the 2-core machine the test was
/// written on, so some kills come before and some after.
const START_KILL_DELAY_MAX: Duration = Duration::from_millis(600);

/// Maximum wait for the producer to be seen busy before a mid-block kill is made at
/// whatever point the node is in.
const BUSY_WAIT_MAX: Duration = Duration::from_secs(20);

/// The pause between two looks at the producer's state.
const BUSY_POLL_INTERVAL: Duration = Duration::from_micros(500);

/// Maximum pause between seeing the producer busy and the kill, so kills land at
/// different steps of a block. Half of the kills take the short bound: a block of a few
/// transactions takes a few milliseconds to build, apply and flush in a debug build.
/// The others take the long bound: the first block after a start and blocks of
/// hundreds of transactions take up to several hundred milliseconds.
const BUSY_OFFSET_SHORT_MAX: Duration = Duration::from_millis(8);
const BUSY_OFFSET_LONG_MAX: Duration = Duration::from_millis(400);

/// Number of the killed node's last output lines that a failure message shows.
const NODE_LINES_SHOWN: usize = 40;

/// Maximum number of unanswered transactions of each fate (committed, lost) and kind
/// that are submitted again after a restart.
const RESUBMIT_MAX: usize = 10;

/// The dev chain's scanner attester, whose key signs the test attestations.
const SCANNER_KEY: &str = "dev";

#[test]
fn sigkill_during_submission_loses_nothing() {
    run_crash_test(kills_from_env(KILLS));
}

#[test]
#[ignore = "a soak of many kills; run it with --ignored"]
fn sigkill_soak_loses_nothing() {
    run_crash_test(kills_from_env(SOAK_KILLS));
}

fn kills_from_env(default: u32) -> u32 {
    match std::env::var("VOUCH_CRASH_KILLS") {
        Ok(text) => text.trim().parse().unwrap_or_else(|error| panic!("VOUCH_CRASH_KILLS={text:?}: {error}")),
        Err(_) => default,
    }
}

/// A transaction that the node reported `committed`.
#[derive(Clone, Debug)]
struct Acknowledged {
    hash: TxHash,
    image: Digest,
    height: u64,
    /// The kill after which it was acknowledged (0 before the first kill).
    epoch: u32,
}

/// How a client submits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientKind {
    /// One transaction at a time with `wait: true`.
    Waiting,
    /// With `wait: false`, the next one as soon as the node accepts the last.
    Flooding,
}

/// What one client saw.
#[derive(Default)]
struct ClientTally {
    acknowledged: Vec<Acknowledged>,
    /// Waiting submissions without a `committed` response. The kill cut them off, or
    /// the node accepted them without a commit within its wait.
    cut_off: Vec<TestAttestation>,
    /// Submissions made without waiting, which the node accepted.
    accepted: Vec<TestAttestation>,
    /// Responses that no valid submission should get.
    errors: Vec<String>,
}

/// How many transactions of one kind the store held after the kill, and how many the
/// kill lost from the mempool.
#[derive(Default, Debug, Clone, Copy)]
struct Fates {
    committed: usize,
    lost: usize,
}

impl Fates {
    fn add(&mut self, other: Fates) {
        self.committed += other.committed;
        self.lost += other.lost;
    }
}

/// Totals over the whole run, printed at the end.
#[derive(Default, Debug)]
struct Totals {
    kills: u32,
    /// Kills for which the producer was seen busy just before the signal. It is a lower
    /// bound: a producer thread that waits on a lock inside a block counts as idle.
    kills_with_busy_producer: u32,
    /// Waiting submissions cut off by a kill. Committed ones mean the kill landed
    /// after their block was flushed but before the response was sent.
    cut_off: Fates,
    /// Submissions made without waiting.
    accepted: Fates,
    /// Extra kills of a restarting node, and how many of them came before its API was
    /// ready.
    start_kills: u32,
    start_kills_before_ready: u32,
}

/// The state of one crash test: the schedule, the replica that audits the ledger, and
/// every transaction acknowledged so far.
struct CrashRun {
    rng: SeededRng,
    seed: u64,
    key: Arc<SigningKey>,
    next_image: Arc<AtomicU64>,
    audit: LedgerAudit,
    acknowledged: Vec<Acknowledged>,
    totals: Totals,
}

/// What one run between two kills left behind, for the checks after the restart.
struct KilledRun {
    home: tempfile::TempDir,
    keyring: tempfile::TempDir,
    report: AuditReport,
    cut_off: Vec<Settled>,
    accepted: Vec<Settled>,
}

fn run_crash_test(kills: u32) {
    let started = Instant::now();
    let (rng, seed) = SeededRng::from_env("VOUCH_CRASH_SEED");
    let mut node = DevNode::start();
    let mut run = CrashRun {
        rng,
        seed,
        key: Arc::new(node.keyring_key(SCANNER_KEY)),
        next_image: Arc::new(AtomicU64::new(0)),
        audit: LedgerAudit::new(node.home.path()).unwrap_or_else(|error| panic!("seed {seed}: {error}")),
        acknowledged: Vec::new(),
        totals: Totals::default(),
    };

    for kill in 1..=kills {
        let context = format!("kill {kill} of {kills} (replay with VOUCH_CRASH_SEED={seed})");
        let killed = run.submit_then_kill(node, kill, &context);
        let (home, keyring) = run.maybe_kill_restart(killed.home, killed.keyring, &context);
        node = DevNode::start_in(home, keyring);
        run.check_restarted(&node, &killed.report, &killed.cut_off, &killed.accepted, &context);
    }

    let (status, home, _keyring) = node.terminate();
    assert!(status.success(), "vouchd exited with {status} after SIGTERM (seed {seed})");
    let ledger = StoppedLedger::open(home.path()).unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    let mut fresh = LedgerAudit::new(home.path()).unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    let full = fresh.audit(ledger.store()).unwrap_or_else(|error| panic!("full replay (seed {seed}): {error}"));
    check_acknowledged_stored(ledger.store(), &run.acknowledged, &format!("after the last stop (seed {seed})"));
    ledger.close();

    assert!(full.latest >= run.audit.checked_heights(), "the final store ends below the heights checked before");
    assert!(!run.acknowledged.is_empty(), "no submission was acknowledged in {kills} runs (seed {seed})");
    let totals = &run.totals;
    println!(
        "seed {seed}: {} kills ({} with the producer busy) and {} during restarts ({} before ready), final height {}, \
         full replay of {} heights and {} txs, {} acknowledged txs kept; cut off {}/{} and accepted {}/{} \
         committed/lost; {:.1} s",
        totals.kills,
        totals.kills_with_busy_producer,
        totals.start_kills,
        totals.start_kills_before_ready,
        full.latest,
        full.replayed,
        full.txs,
        run.acknowledged.len(),
        totals.cut_off.committed,
        totals.cut_off.lost,
        totals.accepted.committed,
        totals.accepted.lost,
        started.elapsed().as_secs_f64()
    );
}

impl CrashRun {
    /// Lets the clients submit for a random time, kills the node at a random point,
    /// and audits the stopped node's ledger.
    fn submit_then_kill(&mut self, node: DevNode, kill: u32, context: &str) -> KilledRun {
        let stop = Arc::new(AtomicBool::new(false));
        let flood = self.rng.chance(FLOOD_SHARE.0, FLOOD_SHARE.1);
        let clients = start_clients(&node, &self.key, self.seed, kill - 1, flood, &self.next_image, &stop);

        thread::sleep(self.rng.duration_between(RUN_MIN, RUN_MAX));
        if self.rng.chance(MID_BLOCK_SHARE.0, MID_BLOCK_SHARE.1) && wait_until_producer_busy(&node) {
            let offset_max = match self.rng.chance(1, 2) {
                true => BUSY_OFFSET_SHORT_MAX,
                false => BUSY_OFFSET_LONG_MAX,
            };
            thread::sleep(self.rng.duration_between(Duration::ZERO, offset_max));
        }
        stop.store(true, Ordering::SeqCst);
        let tail = node.drain_output();
        let busy = node.producer_busy();
        let (home, keyring) = node.kill();
        self.totals.kills += 1;
        self.totals.kills_with_busy_producer += u32::from(busy);

        let tally = join_clients(clients);
        assert!(tally.errors.is_empty(), "{context}: unexpected responses:\n{}", tally.errors.join("\n"));
        self.acknowledged.extend(tally.acknowledged);

        let context = format!("{context} (flood {flood}, producer busy {busy})");
        let failure = format!("{context}; the killed node's last lines:\n{}", last_lines(&tail));
        let ledger = StoppedLedger::open(home.path()).unwrap_or_else(|error| panic!("{failure}\n{error}"));
        let report =
            self.audit.audit(ledger.store()).unwrap_or_else(|error| panic!("{failure}\nledger audit: {error}"));
        check_acknowledged_stored(ledger.store(), &self.acknowledged, &failure);
        let cut_off = settle(ledger.store(), tally.cut_off, &failure);
        let accepted = settle(ledger.store(), tally.accepted, &failure);
        ledger.close();

        let (cut_off_fates, accepted_fates) = (fates(&cut_off), fates(&accepted));
        self.totals.cut_off.add(cut_off_fates);
        self.totals.accepted.add(accepted_fates);
        println!(
            "{context}: height {} (+{} heights, +{} txs), {} acknowledged; cut off {}/{} and accepted {}/{} \
             committed/lost",
            report.latest,
            report.replayed,
            report.txs,
            self.acknowledged.len(),
            cut_off_fates.committed,
            cut_off_fates.lost,
            accepted_fates.committed,
            accepted_fates.lost
        );
        KilledRun { home, keyring, report, cut_off, accepted }
    }

    /// Kills some restarts too, at a random point of the start, and audits the ledger
    /// again. Returns the home and keyring for the next start.
    fn maybe_kill_restart(
        &mut self,
        home: tempfile::TempDir,
        keyring: tempfile::TempDir,
        context: &str,
    ) -> (tempfile::TempDir, tempfile::TempDir) {
        if !self.rng.chance(START_KILL_SHARE.0, START_KILL_SHARE.1) {
            return (home, keyring);
        }
        let delay = self.rng.duration_between(Duration::ZERO, START_KILL_DELAY_MAX);
        let (home, keyring, ready) = DevNode::start_and_kill_after(home, keyring, "", delay);
        self.totals.start_kills += 1;
        self.totals.start_kills_before_ready += u32::from(!ready);

        let context = format!("{context}, then a kill {delay:?} into the restart (API ready {ready})");
        let ledger = StoppedLedger::open(home.path()).unwrap_or_else(|error| panic!("{context}: {error}"));
        self.audit.audit(ledger.store()).unwrap_or_else(|error| panic!("{context}: ledger audit: {error}"));
        check_acknowledged_stored(ledger.store(), &self.acknowledged, &context);
        ledger.close();
        println!("{context}: audited");
        (home, keyring)
    }

    /// Checks the restarted node through its API: it resumed at the audited height,
    /// it serves every acknowledged transaction, and it responds to resubmissions of
    /// unanswered ones by what the store holds.
    fn check_restarted(
        &self,
        node: &DevNode,
        report: &AuditReport,
        cut_off: &[Settled],
        accepted: &[Settled],
        context: &str,
    ) {
        let http = NodeHttp::new(&node.url);
        check_resumed(&http, &self.audit, report.latest, context);
        check_acknowledged_served(&http, &self.acknowledged, context);
        check_resubmissions(&http, cut_off, context);
        check_resubmissions(&http, accepted, context);
    }
}

/// Returns the last lines of a node's output, at most [`NODE_LINES_SHOWN`].
fn last_lines(lines: &[String]) -> String {
    lines[lines.len().saturating_sub(NODE_LINES_SHOWN)..].join("\n")
}

/// The shared parts of every client of one run.
#[derive(Clone)]
struct ClientSetup {
    http: NodeHttp,
    key: Arc<SigningKey>,
    seed: u64,
    epoch: u32,
    next_image: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

/// Starts the clients. They submit until `stop` is set, each attestation for a new
/// image.
fn start_clients(
    node: &DevNode,
    key: &Arc<SigningKey>,
    seed: u64,
    epoch: u32,
    flood: bool,
    next_image: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<ClientTally>> {
    let setup = ClientSetup {
        http: NodeHttp::new(&node.url),
        key: Arc::clone(key),
        seed,
        epoch,
        next_image: Arc::clone(next_image),
        stop: Arc::clone(stop),
    };
    let mut kinds = vec![ClientKind::Waiting; WAITING_CLIENTS];
    if flood {
        kinds.push(ClientKind::Flooding);
    }
    kinds
        .into_iter()
        .map(|kind| {
            let setup = setup.clone();
            thread::spawn(move || submit_until_stopped(&setup, kind))
        })
        .collect()
}

fn submit_until_stopped(setup: &ClientSetup, kind: ClientKind) -> ClientTally {
    let mut tally = ClientTally::default();
    let wait = kind == ClientKind::Waiting;
    while !setup.stop.load(Ordering::SeqCst) {
        let index = setup.next_image.fetch_add(1, Ordering::SeqCst);
        let attestation = test_attestation(setup.seed, index, &setup.key);
        match setup.http.submit(&attestation.tx, wait) {
            Ok(Submitted::Committed { height }) => tally.acknowledged.push(Acknowledged {
                hash: attestation.hash,
                image: attestation.image.clone(),
                height,
                epoch: setup.epoch,
            }),
            Ok(Submitted::Accepted) if wait => tally.cut_off.push(attestation),
            Ok(Submitted::Accepted) => tally.accepted.push(attestation),
            Err(HttpError::Transport { .. }) if setup.stop.load(Ordering::SeqCst) => {
                // The kill cut this request off, so its transaction may or may not be
                // committed, and only `settle` tells which.
                if wait {
                    tally.cut_off.push(attestation);
                } else {
                    tally.accepted.push(attestation);
                }
                break;
            }
            Err(error) => {
                tally.errors.push(format!("transaction {}: {error}", attestation.hash));
                break;
            }
        }
    }
    tally
}

fn join_clients(clients: Vec<JoinHandle<ClientTally>>) -> ClientTally {
    let mut total = ClientTally::default();
    for client in clients {
        let tally = client.join().expect("a client thread does not panic");
        total.acknowledged.extend(tally.acknowledged);
        total.cut_off.extend(tally.cut_off);
        total.accepted.extend(tally.accepted);
        total.errors.extend(tally.errors);
    }
    total
}

/// Polls the producer's threads until one is running. Returns whether it was seen
/// busy before [`BUSY_WAIT_MAX`].
fn wait_until_producer_busy(node: &DevNode) -> bool {
    let started = Instant::now();
    while started.elapsed() < BUSY_WAIT_MAX {
        if node.producer_busy() {
            return true;
        }
        thread::sleep(BUSY_POLL_INTERVAL);
    }
    println!("the producer was not seen busy within {BUSY_WAIT_MAX:?}; killing at an arbitrary point");
    false
}

/// Checks in the stopped node's store that every acknowledged transaction is in the
/// block it was acknowledged at, and indexed under its image.
fn check_acknowledged_stored(store: &LedgerStore<SledBackend>, acknowledged: &[Acknowledged], context: &str) {
    for ack in acknowledged {
        let what =
            format!("{context}: transaction {} acknowledged at height {} (run {})", ack.hash, ack.height, ack.epoch);
        let stored = store.transaction(&ack.hash).unwrap_or_else(|error| panic!("{what}: {error}"));
        let stored = stored.unwrap_or_else(|| panic!("{what} is not in the store"));
        assert_eq!(stored.height, Height(ack.height), "{what} is stored at another height");
        let entries = store.attestations(&ack.image, usize::MAX).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert!(
            entries.iter().any(|entry| entry.tx_hash == ack.hash && entry.height == Height(ack.height)),
            "{what} is not in the attestation index of image {}",
            ack.image
        );
    }
}

/// An unanswered transaction and the height at which the store holds it, if any.
struct Settled {
    attestation: TestAttestation,
    height: Option<u64>,
}

/// Looks up the unanswered transactions of the last run in the store: each one is
/// either committed or lost with the mempool, and either is correct for a transaction
/// never acknowledged.
fn settle(store: &LedgerStore<SledBackend>, unanswered: Vec<TestAttestation>, context: &str) -> Vec<Settled> {
    unanswered
        .into_iter()
        .map(|attestation| {
            let stored = store
                .transaction(&attestation.hash)
                .unwrap_or_else(|error| panic!("{context}: transaction {}: {error}", attestation.hash));
            Settled { attestation, height: stored.map(|stored| stored.height.0) }
        })
        .collect()
}

fn fates(settled: &[Settled]) -> Fates {
    let committed = settled.iter().filter(|entry| entry.height.is_some()).count();
    Fates { committed, lost: settled.len() - committed }
}

/// Submits unanswered transactions again, as a client does after a crash: the node
/// must reject a committed one as a duplicate that names its height, and accept a
/// lost one. Checks at most [`RESUBMIT_MAX`] of each fate.
fn check_resubmissions(http: &NodeHttp, settled: &[Settled], context: &str) {
    let committed = settled.iter().filter(|entry| entry.height.is_some()).take(RESUBMIT_MAX);
    let lost = settled.iter().filter(|entry| entry.height.is_none()).take(RESUBMIT_MAX);
    for entry in committed.chain(lost) {
        let hash = entry.attestation.hash;
        let result = http.submit(&entry.attestation.tx, false);
        match (entry.height, result) {
            (None, Ok(Submitted::Accepted)) => {}
            (Some(height), Err(HttpError::Status { status: 422, code, message, .. })) => {
                let expected = format!("already committed at height {height}");
                assert!(
                    code == "tx_rejected" && message.starts_with("duplicate:") && message.contains(&expected),
                    "{context}: resubmitting transaction {hash} committed at height {height} was rejected with \
                     {code}: {message}, not as a duplicate at that height"
                );
            }
            (height, result) => panic!(
                "{context}: resubmitting transaction {hash} (stored at {height:?}) returned {result:?}; expected \
                 a duplicate rejection if stored and acceptance otherwise"
            ),
        }
    }
}

/// Checks that the restarted node resumed at the audited height with the same block.
fn check_resumed(http: &NodeHttp, audit: &LedgerAudit, latest: u64, context: &str) {
    let status = http.status().unwrap_or_else(|error| panic!("{context}: {error}"));
    assert!(
        status.latest_height >= latest,
        "{context}: the restarted node is at height {}, below the stored height {latest}",
        status.latest_height
    );
    if latest == 0 {
        return;
    }
    let block = http.block(latest).unwrap_or_else(|error| panic!("{context}: {error}"));
    let block = block.unwrap_or_else(|| panic!("{context}: the restarted node has no block at height {latest}"));
    let audited = audit.block_hash(latest).expect("the audit checked the latest height");
    assert_eq!(block.hash, audited.to_hex(), "{context}: the restarted node serves another block at height {latest}");
}

/// Checks through the API that every acknowledged transaction is listed in its block
/// and in its image's attestations.
fn check_acknowledged_served(http: &NodeHttp, acknowledged: &[Acknowledged], context: &str) {
    let mut blocks: HashMap<u64, HashSet<String>> = HashMap::new();
    for ack in acknowledged {
        let what =
            format!("{context}: transaction {} acknowledged at height {} (run {})", ack.hash, ack.height, ack.epoch);
        let hash = ack.hash.to_hex();
        let listed = blocks.entry(ack.height).or_insert_with(|| {
            let block = http.block(ack.height).unwrap_or_else(|error| panic!("{what}: {error}"));
            let block = block.unwrap_or_else(|| panic!("{what}: the node serves no block at that height"));
            block.txs.into_iter().collect()
        });
        assert!(listed.contains(&hash), "{what}: GET /v1/blocks/{} does not list it", ack.height);

        let attestations = http.attestations(&ack.image).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert!(
            attestations.attestations.iter().any(|view| view.tx_hash == hash && view.height == ack.height),
            "{what}: GET /v1/images/{}/attestations does not list it",
            ack.image
        );
    }
}

/// Kills of a node's first start: a log line of `vouchd start --dev` on a new home,
/// and the longest delay after it. The home's files are written before the first line,
/// the genesis state is committed before the second, and the first empty block comes
/// about a second after the third.
const FIRST_START_KILLS: [(&str, Duration); 3] = [
    ("initialized home", Duration::from_millis(600)),
    ("genesis committed", Duration::from_millis(20)),
    ("block producer started", Duration::from_millis(1_500)),
];

#[test]
fn sigkill_during_first_start_recovers() {
    let (mut rng, seed) = SeededRng::from_env("VOUCH_CRASH_SEED");
    for (attempt, (marker, delay_max)) in FIRST_START_KILLS.into_iter().enumerate() {
        let context = format!("first start {} (replay with VOUCH_CRASH_SEED={seed})", attempt + 1);
        let home = tempfile::tempdir().expect("a temporary home");
        let keyring = tempfile::tempdir().expect("a temporary keyring");
        let delay = rng.duration_between(Duration::ZERO, delay_max);
        let (home, keyring, ready) = DevNode::start_and_kill_after(home, keyring, marker, delay);

        let ledger = StoppedLedger::open(home.path()).unwrap_or_else(|error| panic!("{context}: {error}"));
        let genesis_stored = ledger.store().latest_height().is_some();
        ledger.close();

        let node = DevNode::start_in(home, keyring);
        let http = NodeHttp::new(&node.url);
        let key = node.keyring_key(SCANNER_KEY);
        let attestation = test_attestation(seed, attempt as u64, &key);
        let submitted = http.submit(&attestation.tx, true).unwrap_or_else(|error| panic!("{context}: {error}"));
        assert!(matches!(submitted, Submitted::Committed { .. }), "{context}: {submitted:?}");

        let (status, home, _keyring) = node.terminate();
        assert!(status.success(), "{context}: vouchd exited with {status} after SIGTERM");
        let ledger = StoppedLedger::open(home.path()).unwrap_or_else(|error| panic!("{context}: {error}"));
        let mut audit = LedgerAudit::new(home.path()).unwrap_or_else(|error| panic!("{context}: {error}"));
        let report = audit.audit(ledger.store()).unwrap_or_else(|error| panic!("{context}: ledger audit: {error}"));
        ledger.close();
        assert!(report.txs >= 1, "{context}: the submitted attestation is not in the ledger");
        println!(
            "{context}: killed {delay:?} after `{marker}` (API ready {ready}, genesis stored {genesis_stored}); \
             restarted to height {}",
            report.latest
        );
    }
}

/// Copies a stopped node's home, database included.
fn copy_home(from: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("a temporary home");
    copy_dir(from, copy.path());
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("cannot create {}: {error}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|error| panic!("cannot list {}: {error}", from.display()));
    for entry in entries {
        let entry = entry.expect("directory entries are readable");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("entry types are readable").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|error| panic!("cannot copy {}: {error}", entry.path().display()));
        }
    }
}

/// Returns the store key of a per-height record: its table's prefix byte, then the
/// height in big-endian, as `node/src/store/layout.rs` documents.
fn height_key(table: u8, height: u64) -> Vec<u8> {
    let mut key = vec![table];
    key.extend_from_slice(&height.to_be_bytes());
    key
}

/// Writes the record at `source` under `target` too, in the stopped node's database.
fn overwrite_record(home: &Path, target: &[u8], source: &[u8]) {
    let data_dir = ledger_data_dir(home).unwrap_or_else(|error| panic!("{error}"));
    {
        let backend = SledBackend::open(&data_dir).unwrap_or_else(|error| panic!("{error}"));
        let value = backend.get(source).expect("the database reads");
        let value = value.unwrap_or_else(|| panic!("no record under key {source:?}; did the store's layout change?"));
        let mut batch = WriteBatch::new();
        batch.put(target.to_vec(), value);
        backend.apply(batch).expect("the batch applies");
        backend.flush().expect("the database flushes");
    }
    wait_for_sled_unlocked(&data_dir);
}

fn audit_home(home: &Path, audit: &mut LedgerAudit) -> Result<AuditReport, AuditError> {
    let ledger = StoppedLedger::open(home).unwrap_or_else(|error| panic!("{error}"));
    let result = audit.audit(ledger.store());
    ledger.close();
    result
}

/// Builds a short chain with one attestation per block and stops the node.
fn short_chain(blocks: u64) -> tempfile::TempDir {
    let node = DevNode::start();
    let http = NodeHttp::new(&node.url);
    let key = node.keyring_key(SCANNER_KEY);
    for index in 0..blocks {
        let attestation = test_attestation(0, index, &key);
        let submitted = http.submit(&attestation.tx, true).unwrap_or_else(|error| panic!("{error}"));
        assert!(matches!(submitted, Submitted::Committed { .. }), "{submitted:?}");
    }
    let (status, home, _keyring) = node.terminate();
    assert!(status.success(), "vouchd exited with {status} after SIGTERM");
    home
}

#[test]
fn ledger_audit_detects_altered_records() {
    let home = short_chain(5);
    let mut baseline = LedgerAudit::new(home.path()).expect("a replica");
    let report = audit_home(home.path(), &mut baseline).expect("the untouched ledger passes the audit");
    assert!(report.latest >= 5, "{report:?}");
    assert!(report.txs >= 5, "{report:?}");

    // Each case copies a record of another height over the record of height 2 and
    // names the check that must fail. The genesis state root differs from the root
    // at height 2 because block 1 or 2 holds an attestation, while an empty block 3
    // could leave the root of height 2 unchanged.
    let cases: [(u8, u64, &str); 3] =
        [(b'r', 0, "the stored state root"), (b'c', 3, "the commit's block"), (b'h', 3, "the header's height")];
    for (table, source, what) in cases {
        let copy = copy_home(home.path());
        overwrite_record(copy.path(), &height_key(table, 2), &height_key(table, source));
        let mut audit = LedgerAudit::new(copy.path()).expect("a replica");
        let error = audit_home(copy.path(), &mut audit).expect_err("an altered ledger fails the audit");
        match &error {
            AuditError::Mismatch { height: 2, what: found, .. } => assert_eq!(found, what, "{error}"),
            other => panic!("table {:?}: expected a mismatch of {what} at height 2, got: {other}", table as char),
        }
    }

    let copy = copy_home(home.path());
    let mut audit = LedgerAudit::new(copy.path()).expect("a replica");
    audit_home(copy.path(), &mut audit).expect("the copy passes the audit");
    overwrite_record(copy.path(), &height_key(b'h', 2), &height_key(b'h', 3));
    let error = audit_home(copy.path(), &mut audit).expect_err("a rewritten height fails the next audit");
    assert!(matches!(error, AuditError::Rewritten { height: 2, .. }), "{error}");

    let copy = copy_home(home.path());
    let latest = report.latest;
    overwrite_record(copy.path(), &height_key(b'h', latest + 1), &height_key(b'h', latest));
    let mut audit = LedgerAudit::new(copy.path()).expect("a replica");
    let error = audit_home(copy.path(), &mut audit).expect_err("a header above the latest height fails the audit");
    assert!(matches!(error, AuditError::Mismatch { height, .. } if height == latest + 1), "{error}");
}

/// A kill during the first `vouchd start --dev` can leave the genesis and node key
/// without `config.toml`, which is written last; the next start initializes the home
/// again instead of refusing it.
#[test]
fn dev_home_cut_before_config_starts() {
    let (_status, home, keyring) = DevNode::start().terminate();
    let partial = tempfile::tempdir().expect("a temporary home");
    for file in ["genesis.json", "node_key.json", "vouchd.lock"] {
        std::fs::copy(home.path().join(file), partial.path().join(file)).expect("the file copies");
    }
    let node = DevNode::start_in(partial, keyring);
    assert!(!node.url.is_empty());
    assert!(node.home.path().join("config.toml").is_file(), "the restarted init writes config.toml");
}
