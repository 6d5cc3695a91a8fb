//! Limits of policy execution and the runtime's own configuration.
//!
//! # Invariants
//! - [`PolicyLimits`] decide verdicts (a policy that needs one more unit of fuel is
//!   quarantined), so every validator must use the same values: the node takes them
//!   from the chain's consensus parameters, never from a local file.
//! - [`RuntimeConfig`]'s other fields only change speed and memory use.

use std::num::NonZeroUsize;

use vouch_policy_sdk::abi::INPUT_BYTES_MAX;

/// Execution limits that every validator applies identically; the genesis file and
/// the ledger carry them as consensus parameters.
pub use vouch_protocol::ledger::PolicyLimits;

/// Configuration of one node's policy runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Consensus limits of execution.
    pub limits: PolicyLimits,
    /// Compiled modules kept in memory, least recently used evicted first.
    pub cached_modules_max: NonZeroUsize,
    /// Policy instances that may run at the same time (pooling allocator slots).
    pub concurrent_instances_max: u32,
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            limits: PolicyLimits::default(),
            cached_modules_max: NonZeroUsize::new(64).expect("64 is not zero"),
            concurrent_instances_max: 16,
        }
    }
}

/// A configuration rule that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("limits.fuel_per_evaluation is 0; a policy needs fuel to run")]
    NoFuel,
    #[error("limits.memory_bytes_max is {value}; it must be a multiple of 65536 (one wasm page) and at least one page")]
    MemoryNotPages { value: u64 },
    #[error("limits.memory_bytes_max is {value}, over the 4 GiB that 32-bit wasm memory can address")]
    MemoryTooLarge { value: u64 },
    #[error("limits.input_bytes_max is {value}, over the {max} bytes that the SDK decodes")]
    InputTooLarge { value: u32, max: usize },
    #[error(
        "limits.input_bytes_max is {value}, over limits.memory_bytes_max ({memory}); the input could never be copied in"
    )]
    InputOverMemory { value: u32, memory: u64 },
    #[error("limits.wasm_stack_bytes_max is {value}; it must be between 4096 and 8388608")]
    StackOutOfRange { value: u32 },
    #[error("concurrent_instances_max is 0; at least one policy instance must be able to run")]
    NoInstances,
}

/// Smallest and largest accepted wasm stack: from one page to 8 MiB, the default
/// main thread stack of Linux.
const WASM_STACK_BYTES_RANGE: std::ops::RangeInclusive<u32> = 4096..=8 * 1024 * 1024;

/// Size of a wasm memory page.
pub(crate) const WASM_PAGE_BYTES: u64 = 65_536;

impl RuntimeConfig {
    /// Checks every rule, naming the first field that breaks one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let limits = &self.limits;
        if limits.fuel_per_evaluation == 0 {
            return Err(ConfigError::NoFuel);
        }
        if limits.memory_bytes_max == 0 || !limits.memory_bytes_max.is_multiple_of(WASM_PAGE_BYTES) {
            return Err(ConfigError::MemoryNotPages { value: limits.memory_bytes_max });
        }
        if limits.memory_bytes_max > 1 << 32 {
            return Err(ConfigError::MemoryTooLarge { value: limits.memory_bytes_max });
        }
        if limits.input_bytes_max as usize > INPUT_BYTES_MAX {
            return Err(ConfigError::InputTooLarge { value: limits.input_bytes_max, max: INPUT_BYTES_MAX });
        }
        if u64::from(limits.input_bytes_max) > limits.memory_bytes_max {
            return Err(ConfigError::InputOverMemory {
                value: limits.input_bytes_max,
                memory: limits.memory_bytes_max,
            });
        }
        if !WASM_STACK_BYTES_RANGE.contains(&limits.wasm_stack_bytes_max) {
            return Err(ConfigError::StackOutOfRange { value: limits.wasm_stack_bytes_max });
        }
        if self.concurrent_instances_max == 0 {
            return Err(ConfigError::NoInstances);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(change: impl FnOnce(&mut RuntimeConfig)) -> Result<(), ConfigError> {
        let mut config = RuntimeConfig::default();
        change(&mut config);
        config.validate()
    }

    #[test]
    fn default_is_valid() {
        assert_eq!(RuntimeConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_rule_names_its_field() {
        assert_eq!(with(|c| c.limits.fuel_per_evaluation = 0), Err(ConfigError::NoFuel));
        assert_eq!(with(|c| c.limits.memory_bytes_max = 65_537), Err(ConfigError::MemoryNotPages { value: 65_537 }));
        assert_eq!(with(|c| c.limits.memory_bytes_max = 0), Err(ConfigError::MemoryNotPages { value: 0 }));
        assert_eq!(
            with(|c| c.limits.memory_bytes_max = (1 << 32) + 65_536),
            Err(ConfigError::MemoryTooLarge { value: (1 << 32) + 65_536 })
        );
        assert_eq!(with(|c| c.limits.memory_bytes_max = 1 << 32), Ok(()));
        assert_eq!(with(|c| c.concurrent_instances_max = 0), Err(ConfigError::NoInstances));
        let error = with(|c| c.limits.wasm_stack_bytes_max = 4095).unwrap_err();
        assert!(error.to_string().contains("limits.wasm_stack_bytes_max is 4095"), "{error}");
        assert_eq!(with(|c| c.limits.wasm_stack_bytes_max = 4096), Ok(()));
    }

    #[test]
    fn input_limit_edges() {
        let at_sdk_max = INPUT_BYTES_MAX as u32;
        assert_eq!(with(|c| c.limits.input_bytes_max = at_sdk_max), Ok(()));
        assert_eq!(
            with(|c| c.limits.input_bytes_max = at_sdk_max + 1),
            Err(ConfigError::InputTooLarge { value: at_sdk_max + 1, max: INPUT_BYTES_MAX })
        );
        let error = with(|c| {
            c.limits.memory_bytes_max = 65_536;
            c.limits.input_bytes_max = 65_537;
        })
        .unwrap_err();
        assert_eq!(error, ConfigError::InputOverMemory { value: 65_537, memory: 65_536 });
    }
}
