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
//! The same seed gives the same trace hash and the same committed blocks, and
//! [`replay_command`] prints the command that replays a seed.

mod byzantine;
mod checks;
mod config;
mod network;
mod node;
mod packet;
mod queue;
mod report;
mod run;
mod value;

pub use byzantine::Misbehaviour;
pub use checks::Failure;
pub use config::{
    Adversary, FaultMix, FaultMixError, HEIGHTS_MAX, Latency, SimConfig, SimConfigError, Stakes, VALIDATORS_MAX,
    VALIDATORS_MIN,
};
pub use network::{DROP_CHANCE, DUPLICATE_CHANCE};
pub use node::{CORE_CLOCK_MS, GENESIS_MS};
pub use report::{HeightRounds, RunReport, replay_command};
pub use run::{CHAIN_ID, run};
pub use value::SimBlock;
