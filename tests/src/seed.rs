//! A seeded pseudo-random source for tests that choose random points, such as when to
//! kill a node: the seed is printed, and an environment variable replays one run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A SplitMix64 generator: small, fast and reproducible from one 64-bit seed. It is
/// for test schedules only, never for keys.
#[derive(Clone, Debug)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// Creates a generator from `seed`.
    pub fn new(seed: u64) -> SeededRng {
        SeededRng { state: seed }
    }

    /// Returns the seed in `variable` if it is set, otherwise one taken from the clock,
    /// and prints it with the command line that replays it.
    ///
    /// # Panics
    /// When `variable` is set but is not a decimal `u64`.
    pub fn from_env(variable: &str) -> (SeededRng, u64) {
        let seed = match std::env::var(variable) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .unwrap_or_else(|error| panic!("{variable}={text:?} is not a decimal u64 seed: {error}")),
            Err(_) => clock_seed(),
        };
        println!("seed {seed}; replay with {variable}={seed}");
        (SeededRng::new(seed), seed)
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a number in `low..=high`. The small modulo bias does not matter for
    /// test schedules.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        let span = high - low;
        match span.checked_add(1) {
            Some(count) => low + self.next_u64() % count,
            None => self.next_u64(),
        }
    }

    /// Returns a duration in `low..=high`, in whole milliseconds.
    pub fn duration_between(&mut self, low: Duration, high: Duration) -> Duration {
        Duration::from_millis(self.between(low.as_millis() as u64, high.as_millis() as u64))
    }

    /// Returns true with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.between(1, denominator) <= numerator
    }
}

fn clock_seed() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (since_epoch.as_nanos() as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SeededRng::new(42);
        let mut b = SeededRng::new(42);
        let first: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let second: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(first, second);
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn between_stays_in_range() {
        let mut rng = SeededRng::new(7);
        for _ in 0..1000 {
            let value = rng.between(3, 5);
            assert!((3..=5).contains(&value), "{value}");
        }
        assert_eq!(rng.between(9, 9), 9);
        let _ = rng.between(0, u64::MAX);
    }
}
