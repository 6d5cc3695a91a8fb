//! Memory release while the chain is idle. A burst of submissions fills the app's
//! caches, and the allocator keeps pages that the burst freed. Once no transaction has
//! committed for a configured time, the engine empties the caches and has the
//! allocator return its free pages. It does so again after each further such time
//! while the chain stays idle, because empty blocks fill the tree caches too (one
//! validator set a block on a chain with staking).

use std::time::{Duration, Instant};

use crate::daemon::engine::driver::Engine;

/// Settings of the memory release while idle.
#[derive(Clone, Copy, Debug)]
pub struct IdleRelease {
    /// The time without a committed transaction before each release.
    pub after: Duration,
    /// The function that gives the allocator's free pages back to the system, run after
    /// the caches are emptied. The binary that chooses the global allocator supplies it.
    pub release_allocator: fn(),
}

/// A due release: the first of an idle stretch, or a later one of the same stretch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    First,
    Again,
}

/// A tracker of committed blocks that reports when the idle release is due.
#[derive(Debug)]
pub(crate) struct IdleTracker {
    after: Duration,
    /// When the last transaction committed or the last release ran.
    counting_from: Instant,
    /// Whether a release ran since the last transaction.
    released: bool,
}

impl IdleTracker {
    /// Starts counting at `now`, as if a transaction had just committed: opening the
    /// ledger fills caches too.
    pub(crate) fn new(after: Duration, now: Instant) -> IdleTracker {
        IdleTracker { after, counting_from: now, released: false }
    }

    /// Records a block with `txs` transactions committed at `now`, and returns the
    /// release that is due now, if any. A release is due once `after` has passed since
    /// the last transaction or the last release, with no transaction in between.
    pub(crate) fn committed(&mut self, now: Instant, txs: usize) -> Option<Release> {
        if txs > 0 {
            self.counting_from = now;
            self.released = false;
            return None;
        }
        if now.saturating_duration_since(self.counting_from) < self.after {
            return None;
        }
        self.counting_from = now;
        let release = if self.released { Release::Again } else { Release::First };
        self.released = true;
        Some(release)
    }
}

impl Engine {
    /// Empties the app's caches and the mempool's spare room, has the store give back
    /// what it keeps beyond its caches, then returns the allocator's free pages. Logs
    /// the resident memory before and after: at info level for the first release of an
    /// idle stretch, at debug level for later ones.
    pub(super) fn release_idle_memory(&self, release: Release, release_allocator: fn()) {
        let before_kib = resident_kib();
        let cache_bytes = self.app.release_caches();
        let store_reopened = self.app.release_store_memory();
        self.mempool.shrink_when_empty();
        self.waiters.shrink();
        release_allocator();
        let after_kib = resident_kib();
        match release {
            Release::First => tracing::info!(
                cache_bytes,
                store_reopened,
                resident_before_kib = before_kib,
                resident_after_kib = after_kib,
                "released memory while idle"
            ),
            Release::Again => tracing::debug!(
                cache_bytes,
                store_reopened,
                resident_before_kib = before_kib,
                resident_after_kib = after_kib,
                "released memory again while idle"
            ),
        }
    }
}

/// Returns the process's resident memory in KiB, read from `/proc/self/status`, or
/// `None` where that file does not exist (outside Linux).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_secs(10);

    #[test]
    fn due_after_each_idle_period() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut idle = IdleTracker::new(AFTER, start);

        assert_eq!(idle.committed(at(9), 0), None, "not idle long enough since the start");
        assert_eq!(idle.committed(at(10), 0), Some(Release::First), "due exactly at the idle time");
        assert_eq!(idle.committed(at(11), 0), None, "the next one counts from the release");
        assert_eq!(idle.committed(at(19), 0), None);
        assert_eq!(idle.committed(at(20), 0), Some(Release::Again), "again one idle time later");
        assert_eq!(idle.committed(at(500), 0), Some(Release::Again), "a long gap releases once");
        assert_eq!(idle.committed(at(501), 0), None);

        assert_eq!(idle.committed(at(502), 3), None, "a block with transactions is busy");
        assert_eq!(idle.committed(at(511), 0), None, "9 s after the busy block");
        assert_eq!(idle.committed(at(512), 0), Some(Release::First), "a new stretch starts with a first release");
    }

    #[test]
    fn busy_blocks_push_the_release_back() {
        let start = Instant::now();
        let mut idle = IdleTracker::new(AFTER, start);
        for secs in (5..100).step_by(5) {
            assert_eq!(idle.committed(start + Duration::from_secs(secs), 1), None, "busy at {secs} s");
        }
        assert_eq!(idle.committed(start + Duration::from_secs(104), 0), None);
        assert_eq!(idle.committed(start + Duration::from_secs(105), 0), Some(Release::First));
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let kib = resident_kib().expect("Linux reports VmRSS");
            assert!(kib > 0, "a running test process has resident pages");
        }
    }
}
