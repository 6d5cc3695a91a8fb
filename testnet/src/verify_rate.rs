//! The machine's own limit for attestation throughput: how many ed25519 `verify_strict`
//! checks one core does per second, measured in the same run as the load.

use std::time::{Duration, Instant};

use vouch_protocol::keys::SigningKey;
use vouch_protocol::signing::{self, ChainId, SignKind};

/// Measures single-core ed25519 verifications per second over `window`, on a message
/// of the size of a small attestation's signing bytes.
pub fn ed25519_verifies_per_second(window: Duration) -> f64 {
    let key = SigningKey::from_seed(&[42; 32]);
    let public = key.public_key();
    let chain = ChainId::new("vouch-load").expect("the name is a valid chain id");
    let message = vec![0x5a; 1500];
    let signature = signing::sign(&key, &chain, SignKind::Transaction, &message);
    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < window {
        for _ in 0..64 {
            if signing::verify(&public, &chain, SignKind::Transaction, &message, &signature).is_err() {
                panic!("a fresh signature over a fixed message must verify");
            }
        }
        count += 64;
    }
    count as f64 / start.elapsed().as_secs_f64()
}
