//! Kills a process that commits blocks to a sled ledger store with SIGKILL at random
//! moments, then reopens the store after each kill. The store must have lost no
//! acknowledged block, its heights must be contiguous, and replaying the stored blocks
//! must give the stored roots.
//!
//! Set `VOUCH_CRASH_SEED` to replay a run (the seed in use is printed) and
//! `VOUCH_CRASH_KILLS` for a longer run than the default of 24 kills.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use vouch_node::state::{AuthenticatedState, MemoryTree};
use vouch_node::store::{LedgerStore, SledBackend};
use vouch_node::synthetic::{self, SyntheticChain};
use vouch_protocol::chain::Height;
use vouch_protocol::state::StateRoot;

/// Number of times the writer is killed, unless `VOUCH_CRASH_KILLS` is set.
const KILLS: usize = 24;

/// Transactions in each synthetic block.
const TXS_PER_BLOCK: &str = "40";

/// Height at which the writer stops by itself, far beyond what the test reaches.
const WRITER_MAX_HEIGHT: &str = "100000";

/// How long the test waits for the writer's next acknowledgement before it gives up.
const ACKNOWLEDGEMENT_WAIT_MAX: Duration = Duration::from_secs(120);

/// The validator seed that `vouch-store-writer` uses.
const VALIDATOR_SEED: u8 = 1;

/// SplitMix64, so the kill points follow from the seed alone.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What has been checked so far: the replayed tree and the root of every height.
struct Replay {
    chain: SyntheticChain,
    tree: MemoryTree,
    roots: Vec<StateRoot>,
}

impl Replay {
    fn new() -> Replay {
        let mut tree = MemoryTree::new();
        let (root, writes) =
            AuthenticatedState::new(&tree).apply(Height::GENESIS, &synthetic::genesis_changes()).unwrap();
        tree.write(&writes);
        Replay { chain: SyntheticChain::new(VALIDATOR_SEED), tree, roots: vec![root] }
    }

    fn checked_height(&self) -> u64 {
        self.roots.len() as u64 - 1
    }

    /// Checks the heights checked before, then replays and checks every new one.
    fn check(&mut self, store: &LedgerStore<SledBackend>, latest: Height) {
        for (height, root) in self.roots.iter().enumerate() {
            assert_eq!(
                store.state_root(Height(height as u64)).unwrap(),
                Some(*root),
                "root of height {height} changed"
            );
        }
        for height in self.checked_height() + 1..=latest.0 {
            self.check_block(store, Height(height));
        }
        assert_eq!(store.header(Height(latest.0 + 1)).unwrap(), None, "a block above the committed height exists");
    }

    fn check_block(&mut self, store: &LedgerStore<SledBackend>, height: Height) {
        let block = store.block(height).unwrap().unwrap_or_else(|| panic!("block {height} is missing"));
        let commit = store.commit(height).unwrap().unwrap_or_else(|| panic!("commit {height} is missing"));
        assert_eq!(commit.block_hash, block.header.hash(), "commit {height} is for another block");
        commit.verify_signatures(self.chain.chain_id(), &[self.chain.validator()]).unwrap();
        if let Some(previous) = height.previous().filter(|previous| previous.0 > 0) {
            let previous_hash = store.header(previous).unwrap().unwrap().hash();
            assert_eq!(block.header.previous_block_hash, Some(previous_hash), "block {height} links elsewhere");
        }
        assert_eq!(block.header.app_hash, self.roots[height.0 as usize - 1], "app hash of block {height}");

        let changes = synthetic::changes(&synthetic::decode(&block.txs).unwrap()).unwrap();
        let (root, writes) = AuthenticatedState::new(&self.tree).apply(height, &changes).unwrap();
        self.tree.write(&writes);
        assert_eq!(store.state_root(height).unwrap(), Some(root), "replayed root of block {height}");
        self.roots.push(root);
    }
}

/// Starts the writer on `directory` and a thread that forwards each acknowledged height.
fn start_writer(directory: &Path) -> (Child, mpsc::Receiver<u64>, thread::JoinHandle<()>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch-store-writer"))
        .arg(directory)
        .args([WRITER_MAX_HEIGHT, TXS_PER_BLOCK])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the writer starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("the writer prints text");
            let height = line.strip_prefix("committed ").and_then(|height| height.parse().ok());
            let height = height.unwrap_or_else(|| panic!("unexpected writer output `{line}`"));
            if sender.send(height).is_err() {
                return;
            }
        }
    });
    (child, receiver, reader)
}

/// Lets the writer commit a random number of blocks, kills it at a random moment, and
/// returns the highest height it acknowledged.
fn run_and_kill(directory: &Path, random: &mut Random) -> Option<u64> {
    let (mut child, acknowledgements, reader) = start_writer(directory);
    let mut highest = None;
    for _ in 0..=random.below(4) {
        match acknowledgements.recv_timeout(ACKNOWLEDGEMENT_WAIT_MAX) {
            Ok(height) => highest = Some(height),
            Err(error) => panic!("the writer acknowledged nothing more: {error}"),
        }
    }
    thread::sleep(Duration::from_micros(random.below(30_000)));

    child.kill().expect("SIGKILL is delivered");
    let status = child.wait().expect("the writer is reaped");
    reader.join().expect("the reader thread ends at end of output");
    assert_eq!(status.signal(), Some(9), "the writer ended before the kill: {status}");
    acknowledgements.try_iter().fold(highest, |highest, height| highest.max(Some(height)))
}

#[test]
fn store_survives_repeated_sigkill() {
    let seed = std::env::var("VOUCH_CRASH_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or(0x5eed_u64);
    let kills = std::env::var("VOUCH_CRASH_KILLS").ok().and_then(|kills| kills.parse().ok()).unwrap_or(KILLS);
    println!("crash seed {seed}, {kills} kills (replay with VOUCH_CRASH_SEED={seed} VOUCH_CRASH_KILLS={kills})");
    let mut random = Random(seed);
    let directory = tempfile::tempdir().unwrap();
    let mut replay = Replay::new();
    let mut acknowledged = 0;

    for kill in 0..kills {
        if let Some(height) = run_and_kill(directory.path(), &mut random) {
            acknowledged = acknowledged.max(height);
        }

        let store = LedgerStore::open(SledBackend::open(directory.path()).unwrap())
            .unwrap_or_else(|error| panic!("seed {seed}, kill {kill}: the store does not reopen: {error}"));
        let latest = store.latest_height().expect("genesis was committed");
        assert!(
            latest.0 >= acknowledged,
            "seed {seed}, kill {kill}: height {acknowledged} was acknowledged, store is at {latest}"
        );
        replay.check(&store, latest);
        println!("kill {kill}: acknowledged up to {acknowledged}, store at {latest}");
    }
    assert!(acknowledged >= kills as u64, "every run acknowledges at least one block");
}
