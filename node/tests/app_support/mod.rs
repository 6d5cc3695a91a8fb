//! A test chain for the app tests: a real sled store in a temporary directory, real
//! keys, real wasm policies, and helpers that build envelopes and account transactions.

#![allow(dead_code)]

use std::path::Path;

use serde_json::{Value, json};
use tempfile::TempDir;
use vouch_node::app::{App, BlockOutcome};
use vouch_node::policy::{RuntimeConfig, standard};
use vouch_node::store::{LedgerStore, SledBackend};
use vouch_protocol::chain::{Block, Commit, CommitSignature, Precommit, Transaction, txs_root};
use vouch_protocol::digest::Digest;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::PAYLOAD_TYPE;
use vouch_protocol::keys::{KeyId, SigningKey};
use vouch_protocol::ledger::{
    Action, Genesis, GenesisAttester, GenesisBinding, GenesisBoundPolicy, GenesisPolicy, GenesisValidator, GovAction,
    LedgerTx, PolicyCodeSource, SignedTx, TxBody,
};
use vouch_protocol::signing::ChainId;

/// Genesis time of the test chains, Unix milliseconds.
pub const GENESIS_TIME_MS: u64 = 1_750_000_000_000;

/// The Trivy predicate type the CLI signs.
pub const VULN_TYPE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// Returns a key made from `seed`.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

/// Returns the digest of a test image called `name`.
pub fn image(name: &str) -> Digest {
    Digest::sha256(name.as_bytes())
}

/// Returns the genesis standard policy entry for `name`.
pub fn standard_policy(name: &str) -> GenesisPolicy {
    let policy = standard::by_name(name).expect("a standard policy");
    GenesisPolicy {
        name: name.to_owned(),
        code: PolicyCodeSource::Standard(name.to_owned()),
        code_hash: blake3::hash(policy.wasm).to_hex().to_string(),
    }
}

/// Returns a binding of `policies` (name, parameters) to `scope`.
pub fn binding(scope: &str, policies: &[(&str, Value)]) -> GenesisBinding {
    GenesisBinding {
        scope: scope.to_owned(),
        policies: policies
            .iter()
            .map(|(policy, parameters)| GenesisBoundPolicy {
                policy: (*policy).to_owned(),
                parameters: parameters.clone(),
            })
            .collect(),
    }
}

/// Builds a genesis with validators of the given stakes (keys from seeds 1, 2, ...), the
/// scanner attester of seed 100 and the reviewer of seed 101, every standard policy
/// deployed and `*` bound to the vulnerability threshold.
pub fn genesis(stakes: &[u64]) -> Genesis {
    Genesis {
        chain_id: ChainId::new("vouch-test").unwrap(),
        genesis_time_unix_ms: GENESIS_TIME_MS,
        validators: stakes
            .iter()
            .enumerate()
            .map(|(index, stake)| GenesisValidator {
                name: format!("validator-{index}"),
                public_key: key(index as u8 + 1).public_key(),
                stake: *stake,
            })
            .collect(),
        attesters: vec![
            GenesisAttester { name: "scanner".into(), role: "scanner".into(), public_key: key(100).public_key() },
            GenesisAttester { name: "reviewer".into(), role: "reviewer".into(), public_key: key(101).public_key() },
        ],
        policies: standard::ALL.iter().map(|policy| standard_policy(policy.name)).collect(),
        bindings: vec![binding("*", &[("vulnerability-threshold", Value::Null)])],
        governance: Default::default(),
        consensus: Default::default(),
        policy_limits: Default::default(),
        staking: None,
    }
}

/// A chain under test: the app over a sled store in a temporary directory.
pub struct TestChain {
    pub dir: TempDir,
    pub genesis: Genesis,
    pub app: App<SledBackend>,
    /// Seeds of the validators that sign commits, by validator index.
    pub signers: Vec<usize>,
}

impl TestChain {
    /// Starts a chain from `genesis` in a fresh directory; every validator signs.
    pub fn start(genesis: Genesis) -> TestChain {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let app = open(dir.path(), &genesis);
        let signers = (0..genesis.validators.len()).collect();
        TestChain { dir, genesis, app, signers }
    }

    /// Closes and reopens the app on the same store.
    pub fn reopen(self) -> TestChain {
        let TestChain { dir, genesis, app, signers } = self;
        drop(app);
        let app = open(dir.path(), &genesis);
        TestChain { dir, genesis, app, signers }
    }

    /// Proposes a block from `txs` (dropping those that fail the checks), signs and
    /// applies it, one second after the latest block.
    pub fn commit(&self, txs: Vec<Transaction>) -> BlockOutcome {
        let time = self.app.tip().time_unix_ms + 1000;
        self.commit_at(txs, time)
    }

    /// Like [`TestChain::commit`], at block time `time`.
    pub fn commit_at(&self, txs: Vec<Transaction>, time: u64) -> BlockOutcome {
        let block = self.app.propose_block(txs, time, &key(1).public_key()).expect("a proposal");
        self.apply(&block).expect("the block applies")
    }

    /// Builds a block with exactly `txs`, without checking them, one second after the
    /// latest block.
    pub fn raw_block(&self, txs: Vec<Transaction>) -> Block {
        let time = self.app.tip().time_unix_ms + 1000;
        let mut block = self.app.propose_block(vec![], time, &key(1).public_key()).expect("a proposal");
        block.header.txs_root = txs_root(&txs);
        block.txs = txs;
        block
    }

    /// Signs a commit of `block` by the chain's signers and applies it.
    pub fn apply(&self, block: &Block) -> Result<BlockOutcome, vouch_node::app::AppError> {
        let commit = self.sign_commit(block, &self.signers);
        self.app.apply_block(block, &commit)
    }

    /// Proposes a block from `txs` on this chain one second after its latest block,
    /// applies it here and on `follower`, and checks that both give the same state
    /// root, outcomes and evaluated images. Returns the block.
    pub fn propose_and_follow(&self, follower: &TestChain, txs: Vec<Transaction>) -> Block {
        let time = self.app.tip().time_unix_ms + 1000;
        let block = self.app.propose_block(txs, time, &key(1).public_key()).expect("a proposal");
        let commit = self.sign_commit(&block, &self.signers);
        let proposed = self.app.apply_block(&block, &commit).expect("the proposer applies its block");
        let followed = follower.app.apply_block(&block, &commit).expect("the follower applies the block");

        let height = block.header.height;
        assert_eq!(proposed.state_root, followed.state_root, "state root at height {height}");
        assert_eq!(proposed.tx_outcomes, followed.tx_outcomes, "outcomes at height {height}");
        assert_eq!(proposed.evaluated, followed.evaluated, "evaluated images at height {height}");
        block
    }

    /// Signs a commit of `block` by the validators at `indexes`.
    pub fn sign_commit(&self, block: &Block, indexes: &[usize]) -> Commit {
        let time_unix_ms = block.header.time_unix_ms + 1;
        let block_hash = block.header.hash();
        let precommit = Precommit { height: block.header.height, round: 0, block_hash: Some(block_hash), time_unix_ms };
        let signatures = indexes
            .iter()
            .map(|index| CommitSignature {
                validator_index: *index as u32,
                time_unix_ms,
                signature: precommit.sign(&key(*index as u8 + 1), &self.genesis.chain_id),
            })
            .collect();
        Commit { height: block.header.height, round: 0, block_hash, signatures }
    }

    /// Returns the nonce that `signer`'s next transaction must carry.
    pub fn nonce(&self, signer: &SigningKey) -> u64 {
        self.app.account(&signer.public_key()).expect("an account query").nonce
    }

    /// Signs `action` by `signer` with its next nonce.
    pub fn account_tx(&self, signer: &SigningKey, action: Action) -> Transaction {
        account_tx(&self.genesis.chain_id, signer, self.nonce(signer), action)
    }

    /// Proposes `action` by validator `index`.
    pub fn propose(&self, index: usize, action: GovAction) -> Transaction {
        self.account_tx(&key(index as u8 + 1), Action::Propose { action, description: "test".into() })
    }
}

/// Opens the app over the sled store in `dir`.
pub fn open(dir: &Path, genesis: &Genesis) -> App<SledBackend> {
    let backend = SledBackend::open(dir).expect("sled opens");
    let store = LedgerStore::open(backend).expect("the store opens");
    App::open(store, genesis, RuntimeConfig::default()).expect("the app opens")
}

/// Signs an account transaction.
pub fn account_tx(chain_id: &ChainId, signer: &SigningKey, nonce: u64, action: Action) -> Transaction {
    let signed = SignedTx::sign(&TxBody { nonce, action }, signer, chain_id);
    LedgerTx::Account(Box::new(signed)).to_transaction()
}

/// Builds an in-toto statement JSON about `subjects` (name, digest).
pub fn statement(subjects: &[(&str, &Digest)], predicate_type: &str, predicate: Value) -> Vec<u8> {
    let subject: Vec<Value> =
        subjects.iter().map(|(name, digest)| json!({"name": name, "digest": {"sha256": digest.hex()}})).collect();
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": predicate,
    });
    serde_json::to_vec(&statement).unwrap()
}

/// Signs `payload` as a DSSE envelope by `signer` and returns its JSON bytes.
pub fn envelope(payload: Vec<u8>, signer: &SigningKey) -> Vec<u8> {
    let keyid = KeyId::of(&signer.public_key());
    Envelope::sign(PAYLOAD_TYPE, payload, &[(&keyid, signer)]).unwrap().to_json().into_bytes()
}

/// Wraps an envelope as a transaction.
pub fn attest_tx(envelope: Vec<u8>) -> Transaction {
    LedgerTx::Attest { envelope }.to_transaction()
}

/// Returns the cosign vuln predicate around a Trivy report.
pub fn trivy_predicate(report: Value) -> Value {
    json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": "https://github.com/aquasecurity/trivy", "version": "0.50.0", "db": {"uri": "", "version": ""}, "result": report},
        "metadata": {"scanStartedOn": "2025-06-01T00:00:00Z", "scanFinishedOn": "2025-06-01T00:00:00Z"}
    })
}

/// Returns a small Trivy report with one finding per given severity.
pub fn trivy_report(severities: &[&str]) -> Value {
    let vulnerabilities: Vec<Value> = severities
        .iter()
        .enumerate()
        .map(|(index, severity)| {
            json!({"VulnerabilityID": format!("CVE-2024-{index:04}"), "PkgName": "openssl", "InstalledVersion": "1.0", "FixedVersion": "1.1", "Severity": severity})
        })
        .collect();
    json!({"SchemaVersion": 2, "ArtifactName": "test", "ArtifactType": "container_image", "Results": [{"Target": "test", "Class": "os-pkgs", "Type": "alpine", "Vulnerabilities": vulnerabilities}]})
}

/// Builds an attestation transaction of a Trivy report with `severities` about
/// `image` under `name`, signed by the scanner (seed 100).
pub fn scan_tx(name: &str, image: &Digest, severities: &[&str]) -> Transaction {
    let payload = statement(&[(name, image)], VULN_TYPE, trivy_predicate(trivy_report(severities)));
    attest_tx(envelope(payload, &key(100)))
}
