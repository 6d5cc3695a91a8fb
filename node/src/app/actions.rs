//! The governance actions: what a passed proposal changes, and the checks that let a
//! proposal open only when its action could apply.
//!
//! # Invariants
//! - An action that fails changes nothing; the caller marks its proposal `Failed`.
//! - Changes to bindings, policy code, policy storage or attesters ask every known
//!   image to be evaluated again, in bounded batches per block.

use std::collections::BTreeMap;

use vouch_protocol::keys::KeyId;
use vouch_protocol::ledger::{
    AdminMessage, AttesterRecord, BindingRecord, BoundPolicy, GovAction, PolicyRecord, Scope,
};
use vouch_protocol::state::StateKey;

use crate::app::TxRejection;
use crate::app::error::TxFailure;
use crate::app::execute::Execution;
use crate::store::Backend;

/// Maximum number of policies one binding holds.
pub const BINDING_POLICIES_MAX: usize = 16;

/// Maximum size of one bound policy's parameters, in bytes of JSON text.
pub const PARAMETERS_BYTES_MAX: usize = 16 * 1024;

/// Maximum number of entries of one policy's storage.
pub const STORAGE_ENTRIES_MAX: usize = 1024;

/// Maximum length of a policy storage key, in bytes.
pub const STORAGE_KEY_BYTES_MAX: usize = 256;

/// Maximum length of a policy storage value, in bytes.
pub const STORAGE_VALUE_BYTES_MAX: usize = 4096;

/// Checks what can be checked when a proposal opens; the state may still change
/// before it passes, so [`apply`] checks again.
pub(crate) fn check<B: Backend>(execution: &Execution<'_, B>, action: &GovAction) -> Result<(), TxRejection> {
    let invalid = |reason: String| TxRejection::new("proposal_invalid", reason);
    match action {
        GovAction::BindPolicy { scope, policies } => check_binding(scope, policies).map_err(invalid),
        GovAction::UnbindPolicy { scope } => {
            Scope::parse(scope).map(|_| ()).map_err(|error| invalid(error.to_string()))
        }
        GovAction::DeployPolicy { wasm, .. } => {
            execution.shared.runtime.deploy(wasm).map(|_| ()).map_err(|error| invalid(error.to_string()))
        }
        GovAction::PolicyAdmin { message, .. } => check_admin(message).map_err(invalid),
        GovAction::RegisterAttester { .. } | GovAction::RemoveAttester { .. } => Ok(()),
    }
}

/// Applies a passed action: `Ok(Err(reason))` when the action cannot apply.
pub(crate) fn apply<B: Backend>(
    execution: &mut Execution<'_, B>,
    action: &GovAction,
) -> Result<Result<(), String>, TxFailure> {
    let result = match action {
        GovAction::RegisterAttester { name, role, key } => register_attester(execution, name, role, key),
        GovAction::RemoveAttester { key_id } => remove_attester(execution, key_id),
        GovAction::DeployPolicy { name, wasm } => deploy_policy(execution, name, wasm),
        GovAction::BindPolicy { scope, policies } => bind(execution, scope, policies),
        GovAction::UnbindPolicy { scope } => unbind(execution, scope),
        GovAction::PolicyAdmin { policy, message } => admin(execution, policy, message),
    };
    match result {
        Ok(()) => {
            execution.reevaluate_all = true;
            Ok(Ok(()))
        }
        Err(ActionError::Invalid(reason)) => Ok(Err(reason)),
        Err(ActionError::Node(failure)) => Err(failure),
    }
}

enum ActionError {
    Invalid(String),
    Node(TxFailure),
}

impl<E: Into<TxFailure>> From<E> for ActionError {
    fn from(error: E) -> ActionError {
        ActionError::Node(error.into())
    }
}

fn register_attester<B: Backend>(
    execution: &mut Execution<'_, B>,
    name: &str,
    role: &str,
    key: &vouch_protocol::keys::PublicKey,
) -> Result<(), ActionError> {
    let key_id = KeyId::of(key);
    let mut records: BTreeMap<KeyId, AttesterRecord> = execution.directory.attesters.records().clone();
    if records.contains_key(&key_id) {
        return Err(ActionError::Invalid(format!("key {key_id} is already registered")));
    }
    if let Some(other) = records.values().find(|record| record.name == name) {
        return Err(ActionError::Invalid(format!("the name {name:?} is already registered for key {}", other.key)));
    }
    let record =
        AttesterRecord { name: name.to_owned(), role: role.to_owned(), key: *key, registered_at: execution.height };
    execution.state.put(StateKey::Attester { key_id: key_id.clone() }, &record);
    records.insert(key_id, record);
    execution.directory.set_attesters(&mut execution.state, records);
    Ok(())
}

fn remove_attester<B: Backend>(execution: &mut Execution<'_, B>, key_id: &KeyId) -> Result<(), ActionError> {
    let mut records = execution.directory.attesters.records().clone();
    if records.remove(key_id).is_none() {
        return Err(ActionError::Invalid(format!("no attester is registered under key id {key_id}")));
    }
    execution.state.delete(StateKey::Attester { key_id: key_id.clone() });
    execution.directory.set_attesters(&mut execution.state, records);
    Ok(())
}

fn deploy_policy<B: Backend>(execution: &mut Execution<'_, B>, name: &str, wasm: &[u8]) -> Result<(), ActionError> {
    let compiled = execution.shared.runtime.deploy(wasm).map_err(|error| ActionError::Invalid(error.to_string()))?;
    let code_hash = compiled.code_hash().0;
    let record = match execution.directory.policies.get(name) {
        Some(previous) => PolicyRecord {
            version: previous.version.saturating_add(1),
            code_hash,
            deployed_at: execution.height,
            ..previous.clone()
        },
        None => PolicyRecord {
            name: name.to_owned(),
            version: 1,
            code_hash,
            deployed_at: execution.height,
            storage: vec![],
        },
    };
    execution.state.put_bytes(StateKey::PolicyCode { code_hash }, wasm.to_vec());
    execution.state.put(StateKey::Policy { name: name.to_owned() }, &record);
    execution.directory.policies.insert(name.to_owned(), record);
    execution.directory.write_policy_list(&mut execution.state);
    Ok(())
}

fn bind<B: Backend>(
    execution: &mut Execution<'_, B>,
    scope: &str,
    policies: &[BoundPolicy],
) -> Result<(), ActionError> {
    check_binding(scope, policies).map_err(ActionError::Invalid)?;
    let parsed = Scope::parse(scope).map_err(|error| ActionError::Invalid(error.to_string()))?;
    if let Some(missing) = policies.iter().find(|bound| !execution.directory.policies.contains_key(&bound.policy)) {
        return Err(ActionError::Invalid(format!("policy {:?} is not deployed; deploy it first", missing.policy)));
    }
    let scope = parsed.to_string();
    let mut sorted = policies.to_vec();
    sorted.sort_by(|a, b| a.policy.cmp(&b.policy));
    let record = BindingRecord { scope: scope.clone(), policies: sorted };
    execution.state.put(StateKey::PolicyBinding { scope: scope.clone() }, &record);
    execution.directory.bindings.insert(scope, (parsed, record));
    execution.directory.write_binding_list(&mut execution.state);
    Ok(())
}

fn unbind<B: Backend>(execution: &mut Execution<'_, B>, scope: &str) -> Result<(), ActionError> {
    let parsed = Scope::parse(scope).map_err(|error| ActionError::Invalid(error.to_string()))?;
    let scope = parsed.to_string();
    if execution.directory.bindings.remove(&scope).is_none() {
        return Err(ActionError::Invalid(format!("scope {scope:?} has no binding")));
    }
    execution.state.delete(StateKey::PolicyBinding { scope });
    execution.directory.write_binding_list(&mut execution.state);
    Ok(())
}

fn admin<B: Backend>(
    execution: &mut Execution<'_, B>,
    policy: &str,
    message: &AdminMessage,
) -> Result<(), ActionError> {
    check_admin(message).map_err(ActionError::Invalid)?;
    let Some(record) = execution.directory.policies.get_mut(policy) else {
        return Err(ActionError::Invalid(format!("policy {policy:?} is not deployed")));
    };
    match message {
        AdminMessage::Set { key, value } => match record.storage.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(position) => record.storage[position].1 = value.clone(),
            Err(_) if record.storage.len() >= STORAGE_ENTRIES_MAX => {
                return Err(ActionError::Invalid(format!(
                    "policy {policy:?} already holds {STORAGE_ENTRIES_MAX} storage entries, the limit; delete some first"
                )));
            }
            Err(position) => record.storage.insert(position, (key.clone(), value.clone())),
        },
        AdminMessage::Delete { key } => match record.storage.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(position) => {
                record.storage.remove(position);
            }
            Err(_) => return Err(ActionError::Invalid(format!("policy {policy:?} has no storage key {key:?}"))),
        },
    }
    let record = record.clone();
    execution.state.put(StateKey::Policy { name: policy.to_owned() }, &record);
    Ok(())
}

fn check_binding(scope: &str, policies: &[BoundPolicy]) -> Result<(), String> {
    Scope::parse(scope).map_err(|error| error.to_string())?;
    if policies.is_empty() {
        return Err("a binding needs at least one policy; unbind the scope to remove its policies".to_owned());
    }
    if policies.len() > BINDING_POLICIES_MAX {
        return Err(format!("a binding holds at most {BINDING_POLICIES_MAX} policies, not {}", policies.len()));
    }
    for (index, bound) in policies.iter().enumerate() {
        if policies[..index].iter().any(|other| other.policy == bound.policy) {
            return Err(format!("policy {:?} is listed twice", bound.policy));
        }
        if bound.parameters.len() > PARAMETERS_BYTES_MAX {
            return Err(format!(
                "parameters of {:?} are {} bytes, over the limit of {PARAMETERS_BYTES_MAX}",
                bound.policy,
                bound.parameters.len()
            ));
        }
        if !bound.parameters.is_empty() && serde_json::from_str::<serde_json::Value>(&bound.parameters).is_err() {
            return Err(format!("parameters of {:?} are not JSON: {:?}", bound.policy, bound.parameters));
        }
    }
    Ok(())
}

fn check_admin(message: &AdminMessage) -> Result<(), String> {
    let (key, value) = match message {
        AdminMessage::Set { key, value } => (key, Some(value)),
        AdminMessage::Delete { key } => (key, None),
    };
    if key.is_empty() || key.len() > STORAGE_KEY_BYTES_MAX {
        return Err(format!("storage key is {} bytes; it must be 1 to {STORAGE_KEY_BYTES_MAX}", key.len()));
    }
    if let Some(value) = value.filter(|value| value.len() > STORAGE_VALUE_BYTES_MAX) {
        return Err(format!("storage value is {} bytes, over the limit of {STORAGE_VALUE_BYTES_MAX}", value.len()));
    }
    Ok(())
}
