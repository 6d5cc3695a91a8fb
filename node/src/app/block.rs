//! Blocks: checking a transaction for the mempool, building the next block, and
//! verifying, executing and storing a committed block.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use vouch_protocol::chain::{
    BLOCK_BYTES_MAX, BLOCK_TXS_MAX, Block, BlockHash, Commit, Header, Height, Transaction, TxHash, txs_root,
};
use vouch_protocol::encoding;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::ledger::TxBody;
use vouch_protocol::state::StateKey;

use crate::app::attestation::ReadAttestation;
use crate::app::directory::{Directory, param, parameter};
use crate::app::error::TxFailure;
use crate::app::evaluate::{block_time, evaluate_all};
use crate::app::execute::{DecodedTx, Execution, ExecutionParts, Mode, decode, kind_of};
use crate::app::reevaluate::{ReevaluationCursor, expiry};
use crate::app::stage::{self, Staging};
use crate::app::{App, AppError, BlockOutcome, ChainTip, CheckedTx, Committed, Shared, TxRejection, governance};
use crate::state::AuthenticatedState;
use crate::store::{Backend, BlockWrite, TX_OUTCOME_BYTES_MAX};

impl<B: Backend> App<B> {
    /// Checks `tx` statelessly and against the latest committed state, for the mempool.
    pub fn check_tx(&self, tx: &Transaction) -> Result<CheckedTx, TxRejection> {
        let snapshot = self.snapshot();
        let decoded = decode(tx)?;
        let hash = tx.hash();
        self.reject_committed(&hash)?;

        let (height, time) = next_block(&snapshot.tip).map_err(internal)?;
        let mut execution =
            Execution::new(&self.shared, snapshot.directory.clone(), snapshot.tip.height, height, time, Mode::Check);
        match execution.execute(0, tx, None) {
            Ok(_) => {}
            Err(TxFailure::Rejected(rejection)) => return Err(rejection),
            Err(TxFailure::Node(error)) => return Err(internal(error)),
        }

        let kind = kind_of(&decoded, &self.shared.chain_id).expect("an executed transaction has a kind");
        let image = execution.new_attestations.keys().next().cloned();
        let account = match &decoded {
            DecodedTx::Account(signed) => {
                let body: TxBody = encoding::decode(&signed.body).expect("an executed transaction decodes");
                Some((signed.signer, body.nonce))
            }
            DecodedTx::Attest { .. } | DecodedTx::Evidence { .. } => None,
        };
        Ok(CheckedTx { hash, kind, image, account })
    }

    /// Builds the next block from candidate transactions, dropping those that fail the
    /// checks (each logged), with `app_hash` the state root after the latest block and
    /// a time at least 1 ms after the latest block's.
    ///
    /// The execution of the proposed block is kept, and [`App::apply_block`] reuses it
    /// when it applies this exact block on the same state: the proposal executes the
    /// block as its application would, in the same order from the same state.
    pub fn propose_block(
        &self,
        txs: Vec<Transaction>,
        time_unix_ms: u64,
        proposer: &PublicKey,
    ) -> Result<Block, AppError> {
        let started = Instant::now();
        let snapshot = self.snapshot();
        let (height, earliest) = next_block(&snapshot.tip)?;
        let time = time_unix_ms.max(earliest);
        if snapshot.directory.validator(proposer).is_none() {
            return Err(AppError::InvalidBlock { height, reason: format!("proposer {proposer} is not a validator") });
        }

        let txs_max = (snapshot.directory.consensus.block_txs_max as usize).min(BLOCK_TXS_MAX);
        let mut execution =
            Execution::new(&self.shared, snapshot.directory.clone(), snapshot.tip.height, height, time, Mode::Check);
        governance::expire(&mut execution).map_err(node_error)?;
        let mut reads = pre_read(&self.shared, &snapshot.directory, &txs);
        let mut included: Vec<Transaction> = Vec::new();
        let mut tx_outcomes = Vec::new();
        let mut seen = HashSet::new();
        let mut bytes = 1024;
        for (candidate, tx) in txs.into_iter().enumerate() {
            if included.len() == txs_max || bytes + 8 + tx.len() > BLOCK_BYTES_MAX {
                break;
            }
            let hash = tx.hash();
            let index = u32::try_from(included.len()).expect("a block holds at most BLOCK_TXS_MAX transactions");
            let checked = match seen.insert(hash) {
                false => Err(TxRejection::new("duplicate", "the transaction appears twice in the candidates")),
                true => self.reject_committed(&hash),
            };
            let read = reads[candidate].take();
            let result = checked.map_err(TxFailure::Rejected).and_then(|()| execution.execute(index, &tx, read));
            match result {
                Ok(outcome) => {
                    bytes += 8 + tx.len();
                    included.push(tx);
                    tx_outcomes.push((hash, outcome));
                }
                Err(TxFailure::Rejected(rejection)) => {
                    tracing::info!(height = height.0, tx = %hash, code = rejection.code, %rejection, "transaction dropped from the proposal");
                }
                Err(TxFailure::Node(error)) => return Err(error),
            }
        }

        let header = Header {
            chain_id: self.shared.chain_id.clone(),
            height,
            time_unix_ms: time,
            previous_block_hash: snapshot.tip.block_hash,
            txs_root: txs_root(&included),
            app_hash: snapshot.tip.state_root,
            validators_hash: snapshot.directory.validators_hash(),
            next_validators_hash: snapshot.directory.next_validators_hash(),
            proposer: *proposer,
        };
        let parts = execution.into_parts(snapshot.tip.height);
        *self.prepared.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Prepared { block_hash: header.hash(), parts, tx_outcomes });
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(height = height.0, txs = included.len(), elapsed_ms, "block proposed");
        Ok(Block { header, txs: included })
    }

    /// Verifies the commit against the validator set, executes the block, evaluates
    /// policies, and stores everything with one `LedgerStore::commit_block`. The
    /// block's transactions are staged in the ledger log meanwhile.
    pub fn apply_block(&self, block: &Block, commit: &Commit) -> Result<BlockOutcome, AppError> {
        std::thread::scope(|scope| {
            let staging = stage::start(scope, &self.shared.store, block);
            self.apply_staged(block, commit, staging)
        })
    }

    fn apply_staged(
        &self,
        block: &Block,
        commit: &Commit,
        staging: Option<Staging<'_>>,
    ) -> Result<BlockOutcome, AppError> {
        let started = Instant::now();
        let mut schedule = self.applying.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = self.snapshot();
        verify_block(&self.shared, &snapshot, block, commit)?;
        let header = &block.header;
        let (height, time) = (header.height, header.time_unix_ms);

        let prepared = self.take_prepared(&header.hash(), snapshot.tip.height);
        let reused = prepared.is_some();
        let (mut execution, tx_outcomes) = match prepared {
            Some(prepared) => (Execution::from_parts(&self.shared, prepared.parts, Mode::Apply), prepared.tx_outcomes),
            None => self.execute_block(&snapshot, block)?,
        };
        crate::app::staking::end_block(&mut execution).map_err(node_error)?;
        let execute_ms = started.elapsed().as_millis() as u64;
        let evaluated = self.evaluate_block(&mut execution, &schedule)?;
        let evaluate_ms = started.elapsed().as_millis() as u64;
        let records: Vec<_> = evaluated.iter().map(|(image, record)| (image.clone(), expiry(record))).collect();
        for (image, record) in evaluated {
            execution.state.put(StateKey::Verdict { image }, &record);
        }

        let directory = execution.directory.clone();
        let index_entries = std::mem::take(&mut execution.index_entries);
        let block_reads = std::mem::take(&mut execution.block_reads);
        let changed_keys = execution.state.len();
        let changes = execution.state.into_changes()?;
        let (state_root, tree_writes) = AuthenticatedState::new(&self.shared.store).apply(height, &changes)?;
        let tree_ms = started.elapsed().as_millis() as u64;
        let outcomes = tx_outcomes
            .iter()
            .filter(|(_, outcome)| outcome != "applied")
            .map(|(hash, outcome)| (*hash, bounded(outcome)))
            .collect();
        self.shared.store.commit_block(BlockWrite {
            block: block.clone(),
            commit: commit.clone(),
            attestations: index_entries,
            outcomes,
            tree_writes,
            state_root,
            staged: stage::finish(staging, block),
            expiries: schedule.changes(&records),
        })?;

        self.shared.reads.commit(block_reads.values());
        for (image, expiry) in &records {
            schedule.record(image, *expiry);
        }
        let tip = ChainTip {
            height,
            block_hash: Some(header.hash()),
            time_unix_ms: time,
            state_root,
            validators: snapshot.tip.validators.clone(),
        };
        *self.committed.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Committed { tip, directory });
        let ((pending_reads, pending_read_bytes), (committed_reads, committed_read_bytes)) = self.shared.reads.usage();
        // The producer logs each commit at info level; this line adds the phase times.
        tracing::debug!(
            height = height.0,
            txs = block.txs.len(),
            images = records.len(),
            keys = changed_keys,
            %state_root,
            reused,
            execute_ms,
            evaluate_ms,
            tree_ms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            pending_reads,
            pending_read_bytes,
            committed_reads,
            committed_read_bytes,
            "block committed"
        );

        Ok(BlockOutcome {
            height,
            block_hash: header.hash(),
            state_root,
            tx_outcomes,
            evaluated: records.into_iter().map(|(image, _)| image).collect(),
        })
    }

    /// Computes the verdicts of the images the block touched, expired or reached in
    /// the re-evaluation pass, and stores the pass's cursor.
    fn evaluate_block(
        &self,
        execution: &mut Execution<'_, B>,
        schedule: &crate::app::reevaluate::Schedule,
    ) -> Result<Vec<(vouch_protocol::digest::Digest, vouch_protocol::ledger::ImageRecord)>, AppError> {
        let cursor_key = parameter(param::REEVALUATION);
        let stored: ReevaluationCursor = execution.state.get(&cursor_key)?.unwrap_or_default();
        let cursor = match execution.reevaluate_all {
            true => ReevaluationCursor { active: true, after: None },
            false => stored.clone(),
        };
        let budget = execution.directory.consensus.reevaluations_per_block as usize;
        let time_ms = block_time(execution.time_unix_ms);
        let known_after =
            |after: Option<&vouch_protocol::digest::Digest>, limit| self.shared.store.images_after(after, limit);
        let selection = schedule.select(&cursor, &execution.touched, time_ms, budget, known_after)?;
        if selection.cursor != stored {
            execution.state.put(cursor_key, &selection.cursor);
        }

        let images: Vec<_> =
            execution.touched.iter().cloned().chain(selection.images).collect::<BTreeSet<_>>().into_iter().collect();
        let records = evaluate_all(&self.shared, execution, &images)?;
        Ok(images.into_iter().zip(records).collect())
    }

    /// Executes a block that this node did not propose, or whose proposal it no
    /// longer holds, and returns the execution with each transaction's outcome.
    fn execute_block(&self, snapshot: &Committed, block: &Block) -> Result<(Execution<'_, B>, TxOutcomes), AppError> {
        let header = &block.header;
        let mut reads = pre_read(&self.shared, &snapshot.directory, &block.txs);
        let mut execution = Execution::new(
            &self.shared,
            snapshot.directory.clone(),
            snapshot.tip.height,
            header.height,
            header.time_unix_ms,
            Mode::Apply,
        );
        governance::expire(&mut execution).map_err(node_error)?;
        let mut tx_outcomes = Vec::with_capacity(block.txs.len());
        for (index, tx) in block.txs.iter().enumerate() {
            let position = u32::try_from(index).expect("a valid block holds at most BLOCK_TXS_MAX transactions");
            let outcome = match execution.execute(position, tx, reads[index].take()) {
                Ok(outcome) => outcome,
                Err(TxFailure::Rejected(rejection)) => format!("rejected: {rejection}"),
                Err(TxFailure::Node(error)) => return Err(error),
            };
            tx_outcomes.push((tx.hash(), outcome));
        }
        Ok((execution, tx_outcomes))
    }

    /// Takes the kept execution of the proposal with hash `block_hash`, if it was
    /// executed on the state at `base`.
    fn take_prepared(&self, block_hash: &BlockHash, base: Height) -> Option<Prepared> {
        let prepared = self.prepared.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        (prepared.block_hash == *block_hash && prepared.parts.base() == base).then_some(prepared)
    }

    fn reject_committed(&self, hash: &TxHash) -> Result<(), TxRejection> {
        match self.shared.store.transaction(hash) {
            Ok(None) => Ok(()),
            Ok(Some(stored)) => Err(TxRejection::new(
                "duplicate",
                format!("transaction {hash} is already committed at height {}; it applies only once", stored.height),
            )),
            Err(error) => Err(internal(error.into())),
        }
    }
}

/// The execution of the block this node proposed last, kept for its application.
pub(crate) struct Prepared {
    /// The proposed block's hash.
    block_hash: BlockHash,
    /// The execution of its transactions.
    parts: ExecutionParts,
    /// Each included transaction's outcome, in block order.
    tx_outcomes: TxOutcomes,
}

/// Each transaction's hash and outcome text, in block order.
type TxOutcomes = Vec<(TxHash, String)>;

/// Returns the next height and the earliest time its block may carry.
fn next_block(tip: &ChainTip) -> Result<(Height, u64), AppError> {
    let height = tip.height.next().ok_or(AppError::HeightOverflow { height: tip.height })?;
    Ok((height, tip.time_unix_ms.saturating_add(1)))
}

/// Reads the block's attestations ahead of execution, in parallel, against the
/// attesters at the start of the block.
fn pre_read<B: Backend>(
    shared: &Shared<B>,
    directory: &Directory,
    txs: &[Transaction],
) -> Vec<Option<Result<Arc<ReadAttestation>, TxRejection>>> {
    let envelope_max = directory.consensus.envelope_bytes_max as usize;
    let read_one = |tx: &Transaction| match decode(tx) {
        Ok(DecodedTx::Attest { envelope }) => Some(shared.reads.read(&envelope, &directory.attesters, envelope_max)),
        _ => None,
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(txs.len()).max(1);
    if workers == 1 {
        return txs.iter().map(read_one).collect();
    }
    let chunk = txs.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            txs.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(read_one).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|handle| handle.join().expect("a reading thread does not panic")).collect()
    })
}

/// Checks that `block` follows the committed tip and that `commit` certifies it with
/// more than 2/3 of the stake.
fn verify_block<B: Backend>(
    shared: &Shared<B>,
    snapshot: &Committed,
    block: &Block,
    commit: &Commit,
) -> Result<(), AppError> {
    let header = &block.header;
    let height = header.height;
    let invalid = |reason: String| AppError::InvalidBlock { height, reason };
    block.validate().map_err(|source| AppError::Chain { height, source })?;
    let tip = &snapshot.tip;
    let directory = &snapshot.directory;

    if header.chain_id != shared.chain_id {
        return Err(invalid(format!("chain id is {}, expected {}", header.chain_id, shared.chain_id)));
    }
    let (expected, earliest) = next_block(tip)?;
    if height != expected {
        return Err(invalid(format!("the latest committed height is {}, so the next block is {expected}", tip.height)));
    }
    if header.previous_block_hash != tip.block_hash {
        return Err(invalid(format!(
            "previous_block_hash is {:?}, expected {:?}",
            header.previous_block_hash, tip.block_hash
        )));
    }
    if header.app_hash != tip.state_root {
        return Err(invalid(format!(
            "app_hash is {}, but the state root after height {} is {}",
            header.app_hash, tip.height, tip.state_root
        )));
    }
    if header.time_unix_ms < earliest {
        return Err(invalid(format!(
            "time {} is not after the previous block's time {}",
            header.time_unix_ms, tip.time_unix_ms
        )));
    }
    let validators_hash = directory.validators_hash();
    if header.validators_hash != validators_hash || header.next_validators_hash != directory.next_validators_hash() {
        return Err(invalid("validators_hash or next_validators_hash does not match the validator set".to_owned()));
    }
    if directory.validator(&header.proposer).is_none() {
        return Err(invalid(format!("proposer {} is not a validator", header.proposer)));
    }
    let txs_max = directory.consensus.block_txs_max as usize;
    if block.txs.len() > txs_max {
        return Err(invalid(format!(
            "it holds {} transactions, over consensus.block_txs_max ({txs_max})",
            block.txs.len()
        )));
    }
    verify_commit(shared, directory, header, commit)
}

fn verify_commit<B: Backend>(
    shared: &Shared<B>,
    directory: &Directory,
    header: &Header,
    commit: &Commit,
) -> Result<(), AppError> {
    let height = header.height;
    let invalid = |reason: String| AppError::InvalidCommit { height, reason };
    if commit.height != height || commit.block_hash != header.hash() {
        return Err(invalid(format!(
            "it certifies block {} at height {}, not {}",
            commit.block_hash,
            commit.height,
            header.hash()
        )));
    }
    commit
        .verify_signatures(&shared.chain_id, &directory.validator_keys())
        .map_err(|error| invalid(error.to_string()))?;
    let signed: u128 = commit
        .signatures
        .iter()
        .map(|signature| u128::from(directory.validators[signature.validator_index as usize].1.stake))
        .sum();
    let total = u128::from(directory.total_stake);
    if signed * 3 <= total * 2 {
        return Err(invalid(format!("its signers hold {signed} of {total} stake, not more than 2/3")));
    }
    Ok(())
}

fn bounded(outcome: &str) -> String {
    if outcome.len() <= TX_OUTCOME_BYTES_MAX {
        return outcome.to_owned();
    }
    let mut end = TX_OUTCOME_BYTES_MAX;
    while !outcome.is_char_boundary(end) {
        end -= 1;
    }
    outcome[..end].to_owned()
}

fn node_error(failure: TxFailure) -> AppError {
    match failure {
        TxFailure::Node(error) => error,
        TxFailure::Rejected(rejection) => AppError::InvalidBlock { height: Height(0), reason: rejection.to_string() },
    }
}

fn internal(error: AppError) -> TxRejection {
    tracing::error!(%error, "checking a transaction failed inside the node");
    TxRejection::new("internal", format!("the node could not check the transaction: {error}"))
}
