//! Runs one evaluation in a fresh instance and turns every way it can end into an
//! [`Evaluation`].
//!
//! # Invariants
//! - A trap, a limit, or a missing or invalid output yields a quarantined
//!   [`Evaluation`] whose reason and fuel are the same on every validator.
//!   A stack overflow is charged the whole fuel limit, because the depth at which
//!   it happens depends on the CPU architecture's frame sizes.
//! - Only node-local conditions (no free instance slot, host out of memory) return
//!   a [`RuntimeError`]; the caller retries them and never records them as verdicts.

use std::sync::Arc;

use vouch_policy_sdk::Output;
use vouch_policy_sdk::abi::EVALUATE_EXPORT;
use wasmtime::{Engine, InstancePre, PoolConcurrencyLimitError, Store, Trap};

use super::RuntimeError;
use super::host::HostState;
use super::limits::PolicyLimits;
use super::verdict::{Evaluation, PolicyFailure};

/// Instantiates `pre` and calls its entry point with `input`.
pub(crate) fn run(
    engine: &Engine,
    pre: &InstancePre<HostState>,
    limits: &PolicyLimits,
    input: Arc<[u8]>,
) -> Result<Evaluation, RuntimeError> {
    if input.len() > limits.input_bytes_max as usize {
        let failure = PolicyFailure::InputTooLarge { size: input.len() as u64, max: u64::from(limits.input_bytes_max) };
        return Ok(Evaluation::failed(failure, 0));
    }

    let mut store = Store::new(engine, HostState::new(input, limits));
    store.limiter(|state| &mut state.limiter);
    store.set_fuel(limits.fuel_per_evaluation).expect("the engine meters fuel");

    let result = pre.instantiate(&mut store).and_then(|instance| {
        let evaluate = instance.get_typed_func::<(), ()>(&mut store, EVALUATE_EXPORT)?;
        evaluate.call(&mut store, ())
    });
    let fuel_left = store.get_fuel().expect("the engine meters fuel");
    let fuel_used = limits.fuel_per_evaluation - fuel_left;

    match result {
        Ok(()) => Ok(finish(store.into_data().into_output(), fuel_used)),
        Err(error) => classify(&error, limits).map(|failure| {
            let fuel_used = match failure {
                PolicyFailure::StackOverflow { .. } | PolicyFailure::OutOfFuel { .. } => limits.fuel_per_evaluation,
                _ => fuel_used,
            };
            Evaluation::failed(failure, fuel_used)
        }),
    }
}

/// Decodes the output the policy wrote.
fn finish(output: Option<Vec<u8>>, fuel_used: u64) -> Evaluation {
    let Some(bytes) = output else {
        return Evaluation::failed(PolicyFailure::NoOutput, fuel_used);
    };
    match Output::decode(&bytes) {
        Ok(output) => Evaluation {
            verdict: output.verdict,
            reasons: output.reasons,
            expires_at_ms: output.expires_at_ms,
            fuel_used,
            failure: None,
        },
        Err(error) => Evaluation::failed(PolicyFailure::InvalidOutput { message: error.to_string() }, fuel_used),
    }
}

/// Names the failure behind `error`, or returns the node-local error it is.
fn classify(error: &wasmtime::Error, limits: &PolicyLimits) -> Result<PolicyFailure, RuntimeError> {
    if let Some(failure) = error.downcast_ref::<PolicyFailure>() {
        return Ok(failure.clone());
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return Ok(match trap {
            Trap::OutOfFuel => PolicyFailure::OutOfFuel { limit: limits.fuel_per_evaluation },
            Trap::StackOverflow => PolicyFailure::StackOverflow { limit_bytes: limits.wasm_stack_bytes_max },
            other => PolicyFailure::Trap { trap: other.to_string() },
        });
    }
    if error.is::<PoolConcurrencyLimitError>() {
        return Err(RuntimeError::InstancesBusy { message: error.to_string() });
    }
    Err(RuntimeError::Unexpected { message: format!("{error:#}") })
}
