//! The settings of one simulation run: validators, heights, network, faults, and the
//! bounds that stop a run.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use std::num::NonZeroU64;

use vouch_consensus::TimeoutConfig;
use vouch_consensus::staking::StakingParams;

use crate::value::EVIDENCE_PER_BLOCK_MAX;

/// Smallest number of validators: 3f + 1 with f = 1.
pub const VALIDATORS_MIN: usize = 4;
/// Largest number of validators a run may have.
pub const VALIDATORS_MAX: usize = 10;
/// Largest number of heights a run may ask for.
pub const HEIGHTS_MAX: u64 = 100_000;
/// Largest number of standby validators: running honest nodes outside the genesis set.
pub const STANDBY_MAX: usize = 2;
/// Stake per unit of voting power on the simulated chain.
pub const STAKE_PER_POWER: u64 = 1_000;

/// The faults that a run injects. Reordering is always on, because every message gets
/// its own random delay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultMix {
    /// Lost and duplicated messages.
    pub drops: bool,
    /// Partitions of the validators into two groups, each healing after a while.
    pub partitions: bool,
    /// Crashes of honest validators, which restart from their storage.
    pub crashes: bool,
    /// Validators with less than 1/3 of the power that equivocate, withhold votes and
    /// send malformed messages.
    pub byzantine: bool,
}

impl FaultMix {
    /// The mixes that `cargo test` and the testnet's `--faults all-mixes` cycle through.
    pub const MIXES: [&'static str; 6] = ["none", "drops", "partitions", "crashes", "byzantine", "all"];

    /// Returns the mix with every fault.
    pub fn all() -> FaultMix {
        FaultMix { drops: true, partitions: true, crashes: true, byzantine: true }
    }

    fn names(&self) -> Vec<&'static str> {
        let flags = [
            (self.drops, "drops"),
            (self.partitions, "partitions"),
            (self.crashes, "crashes"),
            (self.byzantine, "byzantine"),
        ];
        flags.into_iter().filter(|(on, _)| *on).map(|(_, name)| name).collect()
    }
}

/// A `--faults` list that names an unknown fault.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {name:?}; use a comma-separated list of none, drops, partitions, crashes, byzantine, all")]
pub struct FaultMixError {
    pub name: String,
}

impl FromStr for FaultMix {
    type Err = FaultMixError;

    /// Parses a comma-separated list such as `drops,crashes`; `none` adds nothing and
    /// `all` adds every fault.
    fn from_str(text: &str) -> Result<FaultMix, FaultMixError> {
        let mut mix = FaultMix::default();
        for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            match name {
                "none" => {}
                "drops" => mix.drops = true,
                "partitions" => mix.partitions = true,
                "crashes" => mix.crashes = true,
                "byzantine" => mix.byzantine = true,
                "all" => mix = FaultMix::all(),
                _ => return Err(FaultMixError { name: name.to_owned() }),
            }
        }
        Ok(mix)
    }
}

impl fmt::Display for FaultMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&names.join(","))
    }
}

/// The spread of voting power over the validators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stakes {
    /// Every validator has power 1.
    Equal,
    /// Each validator draws a power from 1 to 10 from the seed.
    Random,
}

/// The Byzantine validators of a run with [`FaultMix::byzantine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adversary {
    /// The validators of least power whose total stays under 1/3, each misbehaving at
    /// random per message. Safety and liveness must hold.
    Minority,
    /// This many validators, whatever their power, that coordinate to show two halves of
    /// the honest validators two different values. With 1/3 of the power or more this
    /// breaks agreement, which the checks must catch.
    SplitBrain { count: usize },
}

/// The network's delays. Each message takes `base + uniform(0..=jitter)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    pub base: Duration,
    pub jitter: Duration,
}

/// The settings of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// Number of validators, from [`VALIDATORS_MIN`] to [`VALIDATORS_MAX`].
    pub validators: usize,
    /// The run ends when every running honest validator has committed this many heights
    /// and, when faults are on, at least one height after they stop.
    pub heights: u64,
    pub faults: FaultMix,
    pub stakes: Stakes,
    pub adversary: Adversary,
    pub latency: Latency,
    /// Faults are injected only before this virtual time; after it the network heals,
    /// crashed validators are back, and liveness is checked.
    pub faults_until: Duration,
    /// Honest validators that are down for the whole run, counted from the highest
    /// index.
    pub offline: usize,
    /// Honest nodes that run from the start without stake, which staking operations may
    /// turn into validators, from 0 to [`STANDBY_MAX`].
    pub standby: usize,
    /// Whether proposers put random staking operations (create validator, bond, unbond)
    /// into their blocks.
    pub staking_operations: bool,
    /// The interval at which each validator sends its status and its messages of the
    /// current height again.
    pub gossip_interval: Duration,
    pub timeouts: TimeoutConfig,
    /// Events after which the run stops and fails.
    pub events_max: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            validators: 4,
            heights: 10,
            faults: FaultMix::default(),
            stakes: Stakes::Random,
            adversary: Adversary::Minority,
            latency: Latency { base: Duration::from_millis(5), jitter: Duration::from_millis(45) },
            faults_until: Duration::from_secs(6),
            offline: 0,
            standby: 1,
            staking_operations: true,
            gossip_interval: Duration::from_millis(500),
            timeouts: TimeoutConfig {
                propose: Duration::from_millis(400),
                propose_delta: Duration::from_millis(100),
                prevote: Duration::from_millis(200),
                prevote_delta: Duration::from_millis(100),
                precommit: Duration::from_millis(200),
                precommit_delta: Duration::from_millis(100),
                max: Duration::from_secs(2),
            },
            events_max: 200_000,
        }
    }
}

/// A [`SimConfig`] that breaks one of its rules.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimConfigError {
    #[error("validators is {0}; use {VALIDATORS_MIN} to {VALIDATORS_MAX}")]
    Validators(usize),
    #[error("heights is {0}; use 1 to {HEIGHTS_MAX}")]
    Heights(u64),
    #[error("offline is {offline} of {validators} validators; at least 3 must run")]
    Offline { offline: usize, validators: usize },
    #[error("split-brain adversary count is {count} of {validators} validators; use 1 to validators - 2")]
    AdversaryCount { count: usize, validators: usize },
    #[error("standby is {0}; use 0 to {STANDBY_MAX}")]
    Standby(usize),
    #[error("gossip_interval is zero; use at least 1 ms")]
    GossipInterval,
    #[error("invalid timeouts: {0}")]
    Timeouts(#[from] vouch_consensus::TimeoutConfigError),
}

impl SimConfig {
    /// Checks every rule of the fields' docs.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if !(VALIDATORS_MIN..=VALIDATORS_MAX).contains(&self.validators) {
            return Err(SimConfigError::Validators(self.validators));
        }
        if !(1..=HEIGHTS_MAX).contains(&self.heights) {
            return Err(SimConfigError::Heights(self.heights));
        }
        if self.offline + 3 > self.validators {
            return Err(SimConfigError::Offline { offline: self.offline, validators: self.validators });
        }
        if let Adversary::SplitBrain { count } = self.adversary
            && (count == 0 || count + 2 > self.validators)
        {
            return Err(SimConfigError::AdversaryCount { count, validators: self.validators });
        }
        if self.standby > STANDBY_MAX {
            return Err(SimConfigError::Standby(self.standby));
        }
        if self.gossip_interval.is_zero() {
            return Err(SimConfigError::GossipInterval);
        }
        self.timeouts.validate()?;
        Ok(())
    }

    /// Returns the longest one-way delay of a message.
    pub fn delay_max(&self) -> Duration {
        self.latency.base + self.latency.jitter
    }

    /// Returns the liveness bound: after the faults stop, every honest validator
    /// decides its next height within this much virtual time, and each later one
    /// within this much of the one before.
    ///
    /// Once the faults stop, every message between honest validators arrives within
    /// [`SimConfig::delay_max`], and a validator that is behind learns the commit of its
    /// height within a gossip interval and a round trip. Rounds then decide as soon as
    /// an honest validator proposes with timeouts longer than the delays. Byzantine
    /// validators hold less than 1/3 of the power, so the weighted rotation gives honest
    /// proposers most rounds. The bound allows `validators + 2` rounds, each at most
    /// three capped timeouts and three delays long.
    pub fn liveness_bound(&self) -> Duration {
        let rounds = self.validators as u32 + 2;
        let round = self.timeouts.max * 3 + self.delay_max() * 3;
        round * rounds + self.gossip_interval + self.delay_max() * 2
    }

    /// Returns the evidence bound: an offence that an honest validator detected is
    /// committed within this much virtual time of the later of its detection and the end
    /// of the faults.
    ///
    /// The detecting validator keeps the evidence durably and sends it at once and at
    /// every gossip, so within a gossip interval and a delay every honest validator
    /// has it. The height in progress then may have a proposal built before that, and
    /// the next height's proposers include it, Byzantine ones too because they build
    /// blocks with the same code. Two heights each take at most the liveness bound.
    pub fn evidence_bound(&self) -> Duration {
        self.gossip_interval + self.delay_max() * 2 + self.liveness_bound() * 2
    }

    /// Returns the number of simulated nodes: validators and standby nodes.
    pub fn nodes(&self) -> usize {
        self.validators + self.standby
    }

    /// Returns the staking parameters of the simulated chain.
    ///
    /// Block time grows by 1 ms per height in the simulator (see `CORE_CLOCK_MS`), so
    /// the limits in heights and in ms are the same numbers. Evidence lives for 200
    /// heights, more than the heights a run's faults can delay an offence's inclusion,
    /// so the evidence check can demand that every detected offence is committed.
    /// Unbonding outlasts it and the jail lasts past the end of any run.
    pub fn staking_params(&self, genesis_dominant: bool) -> StakingParams {
        StakingParams {
            stake_per_power: NonZeroU64::new(STAKE_PER_POWER).expect("the constant is not zero"),
            min_self_bond: STAKE_PER_POWER,
            validators_max: self.nodes(),
            candidates_max: self.nodes(),
            unbonding_entries_max: 4,
            unbonding_heights: 201,
            unbonding_time_ms: 201,
            dominant_power_allowed: genesis_dominant,
            evidence_max_age_heights: 200,
            evidence_max_age_ms: 200,
            evidence_per_block_max: EVIDENCE_PER_BLOCK_MAX,
            slash_fraction_bps: 500,
            jail_heights: 1_000_000,
            jail_time_ms: 1_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_mix_parses_lists() {
        assert_eq!("none".parse(), Ok(FaultMix::default()));
        assert_eq!("all".parse(), Ok(FaultMix::all()));
        let mix: FaultMix = "drops, crashes".parse().unwrap();
        assert_eq!(mix, FaultMix { drops: true, crashes: true, ..FaultMix::default() });
        assert_eq!(mix.to_string(), "drops,crashes");
        assert_eq!("drops,typo".parse::<FaultMix>(), Err(FaultMixError { name: "typo".to_owned() }));
    }

    #[test]
    fn fault_mix_display_round_trips() {
        for name in FaultMix::MIXES {
            let mix: FaultMix = name.parse().unwrap();
            assert_eq!(mix.to_string().parse::<FaultMix>(), Ok(mix), "{name}");
        }
    }

    #[test]
    fn liveness_bound_of_ten_validators() {
        let config = SimConfig { validators: 10, ..SimConfig::default() };
        assert_eq!(config.liveness_bound(), Duration::from_millis(74_400));
    }

    #[test]
    fn config_rejects_bad_counts() {
        let config = |validators, offline| SimConfig { validators, offline, ..SimConfig::default() };
        assert_eq!(config(3, 0).validate(), Err(SimConfigError::Validators(3)));
        assert_eq!(config(11, 0).validate(), Err(SimConfigError::Validators(11)));
        assert_eq!(config(4, 2).validate(), Err(SimConfigError::Offline { offline: 2, validators: 4 }));
        assert_eq!(config(10, 1).validate(), Ok(()));
        let zero = SimConfig { heights: 0, ..SimConfig::default() };
        assert_eq!(zero.validate(), Err(SimConfigError::Heights(0)));
        let standby = |standby| SimConfig { standby, ..SimConfig::default() }.validate();
        assert_eq!(standby(STANDBY_MAX), Ok(()));
        assert_eq!(standby(STANDBY_MAX + 1), Err(SimConfigError::Standby(STANDBY_MAX + 1)));
    }

    #[test]
    fn staking_params_are_valid() {
        let config = SimConfig { validators: VALIDATORS_MAX, standby: STANDBY_MAX, ..SimConfig::default() };
        assert_eq!(config.staking_params(false).validate(), Ok(()));
        assert_eq!(config.staking_params(false).validators_max, VALIDATORS_MAX + STANDBY_MAX);
    }
}
