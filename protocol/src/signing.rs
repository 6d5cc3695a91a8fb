//! Domain-separated signatures: every ledger signature covers the chain id and the kind
//! of message as well as the message bytes, so a signature is valid for one use only.
//!
//! # Signing bytes
//! ```text
//! u8 len(context)  context    "vouch/v1"
//! u8 len(chain_id) chain_id   1..=64 bytes of [a-z0-9-]
//! u8 kind tag                 SignKind::tag, fixed forever per kind
//! u64 LE len(message) message the canonical encoding, exactly as received
//! ```
//! Each variable-length field has a length prefix, so two different triples
//! (chain id, kind, message) never give the same signing bytes. The first byte is 8, the
//! length of the context; DSSE signatures cover a pre-authentication encoding that
//! starts with `D` (0x44), so a DSSE signature can never verify as a ledger signature or
//! the reverse.
//!
//! # Invariants
//! Verification uses [`PublicKey::verify`], the one strict rule of [`crate::keys`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::keys::{PublicKey, Signature, SigningKey};

/// The fixed context string at the start of all signing bytes; a new version of the
/// layout gets a new context.
pub const SIGNING_CONTEXT: &str = "vouch/v1";

/// Maximum length of a chain id in bytes.
pub const CHAIN_ID_BYTES_MAX: usize = 64;

/// Errors from validating a chain id or verifying a signature.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("invalid chain id {chain_id:?}: {reason}")]
    InvalidChainId { chain_id: String, reason: String },
    #[error(
        "invalid {kind} signature on chain {chain_id} by key {public_key}: it was made for other bytes, another message kind or another chain"
    )]
    Invalid { kind: SignKind, chain_id: ChainId, public_key: String },
}

/// The name of a network; part of every signature so none can be replayed on another
/// chain.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChainId(String);

impl ChainId {
    /// Validates a chain id: 1 to 64 characters of `a-z`, `0-9` and `-`, not starting or
    /// ending with `-`.
    pub fn new(text: &str) -> Result<ChainId, SignatureError> {
        let invalid = |reason: String| SignatureError::InvalidChainId { chain_id: text.to_owned(), reason };
        if text.is_empty() || text.len() > CHAIN_ID_BYTES_MAX {
            return Err(invalid(format!("length is {}, expected 1 to {CHAIN_ID_BYTES_MAX}", text.len())));
        }
        if let Some((position, character)) =
            text.char_indices().find(|(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
        {
            return Err(invalid(format!("character {character:?} at position {position} is not one of a-z, 0-9 or -")));
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(invalid("it starts or ends with -".to_owned()));
        }
        Ok(ChainId(text.to_owned()))
    }

    /// Returns the chain id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainId({})", self.0)
    }
}

impl TryFrom<String> for ChainId {
    type Error = SignatureError;

    fn try_from(text: String) -> Result<ChainId, SignatureError> {
        ChainId::new(&text)
    }
}

impl From<ChainId> for String {
    fn from(id: ChainId) -> String {
        id.0
    }
}

/// The kind of a signed message; each kind has a tag byte that never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SignKind {
    /// A transaction submitted by an account (attest, revoke, register, govern, stake).
    Transaction,
    /// A consensus proposal of a block at a height and round.
    Proposal,
    /// A consensus prevote.
    Prevote,
    /// A consensus precommit; a set of them for one block is its commit.
    Precommit,
    /// A block header, as a light client checks it.
    Header,
    /// A revocation of an earlier attestation by its attester.
    AttestationRevocation,
    /// A node's response about an image's status, signed so a caller can keep it as proof.
    StatusResponse,
}

impl SignKind {
    /// Every kind, in tag order.
    pub const ALL: [SignKind; 7] = [
        SignKind::Transaction,
        SignKind::Proposal,
        SignKind::Prevote,
        SignKind::Precommit,
        SignKind::Header,
        SignKind::AttestationRevocation,
        SignKind::StatusResponse,
    ];

    /// Returns the kind's tag byte in the signing bytes. These values are part of the
    /// protocol: never reuse or renumber one.
    pub fn tag(self) -> u8 {
        match self {
            SignKind::Transaction => 1,
            SignKind::Proposal => 2,
            SignKind::Prevote => 3,
            SignKind::Precommit => 4,
            SignKind::Header => 5,
            SignKind::AttestationRevocation => 6,
            SignKind::StatusResponse => 7,
        }
    }

    /// Returns the kind's name as used in messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            SignKind::Transaction => "transaction",
            SignKind::Proposal => "proposal",
            SignKind::Prevote => "prevote",
            SignKind::Precommit => "precommit",
            SignKind::Header => "header",
            SignKind::AttestationRevocation => "attestation-revocation",
            SignKind::StatusResponse => "status-response",
        }
    }
}

impl fmt::Display for SignKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Builds the bytes that are signed for `message` of `kind` on `chain_id`.
pub fn signing_bytes(chain_id: &ChainId, kind: SignKind, message: &[u8]) -> Vec<u8> {
    let chain = chain_id.as_str().as_bytes();
    let mut bytes = Vec::with_capacity(1 + SIGNING_CONTEXT.len() + 1 + chain.len() + 1 + 8 + message.len());
    bytes.push(u8::try_from(SIGNING_CONTEXT.len()).expect("the context is 8 bytes"));
    bytes.extend_from_slice(SIGNING_CONTEXT.as_bytes());
    bytes.push(u8::try_from(chain.len()).expect("a chain id is at most 64 bytes"));
    bytes.extend_from_slice(chain);
    bytes.push(kind.tag());
    bytes.extend_from_slice(&(message.len() as u64).to_le_bytes());
    bytes.extend_from_slice(message);
    bytes
}

/// Signs `message` (the canonical encoding of a value, as it will be sent) for `kind`
/// on `chain_id`.
pub fn sign(key: &SigningKey, chain_id: &ChainId, kind: SignKind, message: &[u8]) -> Signature {
    key.sign_raw(&signing_bytes(chain_id, kind, message))
}

/// Verifies `signature` over `message` exactly as received, for `kind` on `chain_id`.
pub fn verify(
    key: &PublicKey,
    chain_id: &ChainId,
    kind: SignKind,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    key.verify(&signing_bytes(chain_id, kind, message), signature).map_err(|_| SignatureError::Invalid {
        kind,
        chain_id: chain_id.clone(),
        public_key: key.to_hex(),
    })
}

#[cfg(test)]
mod tests;
