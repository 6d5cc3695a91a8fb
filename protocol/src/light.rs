//! Light-client verification: follows the chain's validator sets from a trusted root
//! (the genesis or a header the caller trusts) through signed headers. It checks a
//! node's [`ImageProof`] against a header verified that way, so a caller trusts the
//! validators and not the node that served the proof.
//!
//! [`Verifier`] keeps the trusted state and moves it forward with skipping
//! verification (the `step` and `skipping` modules state the rules). A [`Provider`]
//! supplies the headers, commits and validator sets it needs.
//!
//! # What an image proof check does, in order
//! 1. Each base64 field decodes within [`PROOF_FIELD_BYTES_MAX`], and the header,
//!    commit, state proof and record decode canonically.
//! 2. The header sits at `proof.height + 1`, because the header at height `h + 1`
//!    carries the state root after block `h`.
//! 3. The verifier accepts the header and its commit, with the validator set that the
//!    provider returns for that height.
//! 4. The state proof shows the image's verdict record (or its absence) under the
//!    header's `app_hash`.
//!
//! # Invariants
//! A [`VerifiedImage`] exists only when every check passed, so its record (and the
//! status computed from it) is the one the validators committed to, whatever the rest
//! of the node's JSON says.

mod error;
mod provider;
mod skipping;
mod step;
mod tally;
mod trust;
mod validators;

pub use error::{LightError, ProviderError};
pub use provider::{FixedSetProvider, LightBlock, MemoryProvider, Provider, SignedHeader};
pub use skipping::{Verified, Verifier};
pub use trust::{TrustOptions, TrustedState};
pub use validators::{LightValidator, ValidatorSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::api::ImageProof;
use crate::chain::{Commit, Header, Height};
use crate::digest::Digest;
use crate::encoding;
use crate::ledger::{Genesis, ImageRecord, ImageStatus};
use crate::state::{self, StateKey, StateProof};

/// Maximum decoded size of one base64 field of a proof, in bytes. The largest field is
/// the image record, which the node stores as one state value of at most 4 MiB.
pub const PROOF_FIELD_BYTES_MAX: usize = 4 * 1024 * 1024;

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

/// Verifies `proof` for `image`: the proof's header through `verifier` (which then
/// trusts it) with sets and intermediate blocks from `provider`, at `now_unix_ms` (the
/// caller's clock, Unix milliseconds), then the state proof under that header.
pub fn verify_image_proof<P: Provider>(
    verifier: &mut Verifier,
    provider: &mut P,
    image: &Digest,
    proof: &ImageProof,
    now_unix_ms: u64,
) -> Result<VerifiedImage, LightError> {
    let header = decode_header(&proof.header)?;
    check_header_height(&header, proof.height)?;
    let commit = decode_commit(&proof.commit)?;

    let height = header.height;
    let validators = provider.validator_set(height).map_err(|source| LightError::Provider {
        height,
        what: "validator set",
        source,
    })?;
    let target = LightBlock { signed_header: SignedHeader { header: header.clone(), commit }, validators };
    verifier.verify_block(target, provider, now_unix_ms)?;

    let state_proof = StateProof::from_bytes(&decode_field("state_proof", &proof.state_proof)?)
        .map_err(LightError::InvalidStateProof)?;
    let record = verify_record(&header, image, proof.record.as_deref(), &state_proof)?;
    Ok(VerifiedImage { image: image.clone(), height: Height(proof.height), header, record })
}

/// Verifies `proof` from `genesis` for a chain whose validator set never changed: the
/// header must name the genesis set and carry the signatures of more than 2/3 of its
/// power. A chain whose set changed needs [`verify_image_proof`] with a provider that
/// serves the intermediate headers.
pub fn verify_image_proof_from_genesis(
    genesis: &Genesis,
    image: &Digest,
    proof: &ImageProof,
    options: TrustOptions,
    now_unix_ms: u64,
) -> Result<VerifiedImage, LightError> {
    let mut verifier = Verifier::new(TrustedState::from_genesis(genesis)?, options)?;
    let mut provider = FixedSetProvider::new(verifier.trusted().next_validators().clone());
    verify_image_proof(&mut verifier, &mut provider, image, proof, now_unix_ms)
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

/// Checks that the header is the one right after the state height.
fn check_header_height(header: &Header, state_height: u64) -> Result<(), LightError> {
    let expected = state_height.checked_add(1).ok_or(LightError::HeightOverflow { height: state_height })?;
    if header.height.0 != expected {
        return Err(LightError::WrongHeaderHeight { expected, found: header.height.0, state_height });
    }
    Ok(())
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
