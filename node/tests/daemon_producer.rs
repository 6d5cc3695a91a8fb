//! The mempool and the block producer against the in-memory app double.

mod daemon_support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use daemon_support::{DoubleApp, GENESIS_TIME_UNIX_MS, account_tx, attestation, bad_tx, doomed_tx, validator_key};
use vouch_node::daemon::chain::ChainApp;
use vouch_node::daemon::mempool::{Mempool, MempoolError, MempoolLimits};
use vouch_node::daemon::producer::{Clock, Producer, ProducerConfig, ProducerError};
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
    producer: Producer,
}

fn node_with(limits: MempoolLimits, config: ProducerConfig) -> Node {
    let app = Arc::new(DoubleApp::new());
    let mempool = Arc::new(Mempool::new(limits));
    let waiters = Arc::new(CommitWaiters::new(100));
    let producer = Producer::new(
        app.clone(),
        mempool.clone(),
        waiters.clone(),
        validator_key(),
        config,
        fixed_clock(GENESIS_TIME_UNIX_MS + 5_000),
    );
    Node { app, mempool, waiters, producer }
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
fn produced_block_commits_in_arrival_order() {
    let node = node_with(LIMITS, PRODUCER);
    let txs = [attestation("one"), account_tx("two"), attestation("three")];
    for tx in &txs {
        node.mempool.submit(node.app.as_ref(), tx.clone()).expect("accepted");
    }
    let produced = node.producer.produce().expect("block");
    assert_eq!(produced.height, Height(1));
    assert_eq!(produced.included, txs.iter().map(Transaction::hash).collect::<Vec<_>>());
    assert!(produced.dropped.is_empty());
    assert_eq!(node.app.blocks()[0].txs, txs.to_vec());
    assert!(node.mempool.is_empty());
    assert_eq!(node.app.tip().height, Height(1));
}

#[test]
fn empty_block_advances_the_height() {
    let node = node_with(LIMITS, PRODUCER);
    node.producer.produce().expect("first block");
    node.producer.produce().expect("second block");
    let blocks = node.app.blocks();
    assert_eq!(blocks.len(), 2);
    assert!(blocks.iter().all(|block| block.txs.is_empty()));
    assert_eq!(blocks[1].header.previous_block_hash, Some(blocks[0].header.hash()));
}

#[test]
fn block_time_grows_when_the_clock_stalls() {
    // The clock reads before the genesis time, so every block takes the previous time + 1.
    let app = Arc::new(DoubleApp::new());
    let producer = Producer::new(
        app.clone(),
        Arc::new(Mempool::new(LIMITS)),
        Arc::new(CommitWaiters::new(10)),
        validator_key(),
        PRODUCER,
        fixed_clock(GENESIS_TIME_UNIX_MS - 10),
    );
    producer.produce().expect("first");
    producer.produce().expect("second");
    let times: Vec<u64> = app.blocks().iter().map(|block| block.header.time_unix_ms).collect();
    assert_eq!(times, [GENESIS_TIME_UNIX_MS + 1, GENESIS_TIME_UNIX_MS + 2]);
}

#[test]
fn block_txs_max_splits_the_queue() {
    let node = node_with(LIMITS, ProducerConfig { txs_max: 2, ..PRODUCER });
    for index in 0..5 {
        node.mempool.submit(node.app.as_ref(), account_tx(&index.to_string())).expect("accepted");
    }
    let sizes: Vec<usize> = (0..3).map(|_| node.producer.produce().expect("block").included.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
}

#[test]
fn block_bytes_max_holds_at_the_edge() {
    // Four transactions of 10 bytes; 20 bytes fit exactly two.
    let node = node_with(LIMITS, ProducerConfig { bytes_max: 20, ..PRODUCER });
    for label in ["aaaaaaaaa", "bbbbbbbbb", "ccccccccc", "ddddddddd"] {
        node.mempool.submit(node.app.as_ref(), account_tx(label)).expect("accepted");
    }
    assert_eq!(node.producer.produce().expect("block").included.len(), 2);
    let smaller = node_with(LIMITS, ProducerConfig { bytes_max: 19, ..PRODUCER });
    for label in ["aaaaaaaaa", "bbbbbbbbb"] {
        smaller.mempool.submit(smaller.app.as_ref(), account_tx(label)).expect("accepted");
    }
    assert_eq!(smaller.producer.produce().expect("block").included.len(), 1);
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

    let produced = node.producer.produce().expect("block");
    assert_eq!(produced.included, [good.hash()]);
    assert_eq!(produced.dropped, [doomed.hash()]);
    assert_eq!(good_wait.fate().await, Some(TxFate::Committed { height: Height(1) }));
    assert_eq!(doomed_wait.fate().await, Some(TxFate::Dropped { height: Height(1) }));
    assert!(node.mempool.is_empty(), "dropped transactions leave the mempool too");
}

#[test]
fn apply_failure_stops_the_producer() {
    let node = node_with(LIMITS, PRODUCER);
    node.mempool.submit(node.app.as_ref(), account_tx("kept")).expect("accepted");
    node.app.fail_apply.store(true, Ordering::SeqCst);
    let error = node.producer.produce().expect_err("apply fails");
    assert!(matches!(error, ProducerError::Apply { height: Height(1), .. }), "{error}");
    assert_eq!(node.mempool.len(), 1, "a failed block keeps its transactions queued");
}

#[test]
fn run_produces_until_stopped() {
    let node = node_with(LIMITS, PRODUCER);
    node.mempool.submit(node.app.as_ref(), account_tx("first")).expect("accepted");
    let (stop, stop_received) = std::sync::mpsc::channel();
    let app = node.app.clone();
    let thread = std::thread::spawn(move || node.producer.run(&stop_received));

    // Wait, without a time bound on the outcome, until empty blocks follow the first.
    while app.blocks().len() < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.send(()).expect("the producer listens");
    thread.join().expect("no panic").expect("clean stop");
    let blocks = app.blocks();
    assert_eq!(blocks[0].txs, [account_tx("first")]);
    assert!(blocks[1..].iter().all(|block| block.txs.is_empty()));
}

#[test]
fn run_stops_when_the_sender_is_dropped() {
    let node = node_with(LIMITS, PRODUCER);
    let (stop, stop_received) = std::sync::mpsc::channel::<()>();
    drop(stop);
    node.producer.run(&stop_received).expect("clean stop");
}
