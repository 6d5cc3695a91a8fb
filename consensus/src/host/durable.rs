//! A validator's consensus instance with its write-ahead log and double-sign guard: the
//! component that a host drives in place of a bare [`Consensus`].
//!
//! # Write order
//! For each input the core accepts, the input's record is appended to the log. For each
//! signature in the resulting effects, a signature record is appended, the log is
//! synced (which makes the input records before it durable too), and the guard file is
//! replaced. [`DurableConsensus::handle`] returns the effects only after all of that, so
//! every broadcast it returns may be sent at once. Inputs that cause no signature stay
//! unsynced: a crash may lose them, as the network may lose a message.
//!
//! # Restart
//! [`DurableConsensus::open`] replays the log of the height the host starts, checks that
//! the replay signs exactly what the log recorded, and returns the replayed effects for
//! the host to perform again. Without a log for that height it starts the height from
//! the guard's position alone.

use std::collections::VecDeque;

use tracing::{info, warn};
use vouch_protocol::chain::Height;
use vouch_protocol::keys::{Signature, SigningKey};

use crate::effect::{Effect, SignedStep};
use crate::host::error::HostError;
use crate::host::guard::{GUARD_FILE, SignGuard};
use crate::host::record::{Record, StartRecord, StoredInput};
use crate::host::storage::Storage;
use crate::host::wal::{LoadedLog, WAL_FILE, Wal, WalConfig};
use crate::input::{Input, PreviousBlock};
use crate::machine::{Consensus, ConsensusConfig};
use crate::messages::Value;
use crate::validators::ValidatorSet;

/// The height that the host starts after its last committed block.
#[derive(Clone, Debug)]
pub struct HeightStart {
    /// The height after the last committed one.
    pub height: Height,
    /// The validator set of `height`.
    pub validators: ValidatorSet,
    /// The decision of the height before it.
    pub previous: PreviousBlock,
}

impl HeightStart {
    fn into_input<V>(self) -> Input<V> {
        Input::StartHeight { height: self.height, validators: self.validators, previous: self.previous }
    }
}

/// The way [`DurableConsensus::open`] rebuilt the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// No log of the start height existed; the height started from the guard's position.
    Fresh { last_signed: Option<SignedStep> },
    /// The log of the start height was replayed.
    Replayed {
        /// Inputs replayed after the start record.
        inputs: usize,
        /// Signatures that the replay produced.
        signatures: usize,
        /// The offset of a torn last record that was cut, if any.
        cut_at: Option<u64>,
    },
}

/// An instance returned by [`DurableConsensus::open`].
#[derive(Debug)]
pub struct Opened<V, S> {
    pub consensus: DurableConsensus<V, S>,
    /// The effects that the host performs before any new input: those of the start input,
    /// or all those of the replay. The host sends the replay's signed messages again,
    /// schedules its timeouts and repeats its requests to the application, and the core
    /// ignores the responses that are stale by then.
    pub effects: Vec<Effect<V>>,
    pub recovery: Recovery,
}

/// A consensus instance whose signatures are durable before they are returned.
#[derive(Debug)]
pub struct DurableConsensus<V, S> {
    core: Consensus<V>,
    storage: S,
    wal_config: WalConfig,
    wal: Wal,
    guard: SignGuard,
    /// Set after a storage failure: the core may be ahead of what is durable.
    stopped: bool,
}

impl<V: Value, S: Storage> DurableConsensus<V, S> {
    /// Opens the instance of a validator (or observer, without `key`) from `storage`
    /// and starts or resumes `start`, at the host's clock time `now_unix_ms`.
    pub fn open(
        config: ConsensusConfig,
        key: Option<SigningKey>,
        wal_config: WalConfig,
        mut storage: S,
        now_unix_ms: u64,
        start: HeightStart,
    ) -> Result<Opened<V, S>, HostError> {
        wal_config.validate()?;
        let guard = SignGuard::load(&storage)?;
        match Wal::open::<V, S>(&mut storage, &wal_config)? {
            Some(log) if log.start.height == start.height => replay(config, key, wal_config, storage, guard, log),
            Some(log) if log.start.height > start.height => Err(HostError::LogAhead {
                file: storage.locate(WAL_FILE),
                log_height: log.start.height,
                start_height: start.height,
            }),
            _ => fresh(config, key, wal_config, storage, guard, now_unix_ms, start),
        }
    }

    /// Applies one input at the host's clock time. On success every signed message in
    /// the returned effects is durable and may be sent.
    ///
    /// [`HostError::Rejected`], [`HostError::LogFull`] and [`HostError::RecordTooLarge`]
    /// drop the input and change nothing. Any other error stops the instance, which must
    /// then be reopened from storage.
    pub fn handle(&mut self, now_unix_ms: u64, input: Input<V>) -> Result<Vec<Effect<V>>, HostError> {
        if self.stopped {
            return Err(HostError::Stopped);
        }
        let effects = match StoredInput::new(&input) {
            None => self.start_height(now_unix_ms, input)?,
            Some(stored) => self.apply(now_unix_ms, input, stored)?,
        };
        self.persist(effects)
    }

    /// Returns the core, for its read accessors.
    pub fn core(&self) -> &Consensus<V> {
        &self.core
    }

    /// Returns the storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Returns the storage, dropping the instance: what a crash leaves behind.
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// Feeds a start input and replaces the log with the new height's file.
    fn start_height(&mut self, now_unix_ms: u64, input: Input<V>) -> Result<Vec<Effect<V>>, HostError> {
        let Input::StartHeight { height, validators, previous } = &input else {
            unreachable!("only start inputs have no stored form");
        };
        let record = StartRecord::new(now_unix_ms, self.core.last_signed(), *height, validators, previous);
        let effects = self.core.handle(now_unix_ms, input).map_err(HostError::Rejected)?;
        let wal = Wal::start::<V, S>(&mut self.storage, &self.wal_config, record);
        self.wal = self.stop_on_error(wal)?;
        Ok(effects)
    }

    /// Feeds any other input and appends its record when the core accepts it.
    fn apply(
        &mut self,
        now_unix_ms: u64,
        input: Input<V>,
        stored: StoredInput<V>,
    ) -> Result<Vec<Effect<V>>, HostError> {
        let record = Record::Input { now_unix_ms, input: stored };
        let framed = self.wal.prepare(&self.storage, &record, true)?;
        let effects = self.core.handle(now_unix_ms, input).map_err(HostError::Rejected)?;
        let appended = self.wal.append_frame(&mut self.storage, &framed);
        self.stop_on_error(appended)?;
        Ok(effects)
    }

    /// Makes each signature in `effects` durable in the log and the guard, and returns
    /// the other effects. Signatures at or before the guard's position are durable
    /// already (a replay produces them again).
    ///
    /// All new signatures of one input share one log sync and one guard write, of the
    /// last position. A crash between the two leaves the guard behind the log, and
    /// opening replays the log's signatures, as after a crash before any guard write.
    /// One height of a lone validator signs three times from one input, and a sync and
    /// guard write per signature made about eleven syncs a height.
    fn persist(&mut self, effects: Vec<Effect<V>>) -> Result<Vec<Effect<V>>, HostError> {
        let mut performed = Vec::with_capacity(effects.len());
        let mut signed = Vec::new();
        let mut effects = effects.into_iter().peekable();
        while let Some(effect) = effects.next() {
            let Effect::PersistSigned(position) = effect else {
                performed.push(effect);
                continue;
            };
            if self.guard.last_signed().is_some_and(|last| position <= last) {
                continue;
            }
            let signature = effects.peek().and_then(broadcast_signature).expect("a broadcast follows PersistSigned");
            signed.push((position, signature));
        }
        if !signed.is_empty() {
            let persisted = self.persist_signatures(&signed);
            self.stop_on_error(persisted)?;
        }
        Ok(performed)
    }

    /// Appends the signatures to the log, syncs it once, then records the last position
    /// in the guard.
    fn persist_signatures(&mut self, signed: &[(SignedStep, Signature)]) -> Result<(), HostError> {
        for &(position, signature) in signed {
            let framed = self.wal.prepare(&self.storage, &Record::<V>::Signed { position, signature }, false)?;
            self.wal.append_frame(&mut self.storage, &framed)?;
        }
        self.wal.sync(&mut self.storage)?;
        let (last, _) = *signed.last().expect("persist_signatures is called with signatures");
        self.guard.record(&mut self.storage, last)
    }

    fn stop_on_error<T>(&mut self, result: Result<T, HostError>) -> Result<T, HostError> {
        if let Err(error) = &result {
            warn!(%error, "consensus storage failed; the instance stops until it is reopened");
            self.stopped = true;
        }
        result
    }
}

/// Starts `start` from the guard's position and writes the new height's log.
fn fresh<V: Value, S: Storage>(
    config: ConsensusConfig,
    key: Option<SigningKey>,
    wal_config: WalConfig,
    mut storage: S,
    guard: SignGuard,
    now_unix_ms: u64,
    start: HeightStart,
) -> Result<Opened<V, S>, HostError> {
    let last_signed = guard.last_signed();
    let mut core = Consensus::new(config, key, last_signed)?;
    let height = start.height;
    let record = StartRecord::new(now_unix_ms, last_signed, height, &start.validators, &start.previous);
    let effects =
        core.handle(now_unix_ms, start.into_input()).map_err(|source| HostError::StartRejected { height, source })?;
    let wal = Wal::start::<V, S>(&mut storage, &wal_config, record)?;
    info!(height = %height, last_signed = ?last_signed, "consensus started without a log of this height");

    let mut consensus = DurableConsensus { core, storage, wal_config, wal, guard, stopped: false };
    let effects = consensus.persist(effects)?;
    Ok(Opened { consensus, effects, recovery: Recovery::Fresh { last_signed } })
}

/// Replays `log` through a new core and checks its signatures against the log and the
/// guard.
fn replay<V: Value, S: Storage>(
    config: ConsensusConfig,
    key: Option<SigningKey>,
    wal_config: WalConfig,
    storage: S,
    guard: SignGuard,
    log: LoadedLog<V>,
) -> Result<Opened<V, S>, HostError> {
    let file = storage.locate(WAL_FILE);
    let failed = |offset: u64, reason: String| HostError::ReplayFailed { file: file.clone(), offset, reason };
    let mut core = Consensus::new(config, key, log.start.last_signed)?;
    let start = log.start.to_input().map_err(|error| failed(0, error.to_string()))?;
    let mut effects = core.handle(log.start.now_unix_ms, start).map_err(|error| failed(0, error.to_string()))?;

    let mut recorded = VecDeque::new();
    let mut inputs = 0;
    for (offset, record) in log.records {
        match record {
            Record::Input { now_unix_ms, input } => {
                let produced =
                    core.handle(now_unix_ms, input.into_input()).map_err(|error| failed(offset, error.to_string()))?;
                effects.extend(produced);
                inputs += 1;
            }
            Record::Signed { position, signature } => recorded.push_back((offset, position, signature)),
            Record::Start(_) => unreachable!("the log reader accepts a start record only first"),
        }
    }

    let produced = signatures(&effects);
    let last_recorded = recorded.back().map(|(_, position, _)| *position);
    check_recorded(&produced, recorded).map_err(|(offset, reason)| failed(offset, reason))?;
    if let Some(guarded) = guard.last_signed().filter(|guarded| Some(*guarded) > core.last_signed()) {
        let replayed = core.last_signed().map_or_else(|| "none".to_owned(), |position| position.to_string());
        return Err(HostError::GuardAhead { file: storage.locate(GUARD_FILE), guard: guarded, replayed });
    }

    let recovery = Recovery::Replayed { inputs, signatures: produced.len(), cut_at: log.cut.map(|cut| cut.offset) };
    info!(height = %log.wal.height, ?recovery, "consensus log replayed");
    let mut consensus = DurableConsensus { core, storage, wal_config, wal: log.wal, guard, stopped: false };
    // A crash between a signature record's sync and the guard write leaves the guard
    // behind the log. Catch it up first, so that persisting the replayed effects does not
    // append the recorded signatures a second time.
    if let Some(position) = last_recorded.filter(|position| consensus.guard.last_signed() < Some(*position)) {
        consensus.guard.record(&mut consensus.storage, position)?;
    }
    let effects = consensus.persist(effects)?;
    Ok(Opened { consensus, effects, recovery })
}

/// Checks that the replay produced every recorded signature, in order. The replay may
/// produce more: signatures whose records a crash cut before they were synced (and so
/// before they were sent).
fn check_recorded(
    produced: &[(SignedStep, Signature)],
    recorded: VecDeque<(u64, SignedStep, Signature)>,
) -> Result<(), (u64, String)> {
    for (index, (offset, position, signature)) in recorded.into_iter().enumerate() {
        match produced.get(index) {
            Some((replayed, replayed_signature)) if *replayed == position && *replayed_signature == signature => {}
            Some((replayed, _)) => {
                return Err((
                    offset,
                    format!(
                        "the log records a signature at {position}, but the replay signed {replayed} in its place, or the same position with other bytes"
                    ),
                ));
            }
            None => {
                return Err((
                    offset,
                    format!("the log records a signature at {position} that the replay did not produce"),
                ));
            }
        }
    }
    Ok(())
}

/// Returns the position and signature of each signed broadcast in `effects`.
fn signatures<V: Value>(effects: &[Effect<V>]) -> Vec<(SignedStep, Signature)> {
    effects
        .windows(2)
        .filter_map(|pair| match &pair[0] {
            Effect::PersistSigned(position) => Some((*position, broadcast_signature(&pair[1])?)),
            _ => None,
        })
        .collect()
}

fn broadcast_signature<V>(effect: &Effect<V>) -> Option<Signature> {
    match effect {
        Effect::BroadcastProposal(signed) => Some(signed.signature),
        Effect::BroadcastVote(signed) => Some(signed.signature),
        _ => None,
    }
}
