//! The simulator's application: small blocks whose validity the simulator decides.

use serde::{Deserialize, Serialize};
use vouch_consensus::Value;
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::encoding;

/// A block of the simulated chain: who built it where, and a payload word. A block is
/// valid when it names the height it is proposed at and its check word matches the
/// other fields; Byzantine proposers build blocks whose check word does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimBlock {
    pub height: Height,
    pub round: u32,
    pub proposer: u32,
    pub payload: u64,
    pub check: u64,
    pub time_unix_ms: u64,
}

impl SimBlock {
    /// Builds a valid block.
    pub fn new(height: Height, round: u32, proposer: u32, payload: u64, time_unix_ms: u64) -> SimBlock {
        let mut block = SimBlock { height, round, proposer, payload, check: 0, time_unix_ms };
        block.check = block.expected_check();
        block
    }

    /// Returns whether the application accepts the block at `height`.
    pub fn is_valid_at(&self, height: Height) -> bool {
        self.height == height && self.check == self.expected_check()
    }

    fn expected_check(&self) -> u64 {
        let fields = (self.height, self.round, self.proposer, self.payload, self.time_unix_ms);
        let digest = blake3::hash(&encoding::encode(&fields));
        u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("a digest has 32 bytes"))
    }
}

impl Value for SimBlock {
    /// The encoding is 44 bytes.
    const BYTES_MAX: usize = 64;

    fn block_hash(&self) -> BlockHash {
        BlockHash(*blake3::hash(&encoding::encode(self)).as_bytes())
    }

    fn time_unix_ms(&self) -> u64 {
        self.time_unix_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_validity_checks_height_and_word() {
        let block = SimBlock::new(Height(3), 1, 2, 99, 1_000);
        assert!(block.is_valid_at(Height(3)));
        assert!(!block.is_valid_at(Height(4)));
        let forged = SimBlock { payload: 100, ..block.clone() };
        assert!(!forged.is_valid_at(Height(3)));
        assert!(encoding::encode(&block).len() <= SimBlock::BYTES_MAX);
    }
}
