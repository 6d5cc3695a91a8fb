//! Light-client verification of an image status: checks a node's [`api::ImageProof`]
//! against a trusted genesis, so a caller trusts the validators and not the node that
//! served the proof.
//!
//! # What is checked, in order
//! 1. Each base64 field decodes within [`PROOF_FIELD_BYTES_MAX`], and the header,
//!    commit, state proof and record decode canonically.
//! 2. The header belongs to the genesis chain id and sits at `proof.height + 1`,
//!    because the header at height `h + 1` carries the state root after block `h`.
//! 3. The commit is for that header: same height, and its block hash is the header's
//!    hash.
//! 4. Every commit signature verifies for the genesis validator at its index (the
//!    position in `genesis.validators`), with indexes strictly increasing, and the
//!    signers hold more than 2/3 of the genesis stake, computed with integers.
//! 5. The state proof shows the image's verdict record (or its absence) under the
//!    header's `app_hash`.
//!
//! # Invariants
//! A [`VerifiedImage`] exists only when every check passed, so its record (and the
//! status computed from it) is the one the validators committed to, whatever the rest
//! of the node's JSON says.
// NOTE: the validator set is the genesis set. The header's `validators_hash` is not
// compared with it because the protocol does not define that hash yet; a chain whose
// set changed since genesis fails the stake check instead of being followed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::api::ImageProof;
use crate::chain::{ChainError, Commit, Header, Height};
use crate::digest::Digest;
use crate::encoding::{self, EncodingError};
use crate::ledger::{Genesis, ImageRecord, ImageStatus};
use crate::state::{self, StateKey, StateProof, StateProofError};

/// Maximum decoded size of one base64 field of a proof, in bytes. The largest field is
/// the image record, which the node stores as one state value of at most 4 MiB.
pub const PROOF_FIELD_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Failures of proof verification, one variant per check.
#[derive(Debug, thiserror::Error)]
pub enum LightError {
    #[error("proof field `{field}` ({length} base64 characters) decodes to over the limit of {max} bytes")]
    FieldTooLarge { field: &'static str, length: usize, max: usize },
    #[error("proof field `{field}` is not valid base64: {reason}")]
    InvalidBase64 { field: &'static str, reason: String },
    #[error("proof header is invalid: {0}")]
    InvalidHeader(#[source] ChainError),
    #[error("proof commit is invalid: {0}")]
    InvalidCommit(#[source] ChainError),
    #[error("proof state proof is invalid: {0}")]
    InvalidStateProof(#[source] StateProofError),
    #[error("proof record is not a canonical image record: {0}")]
    InvalidRecord(#[source] EncodingError),
    #[error("proof header is for chain {found:?}, but the genesis is for chain {expected:?}; use the node's genesis")]
    WrongChain { expected: String, found: String },
    #[error("proof state height {height} has no next header height; the proof is invalid")]
    HeightOverflow { height: u64 },
    #[error("proof header is at height {found}, expected {expected} (the state height {state_height} plus one)")]
    WrongHeaderHeight { expected: u64, found: u64, state_height: u64 },
    #[error("proof commit is for height {commit}, but the header is at height {header}")]
    WrongCommitHeight { header: u64, commit: u64 },
    #[error("proof commit signs block {commit}, but the header hashes to {header}")]
    WrongBlockHash { header: String, commit: String },
    #[error("proof commit names validator index {index}, but the genesis has {validators} validators")]
    UnknownValidator { index: u32, validators: usize },
    #[error("proof commit repeats validator index {index}; each validator may sign once")]
    DuplicateValidator { index: u32 },
    #[error("proof commit lists validator index {index} after index {previous}; indexes must increase")]
    UnorderedValidators { index: u32, previous: u32 },
    #[error("proof commit signature of validator {index} ({name}) is invalid: {reason}")]
    InvalidSignature { index: u32, name: String, reason: String },
    #[error("proof commit is signed by validators with stake {signed} of {total}; more than 2/3 is needed")]
    InsufficientStake { signed: u64, total: u64 },
    #[error("genesis validators' total stake overflows u64; the genesis is invalid")]
    GenesisStakeOverflow,
    #[error("state proof does not prove the image record under the header's app_hash: {0}")]
    RecordNotProven(#[source] StateProofError),
    #[error("state proof does not prove that the image is absent under the header's app_hash: {0}")]
    AbsenceNotProven(#[source] StateProofError),
}

/// An image status whose proof passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedImage {
    /// The image.
    pub image: Digest,
    /// The state height the record describes.
    pub height: Height,
    /// The header at `height + 1`, which the commit certifies.
    pub header: Header,
    /// The image's verdict record, or `None` when the state proves it absent.
    pub record: Option<ImageRecord>,
}

impl VerifiedImage {
    /// Returns the status under `repository` (or over every name when `None`) from the
    /// verified record; an absent image is pending.
    pub fn status(&self, repository: Option<&str>) -> ImageStatus {
        match &self.record {
            Some(record) => record.status(repository),
            None => ImageStatus::Pending,
        }
    }
}

/// Verifies `proof` for `image` against `genesis`; see the module documentation for the
/// checks.
pub fn verify_image_proof(genesis: &Genesis, image: &Digest, proof: &ImageProof) -> Result<VerifiedImage, LightError> {
    let header = decode_header(&proof.header)?;
    check_header(genesis, &header, proof.height)?;

    let commit = decode_commit(&proof.commit)?;
    check_commit_target(&header, &commit)?;
    check_commit_signatures(genesis, &commit)?;

    let state_proof = StateProof::from_bytes(&decode_field("state_proof", &proof.state_proof)?)
        .map_err(LightError::InvalidStateProof)?;
    let record = verify_record(&header, image, proof.record.as_deref(), &state_proof)?;
    Ok(VerifiedImage { image: image.clone(), height: Height(proof.height), header, record })
}

/// Decodes base64 `text` of at most [`PROOF_FIELD_BYTES_MAX`] bytes. Text too long for
/// that size is rejected before decoding.
fn decode_field(field: &'static str, text: &str) -> Result<Vec<u8>, LightError> {
    let too_large = LightError::FieldTooLarge { field, length: text.len(), max: PROOF_FIELD_BYTES_MAX };
    if text.len() > PROOF_FIELD_BYTES_MAX.div_ceil(3) * 4 {
        return Err(too_large);
    }
    let bytes =
        STANDARD.decode(text).map_err(|error| LightError::InvalidBase64 { field, reason: error.to_string() })?;
    if bytes.len() > PROOF_FIELD_BYTES_MAX {
        return Err(too_large);
    }
    Ok(bytes)
}

fn decode_header(text: &str) -> Result<Header, LightError> {
    Header::from_bytes(&decode_field("header", text)?).map_err(LightError::InvalidHeader)
}

fn decode_commit(text: &str) -> Result<Commit, LightError> {
    Commit::from_bytes(&decode_field("commit", text)?).map_err(LightError::InvalidCommit)
}

/// Checks the header's chain id and that it is the header right after the state height.
fn check_header(genesis: &Genesis, header: &Header, state_height: u64) -> Result<(), LightError> {
    if header.chain_id != genesis.chain_id {
        return Err(LightError::WrongChain {
            expected: genesis.chain_id.as_str().to_owned(),
            found: header.chain_id.as_str().to_owned(),
        });
    }
    let expected = state_height.checked_add(1).ok_or(LightError::HeightOverflow { height: state_height })?;
    if header.height.0 != expected {
        return Err(LightError::WrongHeaderHeight { expected, found: header.height.0, state_height });
    }
    Ok(())
}

/// Checks that the commit certifies this header.
fn check_commit_target(header: &Header, commit: &Commit) -> Result<(), LightError> {
    if commit.height != header.height {
        return Err(LightError::WrongCommitHeight { header: header.height.0, commit: commit.height.0 });
    }
    let header_hash = header.hash();
    if commit.block_hash != header_hash {
        return Err(LightError::WrongBlockHash { header: header_hash.to_hex(), commit: commit.block_hash.to_hex() });
    }
    Ok(())
}

/// Verifies every signature against the genesis validators and checks that the signers
/// hold more than 2/3 of the genesis stake.
fn check_commit_signatures(genesis: &Genesis, commit: &Commit) -> Result<(), LightError> {
    let keys: Vec<_> = genesis.validators.iter().map(|validator| validator.public_key).collect();
    commit.verify_signatures(&genesis.chain_id, &keys).map_err(|error| signature_error(genesis, error))?;

    let total = total_stake(genesis)?;
    let mut signed: u64 = 0;
    for entry in &commit.signatures {
        // verify_signatures checked that every index is in range and appears once.
        let stake = genesis.validators[entry.validator_index as usize].stake;
        signed = signed.checked_add(stake).ok_or(LightError::GenesisStakeOverflow)?;
    }
    if !is_over_two_thirds(signed, total) {
        return Err(LightError::InsufficientStake { signed, total });
    }
    Ok(())
}

/// Returns whether `signed` is more than 2/3 of `total`, exactly: `3 * signed > 2 * total`.
fn is_over_two_thirds(signed: u64, total: u64) -> bool {
    u128::from(signed) * 3 > u128::from(total) * 2
}

fn total_stake(genesis: &Genesis) -> Result<u64, LightError> {
    genesis
        .validators
        .iter()
        .try_fold(0u64, |total, validator| total.checked_add(validator.stake))
        .ok_or(LightError::GenesisStakeOverflow)
}

/// Gives each failure of [`Commit::verify_signatures`] its own variant.
fn signature_error(genesis: &Genesis, error: ChainError) -> LightError {
    match error {
        ChainError::UnknownValidator { index, validators, .. } => LightError::UnknownValidator { index, validators },
        ChainError::UnorderedSignatures { index, previous, .. } if index == previous => {
            LightError::DuplicateValidator { index }
        }
        ChainError::UnorderedSignatures { index, previous, .. } => LightError::UnorderedValidators { index, previous },
        ChainError::InvalidSignature { index, source, .. } => {
            let name = genesis.validators.get(index as usize).map_or_else(String::new, |v| v.name.clone());
            LightError::InvalidSignature { index, name, reason: source.to_string() }
        }
        other => LightError::InvalidCommit(other),
    }
}

/// Checks the state proof of the image's verdict key: inclusion of `record` when the
/// node sent one, absence otherwise.
fn verify_record(
    header: &Header,
    image: &Digest,
    record: Option<&str>,
    proof: &StateProof,
) -> Result<Option<ImageRecord>, LightError> {
    let key = StateKey::Verdict { image: image.clone() };
    let Some(text) = record else {
        state::verify_absence(&header.app_hash, &key, proof).map_err(LightError::AbsenceNotProven)?;
        return Ok(None);
    };
    let bytes = decode_field("record", text)?;
    state::verify_inclusion(&header.app_hash, &key, &bytes, proof).map_err(LightError::RecordNotProven)?;
    let record: ImageRecord = encoding::decode(&bytes).map_err(LightError::InvalidRecord)?;
    Ok(Some(record))
}

#[cfg(test)]
mod tests;
