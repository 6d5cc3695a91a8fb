//! The `vouchd` daemon: node home and configuration, mempool, block producer and HTTP API.

pub mod chain;
pub mod config;
pub mod home;
pub mod lock;
pub mod node_key;
