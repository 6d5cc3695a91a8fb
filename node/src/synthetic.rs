//! A synthetic chain for crash tests and benchmarks: blocks of attestation-index
//! writes and revocations, produced, signed and committed the way a single validator
//! commits its own blocks.
//!
//! Each transaction is the canonical encoding of a [`SyntheticTx`], so anyone holding
//! the stored blocks can replay them and recompute every state root.

use serde::{Deserialize, Serialize};
use vouch_protocol::chain::{Block, Commit, CommitSignature, Header, Height, Precommit, Transaction, TxHash, txs_root};
use vouch_protocol::digest::Digest;
use vouch_protocol::encoding::{self, EncodingError};
use vouch_protocol::keys::{PublicKey, SigningKey};
use vouch_protocol::signing::ChainId;
use vouch_protocol::state::StateKey;

use crate::state::{AuthenticatedState, StateChanges, StateError};
use crate::store::{Backend, BlockWrite, GenesisWrite, LedgerStore, StoreError};

/// Block time of height 0, in milliseconds since the Unix epoch; each height adds one
/// second.
const GENESIS_TIME_UNIX_MS: u64 = 1_700_000_000_000;

/// Number of distinct images that the synthetic attestations are about.
const IMAGES: u64 = 997;

/// Errors from building or replaying synthetic blocks.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    #[error("ledger store: {0}")]
    Store(#[from] StoreError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("transaction {index} of the synthetic block is not a synthetic transaction: {source}")]
    InvalidTransaction {
        index: usize,
        #[source]
        source: EncodingError,
    },
    #[error("the ledger store holds no genesis state")]
    NotInitialized,
    #[error("no {what} is stored at height {height}")]
    Missing { what: &'static str, height: Height },
}

/// One synthetic transaction: an attestation to record and, optionally, an earlier one
/// to revoke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyntheticTx {
    /// The image that the attestation is about.
    pub image: Digest,
    /// The hash that identifies the attestation's envelope.
    pub envelope_hash: [u8; 32],
    /// The record stored under the attestation's state key.
    pub record: Vec<u8>,
    /// An earlier attestation to delete from the index, as (image, envelope hash).
    pub revokes: Option<(Digest, [u8; 32])>,
}

impl SyntheticTx {
    /// Returns the transaction number `index` of the block at `height`: every seventh
    /// one revokes the attestation with the same number one height below.
    pub fn at(height: Height, index: u64) -> SyntheticTx {
        let (image, envelope_hash) = attestation_id(height.0, index);
        let revokes = (height.0 > 1 && index % 7 == 3).then(|| attestation_id(height.0 - 1, index));
        let record = format!("attestation {index} of height {height} about {image}").into_bytes();
        SyntheticTx { image, envelope_hash, record, revokes }
    }

    fn key(&self) -> StateKey {
        StateKey::Attestation { image: self.image.clone(), envelope_hash: self.envelope_hash }
    }
}

fn attestation_id(height: u64, index: u64) -> (Digest, [u8; 32]) {
    let image_number = (height.wrapping_mul(31).wrapping_add(index)) % IMAGES;
    let image = Digest::sha256(format!("image {image_number}").as_bytes());
    let envelope_hash = *blake3::hash(format!("envelope {index} of height {height}").as_bytes()).as_bytes();
    (image, envelope_hash)
}

/// Returns the `count` synthetic transactions of the block at `height`.
pub fn transactions(height: Height, count: u64) -> Vec<Transaction> {
    (0..count).map(|index| Transaction::new(encoding::encode(&SyntheticTx::at(height, index)))).collect()
}

/// Decodes the synthetic transactions of a block.
pub fn decode(txs: &[Transaction]) -> Result<Vec<SyntheticTx>, SyntheticError> {
    let decode_one = |(index, tx): (usize, &Transaction)| {
        encoding::decode(tx.bytes()).map_err(|source| SyntheticError::InvalidTransaction { index, source })
    };
    txs.iter().enumerate().map(decode_one).collect()
}

/// Returns the state changes of a block's synthetic transactions, in order.
pub fn changes(txs: &[SyntheticTx]) -> Result<StateChanges, StateError> {
    let mut changes = StateChanges::new();
    for tx in txs {
        if let Some((image, envelope_hash)) = &tx.revokes {
            changes.delete(&StateKey::Attestation { image: image.clone(), envelope_hash: *envelope_hash })?;
        }
        changes.set(&tx.key(), tx.record.clone())?;
    }
    Ok(changes)
}

/// Returns the state changes of the genesis state: one parameter.
pub fn genesis_changes() -> StateChanges {
    let mut changes = StateChanges::new();
    let key = StateKey::Parameter { name: "synthetic-chain".to_owned() };
    changes.set(&key, b"genesis".to_vec()).expect("a short parameter is within the limits");
    changes
}

/// Produces the blocks of a chain with one validator.
pub struct SyntheticChain {
    chain_id: ChainId,
    validator: SigningKey,
}

impl SyntheticChain {
    /// Creates the chain `vouch-synthetic` with a validator key made from `seed`.
    pub fn new(seed: u8) -> SyntheticChain {
        let chain_id = ChainId::new("vouch-synthetic").expect("the name is a valid chain id");
        SyntheticChain { chain_id, validator: SigningKey::from_seed(&[seed; 32]) }
    }

    /// Returns the chain id that the commits are signed for.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// Returns the public key of the one validator, which signs every commit.
    pub fn validator(&self) -> PublicKey {
        self.validator.public_key()
    }

    /// Commits the genesis state if `store` has none yet.
    pub fn init<B: Backend>(&self, store: &LedgerStore<B>) -> Result<(), SyntheticError> {
        if store.latest_height().is_some() {
            return Ok(());
        }
        let (state_root, tree_writes) = AuthenticatedState::new(store).apply(Height::GENESIS, &genesis_changes())?;
        store.commit_genesis(GenesisWrite { tree_writes, state_root })?;
        Ok(())
    }

    /// Builds the next block of `store` from synthetic transactions.
    pub fn next_block<B: Backend>(
        &self,
        store: &LedgerStore<B>,
        txs: Vec<Transaction>,
    ) -> Result<BlockWrite, SyntheticError> {
        let decoded = decode(&txs)?;
        let changes = changes(&decoded)?;
        let attestations =
            decoded.iter().zip(&txs).map(|(synthetic, tx)| (synthetic.image.clone(), tx.hash())).collect();
        self.block_write(store, txs, &changes, attestations)
    }

    /// Builds the next block of `store` with any transactions, state changes and
    /// attestation index entries.
    pub fn block_write<B: Backend>(
        &self,
        store: &LedgerStore<B>,
        txs: Vec<Transaction>,
        changes: &StateChanges,
        attestations: Vec<(Digest, TxHash)>,
    ) -> Result<BlockWrite, SyntheticError> {
        let latest = store.latest_height().ok_or(SyntheticError::NotInitialized)?;
        let height = latest.next().ok_or(SyntheticError::NotInitialized)?;
        let (state_root, tree_writes) = AuthenticatedState::new(store).apply(height, changes)?;

        let header = self.header(store, latest, &txs)?;
        let commit = self.commit(&header);
        Ok(BlockWrite {
            block: Block { header, txs },
            commit,
            attestations,
            outcomes: Vec::new(),
            tree_writes,
            state_root,
            staged: None,
            expiries: Vec::new(),
        })
    }

    fn header<B: Backend>(
        &self,
        store: &LedgerStore<B>,
        latest: Height,
        txs: &[Transaction],
    ) -> Result<Header, SyntheticError> {
        let app_hash =
            store.state_root(latest)?.ok_or(SyntheticError::Missing { what: "state root", height: latest })?;
        let previous_block_hash = match latest {
            Height::GENESIS => None,
            _ => Some(store.header(latest)?.ok_or(SyntheticError::Missing { what: "header", height: latest })?.hash()),
        };
        let height = Height(latest.0 + 1);
        let validators_hash = *blake3::hash(self.validator.public_key().as_bytes()).as_bytes();
        Ok(Header {
            chain_id: self.chain_id.clone(),
            height,
            time_unix_ms: GENESIS_TIME_UNIX_MS + height.0 * 1000,
            previous_block_hash,
            txs_root: txs_root(txs),
            app_hash,
            validators_hash,
            next_validators_hash: validators_hash,
            proposer: self.validator.public_key(),
        })
    }

    fn commit(&self, header: &Header) -> Commit {
        let time_unix_ms = header.time_unix_ms + 1;
        let block_hash = header.hash();
        let precommit = Precommit { height: header.height, round: 0, block_hash: Some(block_hash), time_unix_ms };
        let signature = precommit.sign(&self.validator, &self.chain_id);
        Commit {
            height: header.height,
            round: 0,
            block_hash,
            signatures: vec![CommitSignature { validator_index: 0, time_unix_ms, signature }],
        }
    }
}
