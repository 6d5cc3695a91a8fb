//! Types and rules that every Vouch component shares: digests and image references,
//! OCI content, DSSE envelopes with in-toto statements, normalized facts, canonical
//! encoding and domain-separated signatures.
//!
//! This crate performs no network IO and has no tokio, libp2p, sled or wasmtime
//! dependency, so the node, the CLI and light clients all decide validity the same way.

pub mod api;
mod bounded;
pub mod chain;
pub mod digest;
pub mod dsse;
pub mod encoding;
pub mod facts;
pub mod input;
pub mod intoto;
pub mod keys;
pub mod ledger;
pub mod light;
pub mod oci;
pub mod predicate;
pub mod reference;
pub mod signing;
pub mod state;

pub use digest::{Algorithm, Digest, DigestError};
pub use facts::{Facts, FactsError};
pub use input::InputError;
pub use keys::{KeyId, PublicKey, Signature, SigningKey};
pub use predicate::PredicateKind;
pub use reference::{Reference, ReferenceError};
pub use state::{StateKey, StateProof, StateRoot};
