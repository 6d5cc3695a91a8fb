//! Staking operations and their rules: create a validator, bond, unbond, unjail.
//!
//! Each operation is applied on its own: it changes the ledger or is rejected with a
//! [`StakingError`] and changes nothing. A block's operations run in order after its
//! evidence. Who may send an operation (a signature of the validator's key) is checked
//! by the transaction layer before the operation gets here.
//!
//! # The rule against a dominant validator
//! After an operation, the set it would produce is computed. The operation is rejected
//! when that set gives one validator 1/3 or more of the voting power and that largest
//! share grew, unless `dominant_power_allowed` is set. Operations that shrink a
//! dominant share stay allowed, so a set that became dominant through a jailing can
//! recover. Slashing and jailing are never rejected by this rule, because a chain must
//! punish whatever the set looks like afterwards.

use serde::{Deserialize, Serialize};
use vouch_protocol::keys::PublicKey;

use crate::staking::active::{active_validators, dominant, largest_share_grew, total_power};
use crate::staking::error::StakingError;
use crate::staking::ledger::{BlockPosition, Ledger, UnbondingEntry, ValidatorStake};
use crate::staking::params::StakingParams;
use crate::validators::{TOTAL_VOTING_POWER_MAX, ValidatorSetError};

/// Maximum staking operations in one block.
pub const OPERATIONS_PER_BLOCK_MAX: usize = 1_024;

/// One staking operation. `vouchd` carries them in signed account transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StakingOperation {
    /// Create a validator with `self_bond` bonded.
    CreateValidator { public_key: PublicKey, self_bond: u64 },
    /// Add `amount` to a validator's bonded stake.
    Bond { public_key: PublicKey, amount: u64 },
    /// Move `amount` of bonded stake into a new unbonding entry.
    Unbond { public_key: PublicKey, amount: u64 },
    /// End a jail whose period has passed.
    Unjail { public_key: PublicKey },
}

impl StakingOperation {
    /// Returns the validator that the operation acts on.
    pub fn public_key(&self) -> PublicKey {
        match self {
            StakingOperation::CreateValidator { public_key, .. }
            | StakingOperation::Bond { public_key, .. }
            | StakingOperation::Unbond { public_key, .. }
            | StakingOperation::Unjail { public_key } => *public_key,
        }
    }

    /// Returns the operation's name for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            StakingOperation::CreateValidator { .. } => "create-validator",
            StakingOperation::Bond { .. } => "bond",
            StakingOperation::Unbond { .. } => "unbond",
            StakingOperation::Unjail { .. } => "unjail",
        }
    }
}

/// Applies `operation` in the block at `now`, or rejects it and leaves the ledger as it
/// was.
pub(crate) fn apply(
    operation: &StakingOperation,
    ledger: &mut Ledger,
    params: &StakingParams,
    now: BlockPosition,
) -> Result<(), StakingError> {
    let public_key = operation.public_key();
    let before_set = active_validators(ledger, params);
    let before_record = ledger.get(&public_key).cloned();

    change(operation, ledger, params, now)?;
    if let Err(error) = check_set(&before_set, ledger, params) {
        ledger.restore(&public_key, before_record);
        return Err(error);
    }
    Ok(())
}

/// Changes the record that `operation` acts on, after checking its own rules.
fn change(
    operation: &StakingOperation,
    ledger: &mut Ledger,
    params: &StakingParams,
    now: BlockPosition,
) -> Result<(), StakingError> {
    match *operation {
        StakingOperation::CreateValidator { public_key, self_bond } => create(ledger, params, public_key, self_bond),
        StakingOperation::Bond { public_key, amount } => bond(record_mut(ledger, &public_key)?, amount),
        StakingOperation::Unbond { public_key, amount } => {
            unbond(record_mut(ledger, &public_key)?, params, amount, now)
        }
        StakingOperation::Unjail { public_key } => unjail(record_mut(ledger, &public_key)?, params, now),
    }
}

fn record_mut<'a>(ledger: &'a mut Ledger, public_key: &PublicKey) -> Result<&'a mut ValidatorStake, StakingError> {
    ledger.get_mut(public_key).ok_or_else(|| StakingError::ValidatorNotFound { public_key: public_key.to_hex() })
}

fn create(
    ledger: &mut Ledger,
    params: &StakingParams,
    public_key: PublicKey,
    self_bond: u64,
) -> Result<(), StakingError> {
    if ledger.get(&public_key).is_some() {
        return Err(StakingError::ValidatorExists { public_key: public_key.to_hex() });
    }
    if self_bond < params.min_self_bond {
        return Err(StakingError::SelfBondTooSmall { self_bond, min: params.min_self_bond });
    }
    if ledger.len() >= params.candidates_max {
        return Err(StakingError::TooManyCandidates { count: ledger.len() });
    }
    ledger.insert(ValidatorStake::new(public_key, self_bond));
    Ok(())
}

fn bond(record: &mut ValidatorStake, amount: u64) -> Result<(), StakingError> {
    if amount == 0 {
        return Err(StakingError::ZeroAmount { operation: "bond" });
    }
    let overflow =
        || StakingError::StakeOverflow { public_key: record.public_key.to_hex(), bonded: record.bonded, amount };
    let bonded = record.bonded.checked_add(amount).ok_or_else(overflow)?;
    let deposited = record.deposited.checked_add(amount).ok_or_else(overflow)?;
    record.bonded = bonded;
    record.deposited = deposited;
    Ok(())
}

fn unbond(
    record: &mut ValidatorStake,
    params: &StakingParams,
    amount: u64,
    now: BlockPosition,
) -> Result<(), StakingError> {
    let public_key = record.public_key.to_hex();
    if amount == 0 {
        return Err(StakingError::ZeroAmount { operation: "unbond" });
    }
    let bonded = record.bonded;
    let remaining = bonded.checked_sub(amount).ok_or_else(|| StakingError::UnbondMoreThanBonded {
        public_key: public_key.clone(),
        amount,
        bonded,
    })?;
    if remaining > 0 && remaining < params.min_self_bond {
        let min = params.min_self_bond;
        let most = bonded.saturating_sub(min);
        return Err(StakingError::UnbondBelowMinimum { public_key, amount, bonded, remaining, min, most });
    }
    if record.unbonding.len() >= params.unbonding_entries_max {
        let matures_height = record.unbonding.iter().map(|entry| entry.matures.height).min().unwrap_or(now.height);
        return Err(StakingError::TooManyUnbondingEntries {
            public_key,
            count: record.unbonding.len(),
            matures_height,
        });
    }
    record.bonded = remaining;
    let matures = now.after(params.unbonding_heights, params.unbonding_time_ms);
    record.unbonding.push(UnbondingEntry { amount, started: now, matures });
    Ok(())
}

fn unjail(record: &mut ValidatorStake, params: &StakingParams, now: BlockPosition) -> Result<(), StakingError> {
    let public_key = record.public_key.to_hex();
    let until = record.jailed_until.ok_or_else(|| StakingError::NotJailed { public_key: public_key.clone() })?;
    if !now.reached(until) {
        return Err(StakingError::StillJailed { public_key, until });
    }
    if record.bonded < params.min_self_bond {
        return Err(StakingError::UnjailBelowMinimum { public_key, bonded: record.bonded, min: params.min_self_bond });
    }
    record.jailed_until = None;
    Ok(())
}

/// Checks the set that the changed ledger produces against the set before the change.
fn check_set(before: &[crate::Validator], ledger: &Ledger, params: &StakingParams) -> Result<(), StakingError> {
    let after = active_validators(ledger, params);
    if after.is_empty() {
        return Err(StakingError::EmptySet);
    }
    if total_power(&after).is_none() {
        let total: u128 = after.iter().map(|validator| u128::from(validator.voting_power.0)).sum();
        return Err(ValidatorSetError::TotalPowerTooLarge { total, max: TOTAL_VOTING_POWER_MAX }.into());
    }
    if params.dominant_power_allowed || !largest_share_grew(before, &after) {
        return Ok(());
    }
    match dominant(&after) {
        Some(found) => Err(StakingError::DominantValidator {
            public_key: found.public_key.to_hex(),
            power: found.power,
            total: found.total,
        }),
        None => Ok(()),
    }
}
