//! Memory release while the chain is idle. A burst of submissions fills the app's
//! caches, and the allocator keeps pages that the burst freed. Once no transaction has
//! committed for a configured time, the engine empties the caches and has the
//! allocator return its free pages, once per idle stretch.

use std::time::{Duration, Instant};

use crate::daemon::engine::driver::Engine;

/// Settings of the memory release while idle.
#[derive(Clone, Copy, Debug)]
pub struct IdleRelease {
    /// How long no transaction must have committed.
    pub after: Duration,
    /// Gives the allocator's free pages back to the system. The binary that chooses the
    /// global allocator supplies it; it runs after the caches are emptied.
    pub release_allocator: fn(),
}

/// A tracker of committed blocks that reports when the idle release is due.
#[derive(Debug)]
pub(crate) struct IdleTracker {
    after: Duration,
    last_busy: Instant,
    released: bool,
}

impl IdleTracker {
    /// Starts counting at `now`, as if a transaction had just committed: opening the
    /// ledger fills caches too.
    pub(crate) fn new(after: Duration, now: Instant) -> IdleTracker {
        IdleTracker { after, last_busy: now, released: false }
    }

    /// Records a block with `txs` transactions committed at `now`, and returns whether
    /// the release is due now. It is due once after each stretch of `after` without a
    /// transaction.
    pub(crate) fn committed(&mut self, now: Instant, txs: usize) -> bool {
        if txs > 0 {
            self.last_busy = now;
            self.released = false;
            return false;
        }
        if self.released || now.saturating_duration_since(self.last_busy) < self.after {
            return false;
        }
        self.released = true;
        true
    }
}

impl Engine {
    /// Empties the app's caches and the mempool's spare room, then returns the
    /// allocator's free pages, and logs the resident memory before and after.
    pub(super) fn release_idle_memory(&self, release_allocator: fn()) {
        let before_kib = resident_kib();
        let cache_bytes = self.app.release_caches();
        self.mempool.shrink_when_empty();
        self.waiters.shrink();
        release_allocator();
        tracing::info!(
            cache_bytes,
            resident_before_kib = before_kib,
            resident_after_kib = resident_kib(),
            "released memory while idle"
        );
    }
}

/// Returns the process's resident memory in KiB, from `/proc/self/status` on Linux;
/// `None` elsewhere.
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
    fn due_once_after_each_idle_stretch() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut idle = IdleTracker::new(AFTER, start);

        assert!(!idle.committed(at(9), 0), "not idle long enough since the start");
        assert!(idle.committed(at(10), 0), "due exactly at the idle time");
        assert!(!idle.committed(at(11), 0), "released once per stretch");
        assert!(!idle.committed(at(500), 0), "still the same stretch");

        assert!(!idle.committed(at(501), 3), "a block with transactions is busy");
        assert!(!idle.committed(at(510), 0), "9 s after the busy block");
        assert!(idle.committed(at(511), 0), "a new stretch releases again");
    }

    #[test]
    fn busy_blocks_push_the_release_back() {
        let start = Instant::now();
        let mut idle = IdleTracker::new(AFTER, start);
        for secs in (5..100).step_by(5) {
            assert!(!idle.committed(start + Duration::from_secs(secs), 1), "busy at {secs} s");
        }
        assert!(!idle.committed(start + Duration::from_secs(104), 0));
        assert!(idle.committed(start + Duration::from_secs(105), 0));
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let kib = resident_kib().expect("Linux reports VmRSS");
            assert!(kib > 0, "a running test process has resident pages");
        }
    }
}
