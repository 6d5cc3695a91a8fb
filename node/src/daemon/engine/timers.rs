//! The round timeouts that the core scheduled, ordered by deadline.
//!
//! # Invariants
//! - At most [`TIMERS_MAX`] timeouts wait. Scheduling one more drops the one with the
//!   earliest position (height, round, step), which the core has moved past.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use vouch_consensus::Timeout;

/// Maximum number of waiting timeouts. The core schedules at most three per round and
/// the driver drops those of decided heights, so this bound is reached only after
/// hundreds of rounds at one height.
pub const TIMERS_MAX: usize = 1024;

/// Waiting timeouts with their deadlines.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Entries of (deadline, insertion number, timeout). The number keeps equal deadlines
    /// apart.
    queue: BTreeSet<(Instant, u64, TimeoutKey)>,
    inserted: u64,
}

/// A [`Timeout`] with an order, so the queue can hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TimeoutKey {
    height: u64,
    round: u32,
    step: vouch_consensus::Step,
}

impl Timers {
    /// Schedules `timeout` to expire `duration` after `now`.
    pub(crate) fn schedule(&mut self, now: Instant, timeout: Timeout, duration: Duration) {
        if self.queue.len() >= TIMERS_MAX {
            self.drop_oldest_position();
        }
        let key = TimeoutKey { height: timeout.height.0, round: timeout.round, step: timeout.step };
        self.inserted += 1;
        self.queue.insert((now + duration, self.inserted, key));
    }

    /// Returns the earliest deadline, if any timeout waits.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue.first().map(|(deadline, _, _)| *deadline)
    }

    /// Removes and returns the earliest timeout whose deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timeout> {
        let (deadline, _, _) = self.queue.first()?;
        if *deadline > now {
            return None;
        }
        let (_, _, key) = self.queue.pop_first().expect("the first entry was just read");
        Some(Timeout { height: vouch_protocol::chain::Height(key.height), round: key.round, step: key.step })
    }

    /// Drops every timeout of heights up to `height`.
    pub(crate) fn clear_through(&mut self, height: u64) {
        self.queue.retain(|(_, _, key)| key.height > height);
    }

    /// Returns the number of waiting timeouts.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    fn drop_oldest_position(&mut self) {
        let oldest = self.queue.iter().min_by_key(|(_, _, key)| *key).copied();
        if let Some(entry) = oldest {
            tracing::warn!(height = entry.2.height, round = entry.2.round, step = %entry.2.step, "timeout queue is full; dropped its oldest timeout");
            self.queue.remove(&entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use vouch_consensus::Step;
    use vouch_protocol::chain::Height;

    use super::*;

    fn timeout(height: u64, round: u32, step: Step) -> Timeout {
        Timeout { height: Height(height), round, step }
    }

    #[test]
    fn expired_timeouts_come_in_deadline_order() {
        let now = Instant::now();
        let mut timers = Timers::default();
        timers.schedule(now, timeout(1, 0, Step::Prevote), Duration::from_millis(20));
        timers.schedule(now, timeout(1, 0, Step::Propose), Duration::from_millis(10));
        assert_eq!(timers.next_deadline(), Some(now + Duration::from_millis(10)));
        assert_eq!(timers.pop_expired(now), None, "nothing expired yet");

        let later = now + Duration::from_millis(30);
        assert_eq!(timers.pop_expired(later), Some(timeout(1, 0, Step::Propose)));
        assert_eq!(timers.pop_expired(later), Some(timeout(1, 0, Step::Prevote)));
        assert_eq!(timers.pop_expired(later), None);
    }

    #[test]
    fn equal_deadlines_are_all_kept() {
        let now = Instant::now();
        let mut timers = Timers::default();
        timers.schedule(now, timeout(1, 0, Step::Propose), Duration::ZERO);
        timers.schedule(now, timeout(1, 1, Step::Propose), Duration::ZERO);
        assert_eq!(timers.len(), 2);
    }

    #[test]
    fn clear_through_drops_decided_heights() {
        let now = Instant::now();
        let mut timers = Timers::default();
        timers.schedule(now, timeout(4, 0, Step::Propose), Duration::ZERO);
        timers.schedule(now, timeout(5, 0, Step::Propose), Duration::ZERO);
        timers.clear_through(4);
        assert_eq!(timers.pop_expired(now), Some(timeout(5, 0, Step::Propose)));
        assert_eq!(timers.pop_expired(now), None);
    }

    #[test]
    fn queue_bound_holds_at_the_edge() {
        let now = Instant::now();
        let mut timers = Timers::default();
        for round in 0..TIMERS_MAX as u32 {
            timers.schedule(now, timeout(1, round + 1, Step::Propose), Duration::from_secs(1));
        }
        assert_eq!(timers.len(), TIMERS_MAX);

        timers.schedule(now, timeout(1, 5000, Step::Propose), Duration::from_secs(1));
        assert_eq!(timers.len(), TIMERS_MAX, "one past the bound drops one");
        let rounds: Vec<u32> = std::iter::from_fn(|| timers.pop_expired(now + Duration::from_secs(2)))
            .map(|timeout| timeout.round)
            .collect();
        assert!(!rounds.contains(&1), "the oldest round was dropped");
        assert!(rounds.contains(&5000), "the new timeout was kept");
    }
}
