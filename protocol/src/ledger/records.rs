//! The records the state tree stores, one type per [`crate::state::Namespace`].

use serde::{Deserialize, Serialize};

use crate::chain::{Height, TxHash};
use crate::keys::{KeyId, PublicKey};
use crate::ledger::tx::GovAction;

/// An account's replay counter: the nonce its next transaction must carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The nonce of the account's next transaction.
    pub nonce: u64,
}

/// A validator and its bonded stake, which is its voting power.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorRecord {
    /// The operator's name for the validator.
    pub name: String,
    /// Bonded stake; votes and governance count it.
    pub stake: u64,
}

/// A registered attester: a key whose attestations policies may count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttesterRecord {
    /// A name for people, unique among attesters.
    pub name: String,
    /// The role policies count, such as `scanner`, `builder` or `reviewer`.
    pub role: String,
    /// The attester's ed25519 public key.
    pub key: PublicKey,
    /// The height at which the registration was committed.
    pub registered_at: Height,
}

/// A deployed policy: the current version of its code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// The policy's name, which bindings use.
    pub name: String,
    /// 1 for the first deployment, one more for each later one.
    pub version: u32,
    /// BLAKE3 hash of the WebAssembly module, which is stored under its own key.
    pub code_hash: [u8; 32],
    /// The height at which this version was deployed.
    pub deployed_at: Height,
    /// The policy's storage, which admin messages change, sorted by key.
    pub storage: Vec<(String, String)>,
}

/// The policies bound to one scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRecord {
    /// The scope pattern, see [`crate::ledger::Scope`].
    pub scope: String,
    /// The bound policies, each with its parameters.
    pub policies: Vec<BoundPolicy>,
}

/// One policy in a binding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundPolicy {
    /// The policy's name.
    pub policy: String,
    /// Parameters passed to the policy: JSON text, or empty for the policy's defaults.
    pub parameters: String,
}

/// One committed attestation in the index of an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationRecord {
    /// The registered attester whose signature counted.
    pub attester: KeyId,
    /// The in-toto predicate type.
    pub predicate_type: String,
    /// The repository names the statement's subjects gave for this image, sorted.
    pub subject_names: Vec<String>,
    /// The transaction that carried the envelope.
    pub tx_hash: TxHash,
    /// The height of the block that committed it.
    pub height: Height,
    /// The block time at commit, Unix milliseconds.
    pub time_unix_ms: u64,
}

/// The outcome of one policy for one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The image may run.
    Approved,
    /// The image must not run.
    Quarantined,
    /// The policy waits for more attestations; the image counts as pending.
    Pending,
}

/// The status of an image as a caller sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageStatus {
    /// Every bound policy approved the image.
    Approved,
    /// At least one bound policy quarantined the image.
    Quarantined,
    /// The ledger has no record of the image yet, or a bound policy has no verdict.
    Pending,
}

/// One policy's verdict on an image, as the state stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// The policy's name.
    pub policy: String,
    /// The policy version that decided.
    pub policy_version: u32,
    /// The hash of the code that decided.
    pub code_hash: [u8; 32],
    /// The outcome.
    pub verdict: Verdict,
    /// The policy's reasons, or the runtime's error when the policy failed.
    pub reasons: Vec<String>,
    /// Block time (Unix milliseconds) at which the verdict must be evaluated again.
    pub expires_at_ms: Option<i64>,
    /// The height of the evaluation.
    pub height: Height,
    /// The block time of the evaluation, Unix milliseconds.
    pub time_unix_ms: u64,
    /// The envelope hashes of the attestations the policy was given, sorted.
    pub attestations: Vec<[u8; 32]>,
}

/// The bound policies that apply to one repository name an image was seen under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameBinding {
    /// The repository name, such as `ghcr.io/acme/api`.
    pub name: String,
    /// The most specific scope that matched the name.
    pub scope: String,
    /// The policies of that scope's binding, sorted.
    pub policies: Vec<String>,
}

/// Everything the ledger decided about one image, under one key so one proof covers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The names the image was seen under and the policies each name binds, sorted by
    /// name. An image seen under no name is bound by the default scope, with the name
    /// empty.
    pub names: Vec<NameBinding>,
    /// One verdict per bound policy, sorted by policy name.
    pub verdicts: Vec<VerdictRecord>,
}

impl ImageRecord {
    /// Returns the status under `repository`, or over every name when `None`: pending
    /// when a policy bound to the name has no verdict or a pending one, quarantined when
    /// any verdict quarantines, approved otherwise.
    pub fn status(&self, repository: Option<&str>) -> ImageStatus {
        let names: Vec<&NameBinding> = match repository {
            Some(name) => self.names.iter().filter(|binding| binding.name == name).collect(),
            None => self.names.iter().collect(),
        };
        if names.is_empty() {
            return ImageStatus::Pending;
        }
        let mut status = ImageStatus::Approved;
        for policy in names.iter().flat_map(|binding| binding.policies.iter()) {
            match self.verdicts.iter().find(|verdict| &verdict.policy == policy) {
                None => {
                    if status == ImageStatus::Approved {
                        status = ImageStatus::Pending;
                    }
                }
                Some(verdict) if verdict.verdict == Verdict::Quarantined => return ImageStatus::Quarantined,
                Some(verdict) if verdict.verdict == Verdict::Pending => {
                    if status == ImageStatus::Approved {
                        status = ImageStatus::Pending;
                    }
                }
                Some(_) => {}
            }
        }
        status
    }
}

/// One validator's vote on a proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The validator that voted.
    pub validator: PublicKey,
    /// Whether it approves.
    pub approve: bool,
}

/// The state of a proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalStatus {
    /// Open for votes.
    Voting,
    /// More than 2/3 of bonded stake approved, and the action was applied.
    Passed,
    /// At least 1/3 of bonded stake voted against, so it can never pass.
    Rejected,
    /// The voting period ended first.
    Expired,
    /// It passed, but the action could not be applied, for the given reason.
    Failed { reason: String },
}

/// A governance proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalRecord {
    /// The proposal's number, counting from 1.
    pub id: u64,
    /// The validator that proposed it.
    pub proposer: PublicKey,
    /// The change it would make.
    pub action: GovAction,
    /// The proposer's explanation.
    pub description: String,
    /// The height of the block that opened it.
    pub submitted_at: Height,
    /// The last height at which votes count.
    pub voting_ends_at: Height,
    /// The votes so far, one per validator, sorted by validator key.
    pub votes: Vec<Vote>,
    /// Its state.
    pub status: ProposalStatus,
}
