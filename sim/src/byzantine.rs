//! Byzantine validators: they run a correct core to follow the rounds, and the
//! simulator rewrites what they send. A minority misbehaves at random per message
//! (equivocating proposals, double votes, withheld votes, malformed bytes and bad
//! signatures). A split-brain coalition shows two halves of the honest validators two
//! different values, which breaks agreement once it has 1/3 of the power.

use std::collections::BTreeMap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use vouch_consensus::{Proposal, SignedProposal, SignedVote, Value};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::keys::{Signature, SigningKey};
use vouch_protocol::signing::ChainId;

use crate::config::Adversary;
use crate::packet::{Message, Packet};
use crate::value::SimBlock;

/// Counts of what Byzantine validators did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Misbehaviour {
    pub withheld: u64,
    pub equivocations: u64,
    pub malformed: u64,
}

/// The Byzantine validators of a run and their shared plan.
#[derive(Debug)]
pub struct Byzantine {
    mode: Adversary,
    chain_id: ChainId,
    /// For the split brain: the side of each honest validator.
    side: Vec<bool>,
    /// For the split brain: the two values shown at each (height, round).
    plan: BTreeMap<(Height, u32), (BlockHash, BlockHash)>,
    pub counts: Misbehaviour,
}

impl Byzantine {
    /// Builds the plan. `honest[i]` is whether validator `i` is honest.
    pub fn new(mode: Adversary, chain_id: ChainId, honest: &[bool]) -> Byzantine {
        let mut side = vec![false; honest.len()];
        let honest_indexes = honest.iter().enumerate().filter(|(_, honest)| **honest).map(|(index, _)| index);
        for (position, index) in honest_indexes.enumerate() {
            side[index] = position % 2 == 0;
        }
        Byzantine { mode, chain_id, side, plan: BTreeMap::new(), counts: Misbehaviour::default() }
    }

    /// Returns what validator `from`, holding `key`, sends in place of broadcasting
    /// `packet` to the `validators` validators: (recipient, packet) pairs.
    pub fn rewrite(
        &mut self,
        rng: &mut ChaCha8Rng,
        from: usize,
        key: &SigningKey,
        packet: Packet,
        validators: usize,
    ) -> Vec<(usize, Packet)> {
        let peers: Vec<usize> = (0..validators).filter(|peer| *peer != from).collect();
        match self.mode {
            Adversary::Minority => self.rewrite_at_random(rng, key, packet, &peers),
            Adversary::SplitBrain { .. } => self.split(key, packet, &peers),
        }
    }

    fn rewrite_at_random(
        &mut self,
        rng: &mut ChaCha8Rng,
        key: &SigningKey,
        packet: Packet,
        peers: &[usize],
    ) -> Vec<(usize, Packet)> {
        let to_all = |packet: &Packet| peers.iter().map(|peer| (*peer, packet.clone())).collect::<Vec<_>>();
        match rng.random_range(0..10u32) {
            0..=3 => to_all(&packet),
            4..=5 => {
                self.counts.withheld += 1;
                Vec::new()
            }
            6..=7 => {
                let Some(conflicting) = self.conflicting(rng, key, &packet) else {
                    return to_all(&packet);
                };
                self.counts.equivocations += 1;
                peers
                    .iter()
                    .map(|peer| (*peer, if rng.random_bool(0.5) { packet.clone() } else { conflicting.clone() }))
                    .collect()
            }
            _ => {
                self.counts.malformed += 1;
                let mut sent = to_all(&packet);
                sent.extend(peers.iter().map(|peer| (*peer, malformed(rng, key, &self.chain_id, &packet))));
                sent
            }
        }
    }

    /// Returns a message that conflicts with `packet`, signed by `key`: another value in
    /// a proposal, or another block hash in a vote.
    fn conflicting(&self, rng: &mut ChaCha8Rng, key: &SigningKey, packet: &Packet) -> Option<Packet> {
        match packet.decode().ok()? {
            Message::Proposal(signed) => {
                let value = other_value(&signed.proposal.value, rng.random());
                Some(Packet::proposal(&resign_proposal(&signed, value, key, &self.chain_id)))
            }
            Message::Vote(signed) => {
                let block_hash = match signed.vote.block_hash {
                    Some(_) => None,
                    None => Some(BlockHash(rng.random())),
                };
                Some(Packet::vote(&resign_vote(&signed, block_hash, key, &self.chain_id)))
            }
            _ => None,
        }
    }

    /// Shows one value to each side of the honest validators at the rounds that a
    /// coalition member proposes, and votes for each side's value on that side.
    fn split(&mut self, key: &SigningKey, packet: Packet, peers: &[usize]) -> Vec<(usize, Packet)> {
        let Ok(message) = packet.decode() else {
            return peers.iter().map(|peer| (*peer, packet.clone())).collect();
        };
        let (left, right) = match message {
            Message::Proposal(signed) => {
                let other = other_value(&signed.proposal.value, 0x5eed);
                let key_round = (signed.proposal.height, signed.proposal.round);
                self.plan.insert(key_round, (signed.proposal.value.block_hash(), other.block_hash()));
                self.counts.equivocations += 1;
                (packet, Packet::proposal(&resign_proposal(&signed, other, key, &self.chain_id)))
            }
            Message::Vote(signed) => match self.plan.get(&(signed.vote.height, signed.vote.round)) {
                Some((left, right)) => {
                    self.counts.equivocations += 1;
                    let left = Packet::vote(&resign_vote(&signed, Some(*left), key, &self.chain_id));
                    (left, Packet::vote(&resign_vote(&signed, Some(*right), key, &self.chain_id)))
                }
                None => (packet.clone(), packet),
            },
            _ => (packet.clone(), packet),
        };
        peers.iter().map(|peer| (*peer, if self.side[*peer] { left.clone() } else { right.clone() })).collect()
    }
}

/// Returns a valid block for the same height and round with another payload.
fn other_value(value: &SimBlock, salt: u64) -> SimBlock {
    let mut contents = value.contents();
    contents.payload ^= salt.max(1);
    SimBlock::new(value.height, value.round, value.proposer, value.time_unix_ms, contents)
}

fn resign_proposal(
    signed: &SignedProposal<SimBlock>,
    value: SimBlock,
    key: &SigningKey,
    chain_id: &ChainId,
) -> SignedProposal<SimBlock> {
    let proposal = Proposal { value, ..signed.proposal.clone() };
    proposal.sign(key, chain_id)
}

fn resign_vote(signed: &SignedVote, block_hash: Option<BlockHash>, key: &SigningKey, chain_id: &ChainId) -> SignedVote {
    let mut vote = signed.vote;
    vote.block_hash = block_hash;
    vote.sign(key, chain_id)
}

/// Returns a malformed variant of `packet`: bytes that do not decode, a message with a
/// broken signature, or a signed proposal of an invalid block.
fn malformed(rng: &mut ChaCha8Rng, key: &SigningKey, chain_id: &ChainId, packet: &Packet) -> Packet {
    let garbage =
        |rng: &mut ChaCha8Rng| (0..rng.random_range(0..200usize)).map(|_| rng.random::<u8>()).collect::<Vec<u8>>();
    match (rng.random_range(0..4u32), packet.decode()) {
        (0, _) => Packet::Vote(garbage(rng)),
        (1, _) => Packet::Proposal(garbage(rng)),
        (2, Ok(Message::Vote(mut signed))) => {
            let mut bytes = signed.signature.to_bytes();
            bytes[rng.random_range(0..bytes.len())] ^= 1 << rng.random_range(0..8u32);
            signed.signature = Signature::from_bytes(bytes);
            Packet::vote(&signed)
        }
        (_, Ok(Message::Proposal(signed))) => {
            let mut value = signed.proposal.value.clone();
            value.check ^= 1;
            Packet::proposal(&resign_proposal(&signed, value, key, chain_id))
        }
        (_, _) => match packet {
            Packet::Vote(bytes) | Packet::Proposal(bytes) | Packet::Commit(bytes) | Packet::Evidence(bytes) => {
                Packet::Commit(bytes[..bytes.len() / 2].to_vec())
            }
            Packet::Status { .. } => Packet::Commit(garbage(rng)),
        },
    }
}
