//! Skipping verification: the [`Verifier`] moves its trusted state to a target height,
//! directly when the trusted validators vouch for the target, otherwise by bisecting
//! through intermediate heights that a [`Provider`] supplies.
//!
//! # Bisection
//! When the trusted set holds 1/3 or less of its power among the target's signers, the
//! verifier fetches the block halfway between the trusted height and the target and
//! tries it first. Each verified block becomes the trusted state, then the verifier
//! retries the block it set aside. Adjacent heights always verify on an honest chain,
//! so the search ends, and [`TrustOptions::bisection_steps_max`] bounds how many
//! intermediate blocks one call fetches.
//!
//! # Invariants
//! The trusted state only ever moves to a block that [`verify_step`] accepted, so its
//! height and block time strictly increase. Blocks verified before a failure stay
//! trusted, because each of them passed every check.

use crate::chain::Height;
use crate::light::step::{StepOutcome, verify_step};
use crate::light::trust::{TrustOptions, TrustedState, check_set_hash, trusted_after};
use crate::light::{LightBlock, LightError, Provider, ValidatorSet};

/// A light client: a trusted state and the options that bound its use.
#[derive(Clone, Debug)]
pub struct Verifier {
    trusted: TrustedState,
    options: TrustOptions,
}

/// The outcome of one successful verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The height now trusted.
    pub height: Height,
    /// How many intermediate blocks bisection fetched and verified.
    pub intermediate_blocks: u32,
}

impl Verifier {
    /// Builds a verifier that starts from `trusted`, after checking `options`.
    pub fn new(trusted: TrustedState, options: TrustOptions) -> Result<Verifier, LightError> {
        options.validate()?;
        Ok(Verifier { trusted, options })
    }

    /// Returns the current trusted state.
    pub fn trusted(&self) -> &TrustedState {
        &self.trusted
    }

    /// Fetches the block at `height` from `provider` and verifies it with
    /// [`Verifier::verify_block`].
    pub fn verify_height<P: Provider>(
        &mut self,
        height: Height,
        provider: &mut P,
        now_unix_ms: u64,
    ) -> Result<Verified, LightError> {
        let target = fetch_block(provider, height)?;
        self.verify_block(target, provider, now_unix_ms)
    }

    /// Verifies `target` from the trusted state at `now_unix_ms` (the verifier's clock,
    /// Unix milliseconds), asking `provider` for intermediate blocks when needed, and
    /// trusts it on success.
    pub fn verify_block<P: Provider>(
        &mut self,
        target: LightBlock,
        provider: &mut P,
        now_unix_ms: u64,
    ) -> Result<Verified, LightError> {
        let target_height = target.height();
        if target_height == self.trusted.height() {
            return self.check_same_as_trusted(&target);
        }

        let mut pending = vec![target];
        let mut intermediate_blocks: u32 = 0;
        while let Some(block) = pending.last() {
            self.trusted.check_not_expired(&self.options, now_unix_ms)?;
            match verify_step(&self.trusted, block, &self.options, now_unix_ms)? {
                StepOutcome::Verified => {
                    let block = pending.pop().expect("the loop only runs while a block is pending");
                    self.advance(block, provider)?;
                }
                StepOutcome::NeedsIntermediate => {
                    if intermediate_blocks == self.options.bisection_steps_max {
                        return Err(LightError::BisectionLimit {
                            target: target_height,
                            trusted_height: self.trusted.height(),
                            steps_max: self.options.bisection_steps_max,
                        });
                    }
                    intermediate_blocks += 1;
                    let pivot = midpoint(self.trusted.height(), block.height());
                    pending.push(fetch_block(provider, pivot)?);
                }
            }
        }
        Ok(Verified { height: target_height, intermediate_blocks })
    }

    /// Trusts `block`, which [`verify_step`] accepted.
    fn advance<P: Provider>(&mut self, block: LightBlock, provider: &mut P) -> Result<(), LightError> {
        let next = trust_block(block, provider)?;
        assert!(next.height() > self.trusted.height(), "verify_step accepted a height not above the trusted one");
        assert!(
            next.time_unix_ms() > self.trusted.time_unix_ms(),
            "verify_step accepted a time not after the trusted one"
        );
        self.trusted = next;
        Ok(())
    }

    /// Accepts a target at the trusted height only when it is the trusted header.
    fn check_same_as_trusted(&self, target: &LightBlock) -> Result<Verified, LightError> {
        let found = target.signed_header.header.hash();
        if self.trusted.header_hash() != Some(found) {
            return Err(LightError::ConflictingHeader {
                height: target.height(),
                trusted: self.trusted.header_hash().map_or_else(|| "none".to_owned(), |hash| hash.to_hex()),
                found: found.to_hex(),
            });
        }
        Ok(Verified { height: target.height(), intermediate_blocks: 0 })
    }
}

/// Returns the height halfway between `trusted` and `target`, which are at least two
/// apart, so the result lies strictly between them.
fn midpoint(trusted: Height, target: Height) -> Height {
    assert!(target.0 >= trusted.0 + 2, "bisection runs only for a target two or more heights above the trusted one");
    Height(trusted.0 + (target.0 - trusted.0) / 2)
}

/// Fetches the signed header and validator set at `height`.
fn fetch_block<P: Provider>(provider: &mut P, height: Height) -> Result<LightBlock, LightError> {
    let signed_header = provider.signed_header(height).map_err(|source| LightError::Provider {
        height,
        what: "signed header",
        source,
    })?;
    if signed_header.header.height != height {
        return Err(LightError::ProviderHeightMismatch { requested: height, returned: signed_header.header.height });
    }
    let validators = provider.validator_set(height).map_err(|source| LightError::Provider {
        height,
        what: "validator set",
        source,
    })?;
    Ok(LightBlock { signed_header, validators })
}

/// Builds the trusted state after `block` verified, fetching the next height's set
/// when the header names a different one.
fn trust_block<P: Provider>(block: LightBlock, provider: &mut P) -> Result<TrustedState, LightError> {
    let header = &block.signed_header.header;
    let next_validators: ValidatorSet = if header.next_validators_hash == header.validators_hash {
        block.validators.clone()
    } else {
        let next_height = Height(header.height.0.saturating_add(1));
        let set = provider.validator_set(next_height).map_err(|source| LightError::Provider {
            height: next_height,
            what: "validator set",
            source,
        })?;
        check_set_hash(next_height, "next_validators_hash", header.next_validators_hash, &set)?;
        set
    };
    Ok(trusted_after(header, next_validators))
}
