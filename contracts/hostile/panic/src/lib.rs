//! A test policy that panics with a message built from its parameters, so the node's
//! tests see the SDK's panic handler report the message through `abort`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use vouch_policy_sdk::{Input, Output};

vouch_policy_sdk::entry!(evaluate);

/// Panics with the parameters as the message.
pub fn evaluate(input: &Input<'_>) -> Output {
    panic!("deliberate panic: {}", input.parameters)
}
