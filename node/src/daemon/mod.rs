//! The `vouchd` daemon: node home and configuration, mempool, consensus engine and HTTP
//! API.

pub mod chain;
pub mod config;
pub mod dev;
pub mod engine;
pub mod home;
pub mod http;
pub mod ledger;
pub mod lock;
pub mod mempool;
pub mod node_key;
pub mod open;
pub mod producer;
pub mod run;
pub mod signals;
pub mod waiters;
