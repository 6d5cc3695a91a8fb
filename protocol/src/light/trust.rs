//! The light client's root of trust: the newest verified header with the validator set
//! that signs the block after it, and the options that bound how long and how far that
//! trust reaches.
//!
//! # Invariants
//! - `next_validators` hashes to the trusted header's `next_validators_hash` (for the
//!   genesis state, it is the genesis set, which signs height 1).
//! - A trusted state is used only while `now < time + trust_period`.

use std::time::Duration;

use crate::chain::{BlockHash, Header, Height};
use crate::ledger::Genesis;
use crate::light::{LightError, ValidatorSet};
use crate::signing::ChainId;

/// Options of a [`Verifier`](super::Verifier), checked once by [`TrustOptions::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustOptions {
    /// How long after its block time a trusted header may still vouch for later
    /// headers. It must be shorter than the unbonding period, so that validators who
    /// sign a fork after it can still be slashed.
    pub trust_period: Duration,
    /// How far a header's time may be ahead of the verifier's clock.
    pub clock_drift: Duration,
    /// Maximum number of intermediate headers fetched while verifying one target; 0
    /// accepts only targets that the trusted state verifies directly.
    pub bisection_steps_max: u32,
}

impl Default for TrustOptions {
    // NOTE: two weeks is the example that CometBFT's `light.TrustOptions` documentation
    // gives for a three-week unbonding period. Vouch has no unbonding period parameter
    // yet; once staking defines one, the trust period should be derived from it.
    fn default() -> TrustOptions {
        TrustOptions {
            trust_period: Duration::from_secs(14 * 24 * 60 * 60),
            clock_drift: Duration::from_secs(10),
            bisection_steps_max: 256,
        }
    }
}

impl TrustOptions {
    /// Checks the rules the fields must follow and names the one that is broken.
    pub fn validate(&self) -> Result<(), LightError> {
        let invalid = |reason: String| Err(LightError::InvalidTrustOptions { reason });
        if self.trust_period.as_millis() == 0 {
            return invalid("trust_period is 0 ms; set it to at least 1 ms (two weeks is typical)".to_owned());
        }
        if u64::try_from(self.trust_period.as_millis()).is_err() {
            return invalid(format!("trust_period of {:?} does not fit in u64 milliseconds", self.trust_period));
        }
        if self.clock_drift >= self.trust_period {
            return invalid(format!(
                "clock_drift ({:?}) is not shorter than trust_period ({:?}); raise the trust period or lower the drift",
                self.clock_drift, self.trust_period
            ));
        }
        Ok(())
    }

    /// Returns the trust period in milliseconds; [`TrustOptions::validate`] checked that
    /// it fits.
    pub(crate) fn trust_period_ms(&self) -> u64 {
        u64::try_from(self.trust_period.as_millis()).unwrap_or(u64::MAX)
    }

    /// Returns the clock drift in milliseconds, which is below the trust period.
    pub(crate) fn clock_drift_ms(&self) -> u64 {
        u64::try_from(self.clock_drift.as_millis()).unwrap_or(u64::MAX)
    }
}

/// The newest header the light client trusts, or the genesis state before any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedState {
    chain_id: ChainId,
    height: Height,
    header_hash: Option<BlockHash>,
    time_unix_ms: u64,
    next_validators_hash: [u8; 32],
    next_validators: ValidatorSet,
}

impl TrustedState {
    /// Trusts the genesis state: height 0, the genesis time, and the genesis set as the
    /// signers of height 1.
    pub fn from_genesis(genesis: &Genesis) -> Result<TrustedState, LightError> {
        let next_validators = ValidatorSet::from_genesis(genesis)?;
        Ok(TrustedState {
            chain_id: genesis.chain_id.clone(),
            height: Height::GENESIS,
            header_hash: None,
            time_unix_ms: genesis.genesis_time_unix_ms,
            next_validators_hash: next_validators.hash(),
            next_validators,
        })
    }

    /// Trusts `header`, which the caller obtained from a source it trusts (for example
    /// a checkpoint hash published by the validators), with `next_validators`, the set
    /// that signs the block after it.
    pub fn from_header(header: &Header, next_validators: ValidatorSet) -> Result<TrustedState, LightError> {
        let next_height = Height(header.height.0.saturating_add(1));
        check_set_hash(next_height, "next_validators_hash", header.next_validators_hash, &next_validators)?;
        Ok(trusted_after(header, next_validators))
    }

    /// Returns the chain id every verified header must carry.
    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// Returns the trusted height, 0 for the genesis state.
    pub fn height(&self) -> Height {
        self.height
    }

    /// Returns the trusted header's hash, or `None` for the genesis state.
    pub fn header_hash(&self) -> Option<BlockHash> {
        self.header_hash
    }

    /// Returns the trusted block time, Unix milliseconds.
    pub fn time_unix_ms(&self) -> u64 {
        self.time_unix_ms
    }

    /// Returns the validator set that signs the block after the trusted height.
    pub fn next_validators(&self) -> &ValidatorSet {
        &self.next_validators
    }

    /// Returns the hash of [`TrustedState::next_validators`].
    pub fn next_validators_hash(&self) -> [u8; 32] {
        self.next_validators_hash
    }

    /// Fails when the trust period has run out at `now_unix_ms`.
    pub(crate) fn check_not_expired(&self, options: &TrustOptions, now_unix_ms: u64) -> Result<(), LightError> {
        let trust_period_ms = options.trust_period_ms();
        let expired_at_unix_ms = self.time_unix_ms.saturating_add(trust_period_ms);
        if now_unix_ms >= expired_at_unix_ms {
            return Err(LightError::TrustExpired {
                trusted_height: self.height,
                trusted_time_unix_ms: self.time_unix_ms,
                expired_at_unix_ms,
                trust_period_ms,
                now_unix_ms,
            });
        }
        Ok(())
    }
}

/// Fails unless `set`, the set of `height`, hashes to `in_header`, the header's `field`
/// (`validators_hash` or `next_validators_hash`).
pub(crate) fn check_set_hash(
    height: Height,
    field: &'static str,
    in_header: [u8; 32],
    set: &ValidatorSet,
) -> Result<(), LightError> {
    let computed = set.hash();
    if computed != in_header {
        return Err(LightError::ValidatorSetMismatch {
            height,
            field,
            in_header: hex::encode(in_header),
            computed: hex::encode(computed),
        });
    }
    Ok(())
}

/// Builds the trusted state after `header` was verified.
pub(crate) fn trusted_after(header: &Header, next_validators: ValidatorSet) -> TrustedState {
    TrustedState {
        chain_id: header.chain_id.clone(),
        height: header.height,
        header_hash: Some(header.hash()),
        time_unix_ms: header.time_unix_ms,
        next_validators_hash: header.next_validators_hash,
        next_validators,
    }
}
