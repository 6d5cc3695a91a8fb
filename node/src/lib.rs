//! The Vouch validator node: ledger store, authenticated state, state machine,
//! WebAssembly policy runtime and HTTP API.

pub mod app;
pub mod daemon;
mod lru;
pub mod policy;
pub mod state;
pub mod store;
pub mod synthetic;
