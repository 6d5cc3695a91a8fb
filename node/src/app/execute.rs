//! Executing one transaction against a block's pending state: attestations,
//! evidence, revocations and the account rules (signature, chain, nonce) before
//! governance and staking.
//!
//! # Invariants
//! - A transaction that the rules reject changes nothing, except that a correctly
//!   signed account transaction with the expected nonce always consumes its nonce.
//! - The same transactions on the same state give the same writes on every node.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use vouch_consensus::staking::BlockPosition;
use vouch_protocol::chain::{Height, Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::KeyId;
use vouch_protocol::ledger::{AccountRecord, Action, AttestationRecord, LedgerTx, SignedTx, TX_BYTES_MAX, TxError};
use vouch_protocol::state::StateKey;

use crate::app::attestation::ReadAttestation;
use crate::app::directory::Directory;
use crate::app::error::TxFailure;
use crate::app::overlay::{Overlay, Writes};
use crate::app::staking::{self, BlockStaking};
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
    /// A staking operation: create validator, bond, unbond or unjail.
    Stake,
    /// Evidence of double signing.
    Evidence,
}

/// The pending state of one block and what its transactions did so far.
pub(crate) struct Execution<'a, B> {
    pub(crate) shared: &'a Shared<B>,
    pub(crate) state: Overlay<'a, B>,
    pub(crate) directory: Directory,
    /// The hash of the attester set at the start of the block, which readings made
    /// ahead of execution were checked against.
    start_attester_set: [u8; 32],
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
    /// The block's staking state, from its first staking transaction on.
    pub(crate) staking: Option<Box<BlockStaking>>,
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

/// The state of an execution, detached from the store so that it can be kept between
/// proposing a block and applying it.
pub(crate) struct ExecutionParts {
    writes: Writes,
    directory: Directory,
    start_attester_set: [u8; 32],
    base: Height,
    height: Height,
    time_unix_ms: u64,
    touched: BTreeSet<Digest>,
    new_attestations: BTreeMap<Digest, Vec<(u32, [u8; 32])>>,
    block_reads: HashMap<[u8; 32], Arc<ReadAttestation>>,
    index_entries: Vec<(Digest, TxHash)>,
    reevaluate_all: bool,
    staking: Option<Box<BlockStaking>>,
}

impl ExecutionParts {
    /// Returns the height whose state the execution read.
    pub(crate) fn base(&self) -> Height {
        self.base
    }
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
            state: Overlay::on_committed(&shared.store, base),
            start_attester_set: directory.attesters.set_hash(),
            directory,
            height,
            time_unix_ms,
            touched: BTreeSet::new(),
            new_attestations: BTreeMap::new(),
            block_reads: HashMap::new(),
            index_entries: Vec::new(),
            reevaluate_all: false,
            mode,
            staking: None,
        }
    }

    /// Returns the block's height and time.
    pub(crate) fn position(&self) -> BlockPosition {
        BlockPosition { height: self.height, time_unix_ms: self.time_unix_ms }
    }

    /// Detaches what the execution did from the store; `base` is the height its state
    /// reads from.
    pub(crate) fn into_parts(self, base: Height) -> ExecutionParts {
        ExecutionParts {
            writes: self.state.into_writes(),
            directory: self.directory,
            start_attester_set: self.start_attester_set,
            base,
            height: self.height,
            time_unix_ms: self.time_unix_ms,
            touched: self.touched,
            new_attestations: self.new_attestations,
            block_reads: self.block_reads,
            index_entries: self.index_entries,
            reevaluate_all: self.reevaluate_all,
            staking: self.staking,
        }
    }

    /// Resumes a detached execution over `shared`'s store in `mode`.
    pub(crate) fn from_parts(shared: &'a Shared<B>, parts: ExecutionParts, mode: Mode) -> Execution<'a, B> {
        Execution {
            shared,
            state: Overlay::with_writes(&shared.store, Some(parts.base), parts.writes),
            directory: parts.directory,
            start_attester_set: parts.start_attester_set,
            height: parts.height,
            time_unix_ms: parts.time_unix_ms,
            touched: parts.touched,
            new_attestations: parts.new_attestations,
            block_reads: parts.block_reads,
            index_entries: parts.index_entries,
            reevaluate_all: parts.reevaluate_all,
            mode,
            staking: parts.staking,
        }
    }

    /// Executes transaction `index` of the block, returning its outcome text.
    /// `read` is the attestation read ahead of time against the attesters at the start
    /// of the block, if it was.
    pub(crate) fn execute(
        &mut self,
        index: u32,
        tx: &Transaction,
        read: Option<Result<Arc<ReadAttestation>, TxRejection>>,
    ) -> Result<String, TxFailure> {
        match decode(tx)? {
            DecodedTx::Attest { envelope } => self.attest(index, tx.hash(), &envelope, read),
            DecodedTx::Account(signed) => self.account(&signed),
            DecodedTx::Evidence { equivocation } => staking::evidence(self, &equivocation),
        }
    }

    fn attest(
        &mut self,
        index: u32,
        tx_hash: TxHash,
        envelope: &[u8],
        read: Option<Result<Arc<ReadAttestation>, TxRejection>>,
    ) -> Result<String, TxFailure> {
        // A reading made ahead of time holds only while the attesters are those at the
        // start of the block: an attester registered or removed earlier in the block
        // changes what the envelope's signatures prove.
        let read = match read {
            Some(result) if self.directory.attesters.set_hash() == self.start_attester_set => result?,
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
            action
            @ (Action::CreateValidator { .. } | Action::Bond { .. } | Action::Unbond { .. } | Action::Unjail) => {
                staking::operation(self, &signer, action)
            }
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

/// A block transaction, decoded with an attestation's envelope borrowed from the
/// transaction bytes.
pub(crate) enum DecodedTx<'t> {
    /// [`LedgerTx::Attest`]: the envelope bytes, borrowed when the encoding is canonical.
    Attest { envelope: Cow<'t, [u8]> },
    /// [`LedgerTx::Account`].
    Account(Box<SignedTx>),
    /// [`LedgerTx::Evidence`]: the encoded conflicting votes.
    Evidence { equivocation: Vec<u8> },
}

/// The canonical encoding of [`LedgerTx::Attest`] starts with its variant index, a
/// `u32` 0, and the envelope's length as a `u64`, both little-endian.
const ATTEST_HEADER_BYTES: usize = 4 + 8;

/// Decodes block bytes into a ledger transaction.
pub(crate) fn decode(tx: &Transaction) -> Result<DecodedTx<'_>, TxRejection> {
    if tx.len() > TX_BYTES_MAX {
        return Err(TxRejection::new(
            "tx_too_large",
            format!("the transaction is {} bytes, over the limit of {TX_BYTES_MAX} bytes", tx.len()),
        ));
    }
    if let Some(envelope) = attest_envelope(tx.bytes()) {
        return Ok(DecodedTx::Attest { envelope: Cow::Borrowed(envelope) });
    }
    let decoded = LedgerTx::from_bytes(tx.bytes()).map_err(|error| {
        TxRejection::new("tx_malformed", format!("{error}; encode a LedgerTx with vouch_protocol::encoding"))
    })?;
    Ok(match decoded {
        LedgerTx::Attest { envelope } => DecodedTx::Attest { envelope: Cow::Owned(envelope) },
        LedgerTx::Account(signed) => DecodedTx::Account(signed),
        LedgerTx::Evidence { equivocation } => DecodedTx::Evidence { equivocation },
    })
}

/// Returns the envelope of a canonically encoded [`LedgerTx::Attest`] without copying
/// it, or `None` when `bytes` is anything else. The full decoder accepts exactly these
/// bytes as an attestation, because the raw envelope bytes re-encode to themselves;
/// the unit tests compare the two.
fn attest_envelope(bytes: &[u8]) -> Option<&[u8]> {
    let (header, envelope) = bytes.split_first_chunk::<ATTEST_HEADER_BYTES>()?;
    let (variant, length) = header.split_at(4);
    let length = u64::from_le_bytes(length.try_into().expect("the header holds 8 length bytes"));
    let canonical = variant == [0, 0, 0, 0] && u64::try_from(envelope.len()).is_ok_and(|len| len == length);
    canonical.then_some(envelope)
}

/// Returns the kind of a decoded transaction.
pub(crate) fn kind_of(tx: &DecodedTx<'_>, chain_id: &vouch_protocol::signing::ChainId) -> Option<TxKind> {
    match tx {
        DecodedTx::Attest { .. } => Some(TxKind::Attest),
        DecodedTx::Account(signed) => match signed.verify(chain_id).ok()?.action {
            Action::Revoke { .. } => Some(TxKind::Revoke),
            Action::Propose { .. } => Some(TxKind::Propose),
            Action::Vote { .. } => Some(TxKind::Vote),
            Action::CreateValidator { .. } | Action::Bond { .. } | Action::Unbond { .. } | Action::Unjail => {
                Some(TxKind::Stake)
            }
        },
        DecodedTx::Evidence { .. } => Some(TxKind::Evidence),
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use vouch_protocol::keys::SigningKey;
    use vouch_protocol::ledger::TxBody;
    use vouch_protocol::signing::ChainId;

    use super::*;

    /// Returns the envelope that the full decoder reads from `bytes`, if it reads an
    /// attestation.
    fn decoded_envelope(bytes: &[u8]) -> Option<Vec<u8>> {
        match LedgerTx::from_bytes(bytes) {
            Ok(LedgerTx::Attest { envelope }) => Some(envelope),
            _ => None,
        }
    }

    fn account_tx() -> Vec<u8> {
        let key = SigningKey::from_seed(&[9; 32]);
        let chain = ChainId::new("vouch-test").unwrap();
        let body = TxBody { nonce: 3, action: Action::Vote { proposal: 1, approve: true } };
        LedgerTx::Account(Box::new(SignedTx::sign(&body, &key, &chain))).to_transaction().bytes().to_vec()
    }

    #[test]
    fn attest_fast_path_matches_full_decoder() {
        let attest = LedgerTx::Attest { envelope: b"{\"payload\":\"\"}".to_vec() }.to_transaction().bytes().to_vec();
        let empty = LedgerTx::Attest { envelope: Vec::new() }.to_transaction().bytes().to_vec();
        let mut trailing = attest.clone();
        trailing.push(0);
        let truncated = attest[..attest.len() - 1].to_vec();
        let mut other_variant = attest.clone();
        other_variant[0] = 2;
        let cases = [attest, empty, trailing, truncated, other_variant, account_tx(), Vec::new(), vec![0; 11]];
        for bytes in cases {
            assert_eq!(attest_envelope(&bytes).map(<[u8]>::to_vec), decoded_envelope(&bytes), "input {bytes:?}");
        }
    }

    #[test]
    fn decode_reads_account_transactions_fully() {
        let tx = Transaction::new(account_tx());
        assert!(matches!(decode(&tx), Ok(DecodedTx::Account(_))));
        let broken = Transaction::new(vec![1, 0, 0, 0, 5]);
        assert_eq!(decode(&broken).err().map(|rejection| rejection.code), Some("tx_malformed"));
    }

    proptest! {
        #[test]
        fn attest_fast_path_agrees_on_any_bytes(prefix in proptest::collection::vec(any::<u8>(), 0..16), body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut bytes = prefix;
            bytes.extend_from_slice(&body);
            let fast = attest_envelope(&bytes).map(<[u8]>::to_vec);
            // The fast path may decline what the full decoder reads, never the reverse,
            // and where both read an attestation they agree.
            if let Some(envelope) = &fast {
                prop_assert_eq!(Some(envelope.clone()), decoded_envelope(&bytes));
            }
            let canonical = LedgerTx::Attest { envelope: body.clone() }.to_transaction().bytes().to_vec();
            prop_assert_eq!(attest_envelope(&canonical).map(<[u8]>::to_vec), Some(body));
        }
    }
}
