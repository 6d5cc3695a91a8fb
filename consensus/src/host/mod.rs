//! Host-side components of a validator: the write-ahead log, the double-sign guard and
//! the storage they write to. Unlike the core, these perform IO (`std::fs` only).
//!
//! A host drives [`DurableConsensus`] in place of [`crate::Consensus`]: it logs each
//! accepted input, makes each signature durable before returning the broadcast that
//! carries it, and on start replays the log to rebuild the height in progress. The
//! [`Storage`] trait lets a simulator run the same code over [`MemoryStorage`], which
//! loses unsynced writes when it crashes.

mod dir;
mod durable;
mod error;
pub mod frame;
mod guard;
mod memory;
mod record;
mod storage;
mod wal;

pub use dir::DirStorage;
pub use durable::{DurableConsensus, HeightStart, Opened, Recovery};
pub use error::HostError;
pub use guard::GUARD_FILE;
pub use memory::{MemoryStorage, PowerSwitch};
pub use storage::Storage;
pub use wal::{WAL_FILE, WAL_FILE_BYTES_MIN, WalConfig, WalConfigError};
