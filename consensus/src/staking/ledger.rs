//! The stake of every validator: bonded stake, unbonding entries, jail, and the totals
//! that account for every unit of stake.
//!
//! # Invariants
//! - For every record, `deposited = bonded + unbonding + released + slashed`: stake
//!   enters by creation and bonding, and leaves only by release or slashing.
//! - A record is kept while it has stake, is jailed or was ever slashed, so a slashed
//!   validator cannot shed its history by leaving and creating itself again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::PublicKey;

use crate::staking::params::{BASIS_POINTS_ONE, StakingParams};

/// A height and block time: where a block sits, or when a period ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockPosition {
    /// The block's height.
    pub height: Height,
    /// The block's BFT time, in ms since the Unix epoch.
    pub time_unix_ms: u64,
}

impl BlockPosition {
    /// Returns the position `heights` and `time_ms` after this one. A deadline that would
    /// pass `u64::MAX` stays at `u64::MAX`, which no block reaches.
    pub fn after(self, heights: u64, time_ms: u64) -> BlockPosition {
        BlockPosition {
            height: Height(self.height.0.saturating_add(heights)),
            time_unix_ms: self.time_unix_ms.saturating_add(time_ms),
        }
    }

    /// Returns whether a block at this position is at or past `deadline` in both height
    /// and time.
    pub fn reached(self, deadline: BlockPosition) -> bool {
        self.height >= deadline.height && self.time_unix_ms >= deadline.time_unix_ms
    }
}

/// Stake on its way out of a validator, still slashable until it is released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnbondingEntry {
    /// The stake in this entry, less any slashes since.
    pub amount: u64,
    /// The block whose operation started the entry.
    pub started: BlockPosition,
    /// The first block at or past both unbonding periods, which releases the stake.
    pub matures: BlockPosition,
}

/// The stake and standing of one validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorStake {
    /// The key that signs the validator's votes and staking operations.
    pub public_key: PublicKey,
    /// Stake that gives voting power.
    pub bonded: u64,
    /// Stake waiting for release, oldest first.
    pub unbonding: Vec<UnbondingEntry>,
    /// While jailed: the position from which the validator may unjail.
    pub jailed_until: Option<BlockPosition>,
    /// The height of the block that last slashed the validator.
    pub last_slashed: Option<Height>,
    /// Stake ever added by creation and bonding.
    pub deposited: u64,
    /// Stake ever released from unbonding.
    pub released: u64,
    /// Stake ever removed by slashes.
    pub slashed: u64,
}

/// The stake that one slash removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlashedStake {
    /// Removed from bonded stake.
    pub bonded: u64,
    /// Removed from unbonding entries.
    pub unbonding: u64,
}

impl ValidatorStake {
    /// Returns a new record with `self_bond` bonded.
    pub fn new(public_key: PublicKey, self_bond: u64) -> ValidatorStake {
        ValidatorStake {
            public_key,
            bonded: self_bond,
            unbonding: Vec::new(),
            jailed_until: None,
            last_slashed: None,
            deposited: self_bond,
            released: 0,
            slashed: 0,
        }
    }

    /// Returns the stake in unbonding entries.
    pub fn unbonding_total(&self) -> u64 {
        self.unbonding.iter().map(|entry| entry.amount).fold(0, u64::saturating_add)
    }

    /// Returns whether the record may be dropped: no stake, no jail, no slash history.
    pub fn is_empty(&self) -> bool {
        self.bonded == 0 && self.unbonding.is_empty() && self.jailed_until.is_none() && self.last_slashed.is_none()
    }

    /// Returns whether the accounting invariant of the module holds.
    pub fn is_balanced(&self) -> bool {
        let held = u128::from(self.bonded) + u128::from(self.unbonding_total());
        held + u128::from(self.released) + u128::from(self.slashed) == u128::from(self.deposited)
    }

    /// Removes `fraction_bps` of the bonded stake and of every unbonding entry that
    /// started at or after `offence_height`, rounding each part down. Entries that
    /// started before the offence held no power when it happened and are not touched.
    pub fn slash(&mut self, fraction_bps: u32, offence_height: Height) -> SlashedStake {
        let bonded = share(self.bonded, fraction_bps);
        self.bonded -= bonded;

        let mut unbonding = 0u64;
        for entry in self.unbonding.iter_mut().filter(|entry| entry.started.height >= offence_height) {
            let cut = share(entry.amount, fraction_bps);
            entry.amount -= cut;
            unbonding = unbonding.checked_add(cut).expect("the cuts sum to at most the deposited stake");
        }
        self.unbonding.retain(|entry| entry.amount > 0);

        let total = bonded.checked_add(unbonding).expect("the cuts sum to at most the deposited stake");
        self.slashed = self.slashed.checked_add(total).expect("slashed stake is at most the deposited stake");
        debug_assert!(self.is_balanced(), "slash kept the accounting of {}", self.public_key);
        SlashedStake { bonded, unbonding }
    }

    /// Releases the entries that mature at or before `now` and returns their stake.
    pub fn release_matured(&mut self, now: BlockPosition) -> u64 {
        let mut released = 0u64;
        self.unbonding.retain(|entry| {
            if now.reached(entry.matures) {
                released = released.checked_add(entry.amount).expect("released stake is at most the deposited stake");
                return false;
            }
            true
        });
        self.released = self.released.checked_add(released).expect("released stake is at most the deposited stake");
        debug_assert!(self.is_balanced(), "release kept the accounting of {}", self.public_key);
        released
    }
}

/// `amount × fraction_bps / 10,000`, rounded down, in u128 so it cannot overflow.
fn share(amount: u64, fraction_bps: u32) -> u64 {
    let fraction = u128::from(fraction_bps.min(BASIS_POINTS_ONE));
    let cut = u128::from(amount) * fraction / u128::from(BASIS_POINTS_ONE);
    u64::try_from(cut).expect("a share of at most one of a u64 fits in u64")
}

/// Every validator record, ordered by public key bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    records: BTreeMap<[u8; 32], ValidatorStake>,
}

impl Ledger {
    /// Builds a ledger from stored records; a later record with the key of an earlier
    /// one replaces it.
    pub fn from_records(records: impl IntoIterator<Item = ValidatorStake>) -> Ledger {
        Ledger { records: records.into_iter().map(|record| (*record.public_key.as_bytes(), record)).collect() }
    }

    /// Returns the record of `public_key`.
    pub fn get(&self, public_key: &PublicKey) -> Option<&ValidatorStake> {
        self.records.get(public_key.as_bytes())
    }

    pub(crate) fn get_mut(&mut self, public_key: &PublicKey) -> Option<&mut ValidatorStake> {
        self.records.get_mut(public_key.as_bytes())
    }

    /// Returns the number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Returns whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Returns every record in public key order.
    pub fn records(&self) -> impl Iterator<Item = &ValidatorStake> {
        self.records.values()
    }

    /// Replaces or removes the record of `public_key`: the undo step of a rejected
    /// operation.
    pub(crate) fn restore(&mut self, public_key: &PublicKey, record: Option<ValidatorStake>) {
        match record {
            Some(record) => self.records.insert(*public_key.as_bytes(), record),
            None => self.records.remove(public_key.as_bytes()),
        };
    }

    pub(crate) fn insert(&mut self, record: ValidatorStake) {
        self.records.insert(*record.public_key.as_bytes(), record);
    }

    /// Releases every matured unbonding entry at `now`, drops records that became
    /// empty, and returns the released stake per validator.
    pub(crate) fn release_matured(&mut self, now: BlockPosition) -> Vec<(PublicKey, u64)> {
        let mut released = Vec::new();
        for record in self.records.values_mut() {
            let amount = record.release_matured(now);
            if amount > 0 {
                released.push((record.public_key, amount));
            }
        }
        self.records.retain(|_, record| !record.is_empty());
        released
    }

    /// Returns the active candidates: not jailed and with voting power under `params`.
    pub(crate) fn candidates<'a>(&'a self, params: &'a StakingParams) -> impl Iterator<Item = (PublicKey, u64)> + 'a {
        self.records
            .values()
            .filter(|record| record.jailed_until.is_none())
            .map(|record| (record.public_key, params.power_of(record.bonded)))
            .filter(|(_, power)| *power > 0)
    }
}

#[cfg(test)]
mod tests {
    use vouch_protocol::keys::SigningKey;

    use super::*;

    fn at(height: u64, time_unix_ms: u64) -> BlockPosition {
        BlockPosition { height: Height(height), time_unix_ms }
    }

    fn record(bonded: u64) -> ValidatorStake {
        ValidatorStake::new(SigningKey::from_seed(&[1; 32]).public_key(), bonded)
    }

    fn entry(amount: u64, started: u64, matures: u64) -> UnbondingEntry {
        UnbondingEntry { amount, started: at(started, started), matures: at(matures, matures) }
    }

    #[test]
    fn deadline_needs_both_height_and_time() {
        let deadline = at(10, 1_000);
        assert!(!at(10, 999).reached(deadline));
        assert!(!at(9, 1_000).reached(deadline));
        assert!(at(10, 1_000).reached(deadline));
        assert!(at(11, 5_000).reached(deadline));
        assert_eq!(at(u64::MAX - 1, 5).after(10, u64::MAX), at(u64::MAX, u64::MAX));
    }

    #[test]
    fn slash_cuts_bonded_and_later_unbonding() {
        let mut stake = record(10_000);
        stake.deposited = 13_000;
        stake.unbonding = vec![entry(1_000, 4, 20), entry(2_000, 6, 22)];
        let slashed = stake.slash(500, Height(5));
        assert_eq!(slashed, SlashedStake { bonded: 500, unbonding: 100 });
        assert_eq!(stake.bonded, 9_500);
        assert_eq!(stake.unbonding[0].amount, 1_000, "the entry that started before the offence");
        assert_eq!(stake.unbonding[1].amount, 1_900);
        assert_eq!(stake.slashed, 600);
        assert!(stake.is_balanced());
    }

    #[test]
    fn slash_rounds_down_and_handles_extremes() {
        let mut small = record(19);
        assert_eq!(small.slash(500, Height(1)).bonded, 0, "5% of 19 rounds down to 0");
        let mut whole = record(u64::MAX);
        assert_eq!(whole.slash(BASIS_POINTS_ONE, Height(1)).bonded, u64::MAX);
        assert_eq!(whole.bonded, 0);
        assert!(whole.is_balanced());
        let mut none = record(1_000);
        assert_eq!(none.slash(0, Height(1)), SlashedStake { bonded: 0, unbonding: 0 });
    }

    #[test]
    fn release_waits_for_maturity() {
        let mut stake = record(0);
        stake.deposited = 3_000;
        stake.unbonding = vec![entry(1_000, 1, 10), entry(2_000, 3, 12)];
        assert_eq!(stake.release_matured(at(9, 9)), 0);
        assert_eq!(stake.release_matured(at(10, 10)), 1_000);
        assert_eq!(stake.release_matured(at(11, 11)), 0);
        assert_eq!(stake.release_matured(at(12, 12)), 2_000);
        assert!(stake.unbonding.is_empty());
        assert_eq!(stake.released, 3_000);
        assert!(stake.is_balanced());
        assert!(stake.is_empty());
    }
}
