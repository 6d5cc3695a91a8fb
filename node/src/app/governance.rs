//! Governance: proposals by validators, stake-weighted votes, and the actions that
//! apply when a proposal passes.
//!
//! # Invariants
//! - A proposal passes when yes stake * 3 > total bonded stake * 2, is rejected when no
//!   stake * 3 >= total bonded stake, and expires after its voting period; the
//!   arithmetic is in u128, so it never overflows or rounds.
//! - Each validator has one vote per proposal; a later vote replaces its earlier one,
//!   and the proposer's proposal counts as its yes vote.
//! - A passed action that cannot apply leaves the state unchanged and marks the
//!   proposal `Failed` with the reason.

use vouch_protocol::keys::PublicKey;
use vouch_protocol::ledger::{GovAction, ProposalRecord, ProposalStatus, Vote};
use vouch_protocol::state::StateKey;

use crate::app::TxRejection;
use crate::app::actions;
use crate::app::directory::{ProposalIndex, param, parameter};
use crate::app::error::TxFailure;
use crate::app::execute::Execution;
use crate::store::Backend;

/// Opens a proposal; the proposer's yes vote counts at once.
pub(crate) fn propose<B: Backend>(
    execution: &mut Execution<'_, B>,
    proposer: &PublicKey,
    action: GovAction,
    description: String,
) -> Result<String, TxFailure> {
    require_validator(execution, proposer)?;
    let mut index = proposal_index(execution)?;
    let open_max = execution.directory.governance.open_proposals_max as usize;
    if index.open.len() >= open_max {
        return Err(TxRejection::new(
            "too_many_proposals",
            format!(
                "{} proposals are open, the chain's limit (governance.open_proposals_max); vote on or wait for the open ones",
                index.open.len()
            ),
        )
        .into());
    }
    actions::check(execution, &action)?;

    let id = index.next_id;
    let period = execution.directory.governance.voting_period_blocks.max(1);
    let mut proposal = ProposalRecord {
        id,
        proposer: *proposer,
        action,
        description,
        submitted_at: execution.height,
        voting_ends_at: vouch_protocol::chain::Height(execution.height.0.saturating_add(period - 1)),
        votes: vec![Vote { validator: *proposer, approve: true }],
        status: ProposalStatus::Voting,
    };
    index.next_id += 1;
    index.open.push(id);
    tally(execution, &mut proposal, &mut index)?;
    write(execution, &proposal, &index);
    tracing::info!(height = execution.height.0, proposal = id, status = ?proposal.status, "proposal opened");
    Ok(format!("applied: proposal {id} opened, {}", status_text(&proposal.status)))
}

/// Records a validator's vote and tallies the proposal.
pub(crate) fn vote<B: Backend>(
    execution: &mut Execution<'_, B>,
    validator: &PublicKey,
    id: u64,
    approve: bool,
) -> Result<String, TxFailure> {
    require_validator(execution, validator)?;
    let mut index = proposal_index(execution)?;
    let key = StateKey::Proposal { id };
    let mut proposal: ProposalRecord = execution.state.get(&key)?.ok_or_else(|| {
        TxRejection::new(
            "proposal_not_found",
            format!("proposal {id} does not exist; list proposals with vouch gov list"),
        )
    })?;
    if proposal.status != ProposalStatus::Voting {
        return Err(TxRejection::new(
            "proposal_closed",
            format!("proposal {id} is {}, so it takes no more votes", status_text(&proposal.status)),
        )
        .into());
    }

    proposal.votes.retain(|vote| &vote.validator != validator);
    proposal.votes.push(Vote { validator: *validator, approve });
    proposal.votes.sort_by(|a, b| a.validator.as_bytes().cmp(b.validator.as_bytes()));
    tally(execution, &mut proposal, &mut index)?;
    write(execution, &proposal, &index);
    Ok(format!("applied: vote on proposal {id}, {}", status_text(&proposal.status)))
}

/// Expires the open proposals whose voting period ended before this block.
pub(crate) fn expire<B: Backend>(execution: &mut Execution<'_, B>) -> Result<(), TxFailure> {
    let mut index = proposal_index(execution)?;
    let mut expired = Vec::new();
    for id in &index.open {
        let key = StateKey::Proposal { id: *id };
        let Some(mut proposal) = execution.state.get::<ProposalRecord>(&key)? else { continue };
        if proposal.voting_ends_at < execution.height {
            proposal.status = ProposalStatus::Expired;
            execution.state.put(key, &proposal);
            expired.push(*id);
        }
    }
    if !expired.is_empty() {
        index.open.retain(|id| !expired.contains(id));
        execution.state.put(parameter(param::PROPOSALS), &index);
        tracing::info!(height = execution.height.0, proposals = ?expired, "proposals expired");
    }
    Ok(())
}

/// Returns (yes, no) stake of the votes of current validators.
pub(crate) fn stakes(
    validators: &[(PublicKey, vouch_protocol::ledger::ValidatorRecord)],
    votes: &[Vote],
) -> (u64, u64) {
    let mut yes = 0u64;
    let mut no = 0u64;
    for vote in votes {
        let Some((_, record)) = validators.iter().find(|(key, _)| key == &vote.validator) else { continue };
        match vote.approve {
            true => yes = yes.saturating_add(record.stake),
            false => no = no.saturating_add(record.stake),
        }
    }
    (yes, no)
}

/// Decides a proposal from its votes, applying its action when it passes.
fn tally<B: Backend>(
    execution: &mut Execution<'_, B>,
    proposal: &mut ProposalRecord,
    index: &mut ProposalIndex,
) -> Result<(), TxFailure> {
    let total = u128::from(execution.directory.total_stake);
    let (yes, no) = stakes(&execution.directory.validators, &proposal.votes);
    let status = if u128::from(yes) * 3 > total * 2 {
        match actions::apply(execution, &proposal.action)? {
            Ok(()) => ProposalStatus::Passed,
            Err(reason) => ProposalStatus::Failed { reason },
        }
    } else if u128::from(no) * 3 >= total {
        ProposalStatus::Rejected
    } else {
        return Ok(());
    };
    tracing::info!(height = execution.height.0, proposal = proposal.id, status = ?status, "proposal decided");
    proposal.status = status;
    index.open.retain(|id| *id != proposal.id);
    Ok(())
}

fn write<B: Backend>(execution: &mut Execution<'_, B>, proposal: &ProposalRecord, index: &ProposalIndex) {
    execution.state.put(StateKey::Proposal { id: proposal.id }, proposal);
    execution.state.put(parameter(param::PROPOSALS), index);
}

fn require_validator<B: Backend>(execution: &Execution<'_, B>, key: &PublicKey) -> Result<(), TxRejection> {
    match execution.directory.validator(key) {
        Some(_) => Ok(()),
        None => Err(TxRejection::new(
            "not_a_validator",
            format!("{key} is not a validator; only validators propose and vote (GET /v1/validators lists them)"),
        )),
    }
}

fn proposal_index<B: Backend>(execution: &Execution<'_, B>) -> Result<ProposalIndex, TxFailure> {
    Ok(execution.state.get(&parameter(param::PROPOSALS))?.unwrap_or_default())
}

/// Returns a proposal status as text: `voting`, `passed`, `rejected`, `expired` or
/// `failed: <reason>`.
pub(crate) fn status_text(status: &ProposalStatus) -> String {
    match status {
        ProposalStatus::Voting => "voting".to_owned(),
        ProposalStatus::Passed => "passed".to_owned(),
        ProposalStatus::Rejected => "rejected".to_owned(),
        ProposalStatus::Expired => "expired".to_owned(),
        ProposalStatus::Failed { reason } => format!("failed: {reason}"),
    }
}
