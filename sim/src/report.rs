//! The outcome of one run: its failures, the trace and state hashes that show it is
//! deterministic, its figures, and the command that replays it.

use std::fmt::Write;

use vouch_protocol::chain::{BlockHash, Height};

use crate::byzantine::Misbehaviour;
use crate::checks::{Failure, StakeCounts};
use crate::config::{Adversary, SimConfig, Stakes};
use crate::network::duration_ms;

/// The rounds of one committed height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeightRounds {
    pub height: Height,
    /// The round whose precommits decided the height.
    pub round: u32,
    /// The proposer of round 0.
    pub first_proposer: u32,
}

/// The outcome of one run.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub seed: u64,
    /// A hash of every event processed, in order, with its time and contents.
    pub trace_hash: [u8; 32],
    /// The block hash committed at each height, in height order.
    pub committed: Vec<BlockHash>,
    /// The minimum over running honest validators of the heights each committed.
    pub heights_committed: u64,
    /// The virtual time from the start of each height to its decision, for each honest
    /// validator that decided it itself (not from a peer's commit).
    pub commit_latencies_ms: Vec<u64>,
    /// The deciding round of each height, from the first honest commit of it.
    pub rounds: Vec<HeightRounds>,
    pub events: u64,
    /// The virtual time at which the run ended.
    pub virtual_ms: u64,
    pub failures: Vec<Failure>,
    /// Signature checks of the cores (an upper bound) and the checker.
    pub signature_checks: u64,
    pub misbehaviour: Misbehaviour,
    /// Crashes, counting power cuts.
    pub crashes: u32,
    /// Crashes in the middle of an input, when a storage operation failed.
    pub power_cuts: u32,
    pub partitions: u32,
    /// The stake changes that committed blocks made.
    pub stake: StakeCounts,
    /// The size of the validator set of the last committed height.
    pub validators_last: usize,
}

impl RunReport {
    /// Returns whether every check passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Returns a hash of the final state: the committed block hash of every height.
    pub fn state_hash(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        for block_hash in &self.committed {
            hasher.update(&block_hash.0);
        }
        *hasher.finalize().as_bytes()
    }
}

/// Returns the command that replays `seed` under `config`, or `None` for a
/// split-brain adversary, which only tests configure.
pub fn replay_command(config: &SimConfig, seed: u64) -> Option<String> {
    if matches!(config.adversary, Adversary::SplitBrain { .. }) {
        return None;
    }
    let mut command = format!(
        "cargo run -p vouch-testnet -- simulate --validators {} --seeds 1 --first-seed {seed} --faults {} --heights {}",
        config.validators, config.faults, config.heights
    );
    let defaults = SimConfig::default();
    if config.stakes == Stakes::Equal {
        command.push_str(" --equal-stakes");
    }
    if config.offline > 0 {
        write!(command, " --offline {}", config.offline).expect("writing to a String cannot fail");
    }
    if config.standby != defaults.standby {
        write!(command, " --standby {}", config.standby).expect("writing to a String cannot fail");
    }
    if !config.staking_operations {
        command.push_str(" --no-staking-operations");
    }
    if config.latency != defaults.latency {
        let (base, jitter) = (duration_ms(config.latency.base), duration_ms(config.latency.jitter));
        write!(command, " --latency-ms {base} --jitter-ms {jitter}").expect("writing to a String cannot fail");
    }
    Some(command)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{FaultMix, Latency};

    #[test]
    fn replay_command_names_every_setting() {
        let config = SimConfig {
            validators: 7,
            heights: 12,
            faults: FaultMix { drops: true, crashes: true, ..FaultMix::default() },
            stakes: Stakes::Equal,
            offline: 1,
            standby: 2,
            staking_operations: false,
            latency: Latency { base: Duration::from_millis(100), jitter: Duration::ZERO },
            ..SimConfig::default()
        };
        let command = replay_command(&config, 42).unwrap();
        assert_eq!(
            command,
            "cargo run -p vouch-testnet -- simulate --validators 7 --seeds 1 --first-seed 42 --faults drops,crashes --heights 12 --equal-stakes --offline 1 --standby 2 --no-staking-operations --latency-ms 100 --jitter-ms 0"
        );
    }
}
