//! The `vouch` subcommands, one module each.

pub mod attest;
pub mod keys;
