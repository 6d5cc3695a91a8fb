//! The double-sign guard: a small file that holds the last (height, round, step) this
//! validator signed at, written before any signature leaves the process.
//!
//! The file is one checksummed frame, replaced atomically on every signature: write a
//! temporary file, sync it, rename it over the old one, sync the directory. A crash
//! then leaves the old or the new position, never a torn one. It is kept apart from the
//! write-ahead log so that it survives when the log must be moved aside, and it outlives
//! the log's rotation at each height.
//!
//! # Invariants
//! The stored position only increases; [`SignGuard::record`] asserts it.

use serde::{Deserialize, Serialize};
use vouch_protocol::encoding;

use crate::effect::SignedStep;
use crate::host::error::HostError;
use crate::host::frame;
use crate::host::storage::Storage;

/// The name of the guard file in the validator's storage.
pub const GUARD_FILE: &str = "sign-guard";

/// The version of the guard's layout.
const GUARD_FORMAT: u32 = 1;

/// Maximum size of the guard's payload; the encoding is 21 bytes.
const GUARD_BYTES_MAX: usize = 64;

#[derive(Serialize, Deserialize)]
struct GuardRecord {
    format: u32,
    last_signed: SignedStep,
}

/// The last signed position, as stored.
#[derive(Debug)]
pub(crate) struct SignGuard {
    last_signed: Option<SignedStep>,
}

impl SignGuard {
    /// Reads the guard; a missing file means this validator never signed.
    pub(crate) fn load<S: Storage>(storage: &S) -> Result<SignGuard, HostError> {
        let file = storage.locate(GUARD_FILE);
        let bytes = storage.read(GUARD_FILE).map_err(|source| HostError::Storage {
            operation: "reading",
            file: file.clone(),
            source,
        })?;
        let Some(bytes) = bytes else {
            return Ok(SignGuard { last_signed: None });
        };
        let last_signed = parse(&bytes).map_err(|reason| HostError::GuardDamaged { file, reason })?;
        Ok(SignGuard { last_signed: Some(last_signed) })
    }

    /// Returns the last signed position.
    pub(crate) fn last_signed(&self) -> Option<SignedStep> {
        self.last_signed
    }

    /// Stores `position` durably. Returns only once a crash can no longer lose it.
    pub(crate) fn record<S: Storage>(&mut self, storage: &mut S, position: SignedStep) -> Result<(), HostError> {
        assert!(
            self.last_signed.is_none_or(|last| position > last),
            "the core signs only after its last signed position: {position} follows {:?}",
            self.last_signed
        );
        let payload = encoding::encode(&GuardRecord { format: GUARD_FORMAT, last_signed: position });
        storage.replace(GUARD_FILE, &frame::encode_frame(&payload)).map_err(|source| HostError::Storage {
            operation: "replacing",
            file: storage.locate(GUARD_FILE),
            source,
        })?;
        self.last_signed = Some(position);
        Ok(())
    }
}

/// Parses the guard file: exactly one valid frame holding a guard record.
fn parse(bytes: &[u8]) -> Result<SignedStep, String> {
    let scan = frame::scan(bytes, GUARD_BYTES_MAX).map_err(|damage| damage.frame.reason)?;
    if let Some(torn) = scan.torn {
        return Err(format!("byte {}: {}", torn.offset, torn.reason));
    }
    let [(_, payload)] = scan.payloads.as_slice() else {
        return Err(format!("it holds {} records; it must hold exactly one", scan.payloads.len()));
    };
    let record: GuardRecord = encoding::decode(payload).map_err(|error| error.to_string())?;
    if record.format != GUARD_FORMAT {
        return Err(format!("layout version {} is not the supported {GUARD_FORMAT}", record.format));
    }
    Ok(record.last_signed)
}

#[cfg(test)]
mod tests {
    use vouch_protocol::chain::Height;

    use super::*;
    use crate::host::memory::MemoryStorage;
    use crate::timeouts::Step;

    fn position(round: u32, step: Step) -> SignedStep {
        SignedStep { height: Height(3), round, step }
    }

    #[test]
    fn guard_round_trips_position() {
        let mut storage = MemoryStorage::new();
        let mut guard = SignGuard::load(&storage).unwrap();
        assert_eq!(guard.last_signed(), None);
        guard.record(&mut storage, position(0, Step::Prevote)).unwrap();
        guard.record(&mut storage, position(1, Step::Propose)).unwrap();
        storage.crash(|_, _| 0);
        assert_eq!(SignGuard::load(&storage).unwrap().last_signed(), Some(position(1, Step::Propose)));
    }

    #[test]
    fn guard_reports_damage_at_every_byte() {
        let mut storage = MemoryStorage::new();
        SignGuard::load(&storage).unwrap().record(&mut storage, position(0, Step::Precommit)).unwrap();
        let len = storage.durable(GUARD_FILE).unwrap().len();
        for at in 0..len {
            let mut damaged = storage.clone();
            damaged.corrupt(GUARD_FILE, |bytes| bytes[at] ^= 0x10);
            let error = SignGuard::load(&damaged).unwrap_err();
            assert!(matches!(error, HostError::GuardDamaged { .. }), "byte {at}: {error}");
            assert!(error.to_string().contains("memory:sign-guard"), "byte {at}: {error}");
        }
    }

    #[test]
    #[should_panic(expected = "signs only after its last signed position")]
    fn guard_rejects_earlier_position() {
        let mut storage = MemoryStorage::new();
        let mut guard = SignGuard::load(&storage).unwrap();
        guard.record(&mut storage, position(1, Step::Prevote)).unwrap();
        let _ = guard.record(&mut storage, position(1, Step::Prevote));
    }
}
