//! The simulator's application: small blocks with staking operations and evidence,
//! whose validity the simulator decides.

use serde::{Deserialize, Serialize};
use vouch_consensus::staking::StakingOperation;
use vouch_consensus::{Equivocation, Value};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::encoding;

/// Maximum staking operations in a simulated block.
pub const OPERATIONS_PER_BLOCK_MAX: usize = 2;

/// Maximum pieces of evidence in a simulated block, the `evidence_per_block_max` of the
/// simulated chain.
pub const EVIDENCE_PER_BLOCK_MAX: usize = 8;

/// A block of the simulated chain: who built it where, a payload word, staking
/// operations and evidence. A block is valid at a height when it names that height and
/// its check word matches the other fields; Byzantine proposers build blocks whose
/// check word does not. The host also checks the evidence against its stake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimBlock {
    pub height: Height,
    pub round: u32,
    pub proposer: u32,
    pub payload: u64,
    pub check: u64,
    pub time_unix_ms: u64,
    pub operations: Vec<StakingOperation>,
    pub evidence: Vec<Equivocation>,
}

/// The contents of a block beside its position: payload, operations and evidence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contents {
    pub payload: u64,
    pub operations: Vec<StakingOperation>,
    pub evidence: Vec<Equivocation>,
}

impl SimBlock {
    /// Builds a valid block.
    pub fn new(height: Height, round: u32, proposer: u32, time_unix_ms: u64, contents: Contents) -> SimBlock {
        let Contents { payload, operations, evidence } = contents;
        let mut block = SimBlock { height, round, proposer, payload, check: 0, time_unix_ms, operations, evidence };
        block.check = block.expected_check();
        block
    }

    /// Returns whether the block is well formed for `height`: its height, check word and
    /// counts. The evidence itself is checked against the host's stake.
    pub fn is_valid_at(&self, height: Height) -> bool {
        self.height == height
            && self.check == self.expected_check()
            && self.operations.len() <= OPERATIONS_PER_BLOCK_MAX
            && self.evidence.len() <= EVIDENCE_PER_BLOCK_MAX
    }

    /// Returns the block's contents, to build a variant of it.
    pub fn contents(&self) -> Contents {
        Contents { payload: self.payload, operations: self.operations.clone(), evidence: self.evidence.clone() }
    }

    fn expected_check(&self) -> u64 {
        let fields = (self.height, self.round, self.proposer, self.payload, self.time_unix_ms);
        let digest = blake3::hash(&encoding::encode(&(fields, &self.operations, &self.evidence)));
        u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("a digest has 32 bytes"))
    }
}

impl Value for SimBlock {
    /// A block with the most operations and evidence encodes to about 2,300 bytes; the
    /// test below checks the bound.
    const BYTES_MAX: usize = 3_072;

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

    use vouch_consensus::{Vote, VoteKind};
    use vouch_protocol::keys::SigningKey;
    use vouch_protocol::signing::ChainId;

    fn full_block() -> SimBlock {
        let key = SigningKey::from_seed(&[1; 32]);
        let chain_id = ChainId::new("vouch-sim").unwrap();
        let vote = |block_hash| {
            let vote = Vote {
                kind: VoteKind::Precommit,
                height: Height(u64::MAX),
                round: u32::MAX,
                block_hash,
                time_unix_ms: u64::MAX,
                validator_index: u32::MAX,
            };
            vote.sign(&key, &chain_id)
        };
        let evidence = Equivocation { first: vote(Some(BlockHash([1; 32]))), second: vote(Some(BlockHash([2; 32]))) };
        let operation = StakingOperation::CreateValidator { public_key: key.public_key(), self_bond: u64::MAX };
        let contents = Contents {
            payload: u64::MAX,
            operations: vec![operation; OPERATIONS_PER_BLOCK_MAX],
            evidence: vec![evidence; EVIDENCE_PER_BLOCK_MAX],
        };
        SimBlock::new(Height(u64::MAX), u32::MAX, u32::MAX, u64::MAX, contents)
    }

    #[test]
    fn block_validity_checks_height_and_word() {
        let block = SimBlock::new(Height(3), 1, 2, 1_000, Contents { payload: 99, ..Contents::default() });
        assert!(block.is_valid_at(Height(3)));
        assert!(!block.is_valid_at(Height(4)));
        let forged = SimBlock { payload: 100, ..block.clone() };
        assert!(!forged.is_valid_at(Height(3)));
        let stripped = SimBlock { evidence: full_block().evidence, ..block.clone() };
        assert!(!stripped.is_valid_at(Height(3)), "the check word covers the evidence");
    }

    #[test]
    fn full_block_fits_bytes_max() {
        let block = full_block();
        assert!(block.is_valid_at(Height(u64::MAX)));
        let size = encoding::encode(&block).len();
        assert!(size <= SimBlock::BYTES_MAX, "{size} bytes");
        let mut over = block.contents();
        over.evidence.push(over.evidence[0]);
        let over = SimBlock::new(Height(1), 0, 0, 1, over);
        assert!(!over.is_valid_at(Height(1)), "one piece of evidence over the limit");
        let mut over = block.contents();
        over.operations.push(over.operations[0]);
        let over = SimBlock::new(Height(1), 0, 0, 1, over);
        assert!(!over.is_valid_at(Height(1)), "one operation over the limit");
    }
}
