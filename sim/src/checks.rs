//! The properties checked on every run: agreement, validity, certificates, no double
//! signing by honest validators, and liveness after the faults stop.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use vouch_consensus::{CommitCertificate, Equivocation, SignedStep, Step, ValidatorSet, Value, VoteKind};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::encoding;
use vouch_protocol::keys::Signature;
use vouch_protocol::signing::ChainId;

use crate::packet::{Message, Packet};
use crate::value::SimBlock;

/// A property that a run broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Two honest validators committed different blocks at one height.
    Agreement { height: Height, validator: usize, block_hash: BlockHash, other: BlockHash },
    /// An honest validator committed a block that is invalid or that no validator proposed.
    Validity { height: Height, validator: usize, block_hash: BlockHash, reason: &'static str },
    /// An honest validator committed a block whose certificate does not prove it.
    Certificate { height: Height, validator: usize, reason: String },
    /// An honest validator signed two different messages at one position.
    DoubleSign { validator: usize, position: SignedStep },
    /// A crashed validator failed to start again from its storage.
    Restart { validator: usize, reason: String },
    /// An honest validator did not commit in time after the faults stopped.
    Liveness { validator: usize, reason: String },
    /// The run used up its event budget.
    EventBudget { events: u64 },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Agreement { height, validator, block_hash, other } => {
                write!(
                    f,
                    "agreement: validator {validator} committed {block_hash} at height {height}, another honest validator {other}"
                )
            }
            Failure::Validity { height, validator, block_hash, reason } => {
                write!(f, "validity: validator {validator} committed {block_hash} at height {height}, which {reason}")
            }
            Failure::Certificate { height, validator, reason } => {
                write!(
                    f,
                    "certificate: validator {validator} committed height {height} with a certificate that {reason}"
                )
            }
            Failure::DoubleSign { validator, position } => {
                write!(f, "double sign: honest validator {validator} signed two different messages at {position}")
            }
            Failure::Restart { validator, reason } => {
                write!(f, "restart: validator {validator} failed to start from its storage: {reason}")
            }
            Failure::Liveness { validator, reason } => write!(f, "liveness: validator {validator} {reason}"),
            Failure::EventBudget { events } => {
                write!(f, "the run used its budget of {events} events without finishing")
            }
        }
    }
}

/// The state of the checks during a run.
#[derive(Debug)]
pub struct Checker {
    chain_id: ChainId,
    honest: Vec<bool>,
    /// The block that honest validators committed at each height.
    committed: BTreeMap<Height, BlockHash>,
    /// Blocks that some validator proposed.
    proposed: BTreeSet<BlockHash>,
    /// The signature of each honest validator at each position it signed.
    signed: BTreeMap<(usize, SignedStep), Signature>,
    /// Hashes of certificates that verified, so each is checked once.
    verified: BTreeSet<[u8; 32]>,
    pub failures: Vec<Failure>,
    /// Signature checks the checker made.
    pub signature_checks: u64,
}

impl Checker {
    /// Starts the checks. `honest[i]` is whether validator `i` is honest.
    pub fn new(chain_id: ChainId, honest: Vec<bool>) -> Checker {
        Checker {
            chain_id,
            honest,
            committed: BTreeMap::new(),
            proposed: BTreeSet::new(),
            signed: BTreeMap::new(),
            verified: BTreeSet::new(),
            failures: Vec::new(),
            signature_checks: 0,
        }
    }

    /// Returns whether a safety property failed, after which the run stops.
    pub fn safety_failed(&self) -> bool {
        self.failures.iter().any(|failure| !matches!(failure, Failure::Liveness { .. } | Failure::EventBudget { .. }))
    }

    /// Returns the committed block hash of every height, in height order.
    pub fn committed(&self) -> Vec<BlockHash> {
        self.committed.values().copied().collect()
    }

    /// Notes a packet that validator `from` sent: the proposed blocks, and every signed
    /// message of an honest validator.
    pub fn on_send(&mut self, from: usize, packet: &Packet) {
        let Ok(message) = packet.decode() else {
            return;
        };
        let (position, signature) = match message {
            Message::Proposal(signed) => {
                self.proposed.insert(signed.proposal.value.block_hash());
                let position =
                    SignedStep { height: signed.proposal.height, round: signed.proposal.round, step: Step::Propose };
                (position, signed.signature)
            }
            Message::Vote(signed) => {
                let step = if signed.vote.kind == VoteKind::Prevote { Step::Prevote } else { Step::Precommit };
                (SignedStep { height: signed.vote.height, round: signed.vote.round, step }, signed.signature)
            }
            _ => return,
        };
        if self.honest[from] {
            self.note_signature(from, position, signature);
        }
    }

    /// Records an honest validator's signature. Signatures are deterministic and the
    /// simulated clock is fixed, so two different signatures at one position are two
    /// different messages.
    pub fn note_signature(&mut self, validator: usize, position: SignedStep, signature: Signature) {
        let earlier = self.signed.insert((validator, position), signature);
        if earlier.is_some_and(|earlier| earlier != signature) {
            self.failures.push(Failure::DoubleSign { validator, position });
        }
    }

    /// Checks evidence that a core reported: it must name a Byzantine validator.
    pub fn on_evidence(&mut self, evidence: &Equivocation) {
        let vote = evidence.first.vote;
        let validator = vote.validator_index as usize;
        if self.honest.get(validator).copied().unwrap_or(false) {
            let step = if vote.kind == VoteKind::Prevote { Step::Prevote } else { Step::Precommit };
            let position = SignedStep { height: vote.height, round: vote.round, step };
            self.failures.push(Failure::DoubleSign { validator, position });
        }
    }

    /// Checks a block that an honest validator committed at `height`, with the set of
    /// that height.
    pub fn on_commit(
        &mut self,
        validator: usize,
        height: Height,
        value: &SimBlock,
        certificate: &CommitCertificate,
        set: &ValidatorSet,
    ) {
        let block_hash = value.block_hash();
        match self.committed.get(&height) {
            Some(other) if *other != block_hash => {
                self.failures.push(Failure::Agreement { height, validator, block_hash, other: *other });
            }
            Some(_) => {}
            None => {
                self.committed.insert(height, block_hash);
            }
        }
        if !value.is_valid_at(height) {
            self.failures.push(Failure::Validity { height, validator, block_hash, reason: "is invalid" });
        } else if !self.proposed.contains(&block_hash) {
            self.failures.push(Failure::Validity { height, validator, block_hash, reason: "no validator proposed" });
        }
        if let Err(reason) = self.check_certificate(height, block_hash, certificate, set) {
            self.failures.push(Failure::Certificate { height, validator, reason });
        }
    }

    fn check_certificate(
        &mut self,
        height: Height,
        block_hash: BlockHash,
        certificate: &CommitCertificate,
        set: &ValidatorSet,
    ) -> Result<(), String> {
        if certificate.height != height || certificate.block_hash != block_hash {
            return Err(format!("is for height {} block {}", certificate.height, certificate.block_hash));
        }
        let digest = *blake3::hash(&encoding::encode(certificate)).as_bytes();
        if self.verified.contains(&digest) {
            return Ok(());
        }
        self.signature_checks += certificate.precommits.len() as u64;
        certificate.verify(&self.chain_id, set).map_err(|error| format!("does not verify: {error}"))?;
        self.verified.insert(digest);
        Ok(())
    }

    /// Checks that validator `validator`, which committed at the virtual times
    /// `commit_times_ms`, committed its first height after `stable_from_ms` within
    /// `bound_ms` of it and each later one within `bound_ms` of the one before, and that
    /// it reached `heights` heights.
    pub fn check_liveness(
        &mut self,
        validator: usize,
        commit_times_ms: &[u64],
        stable_from_ms: u64,
        bound_ms: u64,
        heights: u64,
    ) {
        let mut previous = stable_from_ms;
        for &time in commit_times_ms.iter().filter(|time| **time > stable_from_ms) {
            if time - previous > bound_ms {
                let reason = format!(
                    "waited {} ms for a commit from {previous} ms, over the bound of {bound_ms} ms",
                    time - previous
                );
                self.failures.push(Failure::Liveness { validator, reason });
                return;
            }
            previous = time;
        }
        if (commit_times_ms.len() as u64) < heights {
            let reason = format!(
                "committed {} of {heights} heights; its last commit was at {previous} ms",
                commit_times_ms.len()
            );
            self.failures.push(Failure::Liveness { validator, reason });
        }
    }
}

#[cfg(test)]
mod tests {
    use vouch_consensus::{Validator, VotingPower};
    use vouch_protocol::keys::SigningKey;

    use super::*;

    fn checker() -> Checker {
        Checker::new(ChainId::new("vouch-sim").unwrap(), vec![true, true, true, false])
    }

    fn position(round: u32) -> SignedStep {
        SignedStep { height: Height(2), round, step: Step::Prevote }
    }

    #[test]
    fn second_signature_at_position_is_double_sign() {
        let mut checker = checker();
        checker.note_signature(1, position(0), Signature::from_bytes([1; 64]));
        checker.note_signature(1, position(0), Signature::from_bytes([1; 64]));
        checker.note_signature(1, position(1), Signature::from_bytes([2; 64]));
        assert_eq!(checker.failures, Vec::new());
        checker.note_signature(1, position(1), Signature::from_bytes([3; 64]));
        assert_eq!(checker.failures, vec![Failure::DoubleSign { validator: 1, position: position(1) }]);
        assert!(checker.safety_failed());
    }

    #[test]
    fn different_commits_break_agreement() {
        let mut checker = checker();
        let key = SigningKey::from_seed(&[1; 32]);
        let set =
            ValidatorSet::new(vec![Validator { public_key: key.public_key(), voting_power: VotingPower(1) }]).unwrap();
        let first = SimBlock::new(Height(1), 0, 0, 1, 5);
        let second = SimBlock::new(Height(1), 0, 0, 2, 5);
        let empty = |value: &SimBlock| CommitCertificate {
            height: Height(1),
            round: 0,
            block_hash: value.block_hash(),
            precommits: Vec::new(),
        };
        checker.on_commit(0, Height(1), &first, &empty(&first), &set);
        checker.on_commit(1, Height(1), &second, &empty(&second), &set);
        assert!(checker.failures.iter().any(|failure| matches!(failure, Failure::Agreement { validator: 1, .. })));
        assert!(
            checker
                .failures
                .iter()
                .any(|failure| matches!(failure, Failure::Validity { reason: "no validator proposed", .. }))
        );
        assert!(checker.failures.iter().any(|failure| matches!(failure, Failure::Certificate { .. })));
    }

    #[test]
    fn slow_commit_after_faults_breaks_liveness() {
        let mut checker = checker();
        checker.check_liveness(0, &[100, 5_000, 5_900, 6_800], 5_000, 1_000, 4);
        assert_eq!(checker.failures, Vec::new());
        checker.check_liveness(1, &[100, 6_500], 5_000, 1_000, 2);
        assert!(matches!(checker.failures.as_slice(), [Failure::Liveness { validator: 1, .. }]));
        checker.check_liveness(2, &[100], 0, 1_000, 2);
        assert_eq!(checker.failures.len(), 2);
        assert!(!checker.safety_failed());
    }
}
