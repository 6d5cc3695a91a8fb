//! Write Vouch policy contracts in Rust: the ABI types a policy reads and returns,
//! parameter and storage helpers, and the wasm32 entry point.
//!
//! A policy is a function from [`Input`] to [`Output`]. [`entry!`] exports it under
//! the name the node calls and, on wasm32, installs a bump allocator and a panic
//! handler that reports the panic message to the node. The node decodes nothing
//! the policy does not return, so everything a policy needs is in [`Input`]:
//!
//! ```
//! use vouch_policy_sdk::{Input, Output, Verdict};
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default, deny_unknown_fields)]
//! struct Parameters {
//!     required_role: Option<String>,
//! }
//!
//! fn evaluate(input: &Input<'_>) -> Output {
//!     let parameters: Parameters = match vouch_policy_sdk::parameters(input) {
//!         Ok(parameters) => parameters,
//!         Err(error) => return Output::quarantined(error),
//!     };
//!     let role = parameters.required_role.as_deref().unwrap_or("reviewer");
//!     match input.attestations.iter().any(|a| a.attester.role == role) {
//!         true => Output::approved(),
//!         false => Output::pending(format!("waiting for an attestation by a {role}")),
//!     }
//! }
//!
//! vouch_policy_sdk::entry!(evaluate);
//! # let output = evaluate(&Input {
//! #     image_digest: "sha256:00", repositories: vec![],
//! #     block: vouch_policy_sdk::Block { height: 1, time_ms: 0 },
//! #     attestations: vec![], parameters: "", storage: vec![],
//! # });
//! # assert_eq!(output.verdict, Verdict::Pending);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-unknown-unknown` as a
//! `cdylib`, linked with `-C link-arg=-zstack-size=65536` so the shadow stack does not
//! take rustc's default of 1 MiB of the policy's memory. Link it also with
//! `-C link-arg=--initial-memory=1048576` so that a typical evaluation fits in the
//! initial memory. The allocator hands out the free initial memory first, and every
//! growth of memory costs the node a system call. docs/POLICY_ABI.md describes the
//! ABI byte by byte.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod abi;
mod parameters;
mod select;
pub mod testing;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use abi::{
    AbiError, Attestation, Attester, Block, Component, Decision, DigestRef, Facts, Input, Material, Output, Provenance,
    Review, Sbom, SbomFormat, Severity, SlsaVersion, StorageEntry, Verdict, Vulnerability, VulnerabilityReport,
};
pub use parameters::{parameters, storage_json};
pub use select::matches_pattern;

/// Exports `$evaluate: fn(&Input<'_>) -> Output` as the policy's entry point.
///
/// On wasm32 this defines the `vouch_evaluate` export, which reads the input from
/// the node, decodes it, calls `$evaluate` and writes the encoded output back. Input
/// that cannot be decoded gives a quarantined output naming the problem. On other
/// targets the macro expands to nothing, so the policy's unit tests run natively.
#[macro_export]
macro_rules! entry {
    ($evaluate:path) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn vouch_evaluate() {
            $crate::wasm::run($evaluate)
        }
    };
}
