//! Checks a policy module before it is deployed and compiles it.
//!
//! # Invariants
//! - A module that passes imports only functions of the `vouch_v1` host module with
//!   their documented signatures, exports `memory` and `vouch_evaluate: () -> ()`,
//!   and starts within the memory and table limits. Whether a module passes depends
//!   only on its bytes, the wasmtime version and the consensus limits.

use vouch_policy_sdk::abi::{EVALUATE_EXPORT, HOST_MODULE, MEMORY_EXPORT};
use wasmtime::wasmparser::{Parser, Payload, TypeRef};
use wasmtime::{Engine, ExternType, FuncType, InstancePre, Linker, Module};

use super::host::{HOST_FUNCTIONS, HostState};
use super::limits::{PolicyLimits, WASM_PAGE_BYTES};

/// Errors that reject a policy module at deploy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("policy module is {size} bytes, over the limit of {max} bytes")]
    TooLarge { size: usize, max: u32 },
    #[error("policy module is not valid WebAssembly for this runtime: {message}")]
    Invalid { message: String },
    #[error(
        "policy module imports {kind} `{module}.{name}`; a policy may import only functions of the `{HOST_MODULE}` module"
    )]
    ForbiddenImport { module: String, name: String, kind: &'static str },
    #[error(
        "policy module imports `{HOST_MODULE}.{name}`, which the host does not provide; see docs/POLICY_ABI.md for the host functions"
    )]
    UnknownHostFunction { name: String },
    #[error("policy module imports `{HOST_MODULE}.{name}` as {found}; the host defines it as {expected}")]
    ImportSignature { name: String, expected: &'static str, found: String },
    #[error("policy module does not export `{name}`; build it with the SDK's entry! macro")]
    MissingExport { name: &'static str },
    #[error("policy module exports `{name}` as {found}; expected {expected}")]
    ExportType { name: &'static str, expected: &'static str, found: String },
    #[error("policy module defines {count} memories; a policy defines exactly one and exports it as `memory`")]
    MemoryCount { count: u32 },
    #[error("policy module starts with {initial_bytes} bytes of memory, over the limit of {max} bytes")]
    InitialMemoryTooLarge { initial_bytes: u64, max: u64 },
    #[error("policy module defines {count} tables; at most one is allowed")]
    TableCount { count: u32 },
    #[error("policy module starts with a table of {initial} elements, over the limit of {max}")]
    InitialTableTooLarge { initial: u64, max: u32 },
    #[error("policy module could not be prepared for instantiation: {message}")]
    Link { message: String },
}

/// Checks `wasm` and compiles it into a ready-to-instantiate policy.
pub(crate) fn compile(
    engine: &Engine,
    linker: &Linker<HostState>,
    limits: &PolicyLimits,
    wasm: &[u8],
) -> Result<InstancePre<HostState>, DeployError> {
    if wasm.len() > limits.module_bytes_max as usize {
        return Err(DeployError::TooLarge { size: wasm.len(), max: limits.module_bytes_max });
    }
    check_sections(wasm, limits)?;
    let module = Module::new(engine, wasm).map_err(|error| DeployError::Invalid { message: error.to_string() })?;
    check_import_signatures(&module)?;
    check_exports(&module)?;
    linker.instantiate_pre(&module).map_err(|error| DeployError::Link { message: error.to_string() })
}

/// Checks import origins, memories and tables before compiling, so that modules
/// over a limit are rejected by the rule they break (and without compile work).
/// Bytes that do not parse are left to the compiler, which names the error.
fn check_sections(wasm: &[u8], limits: &PolicyLimits) -> Result<(), DeployError> {
    let mut memories = Vec::new();
    let mut tables = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::ImportSection(reader)) => {
                for import in reader.into_imports() {
                    let Ok(import) = import else { return Ok(()) };
                    check_import_origin(import.module, import.name, &import.ty)?;
                }
            }
            Ok(Payload::MemorySection(reader)) => {
                for memory in reader {
                    let Ok(memory) = memory else { return Ok(()) };
                    memories.push(memory.initial);
                }
            }
            Ok(Payload::TableSection(reader)) => {
                for table in reader {
                    let Ok(table) = table else { return Ok(()) };
                    tables.push(table.ty.initial);
                }
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    check_memories(&memories, limits)?;
    check_tables(&tables, limits)
}

fn check_import_origin(module: &str, name: &str, ty: &TypeRef) -> Result<(), DeployError> {
    let kind = match ty {
        TypeRef::Func(_) | TypeRef::FuncExact(_) => "function",
        TypeRef::Table(_) => "table",
        TypeRef::Memory(_) => "memory",
        TypeRef::Global(_) => "global",
        TypeRef::Tag(_) => "tag",
    };
    if module != HOST_MODULE || kind != "function" {
        return Err(DeployError::ForbiddenImport { module: module.into(), name: name.into(), kind });
    }
    if !HOST_FUNCTIONS.iter().any(|(host_name, _)| *host_name == name) {
        return Err(DeployError::UnknownHostFunction { name: name.into() });
    }
    Ok(())
}

fn check_memories(initial_pages: &[u64], limits: &PolicyLimits) -> Result<(), DeployError> {
    if initial_pages.len() != 1 {
        return Err(DeployError::MemoryCount { count: initial_pages.len() as u32 });
    }
    let initial_bytes = initial_pages[0].saturating_mul(WASM_PAGE_BYTES);
    if initial_bytes > limits.memory_bytes_max {
        return Err(DeployError::InitialMemoryTooLarge { initial_bytes, max: limits.memory_bytes_max });
    }
    Ok(())
}

fn check_tables(initial_sizes: &[u64], limits: &PolicyLimits) -> Result<(), DeployError> {
    if initial_sizes.len() > 1 {
        return Err(DeployError::TableCount { count: initial_sizes.len() as u32 });
    }
    match initial_sizes.first() {
        Some(&initial) if initial > u64::from(limits.table_elements_max) => {
            Err(DeployError::InitialTableTooLarge { initial, max: limits.table_elements_max })
        }
        _ => Ok(()),
    }
}

fn check_import_signatures(module: &Module) -> Result<(), DeployError> {
    for import in module.imports() {
        let ExternType::Func(func) = import.ty() else {
            unreachable!("check_sections rejects every import that is not a function");
        };
        let name = import.name();
        let expected = HOST_FUNCTIONS
            .iter()
            .find(|(host_name, _)| *host_name == name)
            .map(|(_, signature)| *signature)
            .expect("check_sections rejects unknown host functions");
        let found = signature(&func);
        if found != expected {
            return Err(DeployError::ImportSignature { name: name.into(), expected, found });
        }
    }
    Ok(())
}

fn check_exports(module: &Module) -> Result<(), DeployError> {
    match module.get_export(MEMORY_EXPORT) {
        Some(ExternType::Memory(_)) => {}
        Some(other) => {
            let found = kind_name(&other).to_owned();
            return Err(DeployError::ExportType { name: MEMORY_EXPORT, expected: "a memory", found });
        }
        None => return Err(DeployError::MissingExport { name: MEMORY_EXPORT }),
    }
    let expected = "a function () -> ()";
    match module.get_export(EVALUATE_EXPORT) {
        Some(ExternType::Func(func)) if signature(&func) == "() -> ()" => Ok(()),
        Some(ExternType::Func(func)) => Err(DeployError::ExportType {
            name: EVALUATE_EXPORT,
            expected,
            found: format!("a function {}", signature(&func)),
        }),
        Some(other) => {
            Err(DeployError::ExportType { name: EVALUATE_EXPORT, expected, found: kind_name(&other).to_owned() })
        }
        None => Err(DeployError::MissingExport { name: EVALUATE_EXPORT }),
    }
}

/// Formats a function type as `(i32, i32) -> ()`.
fn signature(func: &FuncType) -> String {
    let list = |types: Vec<String>| types.join(", ");
    let params = list(func.params().map(|t| t.to_string()).collect());
    let results = list(func.results().map(|t| t.to_string()).collect());
    format!("({params}) -> ({results})")
}

fn kind_name(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        ExternType::Tag(_) => "tag",
    }
}
