//! The small, often-read parts of the state kept in memory: validators, attesters,
//! policies, bindings and parameters, with the state keys that list them.
//!
//! # Design
//! The state tree hashes its keys, so it cannot list a namespace. Each listable
//! namespace therefore has a list under a parameter key (`attesters`, `policies`,
//! `bindings`), written in the same block as the records, so the lists are
//! authenticated too. The node loads them when it opens and keeps a [`Directory`]
//! copy of the committed height. A block works on a clone, which replaces the
//! committed copy once the block is stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vouch_protocol::keys::{KeyId, PublicKey};
use vouch_protocol::ledger::{
    AttesterRecord, BindingRecord, ConsensusParams, GovernanceParams, PolicyRecord, Scope, ValidatorRecord,
};
use vouch_protocol::state::StateKey;

use crate::app::AppError;
use crate::app::overlay::Overlay;
use crate::app::staking::{self, Stakes};
use crate::store::Backend;
use vouch_protocol::keys::sslib::KeyForm;

/// Names of the parameter keys the application writes.
pub(crate) mod param {
    /// BLAKE3 hash of the genesis file's JSON, hex.
    pub(crate) const GENESIS_HASH: &str = "genesis-hash";
    /// Genesis time, Unix milliseconds.
    pub(crate) const GENESIS_TIME: &str = "genesis-time";
    /// `GovernanceParams`.
    pub(crate) const GOVERNANCE: &str = "governance";
    /// `ConsensusParams`.
    pub(crate) const CONSENSUS: &str = "consensus";
    /// `PolicyLimits`.
    pub(crate) const POLICY_LIMITS: &str = "policy-limits";
    /// The validators' keys in commit index order.
    pub(crate) const VALIDATOR_SET: &str = "validator-set";
    /// Registered attesters' key ids, sorted.
    pub(crate) const ATTESTERS: &str = "attesters";
    /// Deployed policies' names, sorted.
    pub(crate) const POLICIES: &str = "policies";
    /// Bound scopes, sorted.
    pub(crate) const BINDINGS: &str = "bindings";
    /// `ProposalIndex`.
    pub(crate) const PROPOSALS: &str = "proposals";
    /// `ReevaluationCursor`.
    pub(crate) const REEVALUATION: &str = "reevaluation";
}

/// Returns the state key of parameter `name`.
pub(crate) fn parameter(name: &str) -> StateKey {
    StateKey::Parameter { name: name.to_owned() }
}

/// The proposal counter and the proposals still open for votes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProposalIndex {
    /// The id of the next proposal.
    pub(crate) next_id: u64,
    /// Ids of proposals in `Voting`, ascending.
    pub(crate) open: Vec<u64>,
}

/// The registered attesters with the key ids their envelopes may name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Attesters {
    records: BTreeMap<KeyId, AttesterRecord>,
    /// Each attester's key under its legacy and its modern key id.
    trusted: Vec<(KeyId, PublicKey)>,
    /// BLAKE3 over the sorted key ids and keys, which names this exact set.
    set_hash: [u8; 32],
}

impl Attesters {
    /// Builds the set from its records.
    pub(crate) fn new(records: BTreeMap<KeyId, AttesterRecord>) -> Attesters {
        let mut trusted = Vec::with_capacity(records.len() * 2);
        let mut hasher = blake3::Hasher::new_derive_key("vouch/v1 attester set");
        for (key_id, record) in &records {
            trusted.push((key_id.clone(), record.key));
            let modern = KeyId::of_form(&record.key, &KeyForm::Modern);
            if &modern != key_id {
                trusted.push((modern, record.key));
            }
            hasher.update(key_id.as_str().as_bytes());
            hasher.update(record.key.as_bytes());
        }
        Attesters { records, trusted, set_hash: *hasher.finalize().as_bytes() }
    }

    /// Returns the attester registered under `key_id`.
    pub(crate) fn get(&self, key_id: &KeyId) -> Option<&AttesterRecord> {
        self.records.get(key_id)
    }

    /// Returns the attesters by key id.
    pub(crate) fn records(&self) -> &BTreeMap<KeyId, AttesterRecord> {
        &self.records
    }

    /// Returns every (key id, key) an envelope signature may name.
    pub(crate) fn trusted(&self) -> &[(KeyId, PublicKey)] {
        &self.trusted
    }

    /// Returns the hash that names this set of attesters.
    pub(crate) fn set_hash(&self) -> [u8; 32] {
        self.set_hash
    }

    /// Returns the key id under which `key` is registered, if it is.
    pub(crate) fn key_id_of(&self, key: &PublicKey) -> Option<KeyId> {
        let key_id = KeyId::of(key);
        self.records.contains_key(&key_id).then_some(key_id)
    }
}

/// The in-memory copy of the state's small, listable parts.
#[derive(Clone, Debug)]
pub(crate) struct Directory {
    /// Validators in commit index order.
    pub(crate) validators: Vec<(PublicKey, ValidatorRecord)>,
    /// The sum of the validators' stake.
    pub(crate) total_stake: u64,
    /// Registered attesters.
    pub(crate) attesters: Attesters,
    /// Deployed policies by name.
    pub(crate) policies: BTreeMap<String, PolicyRecord>,
    /// Bindings by scope pattern, with the parsed scope.
    pub(crate) bindings: BTreeMap<String, (Scope, BindingRecord)>,
    /// Governance parameters.
    pub(crate) governance: GovernanceParams,
    /// Block and work limits.
    pub(crate) consensus: ConsensusParams,
    /// Stake records and parameters, on a chain whose genesis enables staking.
    pub(crate) staking: Option<Arc<Stakes>>,
}

impl Directory {
    /// Loads the directory from the state at `height`.
    pub(crate) fn load<B: Backend>(state: &Overlay<'_, B>) -> Result<Directory, AppError> {
        let validator_keys: Vec<PublicKey> = required(state, param::VALIDATOR_SET)?;
        let mut validators = Vec::with_capacity(validator_keys.len());
        for key in validator_keys {
            let record: ValidatorRecord =
                state.get(&StateKey::Validator { key })?.ok_or_else(|| missing(&format!("validator {key}")))?;
            validators.push((key, record));
        }

        let mut attesters = BTreeMap::new();
        for key_id in required::<Vec<KeyId>, B>(state, param::ATTESTERS)? {
            let record = state
                .get(&StateKey::Attester { key_id: key_id.clone() })?
                .ok_or_else(|| missing(&format!("attester {key_id}")))?;
            attesters.insert(key_id, record);
        }

        let mut policies = BTreeMap::new();
        for name in required::<Vec<String>, B>(state, param::POLICIES)? {
            let record = state
                .get(&StateKey::Policy { name: name.clone() })?
                .ok_or_else(|| missing(&format!("policy {name}")))?;
            policies.insert(name, record);
        }

        let mut bindings = BTreeMap::new();
        for scope in required::<Vec<String>, B>(state, param::BINDINGS)? {
            let record: BindingRecord = state
                .get(&StateKey::PolicyBinding { scope: scope.clone() })?
                .ok_or_else(|| missing(&format!("binding {scope}")))?;
            let parsed = Scope::parse(&scope).map_err(|error| missing(&format!("valid scope ({error})")))?;
            bindings.insert(scope, (parsed, record));
        }

        let total_stake = validators.iter().map(|(_, record)| record.stake).sum();
        Ok(Directory {
            validators,
            total_stake,
            attesters: Attesters::new(attesters),
            policies,
            bindings,
            governance: required(state, param::GOVERNANCE)?,
            consensus: required(state, param::CONSENSUS)?,
            staking: staking::load(state)?,
        })
    }

    /// Returns the validator with `key` and its index in the commit order.
    pub(crate) fn validator(&self, key: &PublicKey) -> Option<(usize, &ValidatorRecord)> {
        self.validators.iter().enumerate().find(|(_, (candidate, _))| candidate == key).map(|(i, (_, r))| (i, r))
    }

    /// Returns the validators' keys in commit index order.
    pub(crate) fn validator_keys(&self) -> Vec<PublicKey> {
        self.validators.iter().map(|(key, _)| *key).collect()
    }

    /// Computes the validator set hash that headers carry: BLAKE3 (context
    /// `vouch/v1 validator set`) over the canonical encoding of the (key, stake) list in
    /// commit index order.
    pub(crate) fn validators_hash(&self) -> [u8; 32] {
        let entries: Vec<(&PublicKey, u64)> = self.validators.iter().map(|(key, record)| (key, record.stake)).collect();
        validators_hash_of(&entries)
    }

    /// Writes the attester list after a change and rebuilds the set.
    pub(crate) fn set_attesters<B: Backend>(
        &mut self,
        state: &mut Overlay<'_, B>,
        records: BTreeMap<KeyId, AttesterRecord>,
    ) {
        let list: Vec<&KeyId> = records.keys().collect();
        state.put(parameter(param::ATTESTERS), &list);
        self.attesters = Attesters::new(records);
    }

    /// Writes the policy list after a change.
    pub(crate) fn write_policy_list<B: Backend>(&self, state: &mut Overlay<'_, B>) {
        let list: Vec<&String> = self.policies.keys().collect();
        state.put(parameter(param::POLICIES), &list);
    }

    /// Writes the binding list after a change.
    pub(crate) fn write_binding_list<B: Backend>(&self, state: &mut Overlay<'_, B>) {
        let list: Vec<&String> = self.bindings.keys().collect();
        state.put(parameter(param::BINDINGS), &list);
    }
}

/// Computes the validator set hash of (key, voting power) entries in index order.
pub(crate) fn validators_hash_of(entries: &[(&PublicKey, u64)]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("vouch/v1 validator set");
    hasher.update(&vouch_protocol::encoding::encode(&entries));
    *hasher.finalize().as_bytes()
}

fn required<T: serde::de::DeserializeOwned + Serialize, B: Backend>(
    state: &Overlay<'_, B>,
    name: &str,
) -> Result<T, AppError> {
    state.get(&parameter(name))?.ok_or_else(|| missing(&format!("parameter {name}")))
}

fn missing(what: &str) -> AppError {
    AppError::CorruptRecord { key: what.to_owned(), reason: "the state lists it, but its record is missing".to_owned() }
}
