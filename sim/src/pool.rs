//! A validator's pool of evidence: offences it detected or received, kept until a
//! committed block carries them or they expire, and offered to each block it builds.
//!
//! The pool survives crashes, like the committed chain: a node stores evidence
//! durably before it sends it, so a detected offence is never lost with the process.

use vouch_consensus::staking::{BlockPosition, Staking};
use vouch_consensus::{Equivocation, EvidenceError, EvidenceKey, verify_equivocation};
use vouch_protocol::chain::Height;
use vouch_protocol::signing::ChainId;

use crate::packet::Packet;
use crate::value::EVIDENCE_PER_BLOCK_MAX;

/// Maximum pieces of evidence in a pool; later ones are dropped until blocks take some.
pub const EVIDENCE_POOL_MAX: usize = 256;

/// The pending evidence of one validator, oldest first.
#[derive(Clone, Debug, Default)]
pub struct EvidencePool {
    pending: Vec<(EvidenceKey, Equivocation)>,
}

impl EvidencePool {
    /// Adds `evidence` if it proves an offence that is new to the pool, not committed,
    /// and not expired, and returns the offence. `in_progress` is the height that the
    /// validator is deciding.
    pub fn admit(
        &mut self,
        evidence: Equivocation,
        chain_id: &ChainId,
        staking: &Staking,
        in_progress: Height,
    ) -> Option<EvidenceKey> {
        let height = evidence.first.vote.height;
        let members = staking.members_at(height)?;
        let key = verify_equivocation(&evidence, chain_id, members).ok()?.key;
        if self.pending.len() >= EVIDENCE_POOL_MAX || self.pending.iter().any(|(pending, _)| *pending == key) {
            return None;
        }
        if staking.committed_at(&key).is_some() {
            return None;
        }
        if height < in_progress && !still_includable(staking, &evidence) {
            return None;
        }
        self.pending.push((key, evidence));
        Some(key)
    }

    /// Returns the evidence for the block at `at`: the oldest pieces that are valid in
    /// it, up to the block's limit.
    pub fn for_block(&self, staking: &Staking, at: BlockPosition) -> Vec<Equivocation> {
        self.pending
            .iter()
            .filter(|(_, evidence)| staking.check_evidence(evidence, at).is_ok())
            .map(|(_, evidence)| *evidence)
            .take(EVIDENCE_PER_BLOCK_MAX)
            .collect()
    }

    /// Drops evidence that a committed block carried or that expired.
    pub fn prune(&mut self, staking: &Staking) {
        self.pending.retain(|(_, evidence)| still_includable(staking, evidence));
    }

    /// Returns a packet for each piece of evidence, to send to every peer.
    pub fn packets(&self) -> impl Iterator<Item = Packet> + '_ {
        self.pending.iter().map(|(_, evidence)| Packet::evidence(evidence))
    }
}

/// Returns whether `evidence` can still go into a block after the last applied one: it
/// is valid there, or it is of a height that no block may carry yet.
fn still_includable(staking: &Staking, evidence: &Equivocation) -> bool {
    let last = staking.last_block();
    let next = BlockPosition { height: Height(last.height.0 + 1), time_unix_ms: last.time_unix_ms + 1 };
    match staking.check_evidence(evidence, next) {
        Ok(_) | Err(EvidenceError::NotCommittedYet { .. }) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use vouch_consensus::staking::{GenesisValidator, StakingParams};
    use vouch_consensus::{Vote, VoteKind};
    use vouch_protocol::chain::BlockHash;
    use vouch_protocol::keys::SigningKey;

    use super::*;
    use crate::config::SimConfig;

    fn chain() -> ChainId {
        ChainId::new("vouch-sim").unwrap()
    }

    fn staking() -> Staking {
        let validators: Vec<GenesisValidator> = (1..=4)
            .map(|seed| GenesisValidator {
                public_key: SigningKey::from_seed(&[seed; 32]).public_key(),
                self_bond: 1_000,
            })
            .collect();
        let params = StakingParams { validators_max: 4, ..SimConfig::default().staking_params(false) };
        Staking::genesis(params, chain(), 1_000, &validators).unwrap()
    }

    /// Builds two conflicting prevotes at height 1 signed by the key of `seed`, naming
    /// its index in the set, or index 0 for a key outside the set.
    fn double_vote(staking: &Staking, seed: u8, round: u32) -> Equivocation {
        let key = SigningKey::from_seed(&[seed; 32]);
        let members = staking.members_at(Height(1)).unwrap();
        let index = members.iter().position(|member| member.public_key == key.public_key()).unwrap_or(0);
        let vote = |block_hash| {
            let vote = Vote {
                kind: VoteKind::Prevote,
                height: Height(1),
                round,
                block_hash,
                time_unix_ms: 1_001,
                validator_index: index as u32,
            };
            vote.sign(&key, &chain())
        };
        Equivocation { first: vote(Some(BlockHash([1; 32]))), second: vote(None) }
    }

    #[test]
    fn pool_admits_each_offence_once() {
        let staking = staking();
        let mut pool = EvidencePool::default();
        let evidence = double_vote(&staking, 2, 0);
        assert!(pool.admit(evidence, &chain(), &staking, Height(1)).is_some());
        assert_eq!(pool.admit(evidence, &chain(), &staking, Height(1)), None, "the same offence again");
        let forged = double_vote(&staking, 9, 0);
        assert_eq!(pool.admit(forged, &chain(), &staking, Height(1)), None, "signed by a key outside the set");
        assert_eq!(pool.packets().count(), 1);
    }

    #[test]
    fn pool_offers_evidence_after_its_height() {
        let mut staking = staking();
        let mut pool = EvidencePool::default();
        let evidence = double_vote(&staking, 3, 0);
        pool.admit(evidence, &chain(), &staking, Height(1));
        let block_1 = BlockPosition { height: Height(1), time_unix_ms: 1_000 };
        assert_eq!(pool.for_block(&staking, block_1), Vec::new(), "evidence of height 1 waits for block 2");

        staking.apply_block(block_1, &[], &[]).unwrap();
        let block_2 = BlockPosition { height: Height(2), time_unix_ms: 1_001 };
        assert_eq!(pool.for_block(&staking, block_2), vec![evidence]);
        staking.apply_block(block_2, &[evidence], &[]).unwrap();
        pool.prune(&staking);
        assert_eq!(pool.packets().count(), 0, "committed evidence leaves the pool");
    }

    #[test]
    fn pool_stops_at_its_limit() {
        let staking = staking();
        let mut pool = EvidencePool::default();
        for round in 0..EVIDENCE_POOL_MAX as u32 {
            assert!(pool.admit(double_vote(&staking, 1, round), &chain(), &staking, Height(1)).is_some());
        }
        let over = double_vote(&staking, 1, EVIDENCE_POOL_MAX as u32);
        assert_eq!(pool.admit(over, &chain(), &staking, Height(1)), None);
        let block_2 = BlockPosition { height: Height(2), time_unix_ms: 1_001 };
        let mut applied = staking.clone();
        applied.apply_block(BlockPosition { height: Height(1), time_unix_ms: 1_000 }, &[], &[]).unwrap();
        assert_eq!(pool.for_block(&applied, block_2).len(), EVIDENCE_PER_BLOCK_MAX);
    }
}
