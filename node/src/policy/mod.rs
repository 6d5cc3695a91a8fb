//! The WebAssembly policy runtime: deploy-time checks, a cache of compiled
//! policies, and deterministic, fail-closed evaluation.
//!
//! # Design
//! One [`PolicyRuntime`] per node owns a wasmtime engine configured for
//! determinism: fuel metering, NaN canonicalization, no WASI, and no proposal whose
//! results can differ between machines (threads, relaxed SIMD) or that policies do
//! not need (SIMD, memory64, multi-memory, GC, exceptions, tail calls). Memory,
//! tables and the wasm stack are bounded by [`PolicyLimits`], which are consensus
//! parameters. Deploy checks a module ([`deploy::DeployError`] names what is wrong)
//! and compiles it once into an `InstancePre`, cached by [`CodeHash`]; every
//! evaluation then instantiates it afresh from the pooling allocator, so nothing
//! survives from one evaluation to the next. docs/POLICY_ABI.md describes the ABI.
//!
//! # Invariants
//! - The same module, input and limits give the same [`Evaluation`] (verdict,
//!   reasons, expiry and fuel) on every validator with this wasmtime version and CPU
//!   architecture; [`PolicyRuntime::evaluate`] returns an error only for node-local
//!   conditions that must be retried, never for anything the policy did.

mod cache;
pub mod deploy;
mod evaluate;
pub mod facts;
mod host;
pub mod limits;
pub mod standard;
pub mod verdict;

use std::sync::{Arc, Mutex};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, PoolingAllocationConfig};

use cache::ModuleCache;
pub use deploy::DeployError;
use host::HostState;
pub use limits::{ConfigError, PolicyLimits, RuntimeConfig};
pub use verdict::{CodeHash, Evaluation, PolicyFailure, Verdict};
pub use vouch_policy_sdk::abi;

/// Failures to build the runtime or to run an evaluation on this node.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid policy runtime configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("could not create the wasmtime engine: {message}")]
    Engine { message: String },
    #[error("no free policy instance slot; raise concurrent_instances_max or retry: {message}")]
    InstancesBusy { message: String },
    #[error("policy evaluation failed inside the host: {message}")]
    Unexpected { message: String },
}

/// A policy module that passed the deploy checks, compiled and ready to run.
pub struct CompiledPolicy {
    code_hash: CodeHash,
    pre: InstancePre<HostState>,
}

impl CompiledPolicy {
    /// Returns the blake3 hash of the module's bytes.
    pub fn code_hash(&self) -> CodeHash {
        self.code_hash
    }
}

/// An evaluation input encoded once, shareable between evaluations.
#[derive(Clone, Debug)]
pub struct EncodedInput(Arc<[u8]>);

impl EncodedInput {
    /// Encodes `input` in the ABI's format.
    pub fn encode(input: &abi::Input<'_>) -> EncodedInput {
        EncodedInput(input.encode().into())
    }

    /// Wraps bytes that are already encoded (for tests of malformed input).
    pub fn from_bytes(bytes: Vec<u8>) -> EncodedInput {
        EncodedInput(bytes.into())
    }

    /// Returns the encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Deploys, caches and evaluates policy modules.
pub struct PolicyRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: PolicyLimits,
    cache: Mutex<ModuleCache>,
    /// Held while a module compiles, so that one compiles at a time.
    compiling: Mutex<()>,
}

impl PolicyRuntime {
    /// Builds a runtime after checking `config`.
    pub fn new(config: RuntimeConfig) -> Result<PolicyRuntime, RuntimeError> {
        config.validate()?;
        let engine = Engine::new(&engine_config(&config))
            .map_err(|error| RuntimeError::Engine { message: error.to_string() })?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker).map_err(|error| RuntimeError::Engine { message: error.to_string() })?;
        let cache = Mutex::new(ModuleCache::new(config.cached_modules_max));
        Ok(PolicyRuntime { engine, linker, limits: config.limits, cache, compiling: Mutex::new(()) })
    }

    /// Returns the consensus limits this runtime applies.
    pub fn limits(&self) -> &PolicyLimits {
        &self.limits
    }

    /// Checks and compiles `wasm`, or returns the cached policy with the same hash.
    pub fn deploy(&self, wasm: &[u8]) -> Result<Arc<CompiledPolicy>, DeployError> {
        let code_hash = CodeHash::of(wasm);
        if let Some(policy) = self.cached(&code_hash) {
            return Ok(policy);
        }
        // Threads that miss the same module at once reuse the first compile, and wasmtime
        // keeps one set of compiler buffers, not one per concurrent compile.
        let _compiling = self.compiling.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(policy) = self.cached(&code_hash) {
            return Ok(policy);
        }
        let pre = deploy::compile(&self.engine, &self.linker, &self.limits, wasm)?;
        let policy = Arc::new(CompiledPolicy { code_hash, pre });
        self.lock_cache().insert(Arc::clone(&policy));
        Ok(policy)
    }

    /// Returns the compiled policy with `code_hash` if it is still cached; after a
    /// miss the caller deploys the module's bytes again from the ledger.
    pub fn cached(&self, code_hash: &CodeHash) -> Option<Arc<CompiledPolicy>> {
        self.lock_cache().get(code_hash)
    }

    /// Returns how many compiled policies the cache holds.
    pub fn cached_count(&self) -> usize {
        self.lock_cache().len()
    }

    /// Evaluates `policy` on `input` in a fresh instance.
    pub fn evaluate(&self, policy: &CompiledPolicy, input: &EncodedInput) -> Result<Evaluation, RuntimeError> {
        evaluate::run(&self.engine, &policy.pre, &self.limits, Arc::clone(&input.0))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, ModuleCache> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Builds the deterministic engine configuration.
fn engine_config(config: &RuntimeConfig) -> Config {
    let limits = &config.limits;
    let mut engine = Config::new();
    engine
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .max_wasm_stack(limits.wasm_stack_bytes_max as usize)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .wasm_multi_memory(false)
        .wasm_memory64(false)
        .wasm_tail_call(false)
        .wasm_gc(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .wasm_backtrace_max_frames(None)
        // Table entries are filled on first use. Filling every entry when an instance
        // starts cost more than the few indirect calls of an evaluation: with tables
        // kept resident (`TABLE_KEEP_RESIDENT_BYTES`), first use faults in no page.
        // The standard vulnerability policy over 200 findings took 26.0 µs lazily and
        // 29.4 to 31.3 µs eagerly (`cargo bench --bench policy`).
        .table_lazy_init(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(config)));
    engine
}

/// Bytes at the start of each pooled linear memory that are zeroed in place after an
/// evaluation instead of given back to the kernel. The next instance in the slot then
/// takes no page faults there: they were most of a small evaluation's time. Memory
/// contents are the same either way, so this changes speed only.
// NOTE: this keeps up to 1 MiB resident per pool slot (16 MiB with the default 16
// slots); it is not yet a `RuntimeConfig` field, and no test covers the memory it uses.
const KEEP_RESIDENT_BYTES: usize = 1024 * 1024;

/// Bytes of each pooled table that are reset in place, as for memories.
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 * 1024;

fn pooling_config(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let instances = config.concurrent_instances_max;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(instances)
        .total_memories(instances)
        .total_tables(instances)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(config.limits.memory_bytes_max as usize)
        .table_elements(config.limits.table_elements_max as usize)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
        // Where the kernel can list the pages an instance wrote, only those are reset.
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
}
