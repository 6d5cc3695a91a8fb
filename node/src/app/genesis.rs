//! The genesis state: validators, attesters, policies with their code, bindings and
//! parameters, built from a checked genesis file.

use std::collections::BTreeMap;

use base64::Engine;
use vouch_protocol::chain::Height;
use vouch_protocol::keys::KeyId;
use vouch_protocol::ledger::{
    AttesterRecord, BindingRecord, BoundPolicy, Genesis, GenesisPolicy, PolicyCodeSource, PolicyRecord, Scope,
    ValidatorRecord,
};
use vouch_protocol::state::StateKey;

use crate::app::AppError;
use crate::app::directory::{ProposalIndex, param, parameter};
use crate::app::overlay::Overlay;
use crate::app::reevaluate::ReevaluationCursor;
use crate::policy::{PolicyRuntime, standard};
use crate::store::Backend;

/// Computes the genesis hash: BLAKE3 (context `vouch/v1 genesis`) of the genesis's
/// compact JSON, whose objects have sorted keys, so equal files give equal hashes.
pub(crate) fn genesis_hash(genesis: &Genesis) -> String {
    let json = serde_json::to_vec(genesis).expect("a genesis always serializes to JSON");
    let mut hasher = blake3::Hasher::new_derive_key("vouch/v1 genesis");
    hasher.update(&json);
    hasher.finalize().to_hex().to_string()
}

/// Writes the genesis state into `state`.
pub(crate) fn write_genesis<B: Backend>(
    state: &mut Overlay<'_, B>,
    genesis: &Genesis,
    runtime: &PolicyRuntime,
) -> Result<(), AppError> {
    genesis.check("genesis").map_err(|error| AppError::InvalidGenesis { reason: error.to_string() })?;
    state.put(parameter(param::GENESIS_HASH), &genesis_hash(genesis));
    state.put(parameter(param::GENESIS_TIME), &genesis.genesis_time_unix_ms);
    state.put(parameter(param::GOVERNANCE), &genesis.governance);
    state.put(parameter(param::CONSENSUS), &genesis.consensus);
    state.put(parameter(param::POLICY_LIMITS), &genesis.policy_limits);
    state.put(parameter(param::PROPOSALS), &ProposalIndex { next_id: 1, open: Vec::new() });
    state.put(parameter(param::REEVALUATION), &ReevaluationCursor::default());

    write_validators(state, genesis);
    crate::app::staking::write_genesis(state, genesis)?;
    write_attesters(state, genesis)?;
    let policies = write_policies(state, genesis, runtime)?;
    write_bindings(state, genesis, &policies)
}

fn write_validators<B: Backend>(state: &mut Overlay<'_, B>, genesis: &Genesis) {
    let mut keys = Vec::with_capacity(genesis.validators.len());
    for validator in &genesis.validators {
        let record = ValidatorRecord { name: validator.name.clone(), stake: validator.stake };
        state.put(StateKey::Validator { key: validator.public_key }, &record);
        keys.push(validator.public_key);
    }
    state.put(parameter(param::VALIDATOR_SET), &keys);
}

fn write_attesters<B: Backend>(state: &mut Overlay<'_, B>, genesis: &Genesis) -> Result<(), AppError> {
    let mut records = BTreeMap::new();
    for (index, attester) in genesis.attesters.iter().enumerate() {
        let key_id = KeyId::of(&attester.public_key);
        let record = AttesterRecord {
            name: attester.name.clone(),
            role: attester.role.clone(),
            key: attester.public_key,
            registered_at: Height::GENESIS,
        };
        if records.values().any(|other: &AttesterRecord| other.name == record.name) {
            return Err(invalid(format!("attesters[{index}] repeats the attester name {:?}", record.name)));
        }
        if records.insert(key_id.clone(), record.clone()).is_some() {
            return Err(invalid(format!("attesters[{index}] ({}) repeats an earlier attester's key", record.name)));
        }
        state.put(StateKey::Attester { key_id }, &record);
    }
    let list: Vec<&KeyId> = records.keys().collect();
    state.put(parameter(param::ATTESTERS), &list);
    Ok(())
}

fn write_policies<B: Backend>(
    state: &mut Overlay<'_, B>,
    genesis: &Genesis,
    runtime: &PolicyRuntime,
) -> Result<Vec<String>, AppError> {
    let mut names = Vec::with_capacity(genesis.policies.len());
    for (index, policy) in genesis.policies.iter().enumerate() {
        let wasm = policy_code(index, policy)?;
        let code_hash = *blake3::hash(&wasm).as_bytes();
        if hex::encode(code_hash) != policy.code_hash.to_ascii_lowercase() {
            return Err(invalid(format!(
                "policies[{index}] ({}) declares code_hash {} but its code hashes to {}; a node with other standard policies computes another state, so update the genesis or the node",
                policy.name,
                policy.code_hash,
                hex::encode(code_hash)
            )));
        }
        runtime
            .deploy(&wasm)
            .map_err(|error| invalid(format!("policies[{index}] ({}) does not deploy: {error}", policy.name)))?;
        let record = PolicyRecord {
            name: policy.name.clone(),
            version: 1,
            code_hash,
            deployed_at: Height::GENESIS,
            storage: Vec::new(),
        };
        state.put(StateKey::Policy { name: policy.name.clone() }, &record);
        state.put_bytes(StateKey::PolicyCode { code_hash }, wasm);
        names.push(policy.name.clone());
    }
    names.sort();
    state.put(parameter(param::POLICIES), &names);
    Ok(names)
}

fn policy_code(index: usize, policy: &GenesisPolicy) -> Result<Vec<u8>, AppError> {
    match &policy.code {
        PolicyCodeSource::Standard(name) => standard::by_name(name).map(|found| found.wasm.to_vec()).ok_or_else(|| {
            let known: Vec<&str> = standard::ALL.iter().map(|policy| policy.name).collect();
            invalid(format!(
                "policies[{index}] ({}) names standard policy {name:?}, which this node does not embed; known: {}",
                policy.name,
                known.join(", ")
            ))
        }),
        PolicyCodeSource::WasmBase64(text) => base64::engine::general_purpose::STANDARD.decode(text).map_err(|error| {
            invalid(format!("policies[{index}] ({}): wasm_base64 is not base64: {error}", policy.name))
        }),
    }
}

fn write_bindings<B: Backend>(
    state: &mut Overlay<'_, B>,
    genesis: &Genesis,
    policies: &[String],
) -> Result<(), AppError> {
    let mut scopes = Vec::with_capacity(genesis.bindings.len());
    for (index, binding) in genesis.bindings.iter().enumerate() {
        let scope = Scope::parse(&binding.scope).map_err(|error| invalid(format!("bindings[{index}]: {error}")))?;
        let scope = scope.to_string();
        if scopes.contains(&scope) {
            return Err(invalid(format!("bindings[{index}] repeats the scope {scope:?}")));
        }
        let mut bound: Vec<BoundPolicy> = binding
            .policies
            .iter()
            .map(|policy| BoundPolicy { policy: policy.policy.clone(), parameters: policy.parameters_text() })
            .collect();
        bound.sort_by(|a, b| a.policy.cmp(&b.policy));
        if let Some(missing) = bound.iter().find(|bound| !policies.contains(&bound.policy)) {
            return Err(invalid(format!("bindings[{index}] binds undeployed policy {:?}", missing.policy)));
        }
        state.put(
            StateKey::PolicyBinding { scope: scope.clone() },
            &BindingRecord { scope: scope.clone(), policies: bound },
        );
        scopes.push(scope);
    }
    scopes.sort();
    state.put(parameter(param::BINDINGS), &scopes);
    Ok(())
}

fn invalid(reason: String) -> AppError {
    AppError::InvalidGenesis { reason }
}
