//! Opening the ledger of a home for `vouchd start`: the sled database in
//! `storage.data_dir`, guarded by the home's ledger marker and against a corrupt
//! database.
//!
//! # Invariants
//! - Once a home's ledger contains its genesis, `HOME/ledger.json` records the chain id
//!   and the genesis hash. A home with that marker whose database is missing or empty
//!   is rejected unless the caller asks to re-create the ledger, because starting over
//!   would sign heights that this validator key already signed.
//! - The marker is written to a temporary file, synced and renamed into place, so a
//!   crash leaves either no marker or a whole one. An empty marker, which a crash of
//!   an earlier build could leave, counts as present without a genesis hash: it still
//!   guards a missing database, and the start writes it again.
//! - A panic inside sled while the database opens is reported as a corrupt database,
//!   not as a crash.

use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use vouch_protocol::input::{self, InputError};
use vouch_protocol::ledger::Genesis;

use crate::app::{App, AppError};
use crate::daemon::home::{Home, LoadedHome};
use crate::policy::RuntimeConfig;
use crate::store::{LedgerStore, SledBackend, StoreError};

/// Name of the ledger marker in a home.
pub const MARKER_FILE: &str = "ledger.json";

/// Maximum size of a ledger marker in bytes; a real one is under 200 bytes.
pub const MARKER_BYTES_MAX: u64 = 4096;

/// The `format` value of a ledger marker.
const MARKER_FORMAT: &str = "vouch-ledger-marker";

/// Errors from opening the ledger of a home.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("storage.data_dir {path} is not a folder; point storage.data_dir at a folder, or move that file away")]
    DataDirNotAFolder { path: PathBuf },
    #[error("the ledger database at {path} is corrupt ({detail}); restore it from a backup")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the ledger database at {data_dir} is missing or empty, but {marker} records that this home's ledger of chain {chain_id} was created; restore the database from a backup, or start with --recreate-ledger to begin again at genesis, which signs the same heights again with this validator key"
    )]
    LedgerMissing { data_dir: PathBuf, marker: PathBuf, chain_id: String },
    #[error(
        "{marker} records the ledger of chain {recorded_chain_id} with genesis hash {recorded_hash}, but genesis.json is chain {chain_id} with hash {hash}; restore the genesis.json this ledger was created from"
    )]
    GenesisChanged { marker: PathBuf, recorded_chain_id: String, recorded_hash: String, chain_id: String, hash: String },
    #[error("ledger marker {path}: {reason}")]
    InvalidMarker { path: PathBuf, reason: String },
    #[error(transparent)]
    ReadMarker(#[from] InputError),
    #[error("cannot write ledger marker {path}: {error}")]
    WriteMarker { path: PathBuf, error: std::io::Error },
    #[error("opening the ledger at {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error("opening the ledger at {path}: {source}")]
    App {
        path: PathBuf,
        #[source]
        source: AppError,
    },
}

/// The contents of `HOME/ledger.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerMarker {
    /// Always `vouch-ledger-marker`.
    pub format: String,
    /// The chain id of the genesis the ledger was created from.
    pub chain_id: String,
    /// BLAKE3 of the genesis as [`Genesis::to_json`] writes it, in hex.
    pub genesis_hash: String,
}

impl LedgerMarker {
    /// Builds the marker of a ledger created from `genesis`.
    pub fn of(genesis: &Genesis) -> LedgerMarker {
        LedgerMarker {
            format: MARKER_FORMAT.to_owned(),
            chain_id: genesis.chain_id.to_string(),
            genesis_hash: genesis_hash(genesis),
        }
    }
}

/// Returns the BLAKE3 hash, in hex, of the genesis as [`Genesis::to_json`] writes it.
pub fn genesis_hash(genesis: &Genesis) -> String {
    blake3::hash(genesis.to_json().as_bytes()).to_hex().to_string()
}

/// Returns the path of the ledger marker of `home`.
pub fn marker_path(home: &Home) -> PathBuf {
    home.dir().join(MARKER_FILE)
}

/// Opens the ledger of `home`, committing the genesis into an empty database only when
/// the home has no ledger marker or `recreate` is set, and writes the marker when
/// missing.
pub fn open_ledger(home: &Home, loaded: &LoadedHome, recreate: bool) -> Result<App<SledBackend>, OpenError> {
    let data_dir = loaded.config.data_dir(home.dir());
    if data_dir.exists() && !data_dir.is_dir() {
        return Err(OpenError::DataDirNotAFolder { path: data_dir });
    }
    let marker_path = marker_path(home);
    let marker = read_marker(&marker_path)?;
    if let Marker::Recorded(recorded) = &marker {
        check_same_genesis(&marker_path, recorded, &loaded.genesis)?;
    }

    // Rejecting before sled opens leaves a missing folder missing, so that a backup
    // can be restored in its place without removing a new empty database first.
    if marker != Marker::Absent && !recreate && folder_is_missing_or_empty(&data_dir) {
        let chain_id = loaded.genesis.chain_id.to_string();
        return Err(OpenError::LedgerMissing { data_dir, marker: marker_path, chain_id });
    }

    let storage = &loaded.config.storage;
    let tree_cache_bytes = loaded.config.tree_cache_bytes();
    let store = catch_corruption(&data_dir, || {
        let backend = SledBackend::open_with_cache(&data_dir, storage.cache_bytes)?
            .reopen_after(storage.reopen_after_bytes)
            .idle_cache(storage.idle_cache_bytes);
        LedgerStore::open_with_node_cache(backend, tree_cache_bytes)
    })?
    .map_err(|source| OpenError::Store { path: data_dir.clone(), source })?;

    if store.latest_height().is_none() && marker != Marker::Absent {
        if !recreate {
            let chain_id = loaded.genesis.chain_id.to_string();
            return Err(OpenError::LedgerMissing { data_dir, marker: marker_path, chain_id });
        }
        tracing::warn!(data_dir = %data_dir.display(), "re-creating the ledger from genesis (--recreate-ledger)");
    }

    let runtime = RuntimeConfig { limits: loaded.genesis.policy_limits.clone(), ..loaded.config.runtime_config() };
    let reads = loaded.config.read_cache_limits();
    let app = catch_corruption(&data_dir, || App::open_with_limits(store, &loaded.genesis, runtime, reads))?.map_err(
        |source| match source {
            // Damage found while loading the state gets the same advice as damage that
            // sled finds itself, because which of the two detects a deleted blob first
            // varies with timing.
            AppError::CorruptRecord { .. } | AppError::MissingRecord { .. } => {
                OpenError::Corrupt { path: data_dir.clone(), detail: source.to_string() }
            }
            source => OpenError::App { path: data_dir.clone(), source },
        },
    )?;
    if !matches!(marker, Marker::Recorded(_)) {
        write_marker(&marker_path, &LedgerMarker::of(&loaded.genesis))?;
    }
    Ok(app)
}

/// Returns whether `path` does not exist or is a folder without entries.
fn folder_is_missing_or_empty(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

fn check_same_genesis(path: &Path, marker: &LedgerMarker, genesis: &Genesis) -> Result<(), OpenError> {
    let expected = LedgerMarker::of(genesis);
    if marker.chain_id == expected.chain_id && marker.genesis_hash == expected.genesis_hash {
        return Ok(());
    }
    Err(OpenError::GenesisChanged {
        marker: path.to_owned(),
        recorded_chain_id: marker.chain_id.clone(),
        recorded_hash: marker.genesis_hash.clone(),
        chain_id: expected.chain_id,
        hash: expected.genesis_hash,
    })
}

/// The contents of a home's ledger marker file, as far as they were written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    /// The home has no marker: its ledger was never created.
    Absent,
    /// The marker file is empty, as a crash while an earlier build wrote it leaves it.
    /// The ledger was created, but the genesis it was created from is not recorded.
    Empty,
    /// The marker records the ledger's genesis.
    Recorded(LedgerMarker),
}

/// Reads the marker of a home.
pub fn read_marker(path: &Path) -> Result<Marker, OpenError> {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(Marker::Absent);
    };
    if !path.is_file() {
        let reason = "it is not a regular file; remove it, and the next start writes it again".to_owned();
        return Err(OpenError::InvalidMarker { path: path.to_owned(), reason });
    }
    if metadata.len() == 0 {
        tracing::warn!(path = %path.display(), "the ledger marker is empty because a write was interrupted; it is written again once the ledger opens");
        return Ok(Marker::Empty);
    }
    let bytes = input::read_file_bounded(path, MARKER_BYTES_MAX)?;
    let marker: LedgerMarker = input::parse_json(&path.display().to_string(), &bytes)?;
    if marker.format != MARKER_FORMAT {
        let reason = format!("format is {:?}, expected {MARKER_FORMAT:?}", marker.format);
        return Err(OpenError::InvalidMarker { path: path.to_owned(), reason });
    }
    Ok(Marker::Recorded(marker))
}

/// Writes the marker to a temporary file beside it, syncs it, renames it into place
/// and syncs the home, so that a crash leaves no marker or a whole one.
fn write_marker(path: &Path, marker: &LedgerMarker) -> Result<(), OpenError> {
    let temp = path.with_file_name(format!(".{MARKER_FILE}.tmp"));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut text = serde_json::to_string_pretty(marker).map_err(std::io::Error::other)?;
        text.push('\n');
        // A temporary file left by a crash is overwritten.
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        match path.parent() {
            Some(dir) => std::fs::File::open(dir)?.sync_all(),
            None => Ok(()),
        }
    };
    write().map_err(|error| OpenError::WriteMarker { path: path.to_owned(), error })?;
    tracing::info!(path = %path.display(), chain_id = %marker.chain_id, genesis_hash = %marker.genesis_hash, "recorded the ledger marker");
    Ok(())
}

/// Runs `step`, turning a panic inside it into [`OpenError::Corrupt`] with the panic's
/// message. sled 0.34 panics on some damaged files, such as a deleted blob.
///
/// NOTE: the panic hook is process-wide, so a panic of another thread during `step`
/// is silenced too. Only startup calls this, while no other thread runs node code.
fn catch_corruption<T>(data_dir: &Path, step: impl FnOnce() -> T) -> Result<T, OpenError> {
    let caught: Arc<Mutex<Option<String>>> = Arc::default();
    let record = Arc::clone(&caught);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
        *record.lock().unwrap_or_else(PoisonError::into_inner) = Some(panic_detail(info));
    }));
    let result = std::panic::catch_unwind(AssertUnwindSafe(step));
    std::panic::set_hook(previous);

    result.map_err(|_| {
        let detail = caught.lock().unwrap_or_else(PoisonError::into_inner).take();
        let detail = detail.unwrap_or_else(|| "the database library panicked".to_owned());
        tracing::error!(data_dir = %data_dir.display(), %detail, "the ledger database is corrupt");
        OpenError::Corrupt { path: data_dir.to_owned(), detail }
    })
}

fn panic_detail(info: &PanicHookInfo<'_>) -> String {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    match info.location() {
        Some(location) => format!("the database library panicked: {message} at {location}"),
        None => format!("the database library panicked: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_corrupt_error() {
        let error = catch_corruption(Path::new("/srv/data"), || -> () { panic!("tried to serialize Uninitialized") })
            .expect_err("the panic is caught");
        let message = error.to_string();
        assert!(message.contains("the ledger database at /srv/data is corrupt"), "{message}");
        assert!(message.contains("tried to serialize Uninitialized"), "{message}");
        assert!(message.contains("restore it from a backup"), "{message}");
    }

    #[test]
    fn marker_round_trips_and_rejects_other_formats() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join(MARKER_FILE);
        assert_eq!(read_marker(&path).expect("no marker"), Marker::Absent);

        let marker =
            LedgerMarker { format: MARKER_FORMAT.to_owned(), chain_id: "c".to_owned(), genesis_hash: "00".repeat(32) };
        write_marker(&path, &marker).expect("write");
        assert_eq!(read_marker(&path).expect("read"), Marker::Recorded(marker.clone()));
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).expect("list").map(|entry| entry.expect("entry").file_name()).collect();
        assert_eq!(names, [MARKER_FILE], "no temporary file stays behind");

        std::fs::write(&path, r#"{"format":"other","chain_id":"c","genesis_hash":"00"}"#).expect("write");
        let error = read_marker(&path).expect_err("another format");
        assert!(error.to_string().contains("expected \"vouch-ledger-marker\""), "{error}");
    }

    #[test]
    fn empty_marker_is_rewritten() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join(MARKER_FILE);
        std::fs::write(&path, b"").expect("empty marker");
        std::fs::write(dir.path().join(format!(".{MARKER_FILE}.tmp")), b"{\"torn").expect("leftover");
        assert_eq!(read_marker(&path).expect("empty marker"), Marker::Empty);

        let marker =
            LedgerMarker { format: MARKER_FORMAT.to_owned(), chain_id: "c".to_owned(), genesis_hash: "11".repeat(32) };
        write_marker(&path, &marker).expect("write over the empty marker");
        assert_eq!(read_marker(&path).expect("read"), Marker::Recorded(marker));
    }
}
