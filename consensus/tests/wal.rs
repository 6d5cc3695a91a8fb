//! Tests of the write-ahead log at start. A torn last record is cut at every byte
//! offset, and damage before the tail is reported with the file, offset and fix. A log
//! that does not match the validator or the guard is rejected.

mod cluster;
mod support;

use cluster::{Cluster, SUBJECT, Torn, VALIDATORS};
use support::{GENESIS_MS, NOW_MS, TestValue, config, key, validator_set};
use vouch_consensus::host::{
    DirStorage, DurableConsensus, GUARD_FILE, HeightStart, HostError, MemoryStorage, Opened, Recovery, Storage,
    WAL_FILE, WAL_FILE_BYTES_MIN, WalConfig, frame,
};
use vouch_consensus::{Effect, Input, PreviousBlock, Step, Timeout};
use vouch_protocol::chain::Height;

const POWERS: [u64; VALIDATORS] = [2, 2, 2, 1];

/// Returns the subject's storage after it decided height 1, with the records after its
/// last signature still unsynced.
fn storage_after_one_height() -> MemoryStorage {
    let mut cluster = Cluster::new(&POWERS, 1, None, Torn::Nothing);
    assert!(cluster.run(), "the run did not finish");
    cluster.subject().storage().clone()
}

fn start(height: u64) -> HeightStart {
    HeightStart {
        height: Height(height),
        validators: validator_set(&POWERS),
        previous: PreviousBlock::Genesis { time_unix_ms: GENESIS_MS },
    }
}

fn open(storage: MemoryStorage, height: u64) -> Result<Opened<TestValue, MemoryStorage>, HostError> {
    open_at(storage, start(height))
}

/// Opens the subject's instance over `storage` for `start`.
fn open_at<S: Storage>(storage: S, start: HeightStart) -> Result<Opened<TestValue, S>, HostError> {
    DurableConsensus::open(config(), Some(key(SUBJECT)), WalConfig::default(), storage, NOW_MS, start)
}

/// Returns the log's bytes and the offsets of its frames.
fn frames(storage: &MemoryStorage) -> (Vec<u8>, Vec<u64>) {
    let bytes = storage.read(WAL_FILE).unwrap().expect("the log exists");
    let scan = frame::scan(&bytes, 1 << 20).unwrap();
    assert_eq!(scan.torn, None);
    let offsets = scan.payloads.iter().map(|(offset, _)| *offset).collect();
    (bytes, offsets)
}

fn decided(effects: &[Effect<TestValue>]) -> bool {
    effects.iter().any(|effect| matches!(effect, Effect::Decide(_)))
}

#[test]
fn replay_rebuilds_decided_height() {
    let opened = open(storage_after_one_height(), 1).unwrap();
    assert!(decided(&opened.effects), "the replay did not decide again");
    assert!(
        matches!(opened.recovery, Recovery::Replayed { cut_at: None, inputs, signatures: 3 } if inputs > 0),
        "{:?}",
        opened.recovery
    );
    assert!(opened.consensus.core().last_signed().is_some_and(|position| position.step == Step::Precommit));
}

#[test]
fn torn_tail_is_cut_at_every_offset() {
    let storage = storage_after_one_height();
    let (bytes, offsets) = frames(&storage);
    let last = *offsets.last().unwrap();
    for len in last as usize..bytes.len() {
        let mut torn = storage.clone();
        torn.corrupt(WAL_FILE, |file| file.truncate(len));
        let opened = open(torn, 1).unwrap_or_else(|error| panic!("cut at {len}: {error}"));
        let expected_cut = (len as u64 > last).then_some(last);
        assert!(
            matches!(opened.recovery, Recovery::Replayed { cut_at, .. } if cut_at == expected_cut),
            "cut at {len}: {:?}",
            opened.recovery
        );
        let kept = opened.consensus.storage().durable(WAL_FILE).unwrap().len();
        assert_eq!(kept as u64, last, "cut at {len}: the torn record stays in the file");
    }
}

#[test]
fn last_record_with_bad_byte_is_cut() {
    let storage = storage_after_one_height();
    let (bytes, offsets) = frames(&storage);
    let last = *offsets.last().unwrap() as usize;
    for at in last..bytes.len() {
        let mut damaged = storage.clone();
        damaged.corrupt(WAL_FILE, |file| file[at] ^= 0x20);
        let opened = open(damaged, 1).unwrap_or_else(|error| panic!("byte {at} flipped: {error}"));
        assert!(
            matches!(opened.recovery, Recovery::Replayed { cut_at: Some(cut), .. } if cut == last as u64),
            "byte {at} flipped: {:?}",
            opened.recovery
        );
    }
}

#[test]
fn damaged_middle_record_is_reported() {
    let storage = storage_after_one_height();
    let (_, offsets) = frames(&storage);
    let middle = offsets[offsets.len() / 2];
    let mut damaged = storage.clone();
    damaged.corrupt(WAL_FILE, |file| file[middle as usize + 14] ^= 0x01);
    let error = open(damaged, 1).unwrap_err();
    assert!(matches!(error, HostError::LogDamaged { offset, .. } if offset == middle), "{error}");
    let message = error.to_string();
    assert!(message.contains("memory:consensus.wal"), "{message}");
    assert!(message.contains(&format!("byte {middle}")), "{message}");
    assert!(message.contains("move it aside"), "{message}");
    assert!(error.stops_validator());
}

#[test]
fn replay_with_other_key_fails() {
    let storage = storage_after_one_height();
    let error =
        DurableConsensus::<TestValue, _>::open(config(), Some(key(1)), WalConfig::default(), storage, NOW_MS, start(1))
            .unwrap_err();
    assert!(matches!(error, HostError::ReplayFailed { .. }), "{error}");
    assert!(error.to_string().contains("for another key"), "{error}");
}

#[test]
fn guard_ahead_of_log_is_reported() {
    let storage = storage_after_one_height();
    let (_, offsets) = frames(&storage);
    let mut cut = storage.clone();
    cut.corrupt(WAL_FILE, |file| file.truncate(offsets[1] as usize));
    let error = open(cut, 1).unwrap_err();
    assert!(matches!(error, HostError::GuardAhead { .. }), "{error}");
    assert!(error.to_string().contains("memory:sign-guard"), "{error}");
}

#[test]
fn log_of_later_height_is_reported() {
    let mut cluster = Cluster::new(&POWERS, 2, None, Torn::Nothing);
    assert!(cluster.run());
    let storage = cluster.subject().storage().clone();
    let error = open(storage, 1).unwrap_err();
    assert!(matches!(error, HostError::LogAhead { log_height: Height(2), start_height: Height(1), .. }), "{error}");
}

#[test]
fn stale_log_starts_height_from_guard() {
    let mut cluster = Cluster::new(&POWERS, 1, None, Torn::Nothing);
    assert!(cluster.run());
    let storage = cluster.subject().storage().clone();
    let certificate = cluster.chains[SUBJECT].certificates[0].clone();
    let set = validator_set(&POWERS);
    let previous = PreviousBlock::Committed { certificate, validators: set.clone() };
    let start = HeightStart { height: Height(2), validators: set.for_next_height(), previous };

    let opened = open_at(storage, start).unwrap();
    let Recovery::Fresh { last_signed } = opened.recovery else {
        panic!("expected a fresh start, got {:?}", opened.recovery);
    };
    assert_eq!(last_signed.map(|position| position.height), Some(Height(1)));
    assert_eq!(opened.consensus.core().height(), Some(Height(2)));
    let (_, offsets) = frames(opened.consensus.storage());
    assert_eq!(offsets.len(), 1, "the new height's log holds its start record only");
}

#[test]
fn full_log_drops_input_without_stopping() {
    let config_small = WalConfig { file_bytes_max: WAL_FILE_BYTES_MIN };
    let mut consensus = DurableConsensus::<TestValue, _>::open(
        config(),
        Some(key(SUBJECT)),
        config_small,
        MemoryStorage::new(),
        NOW_MS,
        start(1),
    )
    .unwrap()
    .consensus;
    // A timeout of a round the core is not in changes nothing but is still logged.
    let stale = Input::Timeout(Timeout { height: Height(1), round: 99, step: Step::Propose });
    let mut accepted = 0;
    let error = loop {
        match consensus.handle(NOW_MS, stale.clone()) {
            Ok(_) => accepted += 1,
            Err(error) => break error,
        }
        assert!(accepted < 100_000, "the log never filled");
    };
    assert!(matches!(error, HostError::LogFull { max: WAL_FILE_BYTES_MIN, .. }), "{error}");
    assert!(!error.stops_validator());
    let len = consensus.storage().read(WAL_FILE).unwrap().unwrap().len() as u64;
    assert!(len <= WAL_FILE_BYTES_MIN, "the log grew to {len} bytes");
    assert!(accepted > 1000, "only {accepted} inputs fit");
}

#[test]
fn small_log_limit_is_rejected() {
    let small = WalConfig { file_bytes_max: WAL_FILE_BYTES_MIN - 1 };
    let error = DurableConsensus::<TestValue, _>::open(
        config(),
        Some(key(SUBJECT)),
        small,
        MemoryStorage::new(),
        NOW_MS,
        start(1),
    )
    .unwrap_err();
    assert!(matches!(error, HostError::WalConfig(_)), "{error}");
}

#[test]
fn directory_log_survives_cut_tail() {
    let dir = tempfile::tempdir().unwrap();
    let memory = storage_after_one_height();
    let (bytes, offsets) = frames(&memory);
    let last = *offsets.last().unwrap() as usize;
    for len in [last, last + 5, last + 13, bytes.len() - 1, bytes.len()] {
        std::fs::write(dir.path().join(WAL_FILE), &bytes[..len]).unwrap();
        std::fs::write(dir.path().join(GUARD_FILE), memory.durable(GUARD_FILE).unwrap()).unwrap();
        let storage = DirStorage::open(dir.path()).unwrap();
        let opened = open_at(storage, start(1)).unwrap_or_else(|error| panic!("cut at {len}: {error}"));
        assert_eq!(decided(&opened.effects), len == bytes.len(), "cut at {len}");
        let on_disk = std::fs::metadata(dir.path().join(WAL_FILE)).unwrap().len();
        let expected = if len == bytes.len() { bytes.len() } else { last };
        assert_eq!(on_disk, expected as u64, "cut at {len}");
    }
}
