//! The Vouch validator node: ledger store, authenticated state, state machine, policy
//! runtime and HTTP API.

pub mod state;
pub mod store;
pub mod synthetic;
