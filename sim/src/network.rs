//! The network model: a random delay per message (so messages reorder), loss and
//! duplication while faults are on, and partitions that cut the validators into two
//! sides.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::config::Latency;

/// Share of messages lost while drops are on.
pub const DROP_CHANCE: f64 = 0.05;
/// Share of messages delivered twice while drops are on.
pub const DUPLICATE_CHANCE: f64 = 0.03;

/// The links between validators.
#[derive(Debug)]
pub struct Network {
    latency_base_ms: u64,
    latency_jitter_ms: u64,
    /// Whether loss and duplication are on now.
    pub lossy: bool,
    /// The side of each validator while a partition lasts.
    pub partition: Option<Vec<bool>>,
}

impl Network {
    /// Builds a network with `latency` and no fault yet.
    pub fn new(latency: Latency) -> Network {
        Network {
            latency_base_ms: duration_ms(latency.base),
            latency_jitter_ms: duration_ms(latency.jitter),
            lossy: false,
            partition: None,
        }
    }

    /// Returns the arrival times of a message sent from `from` to `to` at `now_ms`:
    /// none when it is lost or cut off by a partition, two when it is duplicated.
    pub fn route(&self, rng: &mut ChaCha8Rng, now_ms: u64, from: usize, to: usize) -> Vec<u64> {
        if self.partition.as_ref().is_some_and(|side| side[from] != side[to]) {
            return Vec::new();
        }
        if self.lossy && rng.random_bool(DROP_CHANCE) {
            return Vec::new();
        }
        let copies = if self.lossy && rng.random_bool(DUPLICATE_CHANCE) { 2 } else { 1 };
        (0..copies).map(|_| now_ms + self.delay_ms(rng)).collect()
    }

    fn delay_ms(&self, rng: &mut ChaCha8Rng) -> u64 {
        self.latency_base_ms + rng.random_range(0..=self.latency_jitter_ms)
    }
}

/// Returns a duration in whole milliseconds, saturating at `u64::MAX`.
pub fn duration_ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rand::SeedableRng;

    use super::*;

    #[test]
    fn partition_cuts_links_across_sides() {
        let mut network = Network::new(Latency { base: Duration::from_millis(10), jitter: Duration::ZERO });
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(network.route(&mut rng, 100, 0, 1), vec![110]);
        network.partition = Some(vec![true, false, true]);
        assert_eq!(network.route(&mut rng, 100, 0, 1), Vec::<u64>::new());
        assert_eq!(network.route(&mut rng, 100, 0, 2), vec![110]);
    }

    #[test]
    fn lossy_network_drops_and_duplicates() {
        let mut network = Network::new(Latency { base: Duration::ZERO, jitter: Duration::from_millis(5) });
        network.lossy = true;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let counts: Vec<usize> = (0..2000).map(|_| network.route(&mut rng, 0, 0, 1).len()).collect();
        assert!(counts.contains(&0), "no message was lost");
        assert!(counts.contains(&2), "no message was duplicated");
        assert!(counts.iter().filter(|count| **count == 1).count() > 1500);
    }
}
