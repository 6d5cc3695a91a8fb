//! The mempool and the consensus engine's block production against the in-memory app
//! double: what a block takes from the mempool, what waiting submissions hear, and how
//! the engine runs and stops.

mod daemon_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use daemon_support::{DoubleApp, GENESIS_TIME_UNIX_MS, account_tx, attestation, bad_tx, commit_next_block, doomed_tx};
use vouch_node::daemon::chain::ChainApp;
use vouch_node::daemon::engine::{Engine, EngineError};
use vouch_node::daemon::mempool::{Mempool, MempoolError, MempoolLimits};
use vouch_node::daemon::producer::{Clock, ProducerConfig};
use vouch_node::daemon::waiters::{CommitWaiters, TxFate};
use vouch_protocol::chain::{Height, Transaction};
use vouch_protocol::ledger::TX_BYTES_MAX;

const LIMITS: MempoolLimits = MempoolLimits { txs_max: 100, bytes_max: 1 << 30 };

const PRODUCER: ProducerConfig = ProducerConfig {
    interval: Duration::from_millis(5),
    empty_interval: Duration::from_millis(20),
    txs_max: 100,
    bytes_max: 1 << 30,
};

fn fixed_clock(unix_ms: u64) -> Clock {
    Arc::new(move || unix_ms)
}

struct Node {
    app: Arc<DoubleApp>,
    mempool: Arc<Mempool>,
    waiters: Arc<CommitWaiters>,
    config: ProducerConfig,
    clock: Clock,
    /// The consensus folder of the engines that commit this node's blocks.
    dir: tempfile::TempDir,
}

fn node_with(limits: MempoolLimits, config: ProducerConfig) -> Node {
    Node {
        app: Arc::new(DoubleApp::new()),
        mempool: Arc::new(Mempool::new(limits)),
        waiters: Arc::new(CommitWaiters::new(100)),
        config,
        clock: fixed_clock(GENESIS_TIME_UNIX_MS + 5_000),
        dir: tempfile::tempdir().expect("temporary folder"),
    }
}

impl Node {
    /// Opens an engine, which commits the next block at once.
    fn open_engine(&self) -> Result<Engine, EngineError> {
        let (app, mempool, waiters) = (self.app.clone(), self.mempool.clone(), self.waiters.clone());
        commit_next_block(app, mempool, waiters, self.config, self.dir.path(), self.clock.clone())
    }

    /// Commits the next block and returns the number of transactions it holds.
    fn produce(&self) -> usize {
        let before = self.app.tip().height;
        self.open_engine().expect("the engine commits a block");
        let blocks = self.app.blocks();
        assert_eq!(self.app.tip().height, before.next().unwrap(), "one block was committed");
        blocks.last().expect("a block").txs.len()
    }
}

#[test]
fn mempool_keeps_arrival_order() {
    let node = node_with(LIMITS, PRODUCER);
    let txs: Vec<Transaction> = (0..5).map(|index| attestation(&format!("image-{index}"))).collect();
    for tx in &txs {
        node.mempool.submit(node.app.as_ref(), tx.clone()).expect("accepted");
    }
    let peeked: Vec<Transaction> = node.mempool.peek(10, usize::MAX).into_iter().map(|(_, tx)| tx).collect();
    assert_eq!(peeked, txs);
    assert_eq!(node.mempool.len(), 5, "peek leaves the transactions queued");
}

#[test]
fn mempool_rejects_a_waiting_duplicate() {
    let node = node_with(LIMITS, PRODUCER);
    node.mempool.submit(node.app.as_ref(), attestation("a")).expect("accepted");
    let error = node.mempool.submit(node.app.as_ref(), attestation("a")).expect_err("duplicate");
    assert!(matches!(error, MempoolError::Duplicate { hash } if hash == attestation("a").hash()));
    assert_eq!(node.mempool.len(), 1);
}

#[test]
fn mempool_runs_the_app_check() {
    let node = node_with(LIMITS, PRODUCER);
    let error = node.mempool.submit(node.app.as_ref(), bad_tx("a")).expect_err("rejected");
    assert!(matches!(&error, MempoolError::Rejected(rejection) if rejection.code == "signature_invalid"), "{error}");
    assert!(node.mempool.is_empty());
}

#[test]
fn mempool_count_limit_holds_at_the_edge() {
    let node = node_with(MempoolLimits { txs_max: 3, bytes_max: 1 << 20 }, PRODUCER);
    for index in 0..3 {
        node.mempool.submit(node.app.as_ref(), account_tx(&index.to_string())).expect("within the limit");
    }
    let error = node.mempool.submit(node.app.as_ref(), account_tx("3")).expect_err("one past the limit");
    assert!(matches!(error, MempoolError::Full { txs: 3, txs_max: 3, .. }), "{error}");
}

#[test]
fn mempool_byte_limit_holds_at_the_edge() {
    // Each transaction is 10 bytes: a tag byte and nine label bytes.
    let node = node_with(MempoolLimits { txs_max: 100, bytes_max: 30 }, PRODUCER);
    for label in ["aaaaaaaaa", "bbbbbbbbb", "ccccccccc"] {
        node.mempool.submit(node.app.as_ref(), account_tx(label)).expect("within 30 bytes");
    }
    assert_eq!(node.mempool.bytes(), 30);
    let error = node.mempool.submit(node.app.as_ref(), account_tx("d")).expect_err("31 bytes is over");
    assert!(matches!(error, MempoolError::Full { bytes: 30, bytes_max: 30, .. }), "{error}");
}

#[test]
fn mempool_tx_size_limit_holds_at_the_edge() {
    let node = node_with(MempoolLimits { txs_max: 100, bytes_max: 64 }, PRODUCER);
    assert_eq!(node.mempool.tx_bytes_max(), 64);
    let at_limit = Transaction::new([b"N".as_slice(), &[b'x'; 63]].concat());
    node.mempool.submit(node.app.as_ref(), at_limit).expect("64 bytes fits");
    node.mempool.remove(&[Transaction::new([b"N".as_slice(), &[b'x'; 63]].concat()).hash()]);
    let over = Transaction::new([b"N".as_slice(), &[b'x'; 64]].concat());
    let error = node.mempool.submit(node.app.as_ref(), over).expect_err("65 bytes is over");
    assert!(matches!(error, MempoolError::TooLarge { size: 65, max: 64 }), "{error}");
}

#[test]
fn mempool_tx_size_is_capped_by_the_protocol() {
    let node = node_with(MempoolLimits { txs_max: 100, bytes_max: usize::MAX }, PRODUCER);
    assert_eq!(node.mempool.tx_bytes_max(), TX_BYTES_MAX);
}

#[test]
fn opened_engine_commits_in_arrival_order() {
    let node = node_with(LIMITS, PRODUCER);
    let txs = [attestation("one"), account_tx("two"), attestation("three")];
    for tx in &txs {
        node.mempool.submit(node.app.as_ref(), tx.clone()).expect("accepted");
    }
    let engine = node.open_engine().expect("the engine opens");
    assert_eq!(engine.height(), Some(Height(1)), "the core stays at the decided height until the next is due");
    assert_eq!(node.app.tip().height, Height(1));
    assert_eq!(node.app.blocks()[0].txs, txs.to_vec());
    assert!(node.mempool.is_empty());
}

#[test]
fn empty_block_advances_the_height() {
    let node = node_with(LIMITS, PRODUCER);
    assert_eq!(node.produce(), 0);
    assert_eq!(node.produce(), 0);
    let blocks = node.app.blocks();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1].header.previous_block_hash, Some(blocks[0].header.hash()));
}

#[test]
fn block_time_grows_when_the_clock_stalls() {
    // The clock reads before the genesis time. Block 1 takes the genesis time + 1 ms,
    // its precommit the block time + 1 ms, and block 2 the time of that precommit.
    let mut node = node_with(LIMITS, PRODUCER);
    node.clock = fixed_clock(GENESIS_TIME_UNIX_MS - 10);
    node.produce();
    node.produce();
    let times: Vec<u64> = node.app.blocks().iter().map(|block| block.header.time_unix_ms).collect();
    assert_eq!(times, [GENESIS_TIME_UNIX_MS + 1, GENESIS_TIME_UNIX_MS + 2]);
}

#[test]
fn block_time_is_the_previous_precommit_time() {
    let node = node_with(LIMITS, PRODUCER);
    node.produce();
    node.produce();
    let blocks = node.app.blocks();
    assert_eq!(blocks[0].header.time_unix_ms, GENESIS_TIME_UNIX_MS + 1, "block 1 follows the genesis");
    assert_eq!(blocks[1].header.time_unix_ms, GENESIS_TIME_UNIX_MS + 5_000, "the clock when block 1 was precommitted");
}

#[test]
fn block_txs_max_splits_the_queue() {
    let node = node_with(LIMITS, ProducerConfig { txs_max: 2, ..PRODUCER });
    for index in 0..5 {
        node.mempool.submit(node.app.as_ref(), account_tx(&index.to_string())).expect("accepted");
    }
    let sizes: Vec<usize> = (0..3).map(|_| node.produce()).collect();
    assert_eq!(sizes, [2, 2, 1]);
}

#[test]
fn block_bytes_max_holds_at_the_edge() {
    // Four transactions of 10 bytes; 20 bytes fit exactly two.
    let node = node_with(LIMITS, ProducerConfig { bytes_max: 20, ..PRODUCER });
    for label in ["aaaaaaaaa", "bbbbbbbbb", "ccccccccc", "ddddddddd"] {
        node.mempool.submit(node.app.as_ref(), account_tx(label)).expect("accepted");
    }
    assert_eq!(node.produce(), 2);
    let smaller = node_with(LIMITS, ProducerConfig { bytes_max: 19, ..PRODUCER });
    for label in ["aaaaaaaaa", "bbbbbbbbb"] {
        smaller.mempool.submit(smaller.app.as_ref(), account_tx(label)).expect("accepted");
    }
    assert_eq!(smaller.produce(), 1);
}

#[tokio::test]
async fn waiters_hear_committed_and_dropped() {
    let node = node_with(LIMITS, PRODUCER);
    let good = attestation("good");
    let doomed = doomed_tx("doomed");
    let mut good_wait = node.waiters.register(good.hash()).expect("room");
    let mut doomed_wait = node.waiters.register(doomed.hash()).expect("room");
    node.mempool.submit(node.app.as_ref(), good.clone()).expect("accepted");
    node.mempool.submit(node.app.as_ref(), doomed.clone()).expect("accepted at first");

    assert_eq!(node.produce(), 1);
    assert_eq!(node.app.blocks()[0].txs, [good.clone()]);
    assert_eq!(good_wait.fate().await, Some(TxFate::Committed { height: Height(1) }));
    assert_eq!(doomed_wait.fate().await, Some(TxFate::Dropped { height: Height(1) }));
    assert!(node.mempool.is_empty(), "dropped transactions leave the mempool too");
}

#[test]
fn apply_failure_stops_the_engine() {
    let node = node_with(LIMITS, PRODUCER);
    node.mempool.submit(node.app.as_ref(), account_tx("kept")).expect("accepted");
    node.app.fail_apply.store(true, Ordering::SeqCst);
    let error = node.open_engine().err().expect("apply fails");
    assert!(matches!(error, EngineError::Apply { height: Height(1), .. }), "{error}");
    assert_eq!(node.mempool.len(), 1, "a failed block keeps its transactions queued");
}

#[test]
fn run_produces_until_stopped() {
    let node = node_with(LIMITS, PRODUCER);
    node.mempool.submit(node.app.as_ref(), account_tx("first")).expect("accepted");
    let engine = node.open_engine().expect("the engine opens");
    let (stop, stop_received) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || engine.run(&stop_received));

    // Wait, without a time bound on the outcome, until empty blocks follow the first.
    while node.app.blocks().len() < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.send(()).expect("the engine listens");
    thread.join().expect("no panic").expect("clean stop");
    let blocks = node.app.blocks();
    assert_eq!(blocks[0].txs, [account_tx("first")]);
    assert!(blocks[1..].iter().all(|block| block.txs.is_empty()));
}

#[test]
fn run_stops_when_the_sender_is_dropped() {
    let node = node_with(LIMITS, PRODUCER);
    let engine = node.open_engine().expect("the engine opens");
    let (stop, stop_received) = std::sync::mpsc::channel::<()>();
    drop(stop);
    engine.run(&stop_received).expect("clean stop");
}
