//! The layout of state keys: one prefix byte per namespace, then the canonical encoding
//! of the namespace's fields.
//!
//! # Layout
//! | prefix | namespace       | fields after the prefix (canonical encoding)      |
//! |--------|-----------------|---------------------------------------------------|
//! | `0x01` | `Parameter`     | name (string)                                     |
//! | `0x02` | `Account`       | ed25519 public key (u64 length 32, 32 bytes)      |
//! | `0x03` | `Validator`     | ed25519 public key (u64 length 32, 32 bytes)      |
//! | `0x04` | `Attester`      | key id (string of 64 lowercase hex characters)    |
//! | `0x05` | `Policy`        | policy name (string)                              |
//! | `0x06` | `PolicyBinding` | scope pattern (string)                            |
//! | `0x07` | `Attestation`   | image digest (string), envelope hash (32 bytes)   |
//! | `0x08` | `Verdict`       | image digest (string)                             |
//! | `0x09` | `PolicyCode`    | BLAKE3 code hash (32 bytes)                       |
//! | `0x0a` | `Proposal`      | proposal id (u64)                                 |
//! | `0x0b` | `Stake`         | ed25519 public key (u64 length 32, 32 bytes)      |
//! | `0x0c` | `ValidatorSet`  | height (u64)                                      |
//! | `0x0d` | `Offence`       | public key, height (u64), round (u32), kind (u8)  |
//!
//! Strings are a u64 little-endian length and UTF-8 bytes, as in [`crate::encoding`].
//!
//! # Invariants
//! - Prefix bytes are part of the protocol: a namespace keeps its byte forever, and a new
//!   namespace takes an unused one.
//! - An encoded key is at most [`STATE_KEY_BYTES_MAX`] bytes, and its text fields are
//!   not empty.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::digest::Digest;
use crate::encoding::{self, EncodingError};
use crate::keys::{KeyId, PublicKey};
use crate::state::StateHasher;

/// Maximum size of an encoded state key in bytes, prefix included.
pub const STATE_KEY_BYTES_MAX: usize = 512;

/// Errors from encoding or decoding a state key.
#[derive(Debug, thiserror::Error)]
pub enum StateKeyError {
    #[error(
        "state key in namespace {namespace} is {size} bytes encoded, over the limit of {max} bytes; shorten its text fields"
    )]
    TooLarge { namespace: &'static str, size: usize, max: usize },
    #[error("state key in namespace {namespace} has an empty {field}; give it a name")]
    EmptyField { namespace: &'static str, field: &'static str },
    #[error("state key is empty; it needs at least the namespace prefix byte")]
    Empty,
    #[error("state key starts with unknown namespace prefix 0x{prefix:02x}; known prefixes are 0x01 to 0x0d")]
    UnknownNamespace { prefix: u8 },
    #[error("invalid fields in state key of namespace {namespace}: {source}")]
    InvalidFields {
        namespace: &'static str,
        #[source]
        source: EncodingError,
    },
}

/// The namespace of a state key, which fixes the key's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// Governance and consensus parameters.
    Parameter,
    /// Accounts: nonce and balance.
    Account,
    /// Validators: bonded stake and status.
    Validator,
    /// Registered attesters: name, role and key.
    Attester,
    /// Deployed policies: code hash, version and parameters.
    Policy,
    /// Bindings of policies to scopes.
    PolicyBinding,
    /// The attestation index: one entry per committed attestation about an image.
    Attestation,
    /// Verdicts: one record per image with every bound policy's verdict.
    Verdict,
    /// Policy code: WebAssembly modules by hash.
    PolicyCode,
    /// Governance proposals by id.
    Proposal,
    /// Staking records: bonded and unbonding stake, jail and slash history.
    Stake,
    /// The validator set of each height, with its proposer priorities.
    ValidatorSet,
    /// Committed double-sign offences.
    Offence,
}

impl Namespace {
    /// Every namespace, in prefix order.
    pub const ALL: [Namespace; 13] = [
        Namespace::Parameter,
        Namespace::Account,
        Namespace::Validator,
        Namespace::Attester,
        Namespace::Policy,
        Namespace::PolicyBinding,
        Namespace::Attestation,
        Namespace::Verdict,
        Namespace::PolicyCode,
        Namespace::Proposal,
        Namespace::Stake,
        Namespace::ValidatorSet,
        Namespace::Offence,
    ];

    /// Returns the namespace's prefix byte. These values are part of the protocol: never
    /// reuse or renumber one.
    pub fn prefix(self) -> u8 {
        match self {
            Namespace::Parameter => 0x01,
            Namespace::Account => 0x02,
            Namespace::Validator => 0x03,
            Namespace::Attester => 0x04,
            Namespace::Policy => 0x05,
            Namespace::PolicyBinding => 0x06,
            Namespace::Attestation => 0x07,
            Namespace::Verdict => 0x08,
            Namespace::PolicyCode => 0x09,
            Namespace::Proposal => 0x0a,
            Namespace::Stake => 0x0b,
            Namespace::ValidatorSet => 0x0c,
            Namespace::Offence => 0x0d,
        }
    }

    /// Returns the namespace whose prefix byte is `prefix`, if any.
    pub fn from_prefix(prefix: u8) -> Option<Namespace> {
        Namespace::ALL.into_iter().find(|namespace| namespace.prefix() == prefix)
    }

    /// Returns the namespace's name as used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Parameter => "parameter",
            Namespace::Account => "account",
            Namespace::Validator => "validator",
            Namespace::Attester => "attester",
            Namespace::Policy => "policy",
            Namespace::PolicyBinding => "policy-binding",
            Namespace::Attestation => "attestation",
            Namespace::Verdict => "verdict",
            Namespace::PolicyCode => "policy-code",
            Namespace::Proposal => "proposal",
            Namespace::Stake => "stake",
            Namespace::ValidatorSet => "validator-set",
            Namespace::Offence => "offence",
        }
    }
}

/// A key of the authenticated state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StateKey {
    /// A governance or consensus parameter, by name.
    Parameter { name: String },
    /// An account, by its ed25519 public key.
    Account { key: PublicKey },
    /// A validator, by its consensus public key.
    Validator { key: PublicKey },
    /// A registered attester, by the key id of its signing key.
    Attester { key_id: KeyId },
    /// A deployed policy, by name.
    Policy { name: String },
    /// A binding of a policy to a scope, by the scope's registry/repository pattern.
    PolicyBinding { scope: String },
    /// One committed attestation about an image, by the image digest and the BLAKE3 hash
    /// of the envelope.
    Attestation { image: Digest, envelope_hash: [u8; 32] },
    /// Every verdict on an image, in one record so that one proof covers them.
    Verdict { image: Digest },
    /// A policy module, by the BLAKE3 hash of its bytes.
    PolicyCode { code_hash: [u8; 32] },
    /// A governance proposal, by id.
    Proposal { id: u64 },
    /// A validator's staking record, by its consensus public key.
    Stake { key: PublicKey },
    /// The validator set that signs the block at `height`.
    ValidatorSet { height: u64 },
    /// A committed double-sign offence: the offender, the height, round and vote kind
    /// (0 prevote, 1 precommit) of its conflicting votes.
    Offence { key: PublicKey, height: u64, round: u32, kind: u8 },
}

impl StateKey {
    /// Returns the key's namespace.
    pub fn namespace(&self) -> Namespace {
        match self {
            StateKey::Parameter { .. } => Namespace::Parameter,
            StateKey::Account { .. } => Namespace::Account,
            StateKey::Validator { .. } => Namespace::Validator,
            StateKey::Attester { .. } => Namespace::Attester,
            StateKey::Policy { .. } => Namespace::Policy,
            StateKey::PolicyBinding { .. } => Namespace::PolicyBinding,
            StateKey::Attestation { .. } => Namespace::Attestation,
            StateKey::Verdict { .. } => Namespace::Verdict,
            StateKey::PolicyCode { .. } => Namespace::PolicyCode,
            StateKey::Proposal { .. } => Namespace::Proposal,
            StateKey::Stake { .. } => Namespace::Stake,
            StateKey::ValidatorSet { .. } => Namespace::ValidatorSet,
            StateKey::Offence { .. } => Namespace::Offence,
        }
    }

    /// Encodes the key: its prefix byte, then the canonical encoding of its fields.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StateKeyError> {
        self.check_text()?;
        let fields = match self {
            StateKey::Parameter { name } => encoding::encode(name),
            StateKey::Account { key } | StateKey::Validator { key } | StateKey::Stake { key } => encoding::encode(key),
            StateKey::Attester { key_id } => encoding::encode(key_id),
            StateKey::Policy { name } => encoding::encode(name),
            StateKey::PolicyBinding { scope } => encoding::encode(scope),
            StateKey::Attestation { image, envelope_hash } => encoding::encode(&(image, envelope_hash)),
            StateKey::Verdict { image } => encoding::encode(image),
            StateKey::PolicyCode { code_hash } => encoding::encode(code_hash),
            StateKey::Proposal { id } => encoding::encode(id),
            StateKey::ValidatorSet { height } => encoding::encode(height),
            StateKey::Offence { key, height, round, kind } => encoding::encode(&(key, height, round, kind)),
        };

        let size = 1 + fields.len();
        if size > STATE_KEY_BYTES_MAX {
            return Err(StateKeyError::TooLarge { namespace: self.namespace().name(), size, max: STATE_KEY_BYTES_MAX });
        }
        let mut bytes = Vec::with_capacity(size);
        bytes.push(self.namespace().prefix());
        bytes.extend_from_slice(&fields);
        Ok(bytes)
    }

    /// Decodes a key, accepting only the bytes that [`StateKey::to_bytes`] produces.
    pub fn from_bytes(bytes: &[u8]) -> Result<StateKey, StateKeyError> {
        if bytes.len() > STATE_KEY_BYTES_MAX {
            let namespace =
                bytes.first().and_then(|prefix| Namespace::from_prefix(*prefix)).map_or("unknown", Namespace::name);
            return Err(StateKeyError::TooLarge { namespace, size: bytes.len(), max: STATE_KEY_BYTES_MAX });
        }
        let (&prefix, fields) = bytes.split_first().ok_or(StateKeyError::Empty)?;
        let namespace = Namespace::from_prefix(prefix).ok_or(StateKeyError::UnknownNamespace { prefix })?;

        let key = match namespace {
            Namespace::Parameter => StateKey::Parameter { name: decode_fields(namespace, fields)? },
            Namespace::Account => StateKey::Account { key: decode_fields(namespace, fields)? },
            Namespace::Validator => StateKey::Validator { key: decode_fields(namespace, fields)? },
            Namespace::Attester => StateKey::Attester { key_id: decode_fields(namespace, fields)? },
            Namespace::Policy => StateKey::Policy { name: decode_fields(namespace, fields)? },
            Namespace::PolicyBinding => StateKey::PolicyBinding { scope: decode_fields(namespace, fields)? },
            Namespace::Attestation => {
                let (image, envelope_hash) = decode_fields(namespace, fields)?;
                StateKey::Attestation { image, envelope_hash }
            }
            Namespace::Verdict => StateKey::Verdict { image: decode_fields(namespace, fields)? },
            Namespace::PolicyCode => StateKey::PolicyCode { code_hash: decode_fields(namespace, fields)? },
            Namespace::Proposal => StateKey::Proposal { id: decode_fields(namespace, fields)? },
            Namespace::Stake => StateKey::Stake { key: decode_fields(namespace, fields)? },
            Namespace::ValidatorSet => StateKey::ValidatorSet { height: decode_fields(namespace, fields)? },
            Namespace::Offence => {
                let (key, height, round, kind) = decode_fields(namespace, fields)?;
                StateKey::Offence { key, height, round, kind }
            }
        };
        key.check_text()?;
        Ok(key)
    }

    /// Computes the key's position in the state tree: the state hash of its encoding.
    pub fn key_hash(&self) -> Result<jmt::KeyHash, StateKeyError> {
        Ok(jmt::KeyHash(<StateHasher as jmt::SimpleHasher>::hash(self.to_bytes()?)))
    }

    /// Rejects empty text fields, which would make keys that no caller means.
    fn check_text(&self) -> Result<(), StateKeyError> {
        let (field, text) = match self {
            StateKey::Parameter { name } | StateKey::Policy { name } => ("name", name),
            StateKey::PolicyBinding { scope } => ("scope", scope),
            StateKey::Account { .. }
            | StateKey::Validator { .. }
            | StateKey::Attester { .. }
            | StateKey::Attestation { .. }
            | StateKey::Verdict { .. }
            | StateKey::PolicyCode { .. }
            | StateKey::Proposal { .. }
            | StateKey::Stake { .. }
            | StateKey::ValidatorSet { .. }
            | StateKey::Offence { .. } => return Ok(()),
        };
        if text.is_empty() {
            return Err(StateKeyError::EmptyField { namespace: self.namespace().name(), field });
        }
        Ok(())
    }
}

fn decode_fields<T: DeserializeOwned + Serialize>(namespace: Namespace, fields: &[u8]) -> Result<T, StateKeyError> {
    encoding::decode(fields).map_err(|source| StateKeyError::InvalidFields { namespace: namespace.name(), source })
}
