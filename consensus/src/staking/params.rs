//! The staking parameters of a chain: stake per unit of voting power, set size, periods
//! of unbonding and jail, the evidence age and the slash fraction, with the rules that
//! tie them together.

use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use crate::validators::VALIDATORS_MAX;

/// One in basis points: a slash fraction of 10,000 takes the whole stake.
pub const BASIS_POINTS_ONE: u32 = 10_000;

/// Largest `candidates_max`: validator records, in or out of the set, that a chain keeps.
pub const CANDIDATES_MAX: usize = 10_000;

/// Largest `unbonding_entries_max`: unbonding entries that one validator may have at once.
pub const UNBONDING_ENTRIES_MAX: usize = 64;

/// Largest `evidence_per_block_max`.
pub const EVIDENCE_PER_BLOCK_MAX: usize = 256;

/// The staking rules of a chain, the same on every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakingParams {
    /// Stake per unit of voting power: a validator's power is its bonded stake divided
    /// by this, rounded down.
    pub stake_per_power: NonZeroU64,
    /// The least bonded stake of a validator: to create it, and to keep it after a
    /// partial unbond or to unjail it.
    pub min_self_bond: u64,
    /// Maximum validators in a set: the ones of highest power, ties broken by the lower
    /// public key bytes. Other bonded validators wait outside the set.
    pub validators_max: usize,
    /// Maximum validator records, in the set or not.
    pub candidates_max: usize,
    /// Maximum unbonding entries of one validator at once.
    pub unbonding_entries_max: usize,
    /// Heights an unbonding entry waits before its stake is released.
    pub unbonding_heights: u64,
    /// Block time an unbonding entry waits before its stake is released, in ms. An entry
    /// is released once both its heights and its time have passed.
    pub unbonding_time_ms: u64,
    /// Whether a set may give one validator 1/3 or more of the voting power. Such a
    /// validator alone can halt the chain, so this stays false except for chains of one
    /// operator, such as a dev chain.
    pub dominant_power_allowed: bool,
    /// Evidence whose age exceeds both `evidence_max_age_heights` and
    /// `evidence_max_age_ms` is rejected.
    pub evidence_max_age_heights: u64,
    /// See `evidence_max_age_heights`; block time, in ms.
    pub evidence_max_age_ms: u64,
    /// Maximum pieces of evidence in one block.
    pub evidence_per_block_max: usize,
    /// The share of bonded and unbonding stake that committed evidence removes, in basis
    /// points (1/10,000).
    pub slash_fraction_bps: u32,
    /// Heights a slashed validator stays jailed.
    pub jail_heights: u64,
    /// Block time a slashed validator stays jailed, in ms. It may unjail once both its
    /// heights and its time have passed.
    pub jail_time_ms: u64,
}

impl Default for StakingParams {
    /// Evidence ages are CometBFT's defaults (100,000 blocks and 48 hours) and the slash
    /// fraction is the 5% of the Cosmos SDK's double-sign rule. Unbonding takes longer
    /// than the evidence age, so stake stays slashable until no evidence can reach it.
    fn default() -> StakingParams {
        const HOUR_MS: u64 = 3_600_000;
        StakingParams {
            stake_per_power: NonZeroU64::new(1_000_000).expect("the constant is not zero"),
            min_self_bond: 1_000_000,
            validators_max: 100,
            candidates_max: 1_000,
            unbonding_entries_max: 7,
            unbonding_heights: 200_000,
            unbonding_time_ms: 21 * 24 * HOUR_MS,
            dominant_power_allowed: false,
            evidence_max_age_heights: 100_000,
            evidence_max_age_ms: 48 * HOUR_MS,
            evidence_per_block_max: 16,
            slash_fraction_bps: 500,
            jail_heights: 20_000,
            jail_time_ms: 24 * HOUR_MS,
        }
    }
}

/// A [`StakingParams`] field that breaks a rule.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StakingParamsError {
    #[error(
        "min_self_bond {min_self_bond} is below stake_per_power {stake_per_power}, so a validator at the minimum has no voting power; raise min_self_bond to at least {stake_per_power}"
    )]
    MinSelfBondBelowPower { min_self_bond: u64, stake_per_power: u64 },
    #[error("validators_max is {0}; use 1 to {VALIDATORS_MAX}")]
    ValidatorsMax(usize),
    #[error("candidates_max is {candidates_max}; use validators_max ({validators_max}) to {CANDIDATES_MAX}")]
    CandidatesMax { candidates_max: usize, validators_max: usize },
    #[error("unbonding_entries_max is {0}; use 1 to {UNBONDING_ENTRIES_MAX}")]
    UnbondingEntriesMax(usize),
    #[error(
        "unbonding_{unit} is {unbonding}, not more than evidence_max_age_{unit} {evidence}; unbonding stake must outlast the evidence age so it stays slashable, so raise unbonding_{unit} above {evidence}"
    )]
    UnbondingShorterThanEvidence { unit: &'static str, unbonding: u64, evidence: u64 },
    #[error("evidence_per_block_max is {0}; use 1 to {EVIDENCE_PER_BLOCK_MAX}")]
    EvidencePerBlockMax(usize),
    #[error("slash_fraction_bps is {0}, over {BASIS_POINTS_ONE} (the whole stake); use 0 to {BASIS_POINTS_ONE}")]
    SlashFraction(u32),
    #[error("jail_heights is 0, so a slashed validator could unjail at once; use at least 1")]
    JailHeights,
}

impl StakingParams {
    /// Checks the rules of the fields' docs and the ties between them.
    pub fn validate(&self) -> Result<(), StakingParamsError> {
        let stake_per_power = self.stake_per_power.get();
        if self.min_self_bond < stake_per_power {
            return Err(StakingParamsError::MinSelfBondBelowPower {
                min_self_bond: self.min_self_bond,
                stake_per_power,
            });
        }
        if !(1..=VALIDATORS_MAX).contains(&self.validators_max) {
            return Err(StakingParamsError::ValidatorsMax(self.validators_max));
        }
        if !(self.validators_max..=CANDIDATES_MAX).contains(&self.candidates_max) {
            let (candidates_max, validators_max) = (self.candidates_max, self.validators_max);
            return Err(StakingParamsError::CandidatesMax { candidates_max, validators_max });
        }
        if !(1..=UNBONDING_ENTRIES_MAX).contains(&self.unbonding_entries_max) {
            return Err(StakingParamsError::UnbondingEntriesMax(self.unbonding_entries_max));
        }
        self.check_unbonding_outlasts_evidence()?;
        if !(1..=EVIDENCE_PER_BLOCK_MAX).contains(&self.evidence_per_block_max) {
            return Err(StakingParamsError::EvidencePerBlockMax(self.evidence_per_block_max));
        }
        if self.slash_fraction_bps > BASIS_POINTS_ONE {
            return Err(StakingParamsError::SlashFraction(self.slash_fraction_bps));
        }
        if self.jail_heights == 0 {
            return Err(StakingParamsError::JailHeights);
        }
        Ok(())
    }

    /// Evidence of an offence at height h is accepted until both its age limits have
    /// passed. An entry that starts unbonding at h or later is released only after both
    /// unbonding periods, so strictly longer periods keep it slashable for that time.
    fn check_unbonding_outlasts_evidence(&self) -> Result<(), StakingParamsError> {
        let pairs = [
            ("heights", self.unbonding_heights, self.evidence_max_age_heights),
            ("time_ms", self.unbonding_time_ms, self.evidence_max_age_ms),
        ];
        for (unit, unbonding, evidence) in pairs {
            if unbonding <= evidence {
                return Err(StakingParamsError::UnbondingShorterThanEvidence { unit, unbonding, evidence });
            }
        }
        Ok(())
    }

    /// Returns the voting power of `bonded` stake.
    pub fn power_of(&self, bonded: u64) -> u64 {
        bonded / self.stake_per_power.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_params_are_valid() {
        assert_eq!(StakingParams::default().validate(), Ok(()));
    }

    #[test]
    fn params_rules_table() {
        let base = StakingParams::default;
        let cases: Vec<(StakingParams, Result<(), StakingParamsError>)> = vec![
            (
                StakingParams { min_self_bond: 999_999, ..base() },
                Err(StakingParamsError::MinSelfBondBelowPower { min_self_bond: 999_999, stake_per_power: 1_000_000 }),
            ),
            (StakingParams { min_self_bond: 1_000_000, ..base() }, Ok(())),
            (StakingParams { validators_max: 0, ..base() }, Err(StakingParamsError::ValidatorsMax(0))),
            (StakingParams { validators_max: VALIDATORS_MAX, ..base() }, Ok(())),
            (
                StakingParams { validators_max: VALIDATORS_MAX + 1, ..base() },
                Err(StakingParamsError::ValidatorsMax(VALIDATORS_MAX + 1)),
            ),
            (
                StakingParams { candidates_max: 99, ..base() },
                Err(StakingParamsError::CandidatesMax { candidates_max: 99, validators_max: 100 }),
            ),
            (StakingParams { candidates_max: 100, ..base() }, Ok(())),
            (StakingParams { candidates_max: CANDIDATES_MAX, ..base() }, Ok(())),
            (
                StakingParams { candidates_max: CANDIDATES_MAX + 1, ..base() },
                Err(StakingParamsError::CandidatesMax { candidates_max: CANDIDATES_MAX + 1, validators_max: 100 }),
            ),
            (StakingParams { unbonding_entries_max: 0, ..base() }, Err(StakingParamsError::UnbondingEntriesMax(0))),
            (StakingParams { unbonding_entries_max: UNBONDING_ENTRIES_MAX, ..base() }, Ok(())),
            (
                StakingParams { unbonding_entries_max: UNBONDING_ENTRIES_MAX + 1, ..base() },
                Err(StakingParamsError::UnbondingEntriesMax(UNBONDING_ENTRIES_MAX + 1)),
            ),
            (
                StakingParams { unbonding_heights: 100_000, ..base() },
                Err(StakingParamsError::UnbondingShorterThanEvidence {
                    unit: "heights",
                    unbonding: 100_000,
                    evidence: 100_000,
                }),
            ),
            (StakingParams { unbonding_heights: 100_001, ..base() }, Ok(())),
            (
                StakingParams { unbonding_time_ms: 48 * 3_600_000, ..base() },
                Err(StakingParamsError::UnbondingShorterThanEvidence {
                    unit: "time_ms",
                    unbonding: 48 * 3_600_000,
                    evidence: 48 * 3_600_000,
                }),
            ),
            (StakingParams { evidence_per_block_max: 0, ..base() }, Err(StakingParamsError::EvidencePerBlockMax(0))),
            (StakingParams { evidence_per_block_max: EVIDENCE_PER_BLOCK_MAX, ..base() }, Ok(())),
            (
                StakingParams { evidence_per_block_max: EVIDENCE_PER_BLOCK_MAX + 1, ..base() },
                Err(StakingParamsError::EvidencePerBlockMax(EVIDENCE_PER_BLOCK_MAX + 1)),
            ),
            (StakingParams { slash_fraction_bps: BASIS_POINTS_ONE, ..base() }, Ok(())),
            (
                StakingParams { slash_fraction_bps: BASIS_POINTS_ONE + 1, ..base() },
                Err(StakingParamsError::SlashFraction(BASIS_POINTS_ONE + 1)),
            ),
            (StakingParams { jail_heights: 0, ..base() }, Err(StakingParamsError::JailHeights)),
        ];
        for (index, (params, expected)) in cases.into_iter().enumerate() {
            assert_eq!(params.validate(), expected, "case {index}");
        }
    }

    #[test]
    fn power_rounds_down() {
        let params = StakingParams::default();
        assert_eq!(params.power_of(0), 0);
        assert_eq!(params.power_of(999_999), 0);
        assert_eq!(params.power_of(1_000_000), 1);
        assert_eq!(params.power_of(u64::MAX), u64::MAX / 1_000_000);
    }
}
