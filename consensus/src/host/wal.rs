//! The consensus write-ahead log: one append-only file of framed records for the height
//! in progress.
//!
//! # Rotation rule
//! The file contains exactly one height. Starting a height replaces the whole file
//! atomically with a new one whose only record is that height's start record, so the
//! file never contains more than one height's inputs and is bounded by
//! [`WalConfig::file_bytes_max`]. The host starts a height only after the application
//! has committed the previous one, so no record that a restart needs is dropped.
//!
//! # Invariants
//! - The first record of the file is a start record and no other record is.
//! - Records are at most [`crate::host::record`]'s `record_bytes_max` bytes, checked
//!   before each append and again when the file is read.

use tracing::warn;
use vouch_protocol::chain::Height;
use vouch_protocol::encoding;

use crate::host::error::HostError;
use crate::host::frame::{self, BadFrame};
use crate::host::record::{Record, StartRecord, record_bytes_max};
use crate::host::storage::Storage;
use crate::messages::Value;

/// The name of the log file in the validator's storage.
pub const WAL_FILE: &str = "consensus.wal";

/// The smallest allowed [`WalConfig::file_bytes_max`]: room for the largest start
/// record and a few hundred votes.
pub const WAL_FILE_BYTES_MIN: u64 = 256 * 1024;

/// Bytes kept free for signature records: an input is dropped rather than appended
/// when it would leave less than this, so the signatures it causes always fit. One
/// input makes the core sign at most three messages per round it enters, and a
/// signature record is under 100 bytes.
const SIGNED_RESERVE_BYTES: u64 = 4096;

/// Settings of the write-ahead log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalConfig {
    /// Maximum size of the log file. An input that would pass it is dropped, as a lost
    /// message is, until the next height replaces the file.
    pub file_bytes_max: u64,
}

impl Default for WalConfig {
    /// Returns a limit of 1 GiB: about four million votes, far past the core's limit of
    /// 262,144 votes per height, with room for proposals of large blocks.
    fn default() -> WalConfig {
        WalConfig { file_bytes_max: 1024 * 1024 * 1024 }
    }
}

/// A [`WalConfig`] that breaks a rule of [`WalConfig::validate`].
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WalConfigError {
    #[error("file_bytes_max is {value}, under the minimum of {min} bytes")]
    TooSmall { value: u64, min: u64 },
}

impl WalConfig {
    /// Checks that the file limit is at least [`WAL_FILE_BYTES_MIN`].
    pub fn validate(&self) -> Result<(), WalConfigError> {
        if self.file_bytes_max < WAL_FILE_BYTES_MIN {
            return Err(WalConfigError::TooSmall { value: self.file_bytes_max, min: WAL_FILE_BYTES_MIN });
        }
        Ok(())
    }
}

/// The open log of one height.
#[derive(Debug)]
pub(crate) struct Wal {
    pub(crate) height: Height,
    len: u64,
    file_bytes_max: u64,
    record_bytes_max: usize,
}

/// A log read back at start, with its torn tail cut.
#[derive(Debug)]
pub(crate) struct LoadedLog<V> {
    pub(crate) wal: Wal,
    pub(crate) start: StartRecord,
    /// The records after the start record, with their byte offsets.
    pub(crate) records: Vec<(u64, Record<V>)>,
    /// The torn last record that was cut, if any.
    pub(crate) cut: Option<BadFrame>,
}

impl Wal {
    /// Starts the log of a new height, replacing the previous height's file.
    pub(crate) fn start<V: Value, S: Storage>(
        storage: &mut S,
        config: &WalConfig,
        start: StartRecord,
    ) -> Result<Wal, HostError> {
        let height = start.height;
        let record_bytes_max = record_bytes_max::<V>();
        let framed = encode_record(&Record::<V>::Start(start), record_bytes_max)?;
        storage.replace(WAL_FILE, &framed).map_err(|source| storage_error(storage, "replacing", source))?;
        let len = framed.len() as u64;
        Ok(Wal { height, len, file_bytes_max: config.file_bytes_max, record_bytes_max })
    }

    /// Reads the log, cuts a torn tail and makes the rest durable. Returns `None` when
    /// there is no log.
    pub(crate) fn open<V: Value, S: Storage>(
        storage: &mut S,
        config: &WalConfig,
    ) -> Result<Option<LoadedLog<V>>, HostError> {
        let file = storage.locate(WAL_FILE);
        let Some(bytes) = storage.read(WAL_FILE).map_err(|source| storage_error(storage, "reading", source))? else {
            return Ok(None);
        };
        let record_bytes_max = record_bytes_max::<V>();
        let scan = frame::scan(&bytes, record_bytes_max).map_err(|damage| HostError::LogDamaged {
            file: file.clone(),
            offset: damage.frame.offset,
            reason: damage.frame.reason,
            next_valid_offset: damage.next_valid_offset,
        })?;

        let mut records = Vec::with_capacity(scan.payloads.len());
        for (offset, payload) in &scan.payloads {
            records.push((*offset, decode_record::<V>(&file, *offset, payload, records.is_empty())?));
        }
        let mut records = records.into_iter();
        let Some((_, Record::Start(start))) = records.next() else {
            let reason = "the file holds no complete start record; it is created whole, so a crash cannot cause this";
            return Err(HostError::LogRecordInvalid { file, offset: 0, record: "start", reason: reason.to_owned() });
        };

        if let Some(torn) = &scan.torn {
            let cut_bytes = bytes.len() as u64 - scan.valid_len;
            warn!(file = %file, offset = torn.offset, cut_bytes, reason = %torn.reason, "cutting the torn tail of the consensus log");
            storage
                .truncate(WAL_FILE, scan.valid_len)
                .map_err(|source| storage_error(storage, "truncating", source))?;
        }
        // After a process crash without a power loss, the bytes read may be in the page
        // cache only. Replay acts on them, so they must be durable first.
        storage.sync(WAL_FILE).map_err(|source| storage_error(storage, "syncing", source))?;

        let wal =
            Wal { height: start.height, len: scan.valid_len, file_bytes_max: config.file_bytes_max, record_bytes_max };
        Ok(Some(LoadedLog { wal, start, records: records.collect(), cut: scan.torn }))
    }

    /// Encodes `record` and checks that it fits, keeping the signature reserve free
    /// when `reserve` is set. Returns the frame to pass to [`Wal::append_frame`].
    pub(crate) fn prepare<V: Value, S: Storage>(
        &self,
        storage: &S,
        record: &Record<V>,
        reserve: bool,
    ) -> Result<Vec<u8>, HostError> {
        let framed = encode_record(record, self.record_bytes_max)?;
        let reserved = if reserve { SIGNED_RESERVE_BYTES } else { 0 };
        if self.len + framed.len() as u64 + reserved > self.file_bytes_max {
            return Err(HostError::LogFull {
                file: storage.locate(WAL_FILE),
                len: self.len,
                record_bytes: framed.len(),
                max: self.file_bytes_max,
            });
        }
        Ok(framed)
    }

    /// Appends a frame from [`Wal::prepare`]; it is durable after [`Wal::sync`].
    pub(crate) fn append_frame<S: Storage>(&mut self, storage: &mut S, framed: &[u8]) -> Result<(), HostError> {
        storage.append(WAL_FILE, framed).map_err(|source| storage_error(storage, "appending to", source))?;
        self.len += framed.len() as u64;
        Ok(())
    }

    /// Makes every appended record durable.
    pub(crate) fn sync<S: Storage>(&self, storage: &mut S) -> Result<(), HostError> {
        storage.sync(WAL_FILE).map_err(|source| storage_error(storage, "syncing", source))
    }
}

/// Encodes `record` in its frame. A proposal's record holds a whole block, so it is
/// encoded once into a buffer of its final size and framed in place.
fn encode_record<V: Value>(record: &Record<V>, record_bytes_max: usize) -> Result<Vec<u8>, HostError> {
    let mut framed = encoding::encode_after(record, frame::FRAME_HEADER_BYTES);
    let size = framed.len() - frame::FRAME_HEADER_BYTES;
    if size > record_bytes_max {
        return Err(HostError::RecordTooLarge { record: record.name(), size, max: record_bytes_max });
    }
    frame::seal_frame(&mut framed);
    Ok(framed)
}

/// Decodes one payload, checking that only the first record is a start record.
fn decode_record<V: Value>(file: &str, offset: u64, payload: &[u8], first: bool) -> Result<Record<V>, HostError> {
    let invalid = |record: &'static str, reason: String| HostError::LogRecordInvalid {
        file: file.to_owned(),
        offset,
        record,
        reason,
    };
    let record: Record<V> = encoding::decode(payload).map_err(|error| invalid("undecodable", error.to_string()))?;
    match (&record, first) {
        (Record::Start(start), true) if start.format != crate::host::record::LOG_FORMAT => Err(invalid(
            "start",
            format!("layout version {} is not the supported {}", start.format, crate::host::record::LOG_FORMAT),
        )),
        (Record::Start(_), true) => Ok(record),
        (_, true) => Err(invalid(record.name(), "the first record of the file must be a start record".to_owned())),
        (Record::Start(_), false) => Err(invalid("start", "only the first record may be a start record".to_owned())),
        (_, false) => Ok(record),
    }
}

fn storage_error<S: Storage>(storage: &S, operation: &'static str, source: std::io::Error) -> HostError {
    HostError::Storage { operation, file: storage.locate(WAL_FILE), source }
}
