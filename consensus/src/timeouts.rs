//! Round timeouts: how long a validator waits in each step before it moves on, growing
//! with the round up to a cap.
//!
//! A timeout of round `r` is `base + delta * r`, capped at `max`. The growth lets a
//! network whose messages are slower than the base timeouts still finish a round after
//! a few tries. The cap keeps rounds short after a long halt: without it, a network that
//! was down for many rounds would wait ever longer between tries once it came back.
//! Rounds start from 0 at every height, so the timeouts also fall back to their bases
//! once a height commits.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The maximum value of any timeout setting: one hour.
pub const TIMEOUT_SETTING_MAX: Duration = Duration::from_secs(3600);

/// The step of a round that a timeout belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    /// Waiting for the round's proposal.
    Propose,
    /// Prevoted, waiting for prevotes of more than 2/3 of the voting power.
    Prevote,
    /// Precommitted, waiting for precommits of more than 2/3 of the voting power.
    Precommit,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Propose => "propose",
            Step::Prevote => "prevote",
            Step::Precommit => "precommit",
        })
    }
}

/// The timeouts of each step; one config is shared by all validators of a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// Wait for the proposal in round 0.
    pub propose: Duration,
    /// Added to the propose timeout for each round.
    pub propose_delta: Duration,
    /// Wait after prevotes of more than 2/3 of the power for any values, in round 0.
    pub prevote: Duration,
    /// Added to the prevote timeout for each round.
    pub prevote_delta: Duration,
    /// Wait after precommits of more than 2/3 of the power for any values, in round 0.
    pub precommit: Duration,
    /// Added to the precommit timeout for each round.
    pub precommit_delta: Duration,
    /// The cap of every step's timeout, whatever the round.
    pub max: Duration,
}

impl Default for TimeoutConfig {
    /// Returns the base and delta values of CometBFT's `DefaultConsensusConfig`, with a
    /// cap of 10 seconds a step, so a round that ends by timeouts lasts at most 30 seconds.
    fn default() -> TimeoutConfig {
        TimeoutConfig {
            propose: Duration::from_millis(3000),
            propose_delta: Duration::from_millis(500),
            prevote: Duration::from_millis(1000),
            prevote_delta: Duration::from_millis(500),
            precommit: Duration::from_millis(1000),
            precommit_delta: Duration::from_millis(500),
            max: Duration::from_secs(10),
        }
    }
}

/// A timeout setting that breaks a rule of [`TimeoutConfig::validate`].
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutConfigError {
    #[error("timeout `{field}` is zero; set it to at least 1 ms")]
    Zero { field: &'static str },
    #[error("timeout `{field}` is {value:?}, over the limit of {max:?}")]
    TooLong { field: &'static str, value: Duration, max: Duration },
    #[error("timeout `{field}` is {value:?}, above the cap `max` of {max:?}; raise `max` or lower `{field}`")]
    AboveCap { field: &'static str, value: Duration, max: Duration },
}

impl TimeoutConfig {
    /// Checks that the bases and the cap are non-zero, that no setting exceeds
    /// [`TIMEOUT_SETTING_MAX`], and that every base is at most the cap.
    pub fn validate(&self) -> Result<(), TimeoutConfigError> {
        let settings = [
            ("propose", self.propose),
            ("propose_delta", self.propose_delta),
            ("prevote", self.prevote),
            ("prevote_delta", self.prevote_delta),
            ("precommit", self.precommit),
            ("precommit_delta", self.precommit_delta),
            ("max", self.max),
        ];
        for (field, value) in settings {
            if value > TIMEOUT_SETTING_MAX {
                return Err(TimeoutConfigError::TooLong { field, value, max: TIMEOUT_SETTING_MAX });
            }
        }

        for (field, value) in [("propose", self.propose), ("prevote", self.prevote), ("precommit", self.precommit)] {
            if value.is_zero() {
                return Err(TimeoutConfigError::Zero { field });
            }
            if value > self.max {
                return Err(TimeoutConfigError::AboveCap { field, value, max: self.max });
            }
        }
        Ok(())
    }

    /// Returns the timeout of `step` in `round`: base plus delta times the round, capped.
    pub fn duration(&self, step: Step, round: u32) -> Duration {
        let (base, delta) = match step {
            Step::Propose => (self.propose, self.propose_delta),
            Step::Prevote => (self.prevote, self.prevote_delta),
            Step::Precommit => (self.precommit, self.precommit_delta),
        };
        let growth = delta.checked_mul(round).unwrap_or(Duration::MAX);
        base.saturating_add(growth).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(TimeoutConfig::default().validate(), Ok(()));
    }

    #[test]
    fn timeouts_grow_per_round() {
        let config = TimeoutConfig::default();
        assert_eq!(config.duration(Step::Propose, 0), Duration::from_millis(3000));
        assert_eq!(config.duration(Step::Propose, 1), Duration::from_millis(3500));
        assert_eq!(config.duration(Step::Prevote, 4), Duration::from_millis(3000));
        assert_eq!(config.duration(Step::Precommit, 2), Duration::from_millis(2000));
    }

    #[test]
    fn timeouts_stop_at_cap() {
        let config = TimeoutConfig::default();
        assert_eq!(config.duration(Step::Propose, 14), Duration::from_secs(10));
        assert_eq!(config.duration(Step::Propose, 15), Duration::from_secs(10));
        assert_eq!(config.duration(Step::Prevote, 1_000_000), Duration::from_secs(10));
        assert_eq!(config.duration(Step::Precommit, u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn huge_delta_saturates_to_cap() {
        let config = TimeoutConfig { propose_delta: TIMEOUT_SETTING_MAX, ..TimeoutConfig::default() };
        assert_eq!(config.duration(Step::Propose, u32::MAX), config.max);
    }

    #[test]
    fn validate_rejects_zero_base() {
        let config = TimeoutConfig { prevote: Duration::ZERO, ..TimeoutConfig::default() };
        assert_eq!(config.validate(), Err(TimeoutConfigError::Zero { field: "prevote" }));
    }

    #[test]
    fn validate_rejects_base_above_cap() {
        let config = TimeoutConfig { propose: Duration::from_secs(11), ..TimeoutConfig::default() };
        let error = config.validate().unwrap_err();
        assert_eq!(
            error,
            TimeoutConfigError::AboveCap {
                field: "propose",
                value: Duration::from_secs(11),
                max: Duration::from_secs(10)
            }
        );
        assert!(error.to_string().contains("raise `max`"), "{error}");
    }

    #[test]
    fn validate_rejects_setting_over_limit() {
        let config = TimeoutConfig { max: Duration::from_secs(7200), ..TimeoutConfig::default() };
        assert_eq!(
            config.validate(),
            Err(TimeoutConfigError::TooLong {
                field: "max",
                value: Duration::from_secs(7200),
                max: TIMEOUT_SETTING_MAX
            })
        );
    }
}
