//! The light client's provider over a node's HTTP API: signed headers from
//! `GET /v1/blocks/{height}` and the set of each height from
//! `GET /v1/validators?height=H`.
//!
//! Nothing here is trusted. The verifier checks every header against its commit and
//! every set against the hash that a header names.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vouch_protocol::api::ValidatorsResponse;
use vouch_protocol::chain::{Commit, Header, Height};
use vouch_protocol::keys::PublicKey;
use vouch_protocol::light::{LightValidator, Provider, ProviderError, SignedHeader, ValidatorSet};

use crate::client::NodeClient;

/// A provider that requests headers and sets from one node.
pub struct NodeProvider<'a> {
    client: &'a NodeClient,
}

impl<'a> NodeProvider<'a> {
    /// Builds a provider over `client`'s node.
    pub fn new(client: &'a NodeClient) -> NodeProvider<'a> {
        NodeProvider { client }
    }
}

impl Provider for NodeProvider<'_> {
    fn signed_header(&mut self, height: Height) -> Result<SignedHeader, ProviderError> {
        let block = self.client.block(height.0)?;
        let header = Header::from_bytes(&decode_base64("header", &block.header)?)?;
        let commit = Commit::from_bytes(&decode_base64("commit", &block.commit)?)?;
        Ok(SignedHeader { header, commit })
    }

    fn validator_set(&mut self, height: Height) -> Result<ValidatorSet, ProviderError> {
        let response = self.client.validators_at(height.0)?;
        light_set(height, &response)
    }
}

/// Converts the node's validator list into the light client's set, with each
/// validator's stake as its voting power.
fn light_set(height: Height, response: &ValidatorsResponse) -> Result<ValidatorSet, ProviderError> {
    let mut validators = Vec::with_capacity(response.validators.len());
    for (index, view) in response.validators.iter().enumerate() {
        let public_key = PublicKey::from_hex(&view.public_key)
            .map_err(|error| format!("validator {index} has an invalid public key {:?}: {error}", view.public_key))?;
        validators.push(LightValidator { public_key, power: view.stake });
    }
    Ok(ValidatorSet::new(height, validators)?)
}

fn decode_base64(field: &str, text: &str) -> Result<Vec<u8>, ProviderError> {
    STANDARD.decode(text).map_err(|error| format!("the block's {field} is not valid base64: {error}").into())
}
