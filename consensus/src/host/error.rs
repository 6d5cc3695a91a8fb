//! Errors of the host-side components: storage failures, damaged files, a log that does
//! not replay, and inputs that the core rejected.

use std::io;

use vouch_protocol::chain::Height;

use crate::effect::SignedStep;
use crate::error::{ConfigError, InputError};
use crate::host::wal::WalConfigError;

/// Errors from opening or driving a [`crate::host::DurableConsensus`].
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the core rejected the input; nothing was written: {0}")]
    Rejected(#[source] InputError),
    #[error(
        "{operation} of {file} failed: {source}; check the disk, then restart the validator, which replays its log"
    )]
    Storage {
        operation: &'static str,
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("an earlier storage failure stopped this consensus instance; reopen it from storage")]
    Stopped,
    #[error(
        "consensus log {file} is damaged at byte {offset}: {reason}. A valid record follows at byte {next_valid_offset}, so a crash did not cause this. Restore the file from a backup, or move it aside: the validator then restarts the height from its double-sign guard alone and loses its lock for that height"
    )]
    LogDamaged { file: String, offset: u64, reason: String, next_valid_offset: u64 },
    #[error(
        "consensus log {file} has an invalid {record} record at byte {offset}: {reason}. The file was written by another version of Vouch or was changed; move it aside to restart the height from the double-sign guard alone"
    )]
    LogRecordInvalid { file: String, offset: u64, record: &'static str, reason: String },
    #[error(
        "consensus log {file} is for height {log_height}, but the host starts height {start_height}: the application lost committed blocks. Restore the application's store; the log is kept"
    )]
    LogAhead { file: String, log_height: Height, start_height: Height },
    #[error(
        "consensus log {file} is full: it holds {len} bytes and a {record_bytes}-byte record would pass the limit of {max} bytes; the input was dropped. Raise WalConfig::file_bytes_max if heights run this long"
    )]
    LogFull { file: String, len: u64, record_bytes: usize, max: u64 },
    #[error("{record} record of {size} bytes is over the limit of {max} bytes; the input was dropped")]
    RecordTooLarge { record: &'static str, size: usize, max: usize },
    #[error(
        "replaying consensus log {file} failed at byte {offset}: {reason}. The log was written by another version of the core or for another key; move it aside to restart the height from the double-sign guard alone"
    )]
    ReplayFailed { file: String, offset: u64, reason: String },
    #[error(
        "double-sign guard {file} records a signature at {guard}, after the last one that the consensus log replays ({replayed}): the log lost synced records. Move the log aside to restart the height from the guard alone"
    )]
    GuardAhead { file: String, guard: SignedStep, replayed: String },
    #[error(
        "double-sign guard {file} is damaged: {reason}. The guard is replaced atomically, so a crash did not cause this. Restore it from a backup; without it, keep this validator stopped until the network has committed every height it may have signed at"
    )]
    GuardDamaged { file: String, reason: String },
    #[error("invalid consensus configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("invalid write-ahead log configuration: {0}")]
    WalConfig(#[from] WalConfigError),
    #[error("the start input of height {height} was rejected: {source}")]
    StartRejected {
        height: Height,
        #[source]
        source: InputError,
    },
}

impl HostError {
    /// Returns whether the error stops the instance: every error except a rejected
    /// input, a full log and an oversize record, which drop the input and change
    /// nothing.
    pub fn stops_validator(&self) -> bool {
        !matches!(self, HostError::Rejected(_) | HostError::LogFull { .. } | HostError::RecordTooLarge { .. })
    }
}
