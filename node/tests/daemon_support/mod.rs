//! An in-memory stand-in for the ledger state machine, for the daemon's tests: it
//! builds real headers and verifies real commit signatures, but its transactions are
//! plain bytes whose first byte selects what the double does with them.
//!
//! | first byte | check_tx | propose_block |
//! |---|---|---|
//! | `A` | accepted, an attestation about `sha256(rest)` | included |
//! | `N` | accepted, an account transaction | included |
//! | `D` | accepted until a block leaves it out, then `nonce_mismatch` | left out |
//! | `X` | rejected with `signature_invalid` | left out |
//!
//! A committed transaction is rejected by `check_tx` with `duplicate`.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use vouch_consensus::TimeoutConfig;
use vouch_node::daemon::chain::{AppError, BlockOutcome, ChainApp, ChainTip, CheckedTx, QueryError, TxRejection};
use vouch_node::daemon::engine::{Engine, EngineConfig, EngineError};
use vouch_node::daemon::mempool::Mempool;
use vouch_node::daemon::producer::{Clock, ProducerConfig};
use vouch_node::daemon::waiters::CommitWaiters;
use vouch_protocol::api::{
    AccountResponse, AttestationView, AttestationsResponse, AttestersResponse, BlockResponse, ImageProof,
    ImageStatusResponse, PoliciesResponse, ProposalsResponse, ValidatorView, ValidatorsResponse,
};
use vouch_protocol::chain::{Block, Commit, Header, Height, Transaction, TxHash, txs_root};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::{PublicKey, SigningKey};
use vouch_protocol::ledger::ImageStatus;
use vouch_protocol::signing::ChainId;
use vouch_protocol::state::StateRoot;

/// The chain id of the double.
pub const CHAIN_ID: &str = "vouch-test";

/// The genesis time of the double, Unix milliseconds.
pub const GENESIS_TIME_UNIX_MS: u64 = 1_700_000_000_000;

/// Returns the validator key of the double's chain.
pub fn validator_key() -> SigningKey {
    SigningKey::from_seed(&[42; 32])
}

/// Returns an attestation transaction of the double about `sha256(label)`.
pub fn attestation(label: &str) -> Transaction {
    Transaction::new([b"A", label.as_bytes()].concat())
}

/// Returns the image of [`attestation`]`(label)`.
pub fn image_of(label: &str) -> Digest {
    Digest::sha256(label.as_bytes())
}

/// Returns an account transaction of the double.
pub fn account_tx(label: &str) -> Transaction {
    Transaction::new([b"N", label.as_bytes()].concat())
}

/// Returns a transaction that passes the first check but that the next block leaves out.
pub fn doomed_tx(label: &str) -> Transaction {
    Transaction::new([b"D", label.as_bytes()].concat())
}

/// Returns a transaction that the check rejects.
pub fn bad_tx(label: &str) -> Transaction {
    Transaction::new([b"X", label.as_bytes()].concat())
}

/// A gate that blocks `validators()` while closed, so tests can hold requests in
/// progress.
#[derive(Default)]
pub struct Gate {
    closed: Mutex<bool>,
    opened: Condvar,
    /// How many calls are waiting at the gate.
    pub waiting: AtomicUsize,
}

impl Gate {
    pub fn close(&self) {
        *self.closed.lock().unwrap() = true;
    }

    pub fn open(&self) {
        *self.closed.lock().unwrap() = false;
        self.opened.notify_all();
    }

    fn pass(&self) {
        let mut closed = self.closed.lock().unwrap();
        if *closed {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            while *closed {
                closed = self.opened.wait(closed).unwrap();
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[derive(Default)]
struct DoubleState {
    blocks: Vec<(Block, Commit)>,
    committed: HashMap<TxHash, Height>,
    dropped: HashSet<TxHash>,
    attested: HashMap<Digest, Vec<(TxHash, Height)>>,
    root: [u8; 32],
}

/// The in-memory double of the ledger state machine.
pub struct DoubleApp {
    chain_id: ChainId,
    validator: PublicKey,
    state: Mutex<DoubleState>,
    /// Time each `apply_block` sleeps before it applies, to hold a block in progress.
    pub apply_delay: Mutex<Duration>,
    /// Set while `apply_block` runs.
    pub applying: AtomicBool,
    /// Holds `validators()` while closed.
    pub gate: Gate,
    /// Makes `attesters()`, `policies()` and `proposals()` fail as internal errors.
    pub fail_queries: AtomicBool,
    /// Makes `apply_block` fail.
    pub fail_apply: AtomicBool,
}

impl Default for DoubleApp {
    fn default() -> DoubleApp {
        DoubleApp::new()
    }
}

impl DoubleApp {
    pub fn new() -> DoubleApp {
        DoubleApp {
            chain_id: ChainId::new(CHAIN_ID).unwrap(),
            validator: validator_key().public_key(),
            state: Mutex::new(DoubleState::default()),
            apply_delay: Mutex::new(Duration::ZERO),
            applying: AtomicBool::new(false),
            gate: Gate::default(),
            fail_queries: AtomicBool::new(false),
            fail_apply: AtomicBool::new(false),
        }
    }

    /// Returns the committed blocks.
    pub fn blocks(&self) -> Vec<Block> {
        self.state.lock().unwrap().blocks.iter().map(|(block, _)| block.clone()).collect()
    }

    /// Returns the height that committed `hash`.
    pub fn committed_at(&self, hash: &TxHash) -> Option<Height> {
        self.state.lock().unwrap().committed.get(hash).copied()
    }

    fn internal_if_failing(&self) -> Result<(), QueryError> {
        if self.fail_queries.load(Ordering::SeqCst) {
            return Err(QueryError::Internal("the double was told to fail".to_owned()));
        }
        Ok(())
    }
}

fn reject(code: &'static str, message: &str) -> TxRejection {
    TxRejection { code, message: message.to_owned() }
}

impl ChainApp for DoubleApp {
    fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    fn tip(&self) -> ChainTip {
        let state = self.state.lock().unwrap();
        match state.blocks.last() {
            None => ChainTip {
                height: Height::GENESIS,
                block_hash: None,
                time_unix_ms: GENESIS_TIME_UNIX_MS,
                state_root: StateRoot(state.root),
            },
            Some((block, _)) => ChainTip {
                height: block.header.height,
                block_hash: Some(block.header.hash()),
                time_unix_ms: block.header.time_unix_ms,
                state_root: StateRoot(state.root),
            },
        }
    }

    fn check_tx(&self, tx: &Transaction) -> Result<CheckedTx, TxRejection> {
        let hash = tx.hash();
        let state = self.state.lock().unwrap();
        if state.committed.contains_key(&hash) {
            return Err(reject("duplicate", "the transaction is already committed"));
        }
        match tx.bytes().first() {
            Some(b'A') => Ok(CheckedTx { hash, image: Some(Digest::sha256(&tx.bytes()[1..])) }),
            Some(b'N') => Ok(CheckedTx { hash, image: None }),
            Some(b'D') if state.dropped.contains(&hash) => {
                Err(reject("nonce_mismatch", "the nonce is 0 but the account's next nonce is 1"))
            }
            Some(b'D') => Ok(CheckedTx { hash, image: None }),
            _ => Err(reject("signature_invalid", "the double rejects transactions that start with X")),
        }
    }

    fn propose_block(&self, txs: Vec<Transaction>, time_unix_ms: u64, proposer: &PublicKey) -> Result<Block, AppError> {
        let tip = self.tip();
        let mut state = self.state.lock().unwrap();
        let mut kept = Vec::new();
        for tx in txs {
            match tx.bytes().first() {
                Some(b'A' | b'N') => kept.push(tx),
                _ => {
                    state.dropped.insert(tx.hash());
                }
            }
        }
        let height = tip.height.next().unwrap();
        assert!(time_unix_ms > tip.time_unix_ms, "block time must grow");
        let validators_hash = *blake3::hash(self.validator.as_bytes()).as_bytes();
        let header = Header {
            chain_id: self.chain_id.clone(),
            height,
            time_unix_ms,
            previous_block_hash: tip.block_hash,
            txs_root: txs_root(&kept),
            app_hash: tip.state_root,
            validators_hash,
            next_validators_hash: validators_hash,
            proposer: *proposer,
        };
        Ok(Block { header, txs: kept })
    }

    fn apply_block(&self, block: &Block, commit: &Commit) -> Result<BlockOutcome, AppError> {
        self.applying.store(true, Ordering::SeqCst);
        std::thread::sleep(*self.apply_delay.lock().unwrap());
        let result = self.apply(block, commit);
        self.applying.store(false, Ordering::SeqCst);
        result
    }

    fn tx_outcome(&self, hash: &TxHash) -> Result<Option<(Height, String)>, AppError> {
        Ok(self.committed_at(hash).map(|height| (height, "applied".to_owned())))
    }

    fn image_status(
        &self,
        image: &Digest,
        repository: Option<&str>,
        proof: bool,
    ) -> Result<ImageStatusResponse, QueryError> {
        let state = self.state.lock().unwrap();
        let height = state.blocks.len() as u64;
        let status = if state.attested.contains_key(image) { ImageStatus::Approved } else { ImageStatus::Pending };
        let proof = match (proof, state.blocks.last()) {
            (true, Some((block, commit))) => Some(ImageProof {
                height: height - 1,
                record: None,
                state_proof: String::new(),
                header: BASE64.encode(block.header.to_bytes()),
                commit: BASE64.encode(commit.to_bytes()),
            }),
            (true, None) => return Err(QueryError::NotFound("no block yet to prove against".to_owned())),
            (false, _) => None,
        };
        Ok(ImageStatusResponse {
            image: image.clone(),
            status,
            repository: repository.map(str::to_owned),
            height,
            names: Vec::new(),
            verdicts: Vec::new(),
            proof,
        })
    }

    fn attestations(&self, image: &Digest) -> Result<AttestationsResponse, QueryError> {
        let state = self.state.lock().unwrap();
        let Some(entries) = state.attested.get(image) else {
            return Err(QueryError::NotFound(format!("no attestation about {image}")));
        };
        let attestations = entries
            .iter()
            .map(|(hash, height)| AttestationView {
                envelope_hash: hash.to_hex(),
                attester: "double".to_owned(),
                attester_name: None,
                role: None,
                predicate_type: "https://example.test/double".to_owned(),
                subject_names: Vec::new(),
                tx_hash: hash.to_hex(),
                height: height.0,
                time_unix_ms: 0,
            })
            .collect();
        Ok(AttestationsResponse { image: image.clone(), attestations })
    }

    fn block(&self, height: u64) -> Result<Option<BlockResponse>, QueryError> {
        let state = self.state.lock().unwrap();
        let index = height.checked_sub(1).map(|index| index as usize);
        Ok(index.and_then(|index| state.blocks.get(index)).map(|(block, commit)| BlockResponse {
            height,
            hash: block.header.hash().to_hex(),
            time_unix_ms: block.header.time_unix_ms,
            app_hash: block.header.app_hash.to_hex(),
            txs: block.txs.iter().map(|tx| tx.hash().to_hex()).collect(),
            header: BASE64.encode(block.header.to_bytes()),
            commit: BASE64.encode(commit.to_bytes()),
        }))
    }

    fn validators(&self) -> ValidatorsResponse {
        self.gate.pass();
        let height = self.state.lock().unwrap().blocks.len() as u64;
        ValidatorsResponse {
            height,
            validators: vec![ValidatorView {
                name: "double".to_owned(),
                public_key: self.validator.to_hex(),
                stake: 10,
            }],
        }
    }

    fn account(&self, key: &PublicKey) -> Result<AccountResponse, QueryError> {
        let stake = if *key == self.validator { 10 } else { 0 };
        Ok(AccountResponse { public_key: key.to_hex(), nonce: 0, stake })
    }

    fn attesters(&self) -> Result<AttestersResponse, QueryError> {
        self.internal_if_failing()?;
        Ok(AttestersResponse { attesters: Vec::new() })
    }

    fn policies(&self) -> Result<PoliciesResponse, QueryError> {
        self.internal_if_failing()?;
        Ok(PoliciesResponse { policies: Vec::new(), bindings: Vec::new() })
    }

    fn proposals(&self) -> Result<ProposalsResponse, QueryError> {
        self.internal_if_failing()?;
        Ok(ProposalsResponse { proposals: Vec::new() })
    }
}

impl DoubleApp {
    fn apply(&self, block: &Block, commit: &Commit) -> Result<BlockOutcome, AppError> {
        let height = block.header.height;
        let invalid = |reason: String| AppError::InvalidBlock { height, reason };
        if self.fail_apply.load(Ordering::SeqCst) {
            return Err(AppError::Store("the double was told to fail".to_owned()));
        }
        block.validate().map_err(|error| invalid(error.to_string()))?;
        if commit.block_hash != block.header.hash() || commit.height != height {
            return Err(invalid("the commit is for another block".to_owned()));
        }
        commit.verify_signatures(&self.chain_id, &[self.validator]).map_err(|error| invalid(error.to_string()))?;

        let mut state = self.state.lock().unwrap();
        if height.0 != state.blocks.len() as u64 + 1 {
            return Err(invalid(format!("the next height is {}", state.blocks.len() + 1)));
        }
        let mut outcomes = Vec::new();
        for tx in &block.txs {
            let hash = tx.hash();
            state.committed.insert(hash, height);
            if tx.bytes().first() == Some(&b'A') {
                state.attested.entry(Digest::sha256(&tx.bytes()[1..])).or_default().push((hash, height));
            }
            outcomes.push((hash, "applied".to_owned()));
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&state.root);
        hasher.update(&block.header.hash().0);
        state.root = *hasher.finalize().as_bytes();
        state.blocks.push((block.clone(), commit.clone()));
        Ok(BlockOutcome { tx_outcomes: outcomes })
    }
}

/// Sends one HTTP/1.1 request over a new loopback connection and returns the status
/// code and the body; the connection closes after the response.
pub fn http_request(address: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};

    let mut stream = std::net::TcpStream::connect(address).expect("connect to the node");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");

    let status: u16 = response.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("status line");
    let (head, rest) = response.split_once("\r\n\r\n").expect("header end");
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.to_owned() };
    (status, body)
}

fn dechunk(mut text: &str) -> String {
    let mut body = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        body.push_str(&rest[..size]);
        text = &rest[size + 2..];
    }
    body
}

/// Commits the next block of `app` by opening a consensus engine over the consensus
/// folder `dir`: the engine starts the height after the tip, and the double's single
/// validator decides it at once. Returns the engine, which starts the next height when
/// it runs.
pub fn commit_next_block(
    app: Arc<DoubleApp>,
    mempool: Arc<Mempool>,
    waiters: Arc<CommitWaiters>,
    blocks: ProducerConfig,
    dir: &Path,
    clock: Clock,
) -> Result<Engine, EngineError> {
    let config = EngineConfig { blocks, timeouts: TimeoutConfig::default(), dir: dir.to_owned(), idle: None };
    Engine::open(app, mempool, waiters, validator_key(), config, clock)
}
