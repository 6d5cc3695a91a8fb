//! Random staking operations that proposers put into their blocks: creating standby
//! validators, bonding, and unbonding in part or in full, so that validator sets change
//! under every fault mix.
//!
//! # What the workload never does
//! The checks assume that Byzantine and offline validators hold less than 1/3 of every
//! set's power. The workload acts only for honest validators that run, and it drops an
//! operation when the set that it would produce breaks that bound, trying it on a copy
//! of the proposer's stake. Committed blocks apply operations in the same order on the
//! same stake, so the bound then holds on every node. Slashes only lower Byzantine
//! power, so evidence in the same block cannot break it.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vouch_consensus::staking::{BlockPosition, Staking, StakingOperation};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::PublicKey;

use crate::config::STAKE_PER_POWER;

/// The validators that the workload may act for, and those whose power it guards.
#[derive(Clone, Debug)]
pub struct Workload {
    seed: u64,
    enabled: bool,
    /// Honest validators that run, genesis and standby ones.
    actors: Vec<PublicKey>,
    /// Byzantine and offline validators, which must keep less than 1/3 of the power.
    suspects: Vec<PublicKey>,
}

impl Workload {
    /// Builds the workload of a run.
    pub fn new(seed: u64, enabled: bool, actors: Vec<PublicKey>, suspects: Vec<PublicKey>) -> Workload {
        Workload { seed, enabled, actors, suspects }
    }

    /// Returns the operations for the block of `proposer` at (`at`, `round`), built on
    /// `staking`, the stake after the block before.
    pub fn operations(&self, staking: &Staking, at: BlockPosition, round: u32, proposer: u32) -> Vec<StakingOperation> {
        if !self.enabled || self.actors.is_empty() {
            return Vec::new();
        }
        let mut rng = self.rng(at.height, round, proposer);
        if !rng.random_bool(0.4) {
            return Vec::new();
        }
        let actor = self.actors[rng.random_range(0..self.actors.len())];
        let operation = choose(&mut rng, staking, actor);
        if self.keeps_bound(staking, at, operation) { vec![operation] } else { Vec::new() }
    }

    fn rng(&self, height: Height, round: u32, proposer: u32) -> ChaCha8Rng {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"vouch-sim staking workload");
        hasher.update(&self.seed.to_le_bytes());
        hasher.update(&height.0.to_le_bytes());
        hasher.update(&round.to_le_bytes());
        hasher.update(&proposer.to_le_bytes());
        ChaCha8Rng::from_seed(*hasher.finalize().as_bytes())
    }

    /// Returns whether the set after `operation` keeps the suspects under 1/3 of the
    /// power. A rejected operation changes nothing and passes.
    fn keeps_bound(&self, staking: &Staking, at: BlockPosition, operation: StakingOperation) -> bool {
        let mut trial = staking.clone();
        if trial.apply_block(at, &[], &[operation]).is_err() {
            return false;
        }
        let set = trial.validators_at(Height(at.height.0 + 2)).expect("a block fixes the set of two heights later");
        let suspect_power: u128 = set
            .validators()
            .iter()
            .filter(|validator| self.suspects.contains(&validator.public_key))
            .map(|validator| u128::from(validator.voting_power.0))
            .sum();
        3 * suspect_power < u128::from(set.total_power().0)
    }
}

/// Chooses an operation for `actor`: create it when it has no record, else bond or
/// unbond a random amount, sometimes all of it.
fn choose(rng: &mut ChaCha8Rng, staking: &Staking, actor: PublicKey) -> StakingOperation {
    let stake = |units: u64| units * STAKE_PER_POWER;
    let Some(record) = staking.ledger().get(&actor) else {
        return StakingOperation::CreateValidator { public_key: actor, self_bond: stake(rng.random_range(1..=10)) };
    };
    if record.bonded == 0 || rng.random_bool(0.5) {
        return StakingOperation::Bond { public_key: actor, amount: stake(rng.random_range(1..=5)) };
    }
    let amount = match rng.random_range(0..4u32) {
        0 => record.bonded,
        // Sometimes below the minimum left behind or above the bond: the ledger rejects it.
        1 => rng.random_range(1..=record.bonded.saturating_add(STAKE_PER_POWER)),
        _ => stake(rng.random_range(1..=3)).min(record.bonded),
    };
    StakingOperation::Unbond { public_key: actor, amount }
}
