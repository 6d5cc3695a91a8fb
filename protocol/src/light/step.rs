//! One verification step: whether a trusted state vouches for one light block, either
//! as the next height or by skipping ahead with the 1/3 rule.
//!
//! # Rules
//! Every block must belong to the trusted chain id and sit above the trusted height. Its
//! time must be after the trusted time and at most the allowed drift past the clock. It
//! must carry a commit for its own hash and come with the set that its `validators_hash`
//! names, and validators with more than 2/3 of that set's power must have signed it.
//!
//! The block at the next height must also follow the trusted header: its
//! `validators_hash` is the trusted `next_validators_hash` and its previous block is
//! the trusted header. A block further ahead is trusted when validators holding more
//! than 1/3 of the trusted set's power signed its commit, because at least one of them
//! is honest while the trust period lasts. Otherwise the caller needs an intermediate
//! height.

use crate::chain::{BlockHash, Commit, Header};
use crate::light::tally::{self, is_over_one_third};
use crate::light::trust::{TrustOptions, TrustedState, check_set_hash};
use crate::light::{LightBlock, LightError};

/// The result of a step that found no invalid data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepOutcome {
    /// The trusted state vouches for the block.
    Verified,
    /// The block is valid on its own, but the trusted validators that signed it hold
    /// 1/3 or less of the trusted power.
    NeedsIntermediate,
}

/// Checks `block` against `trusted` at `now_unix_ms`; see the module documentation.
pub(crate) fn verify_step(
    trusted: &TrustedState,
    block: &LightBlock,
    options: &TrustOptions,
    now_unix_ms: u64,
) -> Result<StepOutcome, LightError> {
    let header = &block.signed_header.header;
    let commit = &block.signed_header.commit;
    check_header(trusted, header, options, now_unix_ms)?;
    check_commit_target(header, commit)?;
    check_set_hash(header.height, "validators_hash", header.validators_hash, &block.validators)?;

    let signed = tally::signed_power(&header.chain_id, commit, &block.validators)?;
    tally::require_over_two_thirds(header.height, signed, block.validators.total_power())?;

    if Some(header.height) == trusted.height().next() {
        check_link(trusted, header)?;
        return Ok(StepOutcome::Verified);
    }
    let trusted_signed = tally::trusted_power(commit, &block.validators, trusted.next_validators());
    if is_over_one_third(trusted_signed, trusted.next_validators().total_power()) {
        return Ok(StepOutcome::Verified);
    }
    Ok(StepOutcome::NeedsIntermediate)
}

/// Checks the header's chain id, height and time against the trusted state and clock.
fn check_header(
    trusted: &TrustedState,
    header: &Header,
    options: &TrustOptions,
    now_unix_ms: u64,
) -> Result<(), LightError> {
    let height = header.height;
    header.validate().map_err(LightError::InvalidHeader)?;
    if header.chain_id != *trusted.chain_id() {
        return Err(LightError::WrongChain {
            height,
            expected: trusted.chain_id().as_str().to_owned(),
            found: header.chain_id.as_str().to_owned(),
        });
    }
    if height <= trusted.height() {
        return Err(LightError::HeightNotAboveTrusted { height, trusted_height: trusted.height() });
    }
    if header.time_unix_ms <= trusted.time_unix_ms() {
        return Err(LightError::TimeNotAfterTrusted {
            height,
            time_unix_ms: header.time_unix_ms,
            trusted_height: trusted.height(),
            trusted_time_unix_ms: trusted.time_unix_ms(),
        });
    }
    let clock_drift_ms = options.clock_drift_ms();
    if header.time_unix_ms > now_unix_ms.saturating_add(clock_drift_ms) {
        return Err(LightError::TimeInFuture {
            height,
            time_unix_ms: header.time_unix_ms,
            now_unix_ms,
            clock_drift_ms,
        });
    }
    Ok(())
}

/// Checks that the commit certifies this header: same height, and its block hash is
/// the header's hash.
pub(crate) fn check_commit_target(header: &Header, commit: &Commit) -> Result<(), LightError> {
    if commit.height != header.height {
        return Err(LightError::WrongCommitHeight { header: header.height, commit: commit.height });
    }
    let header_hash = header.hash();
    if commit.block_hash != header_hash {
        return Err(LightError::WrongBlockHash {
            height: header.height,
            header: header_hash.to_hex(),
            commit: commit.block_hash.to_hex(),
        });
    }
    Ok(())
}

/// Checks that the header at the height after the trusted one continues the trusted
/// header: the set it names and the previous block it names.
fn check_link(trusted: &TrustedState, header: &Header) -> Result<(), LightError> {
    if header.validators_hash != trusted.next_validators_hash() {
        return Err(LightError::ValidatorsNotLinked {
            height: header.height,
            trusted_height: trusted.height(),
            expected: hex::encode(trusted.next_validators_hash()),
            found: hex::encode(header.validators_hash),
        });
    }
    if header.previous_block_hash != trusted.header_hash() {
        let describe = |hash: Option<BlockHash>| hash.map_or_else(|| "none".to_owned(), |hash| hash.to_hex());
        return Err(LightError::PreviousBlockMismatch {
            height: header.height,
            trusted_height: trusted.height(),
            expected: describe(trusted.header_hash()),
            found: describe(header.previous_block_hash),
        });
    }
    Ok(())
}
