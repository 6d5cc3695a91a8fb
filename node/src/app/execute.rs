//! Executing one transaction against a block's pending state: attestations,
//! revocations and the account rules (signature, chain, nonce) before governance.
//!
//! # Invariants
//! - A transaction that the rules reject changes nothing, except that a correctly
//!   signed account transaction with the expected nonce always consumes its nonce.
//! - The same transactions on the same state give the same writes on every node.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use vouch_protocol::chain::{Height, Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::KeyId;
use vouch_protocol::ledger::{AccountRecord, Action, AttestationRecord, LedgerTx, SignedTx, TX_BYTES_MAX, TxError};
use vouch_protocol::state::StateKey;

use crate::app::attestation::ReadAttestation;
use crate::app::directory::Directory;
use crate::app::error::TxFailure;
use crate::app::overlay::Overlay;
use crate::app::{Shared, TxRejection, governance};
use crate::store::Backend;

/// What one transaction is, for callers that route it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// An attestation envelope.
    Attest,
    /// A revocation of an attestation.
    Revoke,
    /// A governance proposal.
    Propose,
    /// A vote on a proposal.
    Vote,
}

/// The pending state of one block and what its transactions did so far.
pub(crate) struct Execution<'a, B> {
    pub(crate) shared: &'a Shared<B>,
    pub(crate) state: Overlay<'a, B>,
    pub(crate) directory: Directory,
    /// The height of the block.
    pub(crate) height: Height,
    /// The block time, Unix milliseconds.
    pub(crate) time_unix_ms: u64,
    /// Images whose verdicts this block must compute again.
    pub(crate) touched: BTreeSet<Digest>,
    /// This block's attestations per image: (transaction index, envelope hash).
    pub(crate) new_attestations: BTreeMap<Digest, Vec<(u32, [u8; 32])>>,
    /// This block's readings of its attestations, by envelope hash.
    pub(crate) block_reads: HashMap<[u8; 32], Arc<ReadAttestation>>,
    /// The ledger store's attestation index entries of this block.
    pub(crate) index_entries: Vec<(Digest, TxHash)>,
    /// Whether a change of bindings, policies or attesters asks for every known image
    /// to be evaluated again.
    pub(crate) reevaluate_all: bool,
    /// Whether the execution checks transactions or applies a block.
    pub(crate) mode: Mode,
}

/// Whether an execution checks transactions (for the mempool or a proposal) or applies
/// a committed block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A rejected transaction is reported and leaves no trace.
    Check,
    /// A rejected account transaction consumes its nonce and records its reason.
    Apply,
}

impl<'a, B: Backend> Execution<'a, B> {
    /// Starts a block at `height` on the committed state at `base`.
    pub(crate) fn new(
        shared: &'a Shared<B>,
        directory: Directory,
        base: Height,
        height: Height,
        time_unix_ms: u64,
        mode: Mode,
    ) -> Execution<'a, B> {
        Execution {
            shared,
            state: Overlay::new(&shared.store, Some(base)),
            directory,
            height,
            time_unix_ms,
            touched: BTreeSet::new(),
            new_attestations: BTreeMap::new(),
            block_reads: HashMap::new(),
            index_entries: Vec::new(),
            reevaluate_all: false,
            mode,
        }
    }

    /// Executes transaction `index` of the block, returning its outcome text.
    /// `read` is the attestation read ahead of time against the block's starting
    /// attesters, if it was.
    pub(crate) fn execute(
        &mut self,
        index: u32,
        tx: &Transaction,
        read: Option<Result<Arc<ReadAttestation>, TxRejection>>,
    ) -> Result<String, TxFailure> {
        let ledger_tx = decode(tx)?;
        match ledger_tx {
            LedgerTx::Attest { envelope } => self.attest(index, tx.hash(), &envelope, read),
            LedgerTx::Account(signed) => self.account(&signed),
        }
    }

    fn attest(
        &mut self,
        index: u32,
        tx_hash: TxHash,
        envelope: &[u8],
        read: Option<Result<Arc<ReadAttestation>, TxRejection>>,
    ) -> Result<String, TxFailure> {
        let read = match read {
            Some(result)
                if result.as_ref().map_or(true, |r| r.attester_set == Some(self.directory.attesters.set_hash())) =>
            {
                result?
            }
            _ => self.shared.reads.read(envelope, &self.directory.attesters, self.envelope_bytes_max())?,
        };
        self.check_new_attestation(&read)?;
        self.block_reads.insert(read.envelope_hash, Arc::clone(&read));

        for (image, names) in &read.images {
            let record = AttestationRecord {
                attester: read.attester.clone(),
                predicate_type: read.predicate_type.clone(),
                subject_names: names.clone(),
                tx_hash,
                height: self.height,
                time_unix_ms: self.time_unix_ms,
            };
            self.state.put(StateKey::Attestation { image: image.clone(), envelope_hash: read.envelope_hash }, &record);
            self.index_entries.push((image.clone(), tx_hash));
            self.new_attestations.entry(image.clone()).or_default().push((index, read.envelope_hash));
            self.touched.insert(image.clone());
        }
        Ok("applied".to_owned())
    }

    /// Rejects an attestation that the ledger already holds or that would overfill an
    /// image's index.
    fn check_new_attestation(&self, read: &ReadAttestation) -> Result<(), TxFailure> {
        let max = self.directory.consensus.attestations_per_image_max as usize;
        for (image, _) in &read.images {
            let key = StateKey::Attestation { image: image.clone(), envelope_hash: read.envelope_hash };
            if self.state.contains(&key)? {
                return Err(TxRejection::new(
                    "duplicate",
                    format!(
                        "the ledger already holds this envelope (hash {}) for image {image}; byte-identical attestations count once",
                        hex::encode(read.envelope_hash)
                    ),
                )
                .into());
            }
            let count = self.shared.current_attestations(self, image, max + 1)?.len();
            if count >= max {
                return Err(TxRejection::new(
                    "image_attestations_full",
                    format!(
                        "image {image} already holds {count} attestations, the chain's limit (consensus.attestations_per_image_max); revoke outdated ones first"
                    ),
                )
                .into());
            }
        }
        Ok(())
    }

    fn account(&mut self, signed: &SignedTx) -> Result<String, TxFailure> {
        let body = signed.verify(&self.shared.chain_id).map_err(account_rejection)?;
        let account_key = StateKey::Account { key: signed.signer };
        let mut account: AccountRecord = self.state.get(&account_key)?.unwrap_or_default();
        if body.nonce != account.nonce {
            return Err(TxRejection::new(
                "nonce_mismatch",
                format!(
                    "account {} must use nonce {}, but the transaction has nonce {}; read the account's nonce (GET /v1/accounts/{}) and sign again",
                    signed.signer, account.nonce, body.nonce, signed.signer
                ),
            )
            .into());
        }
        let signer = signed.signer;
        let result = match body.action {
            Action::Revoke { image, envelope_hash, reason: _ } => self.revoke(&signer, image, envelope_hash),
            Action::Propose { action, description } => governance::propose(self, &signer, action, description),
            Action::Vote { proposal, approve } => governance::vote(self, &signer, proposal, approve),
        };

        // Actions change nothing when they fail. In a block, a correctly signed
        // transaction with the expected nonce consumes the nonce even so, like a
        // failed transaction in other account-based ledgers.
        let consumed = matches!((&result, self.mode), (Ok(_), _) | (Err(TxFailure::Rejected(_)), Mode::Apply));
        if consumed {
            account.nonce += 1;
            self.state.put(account_key, &account);
        }
        match (result, self.mode) {
            (Err(TxFailure::Rejected(rejection)), Mode::Apply) => Ok(format!("rejected: {rejection}")),
            (other, _) => other,
        }
    }

    fn revoke(
        &mut self,
        signer: &vouch_protocol::keys::PublicKey,
        image: Digest,
        envelope_hash: [u8; 32],
    ) -> Result<String, TxFailure> {
        let key = StateKey::Attestation { image: image.clone(), envelope_hash };
        let record: AttestationRecord = self.state.get(&key)?.ok_or_else(|| {
            TxRejection::new(
                "attestation_not_found",
                format!(
                    "image {image} has no attestation with envelope hash {}; list them with GET /v1/images/{image}/attestations",
                    hex::encode(envelope_hash)
                ),
            )
        })?;
        let signer_id = KeyId::of(signer);
        if signer_id != record.attester {
            return Err(TxRejection::new(
                "not_the_attester",
                format!(
                    "attestation {} on {image} was signed by attester {}, not by {signer_id}; only its attester may revoke it",
                    hex::encode(envelope_hash),
                    record.attester
                ),
            )
            .into());
        }
        self.state.delete(key);
        self.touched.insert(image);
        Ok("applied".to_owned())
    }

    fn envelope_bytes_max(&self) -> usize {
        self.directory.consensus.envelope_bytes_max as usize
    }
}

/// Decodes block bytes into a ledger transaction.
pub(crate) fn decode(tx: &Transaction) -> Result<LedgerTx, TxRejection> {
    if tx.0.len() > TX_BYTES_MAX {
        return Err(TxRejection::new(
            "tx_too_large",
            format!("the transaction is {} bytes, over the limit of {TX_BYTES_MAX} bytes", tx.0.len()),
        ));
    }
    LedgerTx::from_bytes(&tx.0).map_err(|error| {
        TxRejection::new("tx_malformed", format!("{error}; encode a LedgerTx with vouch_protocol::encoding"))
    })
}

/// Returns the kind of a decoded transaction.
pub(crate) fn kind_of(tx: &LedgerTx, chain_id: &vouch_protocol::signing::ChainId) -> Option<TxKind> {
    match tx {
        LedgerTx::Attest { .. } => Some(TxKind::Attest),
        LedgerTx::Account(signed) => match signed.verify(chain_id).ok()?.action {
            Action::Revoke { .. } => Some(TxKind::Revoke),
            Action::Propose { .. } => Some(TxKind::Propose),
            Action::Vote { .. } => Some(TxKind::Vote),
        },
    }
}

fn account_rejection(error: TxError) -> TxRejection {
    match error {
        TxError::Signature(error) => TxRejection::new(
            "signature_invalid",
            format!("{error}; sign the transaction body for this chain with the signer's key"),
        ),
        other => TxRejection::new("tx_malformed", other.to_string()),
    }
}
