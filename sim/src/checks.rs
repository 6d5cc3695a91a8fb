//! The properties checked on every run: agreement, validity, certificates, no double
//! signing by honest validators, and liveness after the faults stop. For stake, honest
//! validators must agree on every set, every detected offence must be committed within
//! the evidence bound, only Byzantine validators may be slashed, and a jailed validator
//! must leave the set.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use vouch_consensus::{CommitCertificate, EvidenceKey, SignedStep, Step, ValidatorSet, Value, VoteKind};
use vouch_protocol::chain::{BlockHash, Height};
use vouch_protocol::encoding;
use vouch_protocol::keys::{PublicKey, Signature};
use vouch_protocol::signing::ChainId;

use crate::node::CommitReport;
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
    /// An honest validator decided a block that its stake rejects.
    InvalidBlock { height: Height, validator: usize, reason: String },
    /// Two honest validators computed different validator sets for one height.
    SetDisagreement { height: Height, validator: usize },
    /// A committed block slashed an honest validator.
    HonestSlashed { height: Height, validator: usize },
    /// A validator jailed by a block is still in the set two heights later.
    JailedInSet { height: Height, validator: usize },
    /// A detected offence was not committed within the evidence bound.
    EvidenceLate { offence: EvidenceKey, reason: String },
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
            Failure::InvalidBlock { height, validator, reason } => {
                write!(
                    f,
                    "stake: validator {validator} decided a block at height {height} that breaks the staking rules: {reason}"
                )
            }
            Failure::SetDisagreement { height, validator } => {
                write!(
                    f,
                    "stake: validator {validator} computed another validator set for height {height} than an earlier honest validator"
                )
            }
            Failure::HonestSlashed { height, validator } => {
                write!(f, "stake: the block at height {height} slashed honest validator {validator}")
            }
            Failure::JailedInSet { height, validator } => {
                write!(f, "stake: validator {validator}, jailed at height {height}, is in the set two heights later")
            }
            Failure::EvidenceLate { offence, reason } => write!(f, "evidence: offence {offence} {reason}"),
        }
    }
}

/// Counts of the stake changes that committed blocks made, once per height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StakeCounts {
    /// Offences committed in blocks.
    pub evidence: u64,
    /// The maximum number of heights between an offence and the block that committed
    /// it, to compare with the evidence age of the simulated chain.
    pub evidence_age_heights_max: u64,
    /// Offences that slashed and jailed a validator.
    pub slashes: u64,
    /// Stake removed by slashes.
    pub slashed_stake: u64,
    /// Staking operations applied and rejected.
    pub operations_applied: u64,
    pub operations_rejected: u64,
    /// Heights whose validator set differs from the one before, and validators that
    /// joined or left at them.
    pub set_changes: u64,
    pub joined: u64,
    pub left: u64,
    /// Stake released from unbonding.
    pub released_stake: u64,
}

impl StakeCounts {
    /// Adds the counts of another run.
    pub fn add(&mut self, other: &StakeCounts) {
        self.evidence += other.evidence;
        self.evidence_age_heights_max = self.evidence_age_heights_max.max(other.evidence_age_heights_max);
        self.slashes += other.slashes;
        self.slashed_stake += other.slashed_stake;
        self.operations_applied += other.operations_applied;
        self.operations_rejected += other.operations_rejected;
        self.set_changes += other.set_changes;
        self.joined += other.joined;
        self.left += other.left;
        self.released_stake += other.released_stake;
    }
}

/// The state of the checks during a run.
#[derive(Debug)]
pub struct Checker {
    chain_id: ChainId,
    honest: Vec<bool>,
    /// The public key of each node, to name the validators of sets and evidence.
    keys: Vec<PublicKey>,
    /// The hash of the validator set that honest validators computed for each height.
    sets: BTreeMap<Height, [u8; 32]>,
    /// The virtual time at which an honest validator first detected each offence.
    detected: BTreeMap<EvidenceKey, u64>,
    /// The virtual time of the first honest commit of each offence.
    evidence_committed: BTreeMap<EvidenceKey, u64>,
    pub stake: StakeCounts,
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
    /// Starts the checks. `honest[i]` is whether node `i` is honest, and `keys[i]` its
    /// public key.
    pub fn new(chain_id: ChainId, honest: Vec<bool>, keys: Vec<PublicKey>) -> Checker {
        Checker {
            chain_id,
            honest,
            keys,
            sets: BTreeMap::new(),
            detected: BTreeMap::new(),
            evidence_committed: BTreeMap::new(),
            stake: StakeCounts::default(),
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
        let liveness = |failure: &Failure| {
            matches!(failure, Failure::Liveness { .. } | Failure::EventBudget { .. } | Failure::EvidenceLate { .. })
        };
        self.failures.iter().any(|failure| !liveness(failure))
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

    /// Notes an offence that an honest validator detected at `now_ms`: the culprit must
    /// not be honest, and the offence must be committed in time.
    pub fn on_evidence(&mut self, offence: EvidenceKey, culprit: &PublicKey, now_ms: u64) {
        self.detected.entry(offence).or_insert(now_ms);
        let Some(node) = self.node_of(culprit) else {
            return;
        };
        if self.honest[node] {
            let step = if offence.kind == VoteKind::Prevote { Step::Prevote } else { Step::Precommit };
            let position = SignedStep { height: offence.height, round: offence.round, step };
            self.failures.push(Failure::DoubleSign { validator: node, position });
        }
    }

    fn node_of(&self, public_key: &PublicKey) -> Option<usize> {
        self.keys.iter().position(|key| key == public_key)
    }

    /// Checks what a committed block did to the stake of honest validator `validator`:
    /// the sets it computed, its slashes, and the jailed validators' removal.
    pub fn on_stake(&mut self, validator: usize, report: &CommitReport, now_ms: u64) {
        let height = report.height;
        let first = !self.sets.contains_key(&Height(height.0 + 2));
        self.check_set(validator, height, &report.set);
        self.check_set(validator, Height(height.0 + 2), &report.fixed_set);

        for slash in &report.outcome.slashes {
            self.evidence_committed.entry(slash.offence).or_insert(now_ms);
            let culprit = self.node_of(&slash.public_key);
            if let Some(culprit) = culprit.filter(|culprit| self.honest[*culprit]) {
                self.failures.push(Failure::HonestSlashed { height, validator: culprit });
            }
            if slash.jailed_until.is_some() && report.fixed_set.index_of(&slash.public_key).is_some() {
                self.failures.push(Failure::JailedInSet { height, validator: culprit.unwrap_or(usize::MAX) });
            }
        }
        if first {
            self.count(report);
        }
    }

    fn check_set(&mut self, validator: usize, height: Height, set: &ValidatorSet) {
        let digest = set_hash(set);
        match self.sets.get(&height) {
            Some(earlier) if *earlier != digest => {
                self.failures.push(Failure::SetDisagreement { height, validator });
            }
            Some(_) => {}
            None => {
                self.sets.insert(height, digest);
            }
        }
    }

    fn count(&mut self, report: &CommitReport) {
        let outcome = &report.outcome;
        let stake = &mut self.stake;
        stake.evidence += outcome.slashes.len() as u64;
        for slash in &outcome.slashes {
            let age = report.height.0.saturating_sub(slash.offence.height.0);
            stake.evidence_age_heights_max = stake.evidence_age_heights_max.max(age);
        }
        for slash in outcome.slashes.iter().filter(|slash| slash.jailed_until.is_some()) {
            stake.slashes += 1;
            stake.slashed_stake += slash.bonded + slash.unbonding;
        }
        let applied = outcome.operations.iter().filter(|result| result.is_ok()).count() as u64;
        stake.operations_applied += applied;
        stake.operations_rejected += outcome.operations.len() as u64 - applied;
        stake.released_stake += outcome.released.iter().map(|(_, amount)| amount).sum::<u64>();
        if let Some(change) = &outcome.set_change {
            stake.set_changes += 1;
            stake.joined += change.joined.len() as u64;
            stake.left += change.left.len() as u64;
        }
    }

    /// Returns the number of detected offences that no block committed yet.
    pub fn evidence_pending(&self) -> usize {
        self.detected.keys().filter(|offence| !self.evidence_committed.contains_key(offence)).count()
    }

    /// Checks that every detected offence was committed within `bound_ms` of the later
    /// of its detection and `stable_from_ms`.
    pub fn check_evidence(&mut self, stable_from_ms: u64, bound_ms: u64) {
        for (offence, detected_ms) in &self.detected {
            let from = (*detected_ms).max(stable_from_ms);
            let reason = match self.evidence_committed.get(offence) {
                None => format!("detected at {detected_ms} ms was never committed"),
                Some(committed) if committed.saturating_sub(from) > bound_ms => format!(
                    "detected at {detected_ms} ms was committed at {committed} ms, over the bound of {bound_ms} ms from {from} ms"
                ),
                Some(_) => continue,
            };
            self.failures.push(Failure::EvidenceLate { offence: *offence, reason });
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

/// Returns a hash of a set's validators, powers and proposer priorities.
pub fn set_hash(set: &ValidatorSet) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    for (validator, priority) in set.validators().iter().zip(set.priorities().as_slice()) {
        hasher.update(validator.public_key.as_bytes());
        hasher.update(&validator.voting_power.0.to_le_bytes());
        hasher.update(&priority.to_le_bytes());
    }
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use vouch_consensus::{Validator, VotingPower};
    use vouch_protocol::keys::SigningKey;

    use vouch_consensus::staking::{BlockOutcome, BlockPosition, Slash};

    use super::*;
    use crate::value::Contents;

    fn checker() -> Checker {
        let keys = (1..=4).map(|seed| SigningKey::from_seed(&[seed; 32]).public_key()).collect();
        Checker::new(ChainId::new("vouch-sim").unwrap(), vec![true, true, true, false], keys)
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
        let first = SimBlock::new(Height(1), 0, 0, 5, Contents { payload: 1, ..Contents::default() });
        let second = SimBlock::new(Height(1), 0, 0, 5, Contents { payload: 2, ..Contents::default() });
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

    fn key(seed: u8) -> PublicKey {
        SigningKey::from_seed(&[seed; 32]).public_key()
    }

    fn set_of(seeds: &[u8]) -> ValidatorSet {
        let validators = seeds.iter().map(|seed| Validator { public_key: key(*seed), voting_power: VotingPower(1) });
        ValidatorSet::new(validators.collect()).unwrap()
    }

    fn offence(seed: u8, height: u64) -> EvidenceKey {
        EvidenceKey { public_key: *key(seed).as_bytes(), height: Height(height), round: 0, kind: VoteKind::Precommit }
    }

    /// Builds a report of height 3 whose block slashed the validator of `culprit` and
    /// fixed the set of height 5 to `fixed`.
    fn report(culprit: u8, fixed: &[u8]) -> CommitReport {
        let value = SimBlock::new(Height(3), 0, 0, 5, Contents::default());
        let slash = Slash {
            offence: offence(culprit, 2),
            public_key: key(culprit),
            bonded: 50,
            unbonding: 0,
            jailed_until: Some(BlockPosition { height: Height(99), time_unix_ms: 0 }),
        };
        CommitReport {
            height: Height(3),
            certificate: CommitCertificate {
                height: Height(3),
                round: 0,
                block_hash: value.block_hash(),
                precommits: Vec::new(),
            },
            value,
            synced: false,
            latency_ms: 0,
            set: set_of(&[1, 2, 3, 4]),
            outcome: BlockOutcome {
                height: Height(3),
                slashes: vec![slash],
                operations: Vec::new(),
                released: Vec::new(),
                set_change: None,
            },
            fixed_set: set_of(fixed),
        }
    }

    #[test]
    fn byzantine_slash_passes_checks() {
        let mut checker = checker();
        checker.on_evidence(offence(4, 2), &key(4), 100);
        checker.on_stake(0, &report(4, &[1, 2, 3]), 500);
        checker.on_stake(1, &report(4, &[1, 2, 3]), 600);
        checker.check_evidence(0, 1_000);
        assert_eq!(checker.failures, Vec::new());
        assert_eq!(checker.stake.slashes, 1, "counted once per height");
        assert_eq!(checker.stake.slashed_stake, 50);
        assert_eq!(checker.stake.evidence_age_heights_max, 1, "offence at height 2, committed at 3");
        assert_eq!(checker.evidence_pending(), 0);
    }

    #[test]
    fn stake_failures_table() {
        let rows: Vec<(&str, CommitReport, Failure)> = vec![
            ("honest slashed", report(2, &[1, 3, 4]), Failure::HonestSlashed { height: Height(3), validator: 1 }),
            ("jailed in set", report(4, &[1, 2, 3, 4]), Failure::JailedInSet { height: Height(3), validator: 3 }),
        ];
        for (name, report, expected) in rows {
            let mut checker = checker();
            checker.on_stake(0, &report, 10);
            assert_eq!(checker.failures, vec![expected], "{name}");
            assert!(checker.safety_failed(), "{name}");
        }
    }

    #[test]
    fn different_sets_break_set_agreement() {
        let mut checker = checker();
        checker.on_stake(0, &report(4, &[1, 2, 3]), 10);
        checker.on_stake(2, &report(4, &[1, 3, 2]), 10);
        assert_eq!(checker.failures, vec![Failure::SetDisagreement { height: Height(5), validator: 2 }]);
    }

    #[test]
    fn late_or_missing_evidence_fails() {
        let mut checker = checker();
        checker.on_evidence(offence(4, 2), &key(4), 100);
        checker.on_evidence(offence(4, 7), &key(4), 100);
        assert_eq!(checker.evidence_pending(), 2);
        checker.on_stake(0, &report(4, &[1, 2, 3]), 2_500);
        assert_eq!(checker.evidence_pending(), 1);
        checker.check_evidence(1_000, 1_000);
        let offences: Vec<EvidenceKey> = checker
            .failures
            .iter()
            .map(|failure| match failure {
                Failure::EvidenceLate { offence, .. } => *offence,
                other => panic!("unexpected failure {other}"),
            })
            .collect();
        assert_eq!(offences, vec![offence(4, 2), offence(4, 7)]);
        assert!(!checker.safety_failed(), "late evidence is a liveness failure");
    }

    #[test]
    fn evidence_against_honest_is_double_sign() {
        let mut checker = checker();
        checker.on_evidence(offence(2, 6), &key(2), 100);
        let position = SignedStep { height: Height(6), round: 0, step: Step::Precommit };
        assert_eq!(checker.failures, vec![Failure::DoubleSign { validator: 1, position }]);
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
