//! The open sled database behind a read-write lock, so that the backend can close and
//! open it again while other threads read.
//!
//! Every read and write takes a read hold ([`OpenDb`]). A reopen takes the write lock:
//! it waits for the current holds to drop, and new holds wait until the database is
//! open again. A reopen that fails leaves the database closed with the error, and the next
//! hold opens it, at most once per [`REOPEN_RETRY_PAUSE`].

use std::any::Any;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use crate::store::BackendError;

/// How long [`crate::store::SledBackend::open`] and a reopen wait for the directory
/// lock of a database that was just closed in this process.
pub const SLED_LOCK_WAIT_MAX: Duration = Duration::from_secs(2);

/// The pause between two attempts to take the directory lock.
const SLED_LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(20);

/// How long after a failed open the database stays closed: holds in that time get the
/// error at once instead of each waiting for the directory lock again.
pub(crate) const REOPEN_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// sled's throughput mode: it cleans log segments less eagerly than its default
/// space-saving mode, which took a third of the time of each block write. The price
/// is more disk space between cleanings.
const SLED_MODE: sled::Mode = sled::Mode::HighThroughput;

/// The database, or why it is closed.
enum State {
    Open(sled::Db),
    Closed { failed_at: Instant, error: String },
}

/// A sled database that can be closed and opened again in place.
pub(crate) struct SledHandle {
    state: RwLock<State>,
    path: PathBuf,
    /// The page cache size of the next open.
    cache_bytes: AtomicU64,
}

/// A read hold on the open database: a reopen waits until every hold is dropped.
pub(crate) struct OpenDb<'a>(RwLockReadGuard<'a, State>);

impl Deref for OpenDb<'_> {
    type Target = sled::Db;

    fn deref(&self) -> &sled::Db {
        match &*self.0 {
            State::Open(db) => db,
            // `SledHandle::hold` hands out a hold only while the database is open.
            State::Closed { .. } => unreachable!("an OpenDb holds an open database"),
        }
    }
}

impl SledHandle {
    /// Opens or creates the database in `path` with a page cache of `cache_bytes`.
    pub(crate) fn open(path: &Path, cache_bytes: u64) -> Result<SledHandle, sled::Error> {
        let db = open_sled(path, cache_bytes)?;
        let state = RwLock::new(State::Open(db));
        Ok(SledHandle { state, path: path.to_path_buf(), cache_bytes: AtomicU64::new(cache_bytes) })
    }

    /// Returns a hold on the open database, first opening it if a reopen failed.
    pub(crate) fn hold(&self) -> Result<OpenDb<'_>, BackendError> {
        loop {
            let guard = self.state.read().unwrap_or_else(PoisonError::into_inner);
            if matches!(*guard, State::Open(_)) {
                return Ok(OpenDb(guard));
            }
            drop(guard);
            self.open_closed()?;
        }
    }

    /// Makes every applied batch durable, closes the database, calls `closed`, and
    /// opens the database again with a page cache of `cache_bytes`. Holds wait
    /// meanwhile. If the open fails, the database stays closed and the error is
    /// returned.
    pub(crate) fn reopen(&self, cache_bytes: u64, closed: impl FnOnce()) -> Result<(), BackendError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if let State::Open(db) = &*state {
            let path = self.path.display();
            db.flush().map_err(|error| BackendError::new("flush", format!("{path}: {error}")))?;
        }
        let closed_state = State::Closed { failed_at: Instant::now(), error: "closed for a reopen".to_owned() };
        drop(std::mem::replace(&mut *state, closed_state));
        closed();
        self.cache_bytes.store(cache_bytes, Ordering::Relaxed);
        *state = self.open_state();
        match &*state {
            State::Open(_) => Ok(()),
            State::Closed { error, .. } => Err(BackendError::new("reopen", error)),
        }
    }

    /// Returns the page cache size of the open database, or of its next open.
    pub(crate) fn cache_bytes(&self) -> u64 {
        self.cache_bytes.load(Ordering::Relaxed)
    }

    /// Returns whether the open database was recovered from files already on disk.
    #[cfg(test)]
    pub(crate) fn was_recovered(&self) -> bool {
        self.hold().map(|db| db.was_recovered()).unwrap_or(false)
    }

    /// Closes the database as a failed reopen leaves it, for tests.
    #[cfg(test)]
    pub(crate) fn close_as_failed(&self, failed_at: Instant) {
        let closed = State::Closed { failed_at, error: "closed by a test".to_owned() };
        drop(std::mem::replace(&mut *self.state.write().unwrap_or_else(PoisonError::into_inner), closed));
    }

    /// Opens the closed database, unless the last attempt failed less than
    /// [`REOPEN_RETRY_PAUSE`] ago.
    fn open_closed(&self) -> Result<(), BackendError> {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if let State::Closed { failed_at, error } = &*state {
            if failed_at.elapsed() < REOPEN_RETRY_PAUSE {
                return Err(BackendError::new("reopen", error));
            }
            *state = self.open_state();
            match &*state {
                State::Open(_) => {
                    tracing::warn!(path = %self.path.display(), "opened the database again after a failed reopen")
                }
                State::Closed { error, .. } => return Err(BackendError::new("reopen", error)),
            }
        }
        Ok(())
    }

    /// Opens the database, catching a panic of sled's recovery, and returns the state
    /// it leaves.
    fn open_state(&self) -> State {
        let opened = std::panic::catch_unwind(AssertUnwindSafe(|| open_sled(&self.path, self.cache_bytes())));
        let error = match opened {
            Ok(Ok(db)) => return State::Open(db),
            Ok(Err(error)) => format!(
                "{}: {error}; if another process opened this database, stop it; the node opens it again at its next read or write",
                self.path.display()
            ),
            Err(panic) => format!(
                "the database in {} is corrupt ({}); restore it from a backup, or start with --recreate-ledger",
                self.path.display(),
                panic_message(panic.as_ref())
            ),
        };
        tracing::error!(path = %self.path.display(), %error, "opening the ledger database again failed; it stays closed");
        State::Closed { failed_at: Instant::now(), error }
    }
}

/// Opens sled in `path`, waiting up to [`SLED_LOCK_WAIT_MAX`] for its directory lock.
fn open_sled(path: &Path, cache_bytes: u64) -> Result<sled::Db, sled::Error> {
    let started = Instant::now();
    loop {
        match sled::Config::new().path(path).cache_capacity(cache_bytes).mode(SLED_MODE).open() {
            Err(error) if is_lock_taken(&error) && started.elapsed() < SLED_LOCK_WAIT_MAX => {
                std::thread::sleep(SLED_LOCK_RETRY_INTERVAL);
            }
            opened => return opened,
        }
    }
}

/// Returns whether `error` reports that another handle holds the directory lock. sled
/// 0.34 reports it as an `Other` IO error whose text starts with this phrase
/// (`Config::open` in its config.rs).
fn is_lock_taken(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().starts_with("could not acquire lock on"))
}

/// Returns the text of a panic's payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload.downcast_ref::<&str>().map(|text| (*text).to_owned());
    text.or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_else(|| "no message".to_owned())
}
