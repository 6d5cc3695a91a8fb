//! The virtual clock: events ordered by virtual time, with ties broken by the order in
//! which they were scheduled, so a run depends on its seed alone.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use vouch_consensus::Timeout;

use crate::packet::Packet;

/// One thing that happens at a virtual time.
#[derive(Clone, Debug)]
pub enum Event {
    /// A message arrives at `to`.
    Deliver { to: usize, from: usize, packet: Packet },
    /// A consensus timeout of one incarnation of a validator expires.
    Timer { node: usize, incarnation: u32, timeout: Timeout },
    /// A validator sends its status and its messages of the current height again.
    Gossip { node: usize, incarnation: u32 },
    /// A validator loses power now, or after this many more storage operations, in the
    /// middle of handling some input.
    Crash { node: usize, operations_left: Option<u64> },
    /// A crashed validator starts again from its storage.
    Restart { node: usize },
    /// The network splits: validators whose flag is set reach only each other.
    Partition { side: Vec<bool> },
    /// The network joins again.
    Heal,
}

#[derive(Debug)]
struct Scheduled {
    time_ms: u64,
    sequence: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Scheduled) -> bool {
        (self.time_ms, self.sequence) == (other.time_ms, other.sequence)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Scheduled) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Scheduled) -> Ordering {
        (self.time_ms, self.sequence).cmp(&(other.time_ms, other.sequence))
    }
}

/// Events waiting for their time.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Reverse<Scheduled>>,
    next_sequence: u64,
}

impl EventQueue {
    /// Schedules `event` at `time_ms`, after every event already scheduled then.
    pub fn push(&mut self, time_ms: u64, event: Event) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.heap.push(Reverse(Scheduled { time_ms, sequence, event }));
    }

    /// Removes the earliest event with its time and sequence number.
    pub fn pop(&mut self) -> Option<(u64, u64, Event)> {
        let Reverse(scheduled) = self.heap.pop()?;
        Some((scheduled.time_ms, scheduled.sequence, scheduled.event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_orders_by_time_then_schedule() {
        let mut queue = EventQueue::default();
        queue.push(20, Event::Heal);
        queue.push(10, Event::Crash { node: 1, operations_left: None });
        queue.push(10, Event::Crash { node: 2, operations_left: None });
        let order: Vec<(u64, u64)> =
            std::iter::from_fn(|| queue.pop()).map(|(time, sequence, _)| (time, sequence)).collect();
        assert_eq!(order, vec![(10, 1), (10, 2), (20, 0)]);
    }
}
