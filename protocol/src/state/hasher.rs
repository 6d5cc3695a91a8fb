//! The hash function of the state tree: BLAKE3 keyed with a key derived from a fixed
//! context string.

use std::sync::LazyLock;

/// The context string from which the state tree's BLAKE3 key is derived. Changing it
/// changes every state root.
pub const STATE_HASH_CONTEXT: &str = "vouch/v1 state tree";

/// The BLAKE3 key for every hash in the state tree, derived once from the context.
static STATE_HASH_KEY: LazyLock<[u8; 32]> = LazyLock::new(|| blake3::derive_key(STATE_HASH_CONTEXT, b""));

/// BLAKE3 in keyed mode, as the `jmt` tree's hash function for keys, values and nodes.
pub struct StateHasher(blake3::Hasher);

impl jmt::SimpleHasher for StateHasher {
    fn new() -> StateHasher {
        StateHasher(blake3::Hasher::new_keyed(&STATE_HASH_KEY))
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use jmt::SimpleHasher;

    use super::*;

    #[test]
    fn state_hash_differs_from_plain_blake3() {
        let message = b"vouch";
        assert_ne!(StateHasher::hash(message), *blake3::hash(message).as_bytes());
    }

    #[test]
    fn state_hash_is_keyed_blake3() {
        let key = blake3::derive_key("vouch/v1 state tree", b"");
        assert_eq!(StateHasher::hash(b"vouch"), *blake3::keyed_hash(&key, b"vouch").as_bytes());
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut hasher = StateHasher::new();
        hasher.update(b"vou");
        hasher.update(b"ch");
        assert_eq!(hasher.finalize(), StateHasher::hash(b"vouch"));
    }
}
