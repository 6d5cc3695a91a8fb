//! Sources of the headers, commits and validator sets that the light client needs: the
//! [`Provider`] trait and two providers that keep their data in memory.
//!
//! A provider is never trusted. Every header it returns is checked against a commit,
//! and every set against the hash in a header, before anything it sent is used.

use std::collections::BTreeMap;

use crate::chain::{Commit, Header, Height};
use crate::light::{ProviderError, ValidatorSet};

/// A header with the commit that certifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeader {
    /// The header.
    pub header: Header,
    /// The precommit signatures for the header's hash.
    pub commit: Commit,
}

/// A signed header with the validator set that signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightBlock {
    /// The header and its commit.
    pub signed_header: SignedHeader,
    /// The set whose hash is the header's `validators_hash`.
    pub validators: ValidatorSet,
}

impl LightBlock {
    /// Returns the block's height.
    pub fn height(&self) -> Height {
        self.signed_header.header.height
    }
}

/// A source of signed headers and validator sets by height, such as a node's API.
pub trait Provider {
    /// Returns the header at `height` with its commit.
    fn signed_header(&mut self, height: Height) -> Result<SignedHeader, ProviderError>;

    /// Returns the validator set that signs the commit at `height`.
    fn validator_set(&mut self, height: Height) -> Result<ValidatorSet, ProviderError>;
}

/// A provider for a chain whose validator set never changed since genesis: it returns
/// one set for every height and has no headers.
///
/// With it, a header is accepted only when it names that set and its own commit
/// carries more than 2/3 of the set's power.
#[derive(Clone, Debug)]
pub struct FixedSetProvider {
    validators: ValidatorSet,
}

impl FixedSetProvider {
    /// Serves `validators` at every height.
    pub fn new(validators: ValidatorSet) -> FixedSetProvider {
        FixedSetProvider { validators }
    }
}

impl Provider for FixedSetProvider {
    fn signed_header(&mut self, height: Height) -> Result<SignedHeader, ProviderError> {
        Err(format!(
            "no header at height {height}: the fixed-set provider serves no headers, so the chain's validator set \
             must be the one it was given"
        )
        .into())
    }

    fn validator_set(&mut self, _height: Height) -> Result<ValidatorSet, ProviderError> {
        Ok(self.validators.clone())
    }
}

/// A provider over signed headers and sets held in memory, for example a bundle that a
/// client received in one piece.
#[derive(Clone, Debug, Default)]
pub struct MemoryProvider {
    headers: BTreeMap<Height, SignedHeader>,
    validators: BTreeMap<Height, ValidatorSet>,
}

impl MemoryProvider {
    /// Builds an empty provider.
    pub fn new() -> MemoryProvider {
        MemoryProvider::default()
    }

    /// Stores the signed header under its header's height, replacing an earlier one.
    pub fn insert_header(&mut self, signed_header: SignedHeader) {
        self.headers.insert(signed_header.header.height, signed_header);
    }

    /// Stores the validator set of `height`, replacing an earlier one.
    pub fn insert_validators(&mut self, height: Height, validators: ValidatorSet) {
        self.validators.insert(height, validators);
    }
}

impl Provider for MemoryProvider {
    fn signed_header(&mut self, height: Height) -> Result<SignedHeader, ProviderError> {
        self.headers.get(&height).cloned().ok_or_else(|| format!("no header is stored at height {height}").into())
    }

    fn validator_set(&mut self, height: Height) -> Result<ValidatorSet, ProviderError> {
        self.validators
            .get(&height)
            .cloned()
            .ok_or_else(|| format!("no validator set is stored at height {height}").into())
    }
}
