//! The consensus engine in-process over the real sled ledger of a node home: consecutive
//! heights with BFT time, restarts at and inside a height from the write-ahead log, and a
//! validator whose power alone is not a quorum.

use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use vouch_consensus::host::{DirStorage, DurableConsensus, GUARD_FILE, HeightStart, WAL_FILE, WalConfig};
use vouch_consensus::{
    ConsensusConfig, Effect, Input, PreviousBlock, TimeoutConfig, Validator, ValidatorSet, VotingPower,
};
use vouch_node::daemon::chain::ChainApp;
use vouch_node::daemon::config::Config;
use vouch_node::daemon::engine::{CONSENSUS_DIR, Engine, EngineConfig, EngineError, consensus_dir};
use vouch_node::daemon::home::{Home, InitOptions, LoadedHome};
use vouch_node::daemon::mempool::{Mempool, MempoolLimits};
use vouch_node::daemon::open::open_ledger;
use vouch_node::daemon::producer::{ProducerConfig, system_clock};
use vouch_node::daemon::waiters::CommitWaiters;
use vouch_protocol::chain::{Block, BlockHash, Commit, Header, Height};
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::GenesisValidator;
use vouch_protocol::signing::ChainId;

const CHAIN_ID: &str = "engine-test";

const STAKE: u64 = 100;

/// Short block intervals, so the tests commit many empty blocks quickly.
const BLOCKS: ProducerConfig = ProducerConfig {
    interval: Duration::from_millis(5),
    empty_interval: Duration::from_millis(10),
    txs_max: 100,
    bytes_max: 1 << 24,
};

/// Round timeouts short enough that a round without a proposal ends quickly.
fn short_timeouts() -> TimeoutConfig {
    TimeoutConfig {
        propose: Duration::from_millis(50),
        propose_delta: Duration::from_millis(10),
        prevote: Duration::from_millis(50),
        prevote_delta: Duration::from_millis(10),
        precommit: Duration::from_millis(50),
        precommit_delta: Duration::from_millis(10),
        max: Duration::from_secs(1),
    }
}

fn node_key() -> SigningKey {
    SigningKey::from_seed(&[21; 32])
}

fn other_key() -> SigningKey {
    SigningKey::from_seed(&[22; 32])
}

/// A node home with its ledger open, and what the engine needs besides the app.
struct Node {
    _dir: tempfile::TempDir,
    home: Home,
    loaded: LoadedHome,
}

impl Node {
    /// Initializes a home whose genesis lists this node's validator and `others`.
    fn new(others: &[(SigningKey, u64)]) -> Node {
        let dir = tempfile::tempdir().expect("temporary folder");
        let home = Home::new(dir.path().join("home"));
        let mut genesis = home
            .init(InitOptions {
                chain_id: ChainId::new(CHAIN_ID).unwrap(),
                validator_name: "local".to_owned(),
                stake: STAKE,
                genesis_time_unix_ms: (system_clock())(),
                attesters: Vec::new(),
                node_key: Some(node_key()),
                config: Config::default(),
            })
            .expect("init");
        for (index, (key, stake)) in others.iter().enumerate() {
            let name = format!("peer-{index}");
            genesis.validators.push(GenesisValidator { name, public_key: key.public_key(), stake: *stake });
        }
        let loaded = LoadedHome { config: Config::default(), genesis, node_key: node_key() };
        Node { _dir: dir, home, loaded }
    }

    fn data_dir(&self) -> std::path::PathBuf {
        self.loaded.config.data_dir(self.home.dir())
    }

    fn open_app(&self) -> Arc<dyn ChainApp> {
        Arc::new(open_ledger(&self.home, &self.loaded, false).expect("the ledger opens"))
    }

    fn engine_config(&self) -> EngineConfig {
        EngineConfig { blocks: BLOCKS, timeouts: short_timeouts(), dir: consensus_dir(&self.data_dir()), idle: None }
    }

    fn open_engine(&self, app: &Arc<dyn ChainApp>) -> Result<Engine, EngineError> {
        let mempool = Arc::new(Mempool::new(MempoolLimits { txs_max: 100, bytes_max: 1 << 24 }));
        let waiters = Arc::new(CommitWaiters::new(100));
        Engine::open(Arc::clone(app), mempool, waiters, node_key(), self.engine_config(), system_clock())
    }
}

/// An engine running on its own thread.
struct Running {
    stop: Sender<()>,
    thread: JoinHandle<Result<(), EngineError>>,
}

fn spawn(engine: Engine) -> Running {
    let (stop, stop_received) = channel();
    let thread = std::thread::spawn(move || engine.run(&stop_received));
    Running { stop, thread }
}

impl Running {
    fn stop(self) {
        self.stop.send(()).expect("the engine listens");
        self.thread.join().expect("no panic").expect("clean stop");
    }
}

/// Runs a new engine over `app` until the app's tip reaches `height`, then stops it.
fn run_until(node: &Node, app: &Arc<dyn ChainApp>, height: u64) {
    let running = spawn(node.open_engine(app).expect("the engine opens"));
    wait_for_height(app, height);
    running.stop();
}

/// Waits, without a time bound on the outcome, until the app's tip reaches `height`.
fn wait_for_height(app: &Arc<dyn ChainApp>, height: u64) {
    while app.tip().height.0 < height {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn stored(app: &Arc<dyn ChainApp>, height: u64) -> (Header, Commit) {
    let block = app.block(height).expect("readable").unwrap_or_else(|| panic!("no block at height {height}"));
    let header = Header::from_bytes(&BASE64.decode(block.header).unwrap()).expect("a header");
    let commit = Commit::from_bytes(&BASE64.decode(block.commit).unwrap()).expect("a commit");
    (header, commit)
}

/// Checks heights 1 to `tip`: each links to the one before, each commit certifies its
/// header, and each block's time is the time of the precommit that committed the block
/// before it (the BFT time of a one-validator set).
fn assert_chain(app: &Arc<dyn ChainApp>, genesis_time_unix_ms: u64, tip: u64) {
    let mut previous: Option<(Header, Commit)> = None;
    for height in 1..=tip {
        let (header, commit) = stored(app, height);
        assert_eq!(header.height, Height(height));
        assert_eq!(commit.block_hash, header.hash(), "the commit of height {height} certifies its header");
        let expected_time = match &previous {
            None => genesis_time_unix_ms + 1,
            Some((_, commit)) => commit.signatures[0].time_unix_ms,
        };
        assert_eq!(header.time_unix_ms, expected_time, "BFT time of height {height}");
        let previous_hash = previous.as_ref().map(|(header, _)| header.hash());
        assert_eq!(header.previous_block_hash, previous_hash, "height {height} links to the block before");
        previous = Some((header, commit));
    }
}

#[test]
fn engine_commits_consecutive_heights() {
    let node = Node::new(&[]);
    let app = node.open_app();
    run_until(&node, &app, 5);

    let tip = app.tip().height.0;
    assert!(tip >= 5, "tip {tip}");
    assert_chain(&app, node.loaded.genesis.genesis_time_unix_ms, tip);
}

#[test]
fn engine_files_are_in_the_data_folder() {
    let node = Node::new(&[]);
    let app = node.open_app();
    run_until(&node, &app, 1);

    let dir = node.data_dir().join(CONSENSUS_DIR);
    assert_eq!(dir, node.home.dir().join("data").join("consensus"), "the documented place");
    for file in [WAL_FILE, GUARD_FILE] {
        assert!(dir.join(file).is_file(), "{} is missing", dir.join(file).display());
    }
}

#[test]
fn engine_resumes_after_a_clean_stop() {
    let node = Node::new(&[]);
    let app = node.open_app();
    run_until(&node, &app, 3);
    let stopped_at = app.tip().height.0;
    drop(app);

    let app = node.open_app();
    run_until(&node, &app, stopped_at + 3);
    assert_chain(&app, node.loaded.genesis.genesis_time_unix_ms, app.tip().height.0);
}

/// Builds the start of height 1 as the engine does for a one-validator genesis.
fn first_height(node: &Node) -> HeightStart {
    let validator = Validator { public_key: node_key().public_key(), voting_power: VotingPower(STAKE) };
    let validators = ValidatorSet::new(vec![validator]).unwrap();
    let genesis_time = node.loaded.genesis.genesis_time_unix_ms;
    HeightStart { height: Height(1), validators, previous: PreviousBlock::Genesis { time_unix_ms: genesis_time + 1 } }
}

/// Decides height 1 with a durable instance over the node's consensus folder and
/// returns the decided block's hash without applying it: what a crash between the
/// precommit and the ledger's commit leaves.
fn decide_without_applying(node: &Node, app: &Arc<dyn ChainApp>) -> BlockHash {
    let storage = DirStorage::open(consensus_dir(&node.data_dir())).expect("consensus folder");
    let config = ConsensusConfig { chain_id: ChainId::new(CHAIN_ID).unwrap(), timeouts: short_timeouts() };
    let start = first_height(node);
    let now = (system_clock())();
    let opened = DurableConsensus::<Block, DirStorage>::open(
        config,
        Some(node_key()),
        WalConfig::default(),
        storage,
        now,
        start,
    )
    .expect("opens");
    let mut consensus = opened.consensus;
    let Some(&Effect::RequestValue { height, round, time_unix_ms }) =
        opened.effects.iter().find(|effect| matches!(effect, Effect::RequestValue { .. }))
    else {
        panic!("the only validator proposes at height 1: {:?}", opened.effects);
    };
    let block = app.propose_block(Vec::new(), time_unix_ms, &node_key().public_key()).expect("a block");
    let effects = consensus.handle(now, Input::ProposalValue { height, round, value: block }).expect("accepted");
    let decided = effects.iter().find_map(|effect| match effect {
        Effect::Decide(decision) => Some(decision.certificate.block_hash),
        _ => None,
    });
    decided.expect("one validator decides on its own proposal")
}

#[test]
fn engine_restart_mid_height_keeps_signed_block() {
    let node = Node::new(&[]);
    let app = node.open_app();
    let signed = decide_without_applying(&node, &app);
    assert_eq!(app.tip().height, Height::GENESIS, "nothing was applied before the crash");

    // The replay decides the block that the log records; signing another block at
    // height 1 would be a double sign.
    let engine = node.open_engine(&app).expect("the engine replays its log");
    assert_eq!(app.tip().height, Height(1), "the replayed decision is applied while opening");
    assert_eq!(app.tip().block_hash, Some(signed), "the committed block is the one signed before the crash");

    let running = spawn(engine);
    wait_for_height(&app, 3);
    running.stop();
    assert_chain(&app, node.loaded.genesis.genesis_time_unix_ms, app.tip().height.0);
}

#[test]
fn engine_without_a_quorum_commits_nothing() {
    // This validator has 100 of 300 (a commit needs more than 200), and the proposer
    // of round 0 is the other validator, which never sends a proposal.
    let node = Node::new(&[(other_key(), 200)]);
    let app = node.open_app();
    let engine = node.open_engine(&app).expect("the engine opens");
    assert_eq!(engine.height(), Some(Height(1)), "the engine works on height 1");

    // The propose timeout expires and this validator prevotes nil, which the guard
    // records. Without a quorum of prevotes nothing follows.
    let guard = consensus_dir(&node.data_dir()).join(GUARD_FILE);
    let running = spawn(engine);
    while !guard.exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    running.stop();
    assert_eq!(app.tip().height, Height::GENESIS, "its own votes are not a quorum");
}
