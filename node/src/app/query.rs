//! Queries: the `vouch_protocol::api` bodies built from the committed state.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use vouch_protocol::api::{
    AccountResponse, AttestationView, AttestationsResponse, AttesterView, BindingView, BlockResponse, ImageProof,
    ImageStatusResponse, NameView, PoliciesResponse, PolicyView, ProposalView, ProposalsResponse, ValidatorView,
    ValidatorsResponse, VerdictView,
};
use vouch_protocol::chain::Height;
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::ledger::{AccountRecord, AttestationRecord, GovAction, ImageRecord, ImageStatus, ProposalRecord};
use vouch_protocol::state::StateKey;

use crate::app::directory::{ProposalIndex, param, parameter};
use crate::app::governance::{stakes, status_text};
use crate::app::overlay::{Overlay, decode_record};
use crate::app::staking::SetRecord;
use crate::app::{App, QueryError};
use crate::state::AuthenticatedState;
use crate::store::{ATTESTATIONS_READ_MAX, Backend};

/// Maximum number of proposals one `proposals` query returns, newest first.
pub const PROPOSALS_LIST_MAX: u64 = 256;

impl<B: Backend> App<B> {
    /// Returns an image's status, from the latest state, or with `proof` from the state
    /// one height below, proven against the latest header and its commit.
    pub fn image_status(
        &self,
        image: &Digest,
        repository: Option<&str>,
        proof: bool,
    ) -> Result<ImageStatusResponse, QueryError> {
        let latest = self.snapshot().tip.height;
        let key = StateKey::Verdict { image: image.clone() };
        let (height, record, proof) = match proof {
            false => {
                let state = Overlay::new(&self.shared.store, Some(latest));
                (latest, state.get::<ImageRecord>(&key)?, None)
            }
            true => self.proven_record(&key, latest)?,
        };

        let status = record.as_ref().map_or(ImageStatus::Pending, |record| record.status(repository));
        let (names, verdicts) = record.map(views).unwrap_or_default();
        Ok(ImageStatusResponse {
            image: image.clone(),
            status,
            repository: repository.map(str::to_owned),
            height: height.0,
            names,
            verdicts,
            proof,
        })
    }

    /// Reads `key` at `latest - 1` with its proof against the header at `latest`.
    fn proven_record(
        &self,
        key: &StateKey,
        latest: Height,
    ) -> Result<(Height, Option<ImageRecord>, Option<ImageProof>), QueryError> {
        let Some(height) = latest.previous() else {
            return Err(QueryError::Unavailable {
                reason: "no block is committed yet, so no header certifies a state; retry after the first block"
                    .to_owned(),
            });
        };
        let (value, state_proof) = AuthenticatedState::new(&self.shared.store).prove(key, height)?;
        let header = self.shared.store.header(latest)?.ok_or_else(|| missing(format!("header at height {latest}")))?;
        let commit = self.shared.store.commit(latest)?.ok_or_else(|| missing(format!("commit at height {latest}")))?;
        let record = value.as_deref().map(|bytes| decode_record::<ImageRecord>(key, bytes)).transpose()?;
        let proof = ImageProof {
            height: height.0,
            record: value.as_deref().map(|bytes| BASE64.encode(bytes)),
            state_proof: BASE64.encode(state_proof.to_bytes()),
            header: BASE64.encode(header.to_bytes()),
            commit: BASE64.encode(commit.to_bytes()),
        };
        Ok((height, record, Some(proof)))
    }

    /// Returns the attestations in force on an image, oldest first.
    pub fn attestations(&self, image: &Digest) -> Result<AttestationsResponse, QueryError> {
        let snapshot = self.snapshot();
        let state = Overlay::new(&self.shared.store, Some(snapshot.tip.height));
        let mut attestations = Vec::new();
        for entry in self.shared.store.attestations(image, ATTESTATIONS_READ_MAX)? {
            let envelope_hash = self.shared.envelope_hash_of(&entry.tx_hash)?;
            let key = StateKey::Attestation { image: image.clone(), envelope_hash };
            let Some(record) = state.get::<AttestationRecord>(&key)? else { continue };
            if record.tx_hash != entry.tx_hash {
                continue;
            }
            let attester = snapshot.directory.attesters.get(&record.attester);
            attestations.push(AttestationView {
                envelope_hash: hex::encode(envelope_hash),
                attester: record.attester.to_string(),
                attester_name: attester.map(|attester| attester.name.clone()),
                role: attester.map(|attester| attester.role.clone()),
                predicate_type: record.predicate_type,
                subject_names: record.subject_names,
                tx_hash: record.tx_hash.to_hex(),
                height: record.height.0,
                time_unix_ms: record.time_unix_ms,
            });
        }
        Ok(AttestationsResponse { image: image.clone(), attestations })
    }

    /// Returns the committed block at `height`, or `None` above the latest height.
    pub fn block(&self, height: u64) -> Result<Option<BlockResponse>, QueryError> {
        let height = Height(height);
        let Some(block) = self.shared.store.block(height)? else {
            return Ok(None);
        };
        let commit = self.shared.store.commit(height)?.ok_or_else(|| missing(format!("commit at height {height}")))?;
        Ok(Some(BlockResponse {
            height: height.0,
            hash: block.header.hash().to_hex(),
            time_unix_ms: block.header.time_unix_ms,
            app_hash: block.header.app_hash.to_hex(),
            txs: block.txs.iter().map(|tx| tx.hash().to_hex()).collect(),
            header: BASE64.encode(block.header.to_bytes()),
            commit: BASE64.encode(commit.to_bytes()),
        }))
    }

    /// Returns the validator set that signs the next block, in commit index order.
    pub fn validators(&self) -> ValidatorsResponse {
        let snapshot = self.snapshot();
        let validators = snapshot
            .directory
            .validators
            .iter()
            .map(|(key, record)| ValidatorView {
                name: record.name.clone(),
                public_key: key.to_hex(),
                stake: record.stake,
            })
            .collect();
        ValidatorsResponse { height: snapshot.tip.height.0, validators }
    }

    /// Returns the validator set that signs the block at `height`, for heights from 1
    /// to two past the latest block. On a chain with staking the set comes from the
    /// stored set of that height; otherwise the genesis set signs every block.
    pub fn validators_at(&self, height: u64) -> Result<ValidatorsResponse, QueryError> {
        let snapshot = self.snapshot();
        let last = snapshot.tip.height.0.saturating_add(2);
        if height == 0 || height > last {
            return Err(QueryError::NotFound {
                what: format!(
                    "validator set of height {height} (this node knows heights 1 to {last}, two past its latest block)"
                ),
            });
        }
        let Some(stakes) = snapshot.directory.staking.as_ref() else {
            return Ok(ValidatorsResponse { height, ..self.validators() });
        };
        let record = self.stored_set(snapshot.tip.height, height)?;
        let validators = record
            .validators
            .iter()
            .map(|(key, power)| ValidatorView {
                name: stakes.records.get(key.as_bytes()).map(|record| record.name.clone()).unwrap_or_default(),
                public_key: key.to_hex(),
                stake: *power,
            })
            .collect();
        Ok(ValidatorsResponse { height, validators })
    }

    /// Returns the consensus set of `height` with its proposer priorities on a chain
    /// with staking, or `None` on a chain whose set never changes.
    pub fn consensus_set(&self, height: Height) -> Result<Option<vouch_consensus::ValidatorSet>, QueryError> {
        let snapshot = self.snapshot();
        if snapshot.directory.staking.is_none() {
            return Ok(None);
        }
        let record = self.stored_set(snapshot.tip.height, height.0)?;
        let set = record.to_set().ok_or_else(|| QueryError::Internal {
            message: format!("the stored validator set of height {height} breaks the set rules; the state is damaged"),
        })?;
        Ok(Some(set))
    }

    fn stored_set(&self, tip: Height, height: u64) -> Result<SetRecord, QueryError> {
        let state = Overlay::new(&self.shared.store, Some(tip));
        state.get::<SetRecord>(&StateKey::ValidatorSet { height })?.ok_or_else(|| QueryError::NotFound {
            what: format!("validator set of height {height} in the state after height {tip}"),
        })
    }

    /// Returns an account's next nonce and its stake.
    pub fn account(&self, key: &PublicKey) -> Result<AccountResponse, QueryError> {
        let snapshot = self.snapshot();
        let state = Overlay::new(&self.shared.store, Some(snapshot.tip.height));
        let account: AccountRecord = state.get(&StateKey::Account { key: *key })?.unwrap_or_default();
        let stake = match snapshot.directory.staking.as_ref() {
            Some(stakes) => stakes.records.get(key.as_bytes()).map_or(0, |record| record.stake.bonded),
            None => snapshot.directory.validator(key).map_or(0, |(_, record)| record.stake),
        };
        Ok(AccountResponse { public_key: key.to_hex(), nonce: account.nonce, stake })
    }

    /// Returns the registered attesters, sorted by key id.
    pub fn attesters(&self) -> Result<vouch_protocol::api::AttestersResponse, QueryError> {
        let snapshot = self.snapshot();
        let attesters = snapshot
            .directory
            .attesters
            .records()
            .iter()
            .map(|(key_id, record)| AttesterView {
                key_id: key_id.to_string(),
                name: record.name.clone(),
                role: record.role.clone(),
                public_key: record.key.to_hex(),
                registered_at: record.registered_at.0,
            })
            .collect();
        Ok(vouch_protocol::api::AttestersResponse { attesters })
    }

    /// Returns the deployed policies and the bindings.
    pub fn policies(&self) -> Result<PoliciesResponse, QueryError> {
        let snapshot = self.snapshot();
        let policies = snapshot
            .directory
            .policies
            .values()
            .map(|record| PolicyView {
                name: record.name.clone(),
                version: record.version,
                code_hash: hex::encode(record.code_hash),
                deployed_at: record.deployed_at.0,
                storage: record.storage.clone(),
            })
            .collect();
        let bindings = snapshot
            .directory
            .bindings
            .values()
            .map(|(_, record)| BindingView {
                scope: record.scope.clone(),
                policies: record
                    .policies
                    .iter()
                    .map(|bound| (bound.policy.clone(), bound.parameters.clone()))
                    .collect(),
            })
            .collect();
        Ok(PoliciesResponse { policies, bindings })
    }

    /// Returns the newest proposals, at most [`PROPOSALS_LIST_MAX`], newest first.
    pub fn proposals(&self) -> Result<ProposalsResponse, QueryError> {
        let snapshot = self.snapshot();
        let state = Overlay::new(&self.shared.store, Some(snapshot.tip.height));
        let index: ProposalIndex = state.get(&parameter(param::PROPOSALS))?.unwrap_or_default();
        let total = snapshot.directory.total_stake;
        let mut proposals = Vec::new();
        let oldest = index.next_id.saturating_sub(PROPOSALS_LIST_MAX).max(1);
        for id in (oldest..index.next_id).rev() {
            let Some(record) = state.get::<ProposalRecord>(&StateKey::Proposal { id })? else { continue };
            let (yes_stake, no_stake) = stakes(&snapshot.directory.validators, &record.votes);
            proposals.push(ProposalView {
                id,
                proposer: record.proposer.to_hex(),
                action: summary(&record.action),
                description: record.description,
                status: status_text(&record.status),
                submitted_at: record.submitted_at.0,
                voting_ends_at: record.voting_ends_at.0,
                yes_stake,
                no_stake,
                total_stake: total,
            });
        }
        Ok(ProposalsResponse { proposals })
    }
}

fn views(record: ImageRecord) -> (Vec<NameView>, Vec<VerdictView>) {
    let names = record
        .names
        .into_iter()
        .map(|binding| NameView { name: binding.name, scope: binding.scope, policies: binding.policies })
        .collect();
    let verdicts = record
        .verdicts
        .into_iter()
        .map(|verdict| VerdictView {
            policy: verdict.policy,
            policy_version: verdict.policy_version,
            code_hash: hex::encode(verdict.code_hash),
            verdict: verdict.verdict,
            reasons: verdict.reasons,
            expires_at_ms: verdict.expires_at_ms,
            height: verdict.height.0,
            attestations: verdict.attestations.iter().map(hex::encode).collect(),
        })
        .collect();
    (names, verdicts)
}

/// Returns a one-line summary of a governance action.
fn summary(action: &GovAction) -> String {
    match action {
        GovAction::RegisterAttester { name, role, .. } => format!("register attester {name} ({role})"),
        GovAction::RemoveAttester { key_id } => format!("remove attester {key_id}"),
        GovAction::DeployPolicy { name, wasm } => format!("deploy policy {name} ({} bytes)", wasm.len()),
        GovAction::BindPolicy { scope, policies } => {
            let names: Vec<&str> = policies.iter().map(|bound| bound.policy.as_str()).collect();
            format!("bind {} to {scope}", names.join(", "))
        }
        GovAction::UnbindPolicy { scope } => format!("unbind {scope}"),
        GovAction::PolicyAdmin { policy, message } => match message {
            vouch_protocol::ledger::AdminMessage::Set { key, .. } => format!("set {key} in policy {policy}"),
            vouch_protocol::ledger::AdminMessage::Delete { key } => format!("delete {key} from policy {policy}"),
        },
    }
}

fn missing(what: String) -> QueryError {
    QueryError::Internal { message: format!("the store lacks the {what}") }
}
