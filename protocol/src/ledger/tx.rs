//! The transactions a block carries: attestations and signed account transactions.

use serde::{Deserialize, Serialize};

use crate::chain::Transaction;
use crate::digest::Digest;
use crate::encoding::{self, EncodingError};
use crate::keys::{KeyId, PublicKey, Signature, SigningKey};
use crate::ledger::records::BoundPolicy;
use crate::signing::{self, ChainId, SignKind, SignatureError};

/// Maximum size of one encoded transaction in bytes. Nodes may set a lower limit for
/// attestation envelopes; this bound holds for every transaction a block can carry.
pub const TX_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Maximum length in bytes of a name: an attester's name or role, or a policy name.
pub const NAME_BYTES_MAX: usize = 128;

/// Maximum length in bytes of a proposal's description or a revocation's reason.
pub const DESCRIPTION_BYTES_MAX: usize = 4096;

/// Errors from decoding, signing or checking a transaction.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("transaction is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("transaction is not a canonical Vouch transaction: {0}")]
    Encoding(#[from] EncodingError),
    #[error("transaction signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("{field} is {size} bytes, over the limit of {max} bytes")]
    FieldTooLong { field: &'static str, size: usize, max: usize },
    #[error("{field} is empty; give it a value")]
    EmptyField { field: &'static str },
}

/// One transaction as a block carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerTx {
    /// A DSSE envelope in JSON, exactly as its attester signed and sent it.
    Attest { envelope: Vec<u8> },
    /// A transaction signed by an account.
    Account(Box<SignedTx>),
    /// Evidence of double signing: the canonical encoding of two conflicting signed
    /// votes (`vouch_consensus::Equivocation`). The votes carry their own signatures,
    /// so the transaction needs no account, and each offence is committed once.
    Evidence { equivocation: Vec<u8> },
}

impl LedgerTx {
    /// Encodes the transaction as block bytes.
    pub fn to_transaction(&self) -> Transaction {
        Transaction::new(encoding::encode(self))
    }

    /// Decodes block bytes, accepting only canonical encodings within [`TX_BYTES_MAX`].
    pub fn from_bytes(bytes: &[u8]) -> Result<LedgerTx, TxError> {
        if bytes.len() > TX_BYTES_MAX {
            return Err(TxError::TooLarge { size: bytes.len(), max: TX_BYTES_MAX });
        }
        Ok(encoding::decode(bytes)?)
    }
}

/// An account transaction: the canonical encoding of a [`TxBody`], its signer and the
/// signature over the body for [`SignKind::Transaction`].
///
/// The body stays in its received bytes, so the signature is checked over exactly what
/// the signer signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTx {
    /// The canonical encoding of the [`TxBody`].
    pub body: Vec<u8>,
    /// The account that signed, which is also the account whose nonce the body uses.
    pub signer: PublicKey,
    /// The signature over the body's signing bytes.
    pub signature: Signature,
}

impl SignedTx {
    /// Signs `body` with `key` for `chain_id`.
    pub fn sign(body: &TxBody, key: &SigningKey, chain_id: &ChainId) -> SignedTx {
        let bytes = encoding::encode(body);
        let signature = signing::sign(key, chain_id, SignKind::Transaction, &bytes);
        SignedTx { body: bytes, signer: key.public_key(), signature }
    }

    /// Checks the signature for `chain_id` and decodes the body.
    pub fn verify(&self, chain_id: &ChainId) -> Result<TxBody, TxError> {
        signing::verify(&self.signer, chain_id, SignKind::Transaction, &self.body, &self.signature)?;
        let body: TxBody = encoding::decode(&self.body)?;
        body.action.check()?;
        Ok(body)
    }
}

/// The change an account requests, with the account's next nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBody {
    /// The number of transactions the account has had committed before this one. A body
    /// with any other nonce is rejected, so a signed transaction applies at most once.
    pub nonce: u64,
    /// The requested change.
    pub action: Action,
}

/// A change that an account requests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Withdraws an attestation; only the key that signed it may revoke it.
    Revoke { image: Digest, envelope_hash: [u8; 32], reason: String },
    /// Opens a governance proposal; the proposer must be a validator.
    Propose { action: GovAction, description: String },
    /// Votes on an open proposal, with the signer's bonded stake as weight.
    Vote { proposal: u64, approve: bool },
    /// Creates a validator whose consensus key is the signer, with `self_bond` bonded.
    CreateValidator { name: String, self_bond: u64 },
    /// Adds `amount` to the signer's bonded stake.
    Bond { amount: u64 },
    /// Moves `amount` of the signer's bonded stake into unbonding.
    Unbond { amount: u64 },
    /// Ends the signer's jail once its period has passed.
    Unjail,
}

/// A change that only governance can make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GovAction {
    /// Registers an attester key under a name and role, such as `scanner` or `reviewer`.
    RegisterAttester { name: String, role: String, key: PublicKey },
    /// Removes a registered attester; its committed attestations stop counting.
    RemoveAttester { key_id: KeyId },
    /// Deploys WebAssembly code under a policy name, as a new version if the name exists.
    DeployPolicy { name: String, wasm: Vec<u8> },
    /// Binds policies to a scope, replacing the scope's earlier binding.
    BindPolicy { scope: String, policies: Vec<BoundPolicy> },
    /// Removes the binding of a scope.
    UnbindPolicy { scope: String },
    /// Changes a policy's storage, which the policy reads (exemptions, allow lists).
    PolicyAdmin { policy: String, message: AdminMessage },
}

/// A change to a policy's storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminMessage {
    /// Sets `key` to `value`; the policy defines the meaning, for example
    /// `exemption/CVE-2024-1234` with a JSON value holding the expiry.
    Set { key: String, value: String },
    /// Deletes `key`.
    Delete { key: String },
}

impl Action {
    /// Checks the lengths of the text fields.
    fn check(&self) -> Result<(), TxError> {
        match self {
            Action::Revoke { reason, .. } => check_len("reason", reason, DESCRIPTION_BYTES_MAX, false),
            Action::Propose { action, description } => {
                check_len("description", description, DESCRIPTION_BYTES_MAX, false)?;
                action.check()
            }
            Action::CreateValidator { name, .. } => check_len("validator name", name, NAME_BYTES_MAX, true),
            Action::Vote { .. } | Action::Bond { .. } | Action::Unbond { .. } | Action::Unjail => Ok(()),
        }
    }
}

impl GovAction {
    fn check(&self) -> Result<(), TxError> {
        match self {
            GovAction::RegisterAttester { name, role, .. } => {
                check_len("attester name", name, NAME_BYTES_MAX, true)?;
                check_len("attester role", role, NAME_BYTES_MAX, true)
            }
            GovAction::DeployPolicy { name, .. } | GovAction::PolicyAdmin { policy: name, .. } => {
                check_len("policy name", name, NAME_BYTES_MAX, true)
            }
            GovAction::BindPolicy { policies, .. } => {
                policies.iter().try_for_each(|bound| check_len("policy name", &bound.policy, NAME_BYTES_MAX, true))
            }
            GovAction::RemoveAttester { .. } | GovAction::UnbindPolicy { .. } => Ok(()),
        }
    }
}

fn check_len(field: &'static str, text: &str, max: usize, required: bool) -> Result<(), TxError> {
    if required && text.is_empty() {
        return Err(TxError::EmptyField { field });
    }
    if text.len() > max {
        return Err(TxError::FieldTooLong { field, size: text.len(), max });
    }
    Ok(())
}
