//! Checks of a stopped node's ledger, read in-process from its sled database. Every
//! height has a block and a commit that link to the previous block. Replaying the
//! stored blocks on a fresh state machine gives the stored state root at each height.
//!
//! The database is opened with the node's own store code and only read. Opening it
//! still runs sled's recovery and cuts an unfinished append off the transaction log,
//! the same repairs that the next `vouchd` start makes.

use std::fmt;
use std::fs::{OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vouch_node::app::App;
use vouch_node::daemon::home::Home;
use vouch_node::policy::RuntimeConfig;
use vouch_node::store::{LedgerStore, MemoryBackend, SledBackend};
use vouch_protocol::chain::{BlockHash, Height, txs_root};
use vouch_protocol::ledger::Genesis;
use vouch_protocol::state::StateRoot;

/// How long to wait for sled's directory lock after closing the database: sled 0.34
/// releases it from a background thread after the last handle is dropped.
pub const LOCK_RELEASE_WAIT: Duration = Duration::from_secs(30);

/// The pause between two looks at the lock.
const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The file in a sled 0.34 database folder that holds its `flock` lock.
const SLED_LOCK_FILE: &str = "db";

/// A failed check of a stored ledger.
#[derive(Debug)]
pub enum AuditError {
    /// The home, genesis or database does not open.
    Open { what: String, reason: String },
    /// A record that must exist at `height` is missing.
    Missing { height: u64, what: &'static str },
    /// A stored record does not agree with another.
    Mismatch { height: u64, what: String, expected: String, found: String },
    /// Reading a record at `height` failed.
    Read { height: u64, reason: String },
    /// Replaying the stored block failed.
    Replay { height: u64, reason: String },
    /// A height that an earlier audit checked now holds another block.
    Rewritten { height: u64, before: BlockHash, now: BlockHash },
    /// The store has fewer heights than an earlier audit checked.
    Shrunk { latest: u64, checked: u64 },
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::Open { what, reason } => write!(f, "cannot open {what}: {reason}"),
            AuditError::Missing { height, what } => write!(f, "height {height}: no {what} is stored"),
            AuditError::Mismatch { height, what, expected, found } => {
                write!(f, "height {height}: {what} is {found}, expected {expected}")
            }
            AuditError::Read { height, reason } => write!(f, "height {height}: reading the store failed: {reason}"),
            AuditError::Replay { height, reason } => {
                write!(f, "height {height}: replaying the stored block failed: {reason}")
            }
            AuditError::Rewritten { height, before, now } => {
                write!(f, "height {height}: the stored block was {before} at an earlier audit and is now {now}")
            }
            AuditError::Shrunk { latest, checked } => {
                write!(f, "the store ends at height {latest}, but an earlier audit checked up to height {checked}")
            }
        }
    }
}

impl std::error::Error for AuditError {}

/// What one audit found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// The store's latest committed height.
    pub latest: u64,
    /// Heights checked and replayed by this audit (those added since the previous one).
    pub replayed: u64,
    /// Transactions in the replayed blocks.
    pub txs: u64,
}

/// The audit state kept between audits of one node: a replica that has applied every
/// height checked so far, and the hash of each checked block.
pub struct LedgerAudit {
    replica: App<MemoryBackend>,
    /// `checked[h - 1]` is the hash of the block at height `h`.
    checked: Vec<BlockHash>,
    genesis_root: StateRoot,
}

impl LedgerAudit {
    /// Creates a replica at the genesis of the node home `home`, from its `genesis.json`.
    pub fn new(home: &Path) -> Result<LedgerAudit, AuditError> {
        let genesis = load_genesis(home)?;
        let store = LedgerStore::open(MemoryBackend::new()).map_err(|error| AuditError::Open {
            what: "an empty memory store".to_owned(),
            reason: error.to_string(),
        })?;
        let replica = App::open(store, &genesis, RuntimeConfig::default()).map_err(|error| AuditError::Open {
            what: "the replica state machine".to_owned(),
            reason: error.to_string(),
        })?;
        let genesis_root = replica.tip().state_root;
        Ok(LedgerAudit { replica, checked: Vec::new(), genesis_root })
    }

    /// Checks the stopped node's store: the heights an earlier audit checked still hold
    /// the same blocks, and every newer height is complete, linked and replays to its
    /// stored state root.
    pub fn audit(&mut self, store: &LedgerStore<SledBackend>) -> Result<AuditReport, AuditError> {
        let latest = store.latest_height().ok_or(AuditError::Missing { height: 0, what: "genesis state" })?.0;
        let checked = self.checked.len() as u64;
        if latest < checked {
            return Err(AuditError::Shrunk { latest, checked });
        }
        self.check_genesis(store)?;
        self.check_unchanged(store)?;
        let mut txs = 0;
        for height in checked + 1..=latest {
            txs += self.check_and_replay(store, Height(height))?;
        }
        check_nothing_above(store, latest)?;
        Ok(AuditReport { latest, replayed: latest - checked, txs })
    }

    /// Returns the number of heights checked so far.
    pub fn checked_heights(&self) -> u64 {
        self.checked.len() as u64
    }

    /// Returns the hash of the block that an audit checked at `height`.
    pub fn block_hash(&self, height: u64) -> Option<BlockHash> {
        let index = usize::try_from(height.checked_sub(1)?).ok()?;
        self.checked.get(index).copied()
    }

    fn check_genesis(&self, store: &LedgerStore<SledBackend>) -> Result<(), AuditError> {
        let stored = stored_root(store, Height::GENESIS)?;
        if stored != self.genesis_root {
            return Err(mismatch(0, "genesis state root", self.genesis_root, stored));
        }
        Ok(())
    }

    fn check_unchanged(&self, store: &LedgerStore<SledBackend>) -> Result<(), AuditError> {
        for (index, before) in self.checked.iter().enumerate() {
            let height = index as u64 + 1;
            let header = store.header(Height(height)).map_err(|error| read_error(height, error))?;
            let now = header.ok_or(AuditError::Missing { height, what: "header" })?.hash();
            if now != *before {
                return Err(AuditError::Rewritten { height, before: *before, now });
            }
        }
        Ok(())
    }

    /// Checks one new height and applies it to the replica. Returns its number of
    /// transactions.
    fn check_and_replay(&mut self, store: &LedgerStore<SledBackend>, height: Height) -> Result<u64, AuditError> {
        let h = height.0;
        let block = store.block(height).map_err(|error| read_error(h, error))?;
        let block = block.ok_or(AuditError::Missing { height: h, what: "block" })?;
        let commit = store.commit(height).map_err(|error| read_error(h, error))?;
        let commit = commit.ok_or(AuditError::Missing { height: h, what: "commit" })?;
        let header = &block.header;
        let hash = header.hash();

        if header.height != height {
            return Err(mismatch(h, "the header's height", height, header.height));
        }
        let previous = self.checked.last().copied();
        if header.previous_block_hash != previous {
            return Err(mismatch(
                h,
                "previous_block_hash",
                format!("{previous:?}"),
                format!("{:?}", header.previous_block_hash),
            ));
        }
        if commit.height != height || commit.block_hash != hash {
            return Err(mismatch(
                h,
                "the commit's block",
                format!("{hash} at {height}"),
                format!("{} at {}", commit.block_hash, commit.height),
            ));
        }
        let below = stored_root(store, Height(h - 1))?;
        if header.app_hash != below {
            return Err(mismatch(h, "app_hash", below, header.app_hash));
        }
        let root = txs_root(&block.txs);
        if header.txs_root != root {
            return Err(mismatch(h, "txs_root", hex(&root), hex(&header.txs_root)));
        }
        check_tx_index(store, h, &block.txs)?;

        let outcome = self
            .replica
            .apply_block(&block, &commit)
            .map_err(|error| AuditError::Replay { height: h, reason: error.to_string() })?;
        let stored = stored_root(store, height)?;
        if outcome.state_root != stored {
            return Err(mismatch(h, "the stored state root", outcome.state_root, stored));
        }
        self.checked.push(hash);
        Ok(block.txs.len() as u64)
    }
}

/// Checks that each transaction of the block at `height` is stored under its hash
/// with that height and its position.
fn check_tx_index(
    store: &LedgerStore<SledBackend>,
    height: u64,
    txs: &[vouch_protocol::chain::Transaction],
) -> Result<(), AuditError> {
    for (index, tx) in txs.iter().enumerate() {
        let hash = tx.hash();
        let stored = store.transaction(&hash).map_err(|error| read_error(height, error))?;
        let stored = stored.ok_or(AuditError::Missing { height, what: "transaction by hash" })?;
        if stored.height != Height(height) || stored.index as usize != index {
            return Err(mismatch(
                height,
                &format!("the position of transaction {hash}"),
                format!("{height}/{index}"),
                format!("{}/{}", stored.height, stored.index),
            ));
        }
    }
    Ok(())
}

/// Checks that no header, commit or state root is stored above the latest height, so
/// a block is never visible in part.
fn check_nothing_above(store: &LedgerStore<SledBackend>, latest: u64) -> Result<(), AuditError> {
    let above = Height(latest + 1);
    let header = store.header(above).map_err(|error| read_error(above.0, error))?;
    let commit = store.commit(above).map_err(|error| read_error(above.0, error))?;
    let root = store.state_root(above).map_err(|error| read_error(above.0, error))?;
    if header.is_some() || commit.is_some() || root.is_some() {
        return Err(mismatch(
            above.0,
            "what is stored above the latest height",
            "nothing",
            format!("header {}, commit {}, state root {}", header.is_some(), commit.is_some(), root.is_some()),
        ));
    }
    Ok(())
}

/// A stopped node's ledger, opened in this process.
pub struct StoppedLedger {
    store: LedgerStore<SledBackend>,
    data_dir: PathBuf,
}

impl StoppedLedger {
    /// Opens the ledger database of the node home `home`, which no process may be
    /// using.
    pub fn open(home: &Path) -> Result<StoppedLedger, AuditError> {
        let loaded = Home::new(home).load().map_err(|error| AuditError::Open {
            what: format!("home {}", home.display()),
            reason: error.to_string(),
        })?;
        let data_dir = loaded.config.data_dir(home);
        let open_error = |error: &dyn fmt::Display| AuditError::Open {
            what: format!("ledger database {}", data_dir.display()),
            reason: error.to_string(),
        };
        let backend = SledBackend::open(&data_dir).map_err(|error| open_error(&error))?;
        let store = LedgerStore::open(backend).map_err(|error| open_error(&error))?;
        Ok(StoppedLedger { store, data_dir })
    }

    /// Returns the store.
    pub fn store(&self) -> &LedgerStore<SledBackend> {
        &self.store
    }

    /// Closes the database and waits until sled has released its directory lock, so a
    /// `vouchd` started next can open it.
    ///
    /// # Panics
    /// When the lock is still held after [`LOCK_RELEASE_WAIT`].
    pub fn close(self) {
        drop(self.store);
        wait_for_sled_unlocked(&self.data_dir);
    }
}

/// Returns the ledger database folder of the node home `home`, from its configuration.
pub fn ledger_data_dir(home: &Path) -> Result<PathBuf, AuditError> {
    let loaded = Home::new(home)
        .load()
        .map_err(|error| AuditError::Open { what: format!("home {}", home.display()), reason: error.to_string() })?;
    Ok(loaded.config.data_dir(home))
}

/// Waits until no handle, in this process or another, holds the lock of the sled
/// database in `data_dir`.
///
/// # Panics
/// When the lock is still held after [`LOCK_RELEASE_WAIT`].
pub fn wait_for_sled_unlocked(data_dir: &Path) {
    let path = data_dir.join(SLED_LOCK_FILE);
    let started = Instant::now();
    loop {
        let file = OpenOptions::new()
            .read(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("cannot open sled's lock file {}: {error}", path.display()));
        match file.try_lock() {
            Ok(()) => return,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(error)) => panic!("cannot test the lock of {}: {error}", path.display()),
        }
        drop(file);
        assert!(
            started.elapsed() < LOCK_RELEASE_WAIT,
            "sled's lock on {} is still held {LOCK_RELEASE_WAIT:?} after the database was closed",
            path.display()
        );
        std::thread::sleep(LOCK_POLL_INTERVAL);
    }
}

fn load_genesis(home: &Path) -> Result<Genesis, AuditError> {
    Home::new(home)
        .load()
        .map(|loaded| loaded.genesis)
        .map_err(|error| AuditError::Open { what: format!("home {}", home.display()), reason: error.to_string() })
}

fn stored_root(store: &LedgerStore<SledBackend>, height: Height) -> Result<StateRoot, AuditError> {
    let root = store.state_root(height).map_err(|error| read_error(height.0, error))?;
    root.ok_or(AuditError::Missing { height: height.0, what: "state root" })
}

fn read_error(height: u64, error: impl fmt::Display) -> AuditError {
    AuditError::Read { height, reason: error.to_string() }
}

fn mismatch(height: u64, what: &str, expected: impl fmt::Display, found: impl fmt::Display) -> AuditError {
    AuditError::Mismatch { height, what: what.to_owned(), expected: expected.to_string(), found: found.to_string() }
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
