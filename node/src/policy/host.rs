//! The host side of the policy ABI: the store's state, the resource limiter and
//! the functions of the `vouch_v1` import module.
//!
//! # Invariants
//! - Host functions charge fuel for the bytes they copy (one unit per 8 bytes,
//!   rounded up, plus one), so a policy that calls them in a loop still runs out of
//!   fuel at the same point on every validator.
//! - Every error a host function or the limiter returns is a [`PolicyFailure`],
//!   whose text depends only on the policy's behaviour and the limits.

use std::sync::Arc;

use vouch_policy_sdk::abi::{ABORT_MESSAGE_BYTES_MAX, HOST_MODULE, MEMORY_EXPORT, OUTPUT_BYTES_MAX};
use wasmtime::{Caller, Linker, Memory, ResourceLimiter, Trap};

use super::limits::PolicyLimits;
use super::verdict::PolicyFailure;

/// The host functions a policy may import, with their wasm signatures as
/// `(params) -> (results)`.
pub(crate) const HOST_FUNCTIONS: [(&str, &str); 4] = [
    ("input_len", "() -> (i32)"),
    ("input_read", "(i32) -> ()"),
    ("output_write", "(i32, i32) -> ()"),
    ("abort", "(i32, i32) -> ()"),
];

/// State of one evaluation's store.
pub(crate) struct HostState {
    input: Arc<[u8]>,
    output: Option<Vec<u8>>,
    pub(crate) limiter: Limiter,
}

impl HostState {
    pub(crate) fn new(input: Arc<[u8]>, limits: &PolicyLimits) -> HostState {
        let limiter =
            Limiter { memory_bytes_max: limits.memory_bytes_max, table_elements_max: limits.table_elements_max };
        HostState { input, output: None, limiter }
    }

    /// Returns the output the policy wrote, if it wrote one.
    pub(crate) fn into_output(self) -> Option<Vec<u8>> {
        self.output
    }
}

/// Enforces the memory and table limits, ending the evaluation with a
/// [`PolicyFailure`] at the first growth past them.
pub(crate) struct Limiter {
    memory_bytes_max: u64,
    table_elements_max: u32,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let requested_bytes = desired as u64;
        if requested_bytes > self.memory_bytes_max {
            let failure = PolicyFailure::MemoryLimit { requested_bytes, limit_bytes: self.memory_bytes_max };
            return Err(wasmtime::Error::new(failure));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let requested = desired as u64;
        if requested > u64::from(self.table_elements_max) {
            let failure = PolicyFailure::TableLimit { requested, limit: self.table_elements_max };
            return Err(wasmtime::Error::new(failure));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

/// Defines the `vouch_v1` functions in `linker`.
pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(HOST_MODULE, "input_len", input_len)?;
    linker.func_wrap(HOST_MODULE, "input_read", input_read)?;
    linker.func_wrap(HOST_MODULE, "output_write", output_write)?;
    linker.func_wrap(HOST_MODULE, "abort", abort)?;
    Ok(())
}

fn input_len(caller: Caller<'_, HostState>) -> u32 {
    u32::try_from(caller.data().input.len()).expect("inputs are checked against input_bytes_max before the call")
}

fn input_read(mut caller: Caller<'_, HostState>, destination: u32) -> wasmtime::Result<()> {
    let input = Arc::clone(&caller.data().input);
    charge(&mut caller, input.len())?;
    let memory = memory(&mut caller);
    memory
        .write(&mut caller, destination as usize, &input)
        .map_err(|_| out_of_bounds(&caller, memory, destination, input.len() as u32))
}

fn output_write(mut caller: Caller<'_, HostState>, source: u32, length: u32) -> wasmtime::Result<()> {
    if caller.data().output.is_some() {
        return Err(wasmtime::Error::new(PolicyFailure::OutputTwice));
    }
    if length as usize > OUTPUT_BYTES_MAX {
        let failure = PolicyFailure::OutputTooLarge { size: u64::from(length), max: OUTPUT_BYTES_MAX as u64 };
        return Err(wasmtime::Error::new(failure));
    }
    charge(&mut caller, length as usize)?;
    let output = read(&mut caller, source, length)?;
    caller.data_mut().output = Some(output);
    Ok(())
}

fn abort(mut caller: Caller<'_, HostState>, message: u32, length: u32) -> wasmtime::Result<()> {
    let length = length.min(ABORT_MESSAGE_BYTES_MAX as u32);
    let bytes = read(&mut caller, message, length)?;
    let message = String::from_utf8_lossy(&bytes).into_owned();
    Err(wasmtime::Error::new(PolicyFailure::Aborted { message }))
}

/// Takes fuel for copying `bytes`, or ends the evaluation out of fuel.
fn charge(caller: &mut Caller<'_, HostState>, bytes: usize) -> wasmtime::Result<()> {
    let cost = (bytes as u64).div_ceil(8) + 1;
    let remaining = caller.get_fuel().expect("the engine meters fuel");
    match remaining.checked_sub(cost) {
        Some(left) => {
            caller.set_fuel(left).expect("the engine meters fuel");
            Ok(())
        }
        None => {
            caller.set_fuel(0).expect("the engine meters fuel");
            Err(wasmtime::Error::new(Trap::OutOfFuel))
        }
    }
}

fn read(caller: &mut Caller<'_, HostState>, source: u32, length: u32) -> wasmtime::Result<Vec<u8>> {
    let memory = memory(caller);
    let mut bytes = vec![0; length as usize];
    memory.read(&*caller, source as usize, &mut bytes).map_err(|_| out_of_bounds(caller, memory, source, length))?;
    Ok(bytes)
}

fn memory(caller: &mut Caller<'_, HostState>) -> Memory {
    caller
        .get_export(MEMORY_EXPORT)
        .and_then(|export| export.into_memory())
        .expect("deploy checks that every module exports its memory")
}

fn out_of_bounds(caller: &Caller<'_, HostState>, memory: Memory, offset: u32, length: u32) -> wasmtime::Error {
    let offset = u64::from(offset);
    let failure = PolicyFailure::OutOfBounds {
        offset,
        end: offset + u64::from(length),
        memory_bytes: memory.data_size(caller) as u64,
    };
    wasmtime::Error::new(failure)
}
