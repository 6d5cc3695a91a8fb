//! A deterministic simulator of Vouch validators.
//!
//! A run builds 4 to 10 validators with unequal voting power, each running the real
//! consensus core behind its write-ahead log and double-sign guard over in-memory
//! storage, with real ed25519 signatures. A virtual clock orders every event. The
//! network delays each message by its own random time, and the fault mix adds lost
//! and duplicated messages, partitions that heal, crashes that lose unsynced writes,
//! and Byzantine validators. Every run checks agreement, validity, commit
//! certificates, that no honest validator signs twice at one position, and liveness
//! after the faults stop ([`SimConfig::liveness_bound`]).
//!
//! Blocks carry random staking operations and the evidence that validators detect, and
//! every validator computes the sets from its own chain. The checks add that honest
//! validators agree on every set, that detected offences are committed within
//! [`SimConfig::evidence_bound`], that only Byzantine validators are slashed, and that
//! jailed ones leave the set.
//!
//! The same seed gives the same trace hash and the same committed blocks, and
//! [`replay_command`] prints the command that replays a seed.

mod byzantine;
mod checks;
mod config;
mod network;
mod node;
mod packet;
mod pool;
mod queue;
mod report;
mod run;
mod value;
mod workload;

pub use byzantine::Misbehaviour;
pub use checks::{Failure, StakeCounts};
pub use config::{
    Adversary, FaultMix, FaultMixError, HEIGHTS_MAX, Latency, STAKE_PER_POWER, STANDBY_MAX, SimConfig, SimConfigError,
    Stakes, VALIDATORS_MAX, VALIDATORS_MIN,
};
pub use network::{DROP_CHANCE, DUPLICATE_CHANCE};
pub use node::{CORE_CLOCK_MS, GENESIS_MS};
pub use report::{HeightRounds, RunReport, replay_command};
pub use run::{CHAIN_ID, run};
pub use value::{Contents, SimBlock};
