//! The validator set as a light client sees it: keys and voting powers in commit index
//! order, with the hash that headers carry.
//!
//! # Invariants
//! A [`ValidatorSet`] has 1 to [`COMMIT_SIGNATURES_MAX`] validators, each with non-zero
//! voting power and a distinct key, so a commit names each of them at most once. The
//! total power is a sum of at most 1024 `u64` values, so it fits in a `u128`.

use crate::chain::{COMMIT_SIGNATURES_MAX, Height};
use crate::encoding;
use crate::keys::PublicKey;
use crate::ledger::Genesis;
use crate::light::LightError;

/// The BLAKE3 context string of validator set hashes.
const VALIDATORS_HASH_CONTEXT: &str = "vouch/v1 validator set";

/// One validator: its consensus key and voting power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LightValidator {
    /// The key that signs the validator's precommits.
    pub public_key: PublicKey,
    /// The weight of its signatures.
    pub power: u64,
}

/// The validators of one height in commit index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<LightValidator>,
    total_power: u128,
}

impl ValidatorSet {
    /// Checks the set's rules for the set of `height` (the height names it in errors).
    pub fn new(height: Height, validators: Vec<LightValidator>) -> Result<ValidatorSet, LightError> {
        if validators.is_empty() {
            return Err(LightError::EmptyValidatorSet { height });
        }
        if validators.len() > COMMIT_SIGNATURES_MAX {
            return Err(LightError::TooManyValidators { height, count: validators.len(), max: COMMIT_SIGNATURES_MAX });
        }
        for (index, validator) in validators.iter().enumerate() {
            let public_key = validator.public_key.to_hex();
            if validator.power == 0 {
                return Err(LightError::ZeroPower { height, index, public_key });
            }
            if let Some(first) = validators[..index].iter().position(|other| other.public_key == validator.public_key) {
                return Err(LightError::DuplicateKey { height, first, second: index, public_key });
            }
        }
        let total_power = validators.iter().map(|validator| u128::from(validator.power)).sum();
        Ok(ValidatorSet { validators, total_power })
    }

    /// Builds the genesis set, which signs the block at height 1, with each validator's
    /// stake as its voting power.
    pub fn from_genesis(genesis: &Genesis) -> Result<ValidatorSet, LightError> {
        let validators = genesis
            .validators
            .iter()
            .map(|validator| LightValidator { public_key: validator.public_key, power: validator.stake })
            .collect();
        ValidatorSet::new(Height(1), validators)
    }

    /// Computes the hash that a header's `validators_hash` carries: BLAKE3 under the
    /// context `vouch/v1 validator set` over the canonical encoding of the
    /// `(public key, power)` list in index order.
    // NOTE: the node computes the same bytes in its own code (`Directory::validators_hash`)
    // with the bonded stake as the power; both must change together.
    pub fn hash(&self) -> [u8; 32] {
        let entries: Vec<(PublicKey, u64)> =
            self.validators.iter().map(|validator| (validator.public_key, validator.power)).collect();
        let mut hasher = blake3::Hasher::new_derive_key(VALIDATORS_HASH_CONTEXT);
        hasher.update(&encoding::encode(&entries));
        *hasher.finalize().as_bytes()
    }

    /// Returns the validators in index order.
    pub fn validators(&self) -> &[LightValidator] {
        &self.validators
    }

    /// Returns the validator at `index`, or `None` past the end.
    pub fn get(&self, index: u32) -> Option<&LightValidator> {
        self.validators.get(usize::try_from(index).ok()?)
    }

    /// Returns the voting power of the validator with `public_key`, or `None` when it is
    /// not in the set.
    pub fn power_of(&self, public_key: &PublicKey) -> Option<u64> {
        self.validators.iter().find(|validator| validator.public_key == *public_key).map(|validator| validator.power)
    }

    /// Returns the keys in index order.
    pub fn keys(&self) -> Vec<PublicKey> {
        self.validators.iter().map(|validator| validator.public_key).collect()
    }

    /// Returns the sum of all voting powers.
    pub fn total_power(&self) -> u128 {
        self.total_power
    }
}
