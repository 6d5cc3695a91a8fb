//! The `vouch` subcommands, one module each.

pub mod account;
pub mod attest;
pub mod attester;
pub mod gov;
pub mod image_arg;
pub mod keys;
pub mod policy;
pub mod revoke;
pub mod staking;
pub mod status;
pub mod verify;
