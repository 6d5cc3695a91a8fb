//! The ledger state machine of `vouchd`: turns committed blocks into state, checks
//! transactions for the mempool, builds blocks, and serves queries.
//!
//! # Design
//! [`App`] owns the ledger store, the policy runtime and caches. A block runs in an
//! `Execution`: the block's transactions write to an overlay of the committed state,
//! then the verdicts of every touched image are computed (in parallel, merged in
//! digest order), and the overlay becomes one tree version, stored with the block in
//! one `LedgerStore::commit_block`. docs/STATE.md states the rules.
//!
//! # Invariants
//! - Applying the same blocks to the same genesis gives the same state roots on every
//!   node; nothing depends on arrival order, wall-clock time or caches.
//! - Only one block applies at a time. Queries read the committed state through a
//!   snapshot that is swapped after the block is stored, so they never see a partial
//!   block and never wait for one.

mod actions;
mod attestation;
mod block;
mod directory;
mod error;
mod evaluate;
mod execute;
mod genesis;
mod governance;
mod overlay;
mod query;
mod reevaluate;
mod stage;
mod staking;

pub use actions::{
    BINDING_POLICIES_MAX, PARAMETERS_BYTES_MAX, STORAGE_ENTRIES_MAX, STORAGE_KEY_BYTES_MAX, STORAGE_VALUE_BYTES_MAX,
};
pub use attestation::{ATTESTATION_IMAGES_MAX, COMMITTED_READS_BYTES_MAX, PENDING_READS_BYTES_MAX, ReadCacheLimits};
pub use error::{AppError, QueryError, TxRejection};
pub use execute::TxKind;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use vouch_protocol::chain::{BlockHash, Height, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::ledger::{Genesis, GenesisValidator};
use vouch_protocol::signing::ChainId;
use vouch_protocol::state::{StateKey, StateRoot};

use crate::policy::{CodeHash, PolicyRuntime, RuntimeConfig};
use crate::state::AuthenticatedState;
use crate::store::{Backend, GenesisWrite, LedgerStore};

use crate::lru::Lru;
use attestation::ReadCache;
use directory::{Directory, param, parameter};
use overlay::Overlay;
use reevaluate::Schedule;

/// Number of (transaction hash, envelope hash) pairs kept in memory, so evaluating an
/// image does not read its committed attestations' envelopes again.
pub const ENVELOPE_HASH_CACHE_ENTRIES: usize = 65_536;

/// Bytes an entry of the envelope hash cache takes: two hashes, its use mark and the
/// maps' bookkeeping (an estimate).
const ENVELOPE_HASH_ENTRY_BYTES: usize = 128;

/// The latest committed block and the validator set after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainTip {
    /// The latest committed height; 0 before the first block.
    pub height: Height,
    /// The latest block's hash; `None` before the first block.
    pub block_hash: Option<BlockHash>,
    /// The latest block's time (the genesis time before the first block), Unix ms.
    pub time_unix_ms: u64,
    /// The state root after the latest block.
    pub state_root: StateRoot,
    /// The validators that sign the next block, in commit index order.
    pub validators: Vec<GenesisValidator>,
}

/// A transaction that passed the checks against the latest committed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedTx {
    /// The transaction's hash.
    pub hash: TxHash,
    /// The transaction's kind.
    pub kind: TxKind,
    /// For an attestation, the first image it attests (in digest order).
    pub image: Option<Digest>,
    /// For an account transaction, the signer and its nonce.
    pub account: Option<(PublicKey, u64)>,
}

/// The result of applying a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The block's height.
    pub height: Height,
    /// The block's hash.
    pub block_hash: BlockHash,
    /// The state root after the block.
    pub state_root: StateRoot,
    /// Each transaction's outcome in block order: `applied...` or `rejected: ...`.
    pub tx_outcomes: Vec<(TxHash, String)>,
    /// Images whose verdicts the block computed, in digest order.
    pub evaluated: Vec<Digest>,
}

/// The parts that block application and queries share.
pub(crate) struct Shared<B> {
    pub(crate) store: LedgerStore<B>,
    pub(crate) runtime: PolicyRuntime,
    pub(crate) chain_id: ChainId,
    pub(crate) reads: ReadCache,
    pub(crate) envelope_hashes: Mutex<Lru<TxHash, [u8; 32]>>,
}

/// The committed state's in-memory parts at one height.
#[derive(Clone, Debug)]
pub(crate) struct Committed {
    pub(crate) tip: ChainTip,
    pub(crate) directory: Directory,
}

/// The ledger state machine over a ledger store.
pub struct App<B> {
    shared: Shared<B>,
    committed: RwLock<Arc<Committed>>,
    /// Held while a block applies; holds the known images and expiries.
    applying: Mutex<Schedule>,
    /// The execution of the block this node proposed last.
    prepared: Mutex<Option<block::Prepared>>,
}

impl<B: Backend> App<B> {
    /// Opens the app on a store; applies `genesis` (validators, attesters, policies
    /// with code under `StateKey::PolicyCode`, bindings, parameters) when the store is
    /// empty, otherwise checks that the stored genesis hash equals `genesis`'s and
    /// resumes at the last committed height. Standard policy code comes from
    /// `policy::standard::by_name`, checked against the genesis file's `code_hash`.
    pub fn open(store: LedgerStore<B>, genesis: &Genesis, runtime: RuntimeConfig) -> Result<App<B>, AppError> {
        App::open_with_limits(store, genesis, runtime, ReadCacheLimits::default())
    }

    /// Opens the app as [`App::open`] does, with the given read cache bounds.
    pub fn open_with_limits(
        store: LedgerStore<B>,
        genesis: &Genesis,
        runtime: RuntimeConfig,
        reads: ReadCacheLimits,
    ) -> Result<App<B>, AppError> {
        let runtime = RuntimeConfig { limits: genesis.policy_limits.clone(), ..runtime };
        let runtime = PolicyRuntime::new(runtime)?;
        let capacity = NonZeroUsize::new(ENVELOPE_HASH_CACHE_ENTRIES).expect("the cache size is not zero");
        let shared = Shared {
            store,
            runtime,
            chain_id: genesis.chain_id.clone(),
            reads: ReadCache::new(reads),
            envelope_hashes: Mutex::new(Lru::new(capacity)),
        };

        let latest = match shared.store.latest_height() {
            Some(latest) => {
                check_genesis_hash(&shared, latest, genesis)?;
                latest
            }
            None => commit_genesis(&shared, genesis)?,
        };
        let committed = load_committed(&shared, latest)?;
        let schedule = load_schedule(&shared, latest)?;
        tracing::info!(
            chain = %shared.chain_id,
            height = latest.0,
            state_root = %committed.tip.state_root,
            expiring_images = schedule.expiring_count(),
            "ledger opened"
        );
        Ok(App {
            shared,
            committed: RwLock::new(Arc::new(committed)),
            applying: Mutex::new(schedule),
            prepared: Mutex::new(None),
        })
    }

    /// Returns the chain id.
    pub fn chain_id(&self) -> &ChainId {
        &self.shared.chain_id
    }

    /// Returns the latest committed block: height, hash, time, state root after it
    /// and the validators.
    pub fn tip(&self) -> ChainTip {
        self.snapshot().tip.clone()
    }

    /// Returns the ledger store.
    pub fn store(&self) -> &LedgerStore<B> {
        &self.shared.store
    }

    /// Empties the caches that only save reads: tree nodes, attestation readings and
    /// envelope hashes. Returns the bytes they were charged. Nothing committed or
    /// waiting is lost; later blocks and queries read from the store until the caches
    /// fill again.
    pub fn release_caches(&self) -> usize {
        let tree_bytes = self.shared.store.release_tree_caches();
        let read_bytes = self.shared.reads.clear();
        let hashes = self.shared.envelope_hashes.lock().unwrap_or_else(PoisonError::into_inner).clear();
        let hash_bytes = hashes * ENVELOPE_HASH_ENTRY_BYTES;
        tracing::debug!(tree_bytes, read_bytes, envelope_hashes = hashes, "caches emptied");
        tree_bytes + read_bytes + hash_bytes
    }

    /// Has the storage engine give back the memory it keeps beyond its caches, and
    /// returns whether it did anything. A failure is logged, not returned: the next
    /// read or write opens the database again, and reports the error if that fails too.
    pub fn release_store_memory(&self) -> bool {
        match self.shared.store.release_backend_memory() {
            Ok(released) => released,
            Err(error) => {
                tracing::error!(%error, "releasing the database's memory failed; a closed database opens again at the next read or write");
                false
            }
        }
    }

    /// Returns the stored outcome of a committed transaction with its height.
    pub fn tx_outcome(&self, hash: &TxHash) -> Result<Option<(Height, String)>, AppError> {
        let Some(stored) = self.shared.store.transaction(hash)? else {
            return Ok(None);
        };
        let outcome = self.shared.store.tx_outcome(hash)?.unwrap_or_else(|| "applied".to_owned());
        Ok(Some((stored.height, outcome)))
    }

    fn snapshot(&self) -> Arc<Committed> {
        Arc::clone(&self.committed.read().unwrap_or_else(PoisonError::into_inner))
    }
}

fn commit_genesis<B: Backend>(shared: &Shared<B>, genesis: &Genesis) -> Result<Height, AppError> {
    let mut state = Overlay::new(&shared.store, None);
    genesis::write_genesis(&mut state, genesis, &shared.runtime)?;
    let changes = state.into_changes()?;
    let (state_root, tree_writes) = AuthenticatedState::new(&shared.store).apply(Height::GENESIS, &changes)?;
    shared.store.commit_genesis(GenesisWrite { tree_writes, state_root })?;
    tracing::info!(chain = %shared.chain_id, %state_root, "genesis committed");
    Ok(Height::GENESIS)
}

fn check_genesis_hash<B: Backend>(shared: &Shared<B>, latest: Height, genesis: &Genesis) -> Result<(), AppError> {
    let state = Overlay::new(&shared.store, Some(latest));
    // Every initialized store records its genesis hash; without it the store was
    // damaged (sled recovered only part of its log, for one), not started elsewhere.
    let stored: String = state
        .get(&parameter(param::GENESIS_HASH))?
        .ok_or_else(|| AppError::MissingRecord { key: format!("parameter {}", param::GENESIS_HASH) })?;
    let given = genesis::genesis_hash(genesis);
    if stored != given {
        return Err(AppError::GenesisMismatch { stored, given });
    }
    Ok(())
}

fn load_committed<B: Backend>(shared: &Shared<B>, height: Height) -> Result<Committed, AppError> {
    let state = Overlay::new(&shared.store, Some(height));
    let directory = Directory::load(&state)?;
    check_policy_code(&state, &directory)?;
    let state_root = AuthenticatedState::new(&shared.store).root(height)?;
    let (block_hash, time_unix_ms) = match height {
        Height::GENESIS => (None, state.get(&parameter(param::GENESIS_TIME))?.unwrap_or(0)),
        _ => {
            let header = shared.store.header(height)?.ok_or_else(|| AppError::CorruptRecord {
                key: format!("header {height}"),
                reason: "the committed height has no header".to_owned(),
            })?;
            (Some(header.hash()), header.time_unix_ms)
        }
    };
    let validators = directory
        .validators
        .iter()
        .map(|(key, record)| GenesisValidator { name: record.name.clone(), public_key: *key, stake: record.stake })
        .collect();
    let tip = ChainTip { height, block_hash, time_unix_ms, state_root, validators };
    Ok(Committed { tip, directory })
}

/// Reads the code of every deployed policy and checks it against its hash, so that a
/// damaged store is reported when the node opens rather than at the first evaluation.
/// The code is compiled later, when an evaluation first needs it.
fn check_policy_code<B: Backend>(state: &Overlay<'_, B>, directory: &Directory) -> Result<(), AppError> {
    for record in directory.policies.values() {
        let key = StateKey::PolicyCode { code_hash: record.code_hash };
        let name = format!("policy code {}", hex::encode(record.code_hash));
        let wasm = state.get_bytes(&key)?.ok_or_else(|| AppError::CorruptRecord {
            key: name.clone(),
            reason: format!("policy {} names this code, but the state holds none", record.name),
        })?;
        if CodeHash::of(&wasm).0 != record.code_hash {
            return Err(AppError::CorruptRecord {
                key: name,
                reason: format!("the stored code of policy {} does not match its hash", record.name),
            });
        }
    }
    Ok(())
}

fn load_schedule<B: Backend>(shared: &Shared<B>, height: Height) -> Result<Schedule, AppError> {
    let mut schedule = Schedule::default();
    if let Some(expiries) = shared.store.expiries()? {
        for (image, expiry) in expiries {
            schedule.record(&image, Some(expiry));
        }
        return Ok(schedule);
    }

    // A store written before the expiry table: read every verdict once and store the
    // table, so later opens skip this.
    let started = std::time::Instant::now();
    let state = Overlay::new(&shared.store, Some(height));
    let mut after = None;
    loop {
        let images = shared.store.images_after(after.as_ref(), SCHEDULE_READ_IMAGES)?;
        for image in &images {
            let record = state.get(&vouch_protocol::state::StateKey::Verdict { image: image.clone() })?;
            if let Some(record) = record {
                schedule.record(image, reevaluate::expiry(&record));
            }
        }
        match images.last() {
            Some(last) if images.len() == SCHEDULE_READ_IMAGES => after = Some(last.clone()),
            _ => break,
        }
    }
    shared.store.build_expiries(&schedule.entries())?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        expiring_images = schedule.expiring_count(),
        elapsed_ms,
        "built the stored expiry table from every verdict"
    );
    Ok(schedule)
}

/// Images whose verdicts the node reads at a time when it rebuilds the expiry schedule.
const SCHEDULE_READ_IMAGES: usize = 1024;
