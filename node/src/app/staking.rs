//! Staking in the ledger: validators' stake records, the validator set of every height
//! and committed offences in the authenticated state, changed by staking transactions
//! and evidence through the rules of `vouch_consensus::staking`.
//!
//! # Design
//! A chain has staking when its genesis has a `staking` section. The state then holds:
//! - `Stake { key }`: a [`StakeRecord`] per validator record of the rules, listed under
//!   the parameter `stakers`;
//! - `ValidatorSet { height }`: the set that signs block `height`, with its proposer
//!   priorities, for every height from 1 to two past the latest block;
//! - `Offence { .. }`: the height of the block that committed each offence;
//! - `Validator { key }` and the `validator-set` list: the set of the next block, whose
//!   `stake` is voting power, as on a chain without staking.
//!
//! A block rebuilds a [`Staking`] from these records at its first staking transaction
//! or at its end, applies each transaction to it, and [`end_block`] writes back what
//! changed and the set of two heights later.
//!
//! # Invariants
//! - The rules run only in `vouch_consensus::staking`; this module reads and writes
//!   their state.
//! - The set of height h + 2 is written at the end of block h and never changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vouch_consensus::staking::{
    BlockPosition, GenesisValidator as StakingValidator, Ledger, Staking, StakingError, StakingOperation,
    StakingParams, ValidatorStake,
};
use vouch_consensus::{Equivocation, EvidenceError, EvidenceKey, Validator, ValidatorSet, VoteKind, VotingPower};
use vouch_protocol::chain::Height;
use vouch_protocol::encoding;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::ledger::{Action, Genesis, ValidatorRecord};
use vouch_protocol::state::StateKey;

use crate::app::AppError;
use crate::app::TxRejection;
use crate::app::directory::{Directory, param, parameter, validators_hash_of};
use crate::app::error::TxFailure;
use crate::app::execute::Execution;
use crate::app::overlay::Overlay;
use crate::store::Backend;

/// Names of the parameter keys of staking.
mod key {
    /// `StakingParams`.
    pub(super) const PARAMS: &str = "staking-params";
    /// The keys of every stake record, sorted by key bytes.
    pub(super) const STAKERS: &str = "stakers";
    /// The hash of the set of two heights past the latest block.
    pub(super) const NEXT_VALIDATORS_HASH: &str = "next-validators-hash";
}

/// A validator's stake as the state stores it: the operator's name and the record of
/// the staking rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StakeRecord {
    /// The name given when the validator was created.
    pub(crate) name: String,
    /// Bonded and unbonding stake, jail and slash history.
    pub(crate) stake: ValidatorStake,
}

/// The validator set of one height as the state stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SetRecord {
    /// (public key, voting power) in index order.
    pub(crate) validators: Vec<(PublicKey, u64)>,
    /// Proposer priorities at round 0 of the height, in index order.
    pub(crate) priorities: Vec<i64>,
}

impl SetRecord {
    fn of(set: &ValidatorSet) -> SetRecord {
        SetRecord {
            validators: set.validators().iter().map(|v| (v.public_key, v.voting_power.0)).collect(),
            priorities: set.priorities().as_slice().to_vec(),
        }
    }

    /// Returns the consensus set, or `None` for a record that breaks the set's rules.
    pub(crate) fn to_set(&self) -> Option<ValidatorSet> {
        let validators = self.validators.iter().map(|(key, power)| validator(*key, *power)).collect();
        ValidatorSet::with_priorities(validators, self.priorities.clone()).ok()
    }

    fn members(&self) -> Vec<Validator> {
        self.validators.iter().map(|(key, power)| validator(*key, *power)).collect()
    }
}

fn validator(public_key: PublicKey, power: u64) -> Validator {
    Validator { public_key, voting_power: VotingPower(power) }
}

/// The committed staking state that stays in memory: parameters and stake records.
#[derive(Clone, Debug)]
pub(crate) struct Stakes {
    pub(crate) params: StakingParams,
    /// Stake records by key bytes.
    pub(crate) records: BTreeMap<[u8; 32], StakeRecord>,
    /// The hash of the set of two heights past the latest block.
    pub(crate) next_validators_hash: [u8; 32],
}

/// A block's staking state while its transactions run.
#[derive(Clone, Debug)]
pub(crate) struct BlockStaking {
    staking: Staking,
    /// Names of validators created in this block.
    names: BTreeMap<[u8; 32], String>,
    /// Pieces of evidence committed in this block.
    evidence: usize,
}

/// Returns the staking parameters of a genesis section: `vouchd`'s defaults
/// ([`default_params`]) with the given fields replaced.
pub(crate) fn params_of(section: &serde_json::Value) -> Result<StakingParams, String> {
    let serde_json::Value::Object(fields) = section else {
        return Err(format!("`staking` is {section}; give a JSON object of staking parameters"));
    };
    let mut merged = serde_json::to_value(default_params()).expect("staking parameters serialize to JSON");
    for (name, value) in fields {
        merged[name] = value.clone();
    }
    let params: StakingParams =
        serde_json::from_value(merged).map_err(|error| format!("`staking` is invalid: {error}"))?;
    params.validate().map_err(|error| format!("`staking` is invalid: {error}"))?;
    Ok(params)
}

/// `vouchd`'s staking defaults: those of the rules with one unit of stake per unit of
/// voting power, so a validator's power equals its bonded stake.
pub(crate) fn default_params() -> StakingParams {
    StakingParams { stake_per_power: std::num::NonZeroU64::MIN, ..StakingParams::default() }
}

/// Writes the staking state of a genesis with a `staking` section, and replaces the
/// validator list with the set of height 1 in the rules' order.
pub(crate) fn write_genesis<B: Backend>(state: &mut Overlay<'_, B>, genesis: &Genesis) -> Result<(), AppError> {
    let Some(section) = &genesis.staking else { return Ok(()) };
    let invalid = |reason: String| AppError::InvalidGenesis { reason };
    let params = params_of(section).map_err(invalid)?;
    let validators: Vec<StakingValidator> = genesis
        .validators
        .iter()
        .map(|validator| StakingValidator { public_key: validator.public_key, self_bond: validator.stake })
        .collect();
    let staking = Staking::genesis(params.clone(), genesis.chain_id.clone(), genesis.genesis_time_unix_ms, &validators)
        .map_err(|error| invalid(format!("staking: {error}")))?;

    state.put(parameter(key::PARAMS), &params);
    let mut keys = Vec::with_capacity(genesis.validators.len());
    for validator in &genesis.validators {
        let stake = staking.ledger().get(&validator.public_key).expect("genesis created every validator").clone();
        state.put(StateKey::Stake { key: validator.public_key }, &StakeRecord { name: validator.name.clone(), stake });
        keys.push(validator.public_key);
    }
    keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    state.put(parameter(key::STAKERS), &keys);

    for height in [1, 2] {
        let set = staking.validators_at(Height(height)).expect("genesis fixes the sets of heights 1 and 2");
        state.put(StateKey::ValidatorSet { height }, &SetRecord::of(set));
    }
    let first = staking.validators_at(Height(1)).expect("genesis fixes the set of height 1");
    let name_of = |key: &PublicKey| genesis.validators.iter().find(|v| &v.public_key == key).map(|v| v.name.clone());
    write_signers(state, &SetRecord::of(first), name_of);
    let second = SetRecord::of(staking.validators_at(Height(2)).expect("genesis fixes the set of height 2"));
    state.put(parameter(key::NEXT_VALIDATORS_HASH), &set_hash(&second));
    tracing::info!(validators = first.len(), "staking enabled by the genesis");
    Ok(())
}

/// Loads the committed staking state, or `None` on a chain without staking.
pub(crate) fn load<B: Backend>(state: &Overlay<'_, B>) -> Result<Option<Arc<Stakes>>, AppError> {
    let Some(params) = state.get::<StakingParams>(&parameter(key::PARAMS))? else { return Ok(None) };
    let keys: Vec<PublicKey> = state.get(&parameter(key::STAKERS))?.unwrap_or_default();
    let mut records = BTreeMap::new();
    for public_key in keys {
        let record: StakeRecord = state
            .get(&StateKey::Stake { key: public_key })?
            .ok_or_else(|| AppError::MissingRecord { key: format!("stake {public_key}") })?;
        records.insert(*public_key.as_bytes(), record);
    }
    let next_validators_hash = state
        .get(&parameter(key::NEXT_VALIDATORS_HASH))?
        .ok_or_else(|| AppError::MissingRecord { key: format!("parameter {}", key::NEXT_VALIDATORS_HASH) })?;
    Ok(Some(Arc::new(Stakes { params, records, next_validators_hash })))
}

/// Executes a staking action signed by `signer`, the validator's consensus key.
pub(crate) fn operation<B: Backend>(
    execution: &mut Execution<'_, B>,
    signer: &PublicKey,
    action: Action,
) -> Result<String, TxFailure> {
    let (operation, name) = match action {
        Action::CreateValidator { name, self_bond } => {
            (StakingOperation::CreateValidator { public_key: *signer, self_bond }, Some(name))
        }
        Action::Bond { amount } => (StakingOperation::Bond { public_key: *signer, amount }, None),
        Action::Unbond { amount } => (StakingOperation::Unbond { public_key: *signer, amount }, None),
        Action::Unjail => (StakingOperation::Unjail { public_key: *signer }, None),
        other => unreachable!("only staking actions reach staking::operation, not {other:?}"),
    };
    let position = execution.position();
    let block = block_staking(execution)?;
    block.staking.apply_operation(&operation, position).map_err(|error| rejection_of(&error))?;
    if let Some(name) = name {
        block.names.insert(*signer.as_bytes(), name);
    }
    let bonded = block.staking.ledger().get(signer).map_or(0, |record| record.bonded);
    tracing::debug!(height = execution.height.0, validator = %signer, operation = operation.name(), bonded, "staking operation executed");
    Ok(format!("applied: {} by validator {signer}, bonded stake now {bonded}", operation.name()))
}

/// Executes a piece of evidence: checks it and slashes and jails its offender.
pub(crate) fn evidence<B: Backend>(execution: &mut Execution<'_, B>, bytes: &[u8]) -> Result<String, TxFailure> {
    let equivocation: Equivocation = encoding::decode(bytes).map_err(|error| {
        TxRejection::new(
            "evidence_malformed",
            format!("{error}; encode two signed votes as vouch_consensus::Equivocation"),
        )
    })?;

    let position = execution.position();
    let max = enabled(execution)?.params.evidence_per_block_max;
    if block_staking(execution)?.evidence >= max {
        return Err(TxRejection::new(
            "evidence_full",
            format!("the block already holds {max} pieces of evidence, the chain's evidence_per_block_max; include at most {max} per block"),
        )
        .into());
    }

    let offence = remember_history(execution, &equivocation)?;
    let block = block_staking(execution)?;
    let slash = block.staking.commit_evidence(&equivocation, position).map_err(|error| evidence_rejection(&error))?;
    block.evidence += 1;
    if let Some((key, _)) = offence {
        execution.state.put(key, &execution.height.0);
    }

    let jailed = slash.jailed_until.map_or("already jailed by an earlier slash".to_owned(), |until| {
        format!("jailed until height {} and time {} ms", until.height, until.time_unix_ms)
    });
    // The rules log the slash at warn level; checks for the mempool run this too.
    tracing::debug!(height = execution.height.0, validator = %slash.public_key, offence = %slash.offence, "evidence executed");
    Ok(format!(
        "applied: evidence {}: slashed {} bonded and {} unbonding stake, {jailed}",
        slash.offence, slash.bonded, slash.unbonding
    ))
}

/// Gives the block's rules the set, block time and committed status of the height that
/// `equivocation` names, and returns the offence's state key with its stored value.
fn remember_history<B: Backend>(
    execution: &mut Execution<'_, B>,
    equivocation: &Equivocation,
) -> Result<Option<(StateKey, Option<u64>)>, TxFailure> {
    let vote = equivocation.first.vote;
    if vote.height.0 == 0 || vote.height >= execution.height {
        return Ok(None);
    }
    let Some(record) = execution.state.get::<SetRecord>(&StateKey::ValidatorSet { height: vote.height.0 })? else {
        return Ok(None);
    };
    let header = execution.shared.store.header(vote.height)?;
    let time = header.ok_or_else(|| AppError::MissingRecord { key: format!("header {}", vote.height) })?.time_unix_ms;
    let members = record.members();
    let offender = usize::try_from(vote.validator_index).ok().and_then(|index| members.get(index)).copied();
    block_staking(execution)?.staking.remember_height(vote.height, members, time);
    let Some(offender) = offender else { return Ok(None) };

    let key = offence_key(offender.public_key, vote.height, vote.round, vote.kind);
    let committed: Option<u64> = execution.state.get(&key)?;
    if let Some(committed) = committed {
        let offence = EvidenceKey {
            public_key: *offender.public_key.as_bytes(),
            height: vote.height,
            round: vote.round,
            kind: vote.kind,
        };
        block_staking(execution)?.staking.remember_offence(offence, Height(committed));
    }
    Ok(Some((key, committed)))
}

fn offence_key(key: PublicKey, height: Height, round: u32, kind: VoteKind) -> StateKey {
    let kind = match kind {
        VoteKind::Prevote => 0,
        VoteKind::Precommit => 1,
    };
    StateKey::Offence { key, height: height.0, round, kind }
}

/// Ends a block on a chain with staking: releases matured stake, fixes the set of two
/// heights later, and writes the changed records and the next block's signers.
pub(crate) fn end_block<B: Backend>(execution: &mut Execution<'_, B>) -> Result<(), TxFailure> {
    if execution.directory.staking.is_none() {
        return Ok(());
    }
    let position = execution.position();
    block_staking(execution)?;
    let mut block = *execution.staking.take().expect("created above");
    let (released, change) = block.staking.finish_block(position);
    for (public_key, amount) in &released {
        tracing::info!(height = position.height.0, validator = %public_key, amount, "unbonded stake released");
    }
    if let Some(change) = &change {
        tracing::info!(
            height = change.height.0,
            joined = change.joined.len(),
            left = change.left.len(),
            power_changed = change.power_changed.len(),
            "validator set changes"
        );
    }
    write_records(execution, &block);

    // NOTE: sets and offences are never pruned from the state, so it grows by one set
    // per block; pruning would end `GET /v1/validators?height=H` for old heights.
    let after_next = Height(position.height.0 + 2);
    let set =
        SetRecord::of(block.staking.validators_at(after_next).expect("the block fixed the set two heights later"));
    execution.state.put(StateKey::ValidatorSet { height: after_next.0 }, &set);
    let next_hash = set_hash(&set);
    let next =
        SetRecord::of(block.staking.validators_at(Height(position.height.0 + 1)).expect("the next set is known"));
    let stakes = Arc::make_mut(execution.directory.staking.as_mut().expect("checked above"));
    if stakes.next_validators_hash != next_hash {
        stakes.next_validators_hash = next_hash;
        execution.state.put(parameter(key::NEXT_VALIDATORS_HASH), &next_hash);
    }
    update_signers(execution, &next);
    Ok(())
}

/// Writes the stake records that the block changed, created or dropped.
fn write_records<B: Backend>(execution: &mut Execution<'_, B>, block: &BlockStaking) {
    let stakes = Arc::make_mut(execution.directory.staking.as_mut().expect("staking is enabled"));
    let ledger: &Ledger = block.staking.ledger();
    let mut keys_changed = false;
    for stake in ledger.records() {
        let bytes = *stake.public_key.as_bytes();
        let record = match stakes.records.get(&bytes) {
            Some(old) if &old.stake == stake => continue,
            Some(old) => StakeRecord { name: old.name.clone(), stake: stake.clone() },
            None => {
                keys_changed = true;
                let name = block.names.get(&bytes).cloned().unwrap_or_default();
                StakeRecord { name, stake: stake.clone() }
            }
        };
        execution.state.put(StateKey::Stake { key: stake.public_key }, &record);
        stakes.records.insert(bytes, record);
    }
    let dropped: Vec<[u8; 32]> = stakes
        .records
        .keys()
        .filter(|bytes| ledger.records().all(|r| r.public_key.as_bytes() != *bytes))
        .copied()
        .collect();
    for bytes in dropped {
        let record = stakes.records.remove(&bytes).expect("listed above");
        execution.state.delete(StateKey::Stake { key: record.stake.public_key });
        keys_changed = true;
    }
    if keys_changed {
        let keys: Vec<PublicKey> = stakes.records.values().map(|record| record.stake.public_key).collect();
        execution.state.put(parameter(key::STAKERS), &keys);
    }
}

/// Makes `next` the signers of the next block when it differs from the current ones.
fn update_signers<B: Backend>(execution: &mut Execution<'_, B>, next: &SetRecord) {
    let current: Vec<(PublicKey, u64)> =
        execution.directory.validators.iter().map(|(key, record)| (*key, record.stake)).collect();
    if current == next.validators {
        return;
    }
    for (key, _) in &execution.directory.validators {
        if !next.validators.iter().any(|(other, _)| other == key) {
            execution.state.delete(StateKey::Validator { key: *key });
        }
    }
    let stakes = execution.directory.staking.clone().expect("staking is enabled");
    let name_of = |key: &PublicKey| stakes.records.get(key.as_bytes()).map(|record| record.name.clone());
    execution.directory.validators = write_signers(&mut execution.state, next, name_of);
    execution.directory.total_stake = next.validators.iter().map(|(_, power)| power).sum();
}

/// Writes `set` as the validator list with one record per member, `stake` being its
/// voting power, and returns the directory's list.
fn write_signers<B: Backend>(
    state: &mut Overlay<'_, B>,
    set: &SetRecord,
    name_of: impl Fn(&PublicKey) -> Option<String>,
) -> Vec<(PublicKey, ValidatorRecord)> {
    let mut validators = Vec::with_capacity(set.validators.len());
    for (key, power) in &set.validators {
        let record = ValidatorRecord { name: name_of(key).unwrap_or_default(), stake: *power };
        state.put(StateKey::Validator { key: *key }, &record);
        validators.push((*key, record));
    }
    let keys: Vec<PublicKey> = set.validators.iter().map(|(key, _)| *key).collect();
    state.put(parameter(param::VALIDATOR_SET), &keys);
    validators
}

/// Returns the hash that headers carry for `set`.
pub(crate) fn set_hash(set: &SetRecord) -> [u8; 32] {
    let entries: Vec<(&PublicKey, u64)> = set.validators.iter().map(|(key, power)| (key, *power)).collect();
    validators_hash_of(&entries)
}

/// Returns the block's staking state, rebuilding it from the committed records at the
/// first use in the block.
fn block_staking<'e, B: Backend>(execution: &'e mut Execution<'_, B>) -> Result<&'e mut BlockStaking, TxFailure> {
    if execution.staking.is_none() {
        let staking = resume(execution)?;
        execution.staking = Some(Box::new(BlockStaking { staking, names: BTreeMap::new(), evidence: 0 }));
    }
    Ok(execution.staking.as_mut().expect("created above"))
}

fn resume<B: Backend>(execution: &Execution<'_, B>) -> Result<Staking, TxFailure> {
    let stakes = enabled(execution)?;
    let last = execution.height.0 - 1;
    let mut sets = Vec::with_capacity(3);
    for height in last.max(1)..=last + 2 {
        let record: SetRecord = execution
            .state
            .get(&StateKey::ValidatorSet { height })?
            .ok_or_else(|| AppError::MissingRecord { key: format!("validator set {height}") })?;
        let set = record.to_set().ok_or_else(|| AppError::CorruptRecord {
            key: format!("validator set {height}"),
            reason: "the stored set breaks the validator set rules".to_owned(),
        })?;
        sets.push((Height(height), set));
    }
    let time_unix_ms = match last {
        0 => execution.state.get(&parameter(param::GENESIS_TIME))?.unwrap_or(0),
        _ => {
            execution
                .shared
                .store
                .header(Height(last))?
                .ok_or_else(|| AppError::MissingRecord { key: format!("header {last}") })?
                .time_unix_ms
        }
    };
    let ledger = Ledger::from_records(stakes.records.values().map(|record| record.stake.clone()));
    let position = BlockPosition { height: Height(last), time_unix_ms };
    Ok(Staking::resume(stakes.params.clone(), execution.shared.chain_id.clone(), ledger, sets, position))
}

/// Returns the committed staking state, or rejects the transaction on a chain without
/// staking.
fn enabled<'e, B: Backend>(execution: &'e Execution<'_, B>) -> Result<&'e Stakes, TxRejection> {
    execution.directory.staking.as_deref().ok_or_else(|| {
        TxRejection::new(
            "staking_disabled",
            "this chain's genesis has no `staking` section, so its validator set is fixed; start a chain whose genesis enables staking (docs/STAKING.md)",
        )
    })
}

fn rejection_of(error: &StakingError) -> TxRejection {
    let code = match error {
        StakingError::ValidatorExists { .. } => "validator_exists",
        StakingError::ValidatorNotFound { .. } => "validator_not_found",
        StakingError::DominantValidator { .. } => "dominant_validator",
        StakingError::StillJailed { .. } | StakingError::NotJailed { .. } => "jail",
        _ => "staking_rejected",
    };
    TxRejection::new(code, error.to_string())
}

fn evidence_rejection(error: &EvidenceError) -> TxRejection {
    let code = match error {
        EvidenceError::Expired { .. } | EvidenceError::UnknownHeight { .. } => "evidence_expired",
        EvidenceError::Duplicate { .. } | EvidenceError::DuplicateInBlock { .. } => "evidence_duplicate",
        _ => "evidence_invalid",
    };
    TxRejection::new(code, error.to_string())
}

impl Directory {
    /// Returns the hash of the set that signs the block after the next one: the stored
    /// one on a chain with staking, the current set's otherwise.
    pub(crate) fn next_validators_hash(&self) -> [u8; 32] {
        self.staking.as_ref().map_or_else(|| self.validators_hash(), |stakes| stakes.next_validators_hash)
    }
}
