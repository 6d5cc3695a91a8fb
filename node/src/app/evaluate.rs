//! Verdicts: which policies bind an image, the policy input built from the image's
//! attestations in force, and the evaluation of every touched image in parallel.
//!
//! # Invariants
//! - An image's attestations reach a policy in ledger order (inclusion height, then
//!   position in the block), which is also block-time order, so "the newest report"
//!   never depends on arrival order.
//! - Attestations of attesters that were removed no longer count.
//! - Images are read and evaluated in parallel, but each image's record depends only
//!   on the state and the block, and records are written in digest order.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use vouch_protocol::chain::{Height, TxHash};
use vouch_protocol::digest::Digest;

use vouch_protocol::ledger::{
    AttestationRecord, ImageRecord, LedgerTx, NameBinding, PolicyRecord, Scope, Verdict, VerdictRecord,
};
use vouch_protocol::state::StateKey;

use crate::app::attestation::{ReadAttestation, envelope_hash, reread_committed};
use crate::app::execute::Execution;
use crate::app::{AppError, Shared};
use crate::policy::{CodeHash, CompiledPolicy, EncodedInput, PolicyRuntime, abi, facts};
use crate::store::{ATTESTATIONS_READ_MAX, Backend};

/// One attestation in force on an image. Lists of them are in ledger order: the
/// store's index is keyed by (height, transaction index), and this block's come last
/// in block order.
#[derive(Clone, Debug)]
pub(crate) struct Current {
    /// BLAKE3 hash of its envelope.
    pub(crate) envelope_hash: [u8; 32],
    /// Its index record.
    pub(crate) record: AttestationRecord,
}

/// Everything one image's evaluation needs, read from the state before the parallel
/// part starts.
pub(crate) struct ImageJob {
    image: Digest,
    names: Vec<NameBinding>,
    repositories: Vec<String>,
    attestations: Vec<InputAttestation>,
    policies: Vec<PolicyJob>,
}

struct InputAttestation {
    id: String,
    envelope_hash: [u8; 32],
    attester_name: String,
    key_id: String,
    role: String,
    predicate_type: String,
    included: abi::Block,
    read: Arc<ReadAttestation>,
}

struct PolicyJob {
    record: PolicyRecord,
    parameters: String,
    compiled: Arc<CompiledPolicy>,
}

impl<B: Backend> Shared<B> {
    /// Returns the attestations in force on `image` in ledger order, at most `limit`.
    pub(crate) fn current_attestations(
        &self,
        execution: &Execution<'_, B>,
        image: &Digest,
        limit: usize,
    ) -> Result<Vec<Current>, AppError> {
        let mut current = Vec::new();
        for entry in self.store.attestations(image, ATTESTATIONS_READ_MAX)? {
            if current.len() == limit {
                return Ok(current);
            }
            let envelope_hash = self.envelope_hash_of(&entry.tx_hash)?;
            let key = StateKey::Attestation { image: image.clone(), envelope_hash };
            if let Some(record) = execution.state.get::<AttestationRecord>(&key)?
                && record.tx_hash == entry.tx_hash
            {
                current.push(Current { envelope_hash, record });
            }
        }
        for (_, envelope_hash) in execution.new_attestations.get(image).into_iter().flatten() {
            if current.len() == limit {
                break;
            }
            let key = StateKey::Attestation { image: image.clone(), envelope_hash: *envelope_hash };
            if let Some(record) = execution.state.get::<AttestationRecord>(&key)? {
                current.push(Current { envelope_hash: *envelope_hash, record });
            }
        }
        Ok(current)
    }

    /// Returns the envelope hash of a committed attestation transaction.
    pub(crate) fn envelope_hash_of(&self, tx_hash: &TxHash) -> Result<[u8; 32], AppError> {
        if let Some(hash) = self.envelope_hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(tx_hash)
        {
            return Ok(hash);
        }
        let envelope = self.committed_envelope(tx_hash)?;
        let hash = envelope_hash(&envelope);
        self.envelope_hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(*tx_hash, hash);
        Ok(hash)
    }

    /// Returns the envelope bytes of a committed attestation transaction.
    fn committed_envelope(&self, tx_hash: &TxHash) -> Result<Vec<u8>, AppError> {
        let corrupt =
            |reason: &str| AppError::CorruptRecord { key: format!("transaction {tx_hash}"), reason: reason.to_owned() };
        let stored = self
            .store
            .transaction(tx_hash)?
            .ok_or_else(|| corrupt("the attestation index names it, but it is not stored"))?;
        match LedgerTx::from_bytes(stored.tx.bytes()) {
            Ok(LedgerTx::Attest { envelope }) => Ok(envelope),
            _ => Err(corrupt("the attestation index names it, but it is not an attestation")),
        }
    }

    /// Returns the reading of a committed attestation, from the caches or the store.
    fn reading(&self, execution: &Execution<'_, B>, current: &Current) -> Result<Arc<ReadAttestation>, AppError> {
        if let Some(read) = execution.block_reads.get(&current.envelope_hash) {
            return Ok(Arc::clone(read));
        }
        if let Some(read) = self.reads.get(&current.envelope_hash) {
            return Ok(read);
        }
        let envelope = self.committed_envelope(&current.record.tx_hash)?;
        let read = reread_committed(&envelope, current.record.attester.clone()).map_err(|rejection| {
            AppError::CorruptRecord {
                key: format!("transaction {}", current.record.tx_hash),
                reason: rejection.to_string(),
            }
        })?;
        let read = Arc::new(read);
        self.reads.insert_committed(Arc::clone(&read));
        Ok(read)
    }

    /// Reads what evaluating `image` needs.
    pub(crate) fn image_job(&self, execution: &Execution<'_, B>, image: &Digest) -> Result<ImageJob, AppError> {
        let current = self.current_attestations(execution, image, ATTESTATIONS_READ_MAX)?;
        let mut attestations = Vec::with_capacity(current.len());
        let mut repositories: Vec<String> = Vec::new();
        for entry in &current {
            let Some(attester) = execution.directory.attesters.get(&entry.record.attester) else { continue };
            repositories.extend(entry.record.subject_names.iter().cloned());
            attestations.push(InputAttestation {
                id: hex::encode(entry.envelope_hash),
                envelope_hash: entry.envelope_hash,
                attester_name: attester.name.clone(),
                key_id: entry.record.attester.to_string(),
                role: attester.role.clone(),
                predicate_type: entry.record.predicate_type.clone(),
                included: abi::Block { height: entry.record.height.0, time_ms: block_time(entry.record.time_unix_ms) },
                read: self.reading(execution, entry)?,
            });
        }
        repositories.sort();
        repositories.dedup();

        let (names, policies) = bound_policies(execution, &repositories);
        let mut jobs = Vec::with_capacity(policies.len());
        for (policy, parameters) in policies {
            let Some(record) = execution.directory.policies.get(&policy) else { continue };
            let compiled = self.compiled(execution, record)?;
            jobs.push(PolicyJob { record: record.clone(), parameters, compiled });
        }
        Ok(ImageJob { image: image.clone(), names, repositories, attestations, policies: jobs })
    }

    /// Returns the compiled code of a policy, compiling it from the state on a miss.
    fn compiled(&self, execution: &Execution<'_, B>, record: &PolicyRecord) -> Result<Arc<CompiledPolicy>, AppError> {
        if let Some(compiled) = self.runtime.cached(&CodeHash(record.code_hash)) {
            return Ok(compiled);
        }
        let key = StateKey::PolicyCode { code_hash: record.code_hash };
        let wasm = execution.state.get_bytes(&key)?.ok_or_else(|| AppError::CorruptRecord {
            key: format!("{key:?}"),
            reason: format!("policy {} names this code, but the state holds none", record.name),
        })?;
        self.runtime.deploy(&wasm).map_err(|error| AppError::CorruptRecord {
            key: format!("{key:?}"),
            reason: format!("the stored code of policy {} no longer deploys: {error}", record.name),
        })
    }
}

/// Returns the names with their most specific binding, and the union of their
/// policies with the parameters of the first name (in name order) that binds each.
/// Names that no scope matches are left out; an image seen under no name is bound by
/// the default scope under the empty name.
fn bound_policies<B: Backend>(
    execution: &Execution<'_, B>,
    repositories: &[String],
) -> (Vec<NameBinding>, BTreeMap<String, String>) {
    let unnamed = [String::new()];
    let names: &[String] = if repositories.is_empty() { &unnamed } else { repositories };
    let bindings: Vec<&(Scope, vouch_protocol::ledger::BindingRecord)> =
        execution.directory.bindings.values().collect();
    let mut name_bindings = Vec::new();
    let mut policies = BTreeMap::new();
    for name in names {
        let Some((index, _)) = Scope::most_specific(bindings.iter().map(|(scope, _)| scope), name) else { continue };
        let record = &bindings[index].1;
        for bound in &record.policies {
            policies.entry(bound.policy.clone()).or_insert_with(|| bound.parameters.clone());
        }
        let mut bound: Vec<String> = record.policies.iter().map(|bound| bound.policy.clone()).collect();
        bound.sort();
        name_bindings.push(NameBinding { name: name.clone(), scope: record.scope.clone(), policies: bound });
    }
    (name_bindings, policies)
}

/// Reads what each image's evaluation needs and evaluates it, in parallel over the
/// available cores, and returns the image records in the order of `images`.
pub(crate) fn evaluate_all<B: Backend>(
    shared: &Shared<B>,
    execution: &Execution<'_, B>,
    images: &[Digest],
) -> Result<Vec<ImageRecord>, AppError> {
    let block = abi::Block { height: execution.height.0, time_ms: block_time(execution.time_unix_ms) };
    let evaluate_one = |image: &Digest| {
        let job = shared.image_job(execution, image)?;
        evaluate_image(&shared.runtime, &job, block, execution.height, execution.time_unix_ms)
    };
    // rayon's threads live as long as the process, so an evaluation pays no thread
    // start, and wasmtime's per-thread signal stack is set up once per thread.
    images.par_iter().map(evaluate_one).collect()
}

fn evaluate_image(
    runtime: &PolicyRuntime,
    job: &ImageJob,
    block: abi::Block,
    height: Height,
    time_unix_ms: u64,
) -> Result<ImageRecord, AppError> {
    let image_digest = job.image.to_string();
    let attestations: Vec<abi::Attestation<'_>> = job
        .attestations
        .iter()
        .map(|attestation| abi::Attestation {
            id: &attestation.id,
            attester: abi::Attester {
                name: &attestation.attester_name,
                key_id: &attestation.key_id,
                role: &attestation.role,
            },
            predicate_type: &attestation.predicate_type,
            included: attestation.included,
            facts: attestation.read.facts.as_ref().map(facts::view),
        })
        .collect();
    let mut given: Vec<[u8; 32]> = job.attestations.iter().map(|attestation| attestation.envelope_hash).collect();
    given.sort();
    given.dedup();

    let mut verdicts = Vec::with_capacity(job.policies.len());
    for policy in &job.policies {
        let storage: Vec<abi::StorageEntry<'_>> =
            policy.record.storage.iter().map(|(key, value)| abi::StorageEntry { key, value }).collect();
        let input = abi::Input {
            image_digest: &image_digest,
            repositories: job.repositories.iter().map(String::as_str).collect(),
            block,
            attestations: attestations.clone(),
            parameters: &policy.parameters,
            storage,
        };
        let evaluation = runtime.evaluate(&policy.compiled, &EncodedInput::encode(&input))?;
        if let Some(failure) = &evaluation.failure {
            tracing::warn!(digest = %job.image, policy = %policy.record.name, %failure, "policy failed; the image is quarantined");
        }
        verdicts.push(VerdictRecord {
            policy: policy.record.name.clone(),
            policy_version: policy.record.version,
            code_hash: policy.record.code_hash,
            verdict: ledger_verdict(evaluation.verdict),
            reasons: evaluation.reasons,
            expires_at_ms: evaluation.expires_at_ms,
            height,
            time_unix_ms,
            attestations: given.clone(),
        });
    }
    Ok(ImageRecord { names: job.names.clone(), verdicts })
}

fn ledger_verdict(verdict: crate::policy::Verdict) -> Verdict {
    match verdict {
        crate::policy::Verdict::Approved => Verdict::Approved,
        crate::policy::Verdict::Quarantined => Verdict::Quarantined,
        crate::policy::Verdict::Pending => Verdict::Pending,
    }
}

/// Converts a block time to the ABI's signed milliseconds.
pub(crate) fn block_time(time_unix_ms: u64) -> i64 {
    i64::try_from(time_unix_ms).unwrap_or(i64::MAX)
}

/// Returns the earliest expiry of a record's verdicts.
pub(crate) fn earliest_expiry(record: &ImageRecord) -> Option<i64> {
    record.verdicts.iter().filter_map(|verdict| verdict.expires_at_ms).min()
}
