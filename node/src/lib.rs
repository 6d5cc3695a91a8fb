//! The Vouch validator node: ledger, state machine, WebAssembly policy runtime and HTTP API.

pub mod policy;
