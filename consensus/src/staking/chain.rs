//! The staking state of a chain, advanced block by block: it applies each committed
//! block's evidence and operations, releases matured stake, and fixes the validator set
//! of two heights later.
//!
//! # Invariants
//! - After block h is applied, the sets of every height up to h + 2 are known. The set
//!   of h + 2 is computed at the end of block h, so a change in block h takes effect at
//!   h + 2. Block h + 1's header names that set as `next_validators_hash`, and block
//!   h + 2's as `validators_hash`.
//! - Whole sets, with their proposer priorities, are kept from the last applied height
//!   to two heights past it. For evidence, the members of each set are kept back to the
//!   oldest height whose evidence has not expired, once per change of members, and so
//!   are the block times and the committed offences. Memory is bounded by the evidence
//!   age in heights times a block time and a few offences, plus one member list per
//!   set change.

use std::collections::BTreeMap;

use tracing::{debug, info, warn};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::signing::ChainId;

use crate::evidence::{EvidenceError, EvidenceKey, VerifiedEvidence, verify_equivocation};
use crate::staking::active::{active_validators, dominant, next_set};
use crate::staking::error::{BlockError, GenesisError, StakingError};
use crate::staking::ledger::{BlockPosition, Ledger, ValidatorStake};
use crate::staking::operation::{self, OPERATIONS_PER_BLOCK_MAX, StakingOperation};
use crate::staking::outcome::{BlockOutcome, SetChange, Slash};
use crate::staking::params::StakingParams;
use crate::validators::{Validator, ValidatorSet};
use crate::votes::Equivocation;

/// A validator of the genesis: its key and the stake it bonds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenesisValidator {
    pub public_key: PublicKey,
    pub self_bond: u64,
}

/// The staking state after the last applied block.
///
/// The simulator keeps it in memory and applies whole blocks with
/// [`Staking::apply_block`]. A host that stores the state between blocks, as `vouchd`
/// does in its authenticated state, rebuilds it with [`Staking::resume`], adds the
/// history that the block's evidence needs with [`Staking::remember_height`] and
/// [`Staking::remember_offence`], applies each transaction with
/// [`Staking::commit_evidence`] or [`Staking::apply_operation`], and ends the block
/// with [`Staking::finish_block`].
#[derive(Clone, Debug)]
pub struct Staking {
    params: StakingParams,
    chain_id: ChainId,
    ledger: Ledger,
    /// The validator sets of the last applied height and the two after it.
    sets: BTreeMap<Height, ValidatorSet>,
    /// The members of the sets, at each height where they changed.
    members: BTreeMap<Height, Vec<Validator>>,
    /// The block time of each kept committed height.
    block_times: BTreeMap<Height, u64>,
    /// Committed offences with the height of the block that committed them.
    committed: BTreeMap<EvidenceKey, Height>,
    /// The last applied block; height 0 with the genesis time before the first.
    last: BlockPosition,
}

impl Staking {
    /// Builds the state of the genesis: the validators' records and the set of heights 1
    /// and 2.
    pub fn genesis(
        params: StakingParams,
        chain_id: ChainId,
        genesis_time_unix_ms: u64,
        validators: &[GenesisValidator],
    ) -> Result<Staking, GenesisError> {
        params.validate()?;
        let mut ledger = Ledger::default();
        for (index, validator) in validators.iter().enumerate() {
            let public_key = validator.public_key;
            if validator.self_bond < params.min_self_bond {
                let source =
                    StakingError::SelfBondTooSmall { self_bond: validator.self_bond, min: params.min_self_bond };
                return Err(GenesisError::Validator { index, source });
            }
            if ledger.get(&public_key).is_some() {
                let source = StakingError::ValidatorExists { public_key: public_key.to_hex() };
                return Err(GenesisError::Validator { index, source });
            }
            if ledger.len() >= params.candidates_max {
                return Err(GenesisError::Validator {
                    index,
                    source: StakingError::TooManyCandidates { count: ledger.len() },
                });
            }
            ledger.insert(ValidatorStake::new(public_key, validator.self_bond));
        }

        let active = active_validators(&ledger, &params);
        if let Some(found) = dominant(&active).filter(|_| !params.dominant_power_allowed) {
            let public_key = found.public_key.to_hex();
            return Err(GenesisError::DominantValidator { public_key, power: found.power, total: found.total });
        }
        let first = ValidatorSet::new(active)?;
        let second = first.for_next_height();
        info!(validators = first.len(), total_power = %first.total_power(), "staking genesis built");
        let members = BTreeMap::from([(Height(1), first.validators().to_vec())]);
        let sets = BTreeMap::from([(Height(1), first), (Height(2), second)]);
        let block_times = BTreeMap::from([(Height::GENESIS, genesis_time_unix_ms)]);
        let last = BlockPosition { height: Height::GENESIS, time_unix_ms: genesis_time_unix_ms };
        let committed = BTreeMap::new();
        Ok(Staking { params, chain_id, ledger, sets, members, block_times, committed, last })
    }

    /// Rebuilds the state after block `last` from what a host stored: the records, and
    /// the sets of `last` (unless it is the genesis) and of the two heights after it,
    /// with their proposer priorities. The history of older heights and the committed
    /// offences start empty; evidence needs them through [`Staking::remember_height`]
    /// and [`Staking::remember_offence`].
    pub fn resume(
        params: StakingParams,
        chain_id: ChainId,
        ledger: Ledger,
        sets: Vec<(Height, ValidatorSet)>,
        last: BlockPosition,
    ) -> Staking {
        let sets: BTreeMap<Height, ValidatorSet> = sets.into_iter().collect();
        let members = sets.iter().map(|(height, set)| (*height, set.validators().to_vec())).collect();
        let block_times = BTreeMap::from([(last.height, last.time_unix_ms)]);
        Staking { params, chain_id, ledger, sets, members, block_times, committed: BTreeMap::new(), last }
    }

    /// Adds the members and the block time of a committed `height` that evidence names.
    /// A host that stores its history calls this before [`Staking::commit_evidence`].
    pub fn remember_height(&mut self, height: Height, members: Vec<Validator>, block_time_unix_ms: u64) {
        if height <= self.last.height {
            self.members.entry(height).or_insert(members);
            self.block_times.entry(height).or_insert(block_time_unix_ms);
        }
    }

    /// Adds an offence that an earlier block committed at `committed`.
    pub fn remember_offence(&mut self, key: EvidenceKey, committed: Height) {
        self.committed.entry(key).or_insert(committed);
    }

    /// Checks one piece of evidence for `block`, the block after the last applied one,
    /// and when it is valid slashes and jails its offender. The host counts the block's
    /// evidence against `evidence_per_block_max`.
    pub fn commit_evidence(&mut self, evidence: &Equivocation, block: BlockPosition) -> Result<Slash, EvidenceError> {
        let offence = self.check_evidence(evidence, block)?;
        Ok(self.punish(&offence, block))
    }

    /// Applies one operation in the block at `block`, or rejects it and changes nothing.
    pub fn apply_operation(&mut self, operation: &StakingOperation, block: BlockPosition) -> Result<(), StakingError> {
        let result = operation::apply(operation, &mut self.ledger, &self.params, block);
        if let Err(error) = &result {
            debug!(height = %block.height, operation = operation.name(), %error, "staking operation rejected");
        }
        result
    }

    /// Ends the block at `block`: releases matured stake, fixes the set of two heights
    /// later, and drops history that no unexpired evidence can need.
    pub fn finish_block(&mut self, block: BlockPosition) -> (Vec<(PublicKey, u64)>, Option<SetChange>) {
        let released = self.ledger.release_matured(block);
        self.last = block;
        self.block_times.insert(block.height, block.time_unix_ms);
        let set_change = self.fix_set_after(block.height);
        self.prune(block);
        (released, set_change)
    }

    /// Returns the parameters.
    pub fn params(&self) -> &StakingParams {
        &self.params
    }

    /// Returns the ledger after the last applied block.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Returns the last applied block, or height 0 at the genesis.
    pub fn last_block(&self) -> BlockPosition {
        self.last
    }

    /// Returns the validator set of `height`, from the last applied height (height 1
    /// at the genesis) to two heights after it.
    pub fn validators_at(&self, height: Height) -> Option<&ValidatorSet> {
        self.sets.get(&height)
    }

    /// Returns the members of the set of `height` in index order, for any height from
    /// the oldest whose evidence has not expired to two heights after the last applied.
    pub fn members_at(&self, height: Height) -> Option<&[Validator]> {
        if height == Height::GENESIS || height.0 > self.last.height.0 + 2 {
            return None;
        }
        let (_, members) = self.members.range(..=height).next_back()?;
        Some(members)
    }

    /// Returns whether `key` was committed, and at which height.
    pub fn committed_at(&self, key: &EvidenceKey) -> Option<Height> {
        self.committed.get(key).copied()
    }

    /// Checks `evidence` for inclusion in the block at `block`, the block after the
    /// last applied one, and returns the offence.
    pub fn check_evidence(
        &self,
        evidence: &Equivocation,
        block: BlockPosition,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let height = evidence.first.vote.height;
        if height >= block.height {
            return Err(EvidenceError::NotCommittedYet { height, block_height: block.height });
        }
        let (Some(set), Some(time)) = (self.members_at(height), self.block_times.get(&height)) else {
            let oldest = self.block_times.keys().next().copied().unwrap_or(Height::GENESIS);
            return Err(EvidenceError::UnknownHeight { height, oldest });
        };
        let verified = verify_equivocation(evidence, &self.chain_id, set)?;

        let age_heights = block.height.0 - height.0;
        let age_ms = block.time_unix_ms.saturating_sub(*time);
        if self.expired(age_heights, age_ms) {
            let (max_heights, max_ms) = (self.params.evidence_max_age_heights, self.params.evidence_max_age_ms);
            return Err(EvidenceError::Expired { offence: verified.key, age_heights, age_ms, max_heights, max_ms });
        }
        if let Some(committed) = self.committed.get(&verified.key) {
            return Err(EvidenceError::Duplicate { offence: verified.key, committed: *committed });
        }
        Ok(verified)
    }

    fn expired(&self, age_heights: u64, age_ms: u64) -> bool {
        age_heights > self.params.evidence_max_age_heights && age_ms > self.params.evidence_max_age_ms
    }

    /// Checks a block's evidence and operation count, and returns the offences in order.
    pub fn check_block(
        &self,
        block: BlockPosition,
        evidence: &[Equivocation],
        operations: &[StakingOperation],
    ) -> Result<Vec<VerifiedEvidence>, BlockError> {
        let expected = Height(self.last.height.0 + 1);
        if block.height != expected {
            return Err(BlockError::WrongHeight { expected, found: block.height });
        }
        // BFT time rises by at least 1 ms per height after height 1, which has the
        // genesis time itself.
        if block.time_unix_ms < self.last.time_unix_ms {
            let previous = self.last.time_unix_ms;
            return Err(BlockError::TimeDecreasing { height: block.height, previous, found: block.time_unix_ms });
        }
        if evidence.len() > self.params.evidence_per_block_max {
            return Err(BlockError::TooMuchEvidence { count: evidence.len(), max: self.params.evidence_per_block_max });
        }
        if operations.len() > OPERATIONS_PER_BLOCK_MAX {
            return Err(BlockError::TooManyOperations { count: operations.len(), max: OPERATIONS_PER_BLOCK_MAX });
        }

        let mut verified: Vec<VerifiedEvidence> = Vec::with_capacity(evidence.len());
        for (index, piece) in evidence.iter().enumerate() {
            let offence = self.check_evidence(piece, block).map_err(|source| BlockError::Evidence { index, source })?;
            if verified.iter().any(|earlier| earlier.key == offence.key) {
                let source = EvidenceError::DuplicateInBlock { offence: offence.key };
                return Err(BlockError::Evidence { index, source });
            }
            verified.push(offence);
        }
        Ok(verified)
    }

    /// Applies a committed block: its evidence, its operations in order, the release of
    /// matured stake, and the set of two heights later.
    pub fn apply_block(
        &mut self,
        block: BlockPosition,
        evidence: &[Equivocation],
        operations: &[StakingOperation],
    ) -> Result<BlockOutcome, BlockError> {
        let offences = self.check_block(block, evidence, operations)?;
        let slashes = offences.iter().map(|offence| self.punish(offence, block)).collect();
        let results = operations.iter().map(|operation| self.apply_operation(operation, block)).collect();
        let (released, set_change) = self.finish_block(block);
        Ok(BlockOutcome { height: block.height, slashes, operations: results, released, set_change })
    }

    /// Slashes and jails the offender of a verified offence committed at `block`, unless
    /// a slash at or after the offence's height already covers it.
    fn punish(&mut self, offence: &VerifiedEvidence, block: BlockPosition) -> Slash {
        self.committed.insert(offence.key, block.height);
        let public_key = offence.public_key;
        let Some(record) = self.ledger.get_mut(&public_key) else {
            // The record is dropped only when it has no stake and no slash history.
            return Slash::nothing(offence.key, public_key);
        };
        // A validator stays in the set until two heights after the block that jails it,
        // so offences up to the height after that block are covered by that one slash.
        if record.last_slashed.is_some_and(|slashed| offence.key.height.0 <= slashed.0 + 1) {
            debug!(height = %block.height, offence = %offence.key, "offence already covered by an earlier slash");
            return Slash::nothing(offence.key, public_key);
        }

        let slashed = record.slash(self.params.slash_fraction_bps, offence.key.height);
        let until = block.after(self.params.jail_heights, self.params.jail_time_ms);
        record.jailed_until = Some(until);
        record.last_slashed = Some(block.height);
        warn!(
            height = %block.height, validator = %public_key, offence = %offence.key,
            slashed_bonded = slashed.bonded, slashed_unbonding = slashed.unbonding,
            jailed_until = %until.height, "validator slashed and jailed for double signing"
        );
        Slash {
            offence: offence.key,
            public_key,
            bonded: slashed.bonded,
            unbonding: slashed.unbonding,
            jailed_until: Some(until),
        }
    }

    /// Computes the set of `height + 2` from the ledger and the set of `height + 1`.
    fn fix_set_after(&mut self, height: Height) -> Option<SetChange> {
        let target = Height(height.0 + 2);
        let carried =
            self.sets.get(&Height(height.0 + 1)).expect("the set of the next height is known").for_next_height();
        let active = active_validators(&self.ledger, &self.params);
        if same_members(&carried, &active) {
            self.sets.insert(target, carried);
            return None;
        }
        let next = match next_set(&carried, active) {
            Ok(next) => next,
            Err(error) => {
                // Operations cannot empty the set or overflow its power, so only slashes
                // and jails get here, when they removed every validator.
                warn!(height = %target, %error, "validator set change rejected; the set stays as it was");
                self.sets.insert(target, carried);
                return None;
            }
        };
        let change = SetChange::between(target, &carried, &next);
        info!(height = %target, validators = next.len(), total_power = %next.total_power(), "validator set changes");
        self.members.insert(target, next.validators().to_vec());
        self.sets.insert(target, next);
        Some(change)
    }

    /// Drops sets, block times and offences that no unexpired evidence can need.
    fn prune(&mut self, block: BlockPosition) {
        let expired = |height: Height, time: u64| {
            block.height.0 - height.0 > self.params.evidence_max_age_heights
                && block.time_unix_ms.saturating_sub(time) > self.params.evidence_max_age_ms
        };
        let oldest_kept = self
            .block_times
            .iter()
            .find(|(height, time)| !expired(**height, **time))
            .map_or(block.height, |(height, _)| *height);
        self.block_times.retain(|height, _| *height >= oldest_kept);
        self.sets.retain(|height, _| *height >= block.height);
        // The newest change at or before the oldest kept height still names its members.
        let members_from = self.members.range(..=oldest_kept).next_back().map_or(oldest_kept, |(height, _)| *height);
        self.members.retain(|height, _| *height >= members_from);
        self.committed.retain(|key, _| key.height >= oldest_kept);
    }
}

fn same_members(set: &ValidatorSet, active: &[Validator]) -> bool {
    set.validators() == active
}
