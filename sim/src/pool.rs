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
