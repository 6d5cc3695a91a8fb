//! Reads a binding's JSON parameters and JSON values from a policy's storage.

use alloc::format;
use alloc::string::String;

use serde::de::DeserializeOwned;

use crate::abi::Input;

/// Reads the binding's parameters as JSON into `T`, or returns `T::default()` when
/// the binding gives none (empty or only whitespace).
///
/// The error is a sentence for an output reason, naming the JSON line and column.
pub fn parameters<T: DeserializeOwned + Default>(input: &Input<'_>) -> Result<T, String> {
    if input.parameters.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(input.parameters).map_err(|error| format!("invalid policy parameters: {error}"))
}

/// Reads the JSON value stored under `key` into `T`.
///
/// The error is a sentence for an output reason naming the key.
pub fn storage_json<T: DeserializeOwned>(key: &str, value: &str) -> Result<T, String> {
    serde_json::from_str(value).map_err(|error| format!("invalid storage value under {key:?}: {error}"))
}
