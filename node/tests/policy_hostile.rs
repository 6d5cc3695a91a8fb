//! Hostile and broken policy modules, written in WAT: each ends in a deterministic
//! quarantined evaluation or a clean deploy rejection. Every evaluation runs twice
//! and must give the same result and fuel both times.

use vouch_node::policy::abi::{Block, Input, OUTPUT_BYTES_MAX};
use vouch_node::policy::{
    DeployError, EncodedInput, Evaluation, PolicyFailure, PolicyLimits, PolicyRuntime, RuntimeConfig, Verdict,
};

/// Imports, memory and helpers that most test modules share; `$body` goes into
/// `vouch_evaluate`.
fn module(body: &str, extra: &str) -> Vec<u8> {
    let text = format!(
        r#"(module
            (import "vouch_v1" "input_len" (func $input_len (result i32)))
            (import "vouch_v1" "input_read" (func $input_read (param i32)))
            (import "vouch_v1" "output_write" (func $output_write (param i32 i32)))
            (import "vouch_v1" "abort" (func $abort (param i32 i32)))
            (memory (export "memory") 1)
            {extra}
            (func (export "vouch_evaluate") {body}))"#
    );
    wat::parse_str(text).expect("test modules are valid WAT")
}

fn runtime() -> PolicyRuntime {
    runtime_with(PolicyLimits::default())
}

fn runtime_with(limits: PolicyLimits) -> PolicyRuntime {
    let config = RuntimeConfig { limits, ..RuntimeConfig::default() };
    PolicyRuntime::new(config).expect("test configurations are valid")
}

fn input() -> EncodedInput {
    let input = Input {
        image_digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        repositories: vec!["registry.example/app"],
        block: Block { height: 10, time_ms: 1_700_000_000_000 },
        attestations: vec![],
        parameters: "",
        storage: vec![],
    };
    EncodedInput::encode(&input)
}

/// Deploys `wasm`, evaluates it twice and checks that both runs agree.
fn evaluate_twice(runtime: &PolicyRuntime, wasm: &[u8]) -> Evaluation {
    let policy = runtime.deploy(wasm).expect("module passes the deploy checks");
    let first = runtime.evaluate(&policy, &input()).expect("no node-local error");
    let second = runtime.evaluate(&policy, &input()).expect("no node-local error");
    assert_eq!(first, second, "two runs of the same module and input differ");
    first
}

fn failure(evaluation: &Evaluation) -> &PolicyFailure {
    assert_eq!(evaluation.verdict, Verdict::Quarantined);
    assert_eq!(evaluation.reasons.len(), 1);
    let failure = evaluation.failure.as_ref().expect("a failed evaluation names its failure");
    assert_eq!(evaluation.reasons[0], failure.to_string());
    failure
}

/// Encodes an output with no reasons (verdict index, zero reasons, optional
/// expiry) as a WAT data string. The output is 13 bytes long without expiry and 21
/// bytes with one.
fn output_data(verdict: u32, expiry: Option<i64>) -> String {
    let mut bytes = verdict.to_le_bytes().to_vec();
    bytes.extend_from_slice(&0u64.to_le_bytes());
    match expiry {
        Some(time) => {
            bytes.push(1);
            bytes.extend_from_slice(&time.to_le_bytes());
        }
        None => bytes.push(0),
    }
    bytes.iter().map(|byte| format!("\\{byte:02x}")).collect()
}

#[test]
fn minimal_module_approves() {
    let data = output_data(0, Some(42));
    let wasm =
        module("(call $output_write (i32.const 16) (i32.const 21))", &format!(r#"(data (i32.const 16) "{data}")"#));
    let evaluation = evaluate_twice(&runtime(), &wasm);
    assert_eq!(evaluation.verdict, Verdict::Approved);
    assert_eq!(evaluation.expires_at_ms, Some(42));
    assert_eq!(evaluation.failure, None);
    assert!(evaluation.fuel_used > 0);
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let runtime = runtime();
    let evaluation = evaluate_twice(&runtime, &module("(loop $spin (br $spin))", ""));
    let limit = runtime.limits().fuel_per_evaluation;
    assert_eq!(failure(&evaluation), &PolicyFailure::OutOfFuel { limit });
    assert_eq!(evaluation.fuel_used, limit);
    assert_eq!(evaluation.reasons[0], format!("policy ran out of fuel (limit {limit} units)"));
}

#[test]
fn start_function_loop_runs_out_of_fuel() {
    let wasm = module("", "(func $start (loop $spin (br $spin))) (start $start)");
    let evaluation = evaluate_twice(&runtime(), &wasm);
    assert!(matches!(failure(&evaluation), PolicyFailure::OutOfFuel { .. }));
}

#[test]
fn memory_growth_bomb_hits_memory_limit() {
    let runtime = runtime();
    let evaluation =
        evaluate_twice(&runtime, &module("(loop $grow (drop (memory.grow (i32.const 1))) (br $grow))", ""));
    let limit_bytes = runtime.limits().memory_bytes_max;
    assert_eq!(
        failure(&evaluation),
        &PolicyFailure::MemoryLimit { requested_bytes: limit_bytes + 65_536, limit_bytes }
    );
}

#[test]
fn memory_grow_to_exact_limit_succeeds() {
    let limits = PolicyLimits { memory_bytes_max: 4 * 65_536, input_bytes_max: 65_536, ..PolicyLimits::default() };
    let data = output_data(0, None);
    let grow_three = "(if (i32.eq (memory.grow (i32.const 3)) (i32.const -1)) (then unreachable))";
    let body = format!("{grow_three} (call $output_write (i32.const 16) (i32.const 13))");
    let wasm = module(&body, &format!(r#"(data (i32.const 16) "{data}")"#));
    assert_eq!(evaluate_twice(&runtime_with(limits.clone()), &wasm).verdict, Verdict::Approved);

    let grow_four = "(drop (memory.grow (i32.const 4)))";
    let evaluation = evaluate_twice(&runtime_with(limits), &module(grow_four, ""));
    assert_eq!(
        failure(&evaluation),
        &PolicyFailure::MemoryLimit { requested_bytes: 5 * 65_536, limit_bytes: 4 * 65_536 }
    );
}

#[test]
fn deep_recursion_overflows_stack() {
    let runtime = runtime();
    let wasm = module(
        "(call $recurse (i64.const 0))",
        "(func $recurse (param i64) (call $recurse (i64.add (local.get 0) (i64.const 1))))",
    );
    let evaluation = evaluate_twice(&runtime, &wasm);
    let limit_bytes = runtime.limits().wasm_stack_bytes_max;
    assert_eq!(failure(&evaluation), &PolicyFailure::StackOverflow { limit_bytes });
    assert_eq!(
        evaluation.fuel_used,
        runtime.limits().fuel_per_evaluation,
        "a stack overflow costs the whole fuel limit"
    );
}

#[test]
fn huge_output_rejected() {
    let runtime = runtime();
    let evaluation = evaluate_twice(&runtime, &module("(call $output_write (i32.const 0) (i32.const 1000000))", ""));
    let max = OUTPUT_BYTES_MAX as u64;
    assert_eq!(failure(&evaluation), &PolicyFailure::OutputTooLarge { size: 1_000_000, max });

    let just_over = format!("(call $output_write (i32.const 0) (i32.const {}))", OUTPUT_BYTES_MAX + 1);
    let evaluation = evaluate_twice(&runtime, &module(&just_over, ""));
    assert_eq!(failure(&evaluation), &PolicyFailure::OutputTooLarge { size: max + 1, max });

    // At the limit the bytes are read and then rejected as an invalid output.
    let at_limit = format!("(call $output_write (i32.const 0) (i32.const {OUTPUT_BYTES_MAX}))");
    let evaluation = evaluate_twice(&runtime, &module(&at_limit, ""));
    assert!(matches!(failure(&evaluation), PolicyFailure::InvalidOutput { .. }), "{evaluation:?}");
}

#[test]
fn malformed_output_rejected() {
    let wasm =
        module(r#"(call $output_write (i32.const 16) (i32.const 4))"#, r#"(data (i32.const 16) "\07\00\00\00")"#);
    let evaluation = evaluate_twice(&runtime(), &wasm);
    let PolicyFailure::InvalidOutput { message } = failure(&evaluation) else { panic!("{evaluation:?}") };
    assert!(message.starts_with("malformed output"), "{message}");

    let data = output_data(1, None);
    let trailing =
        module("(call $output_write (i32.const 16) (i32.const 14))", &format!(r#"(data (i32.const 16) "{data}\00")"#));
    let evaluation = evaluate_twice(&runtime(), &trailing);
    assert_eq!(evaluation.reasons[0], "policy output is invalid: malformed output: 1 bytes after the end of the value");
}

#[test]
fn missing_and_double_output() {
    let evaluation = evaluate_twice(&runtime(), &module("", ""));
    assert_eq!(failure(&evaluation), &PolicyFailure::NoOutput);

    let data = output_data(0, None);
    let write = "(call $output_write (i32.const 16) (i32.const 13))";
    let twice = module(&format!("{write} {write}"), &format!(r#"(data (i32.const 16) "{data}")"#));
    assert_eq!(failure(&evaluate_twice(&runtime(), &twice)), &PolicyFailure::OutputTwice);
}

#[test]
fn traps_are_named() {
    let evaluation = evaluate_twice(&runtime(), &module("unreachable", ""));
    assert_eq!(evaluation.reasons[0], "policy trapped: wasm trap: wasm `unreachable` instruction executed");

    let divide = "(drop (i32.div_u (i32.const 1) (i32.const 0)))";
    let evaluation = evaluate_twice(&runtime(), &module(divide, ""));
    assert_eq!(evaluation.reasons[0], "policy trapped: wasm trap: integer divide by zero");
}

#[test]
fn abort_message_becomes_reason() {
    let wasm = module("(call $abort (i32.const 16) (i32.const 11))", r#"(data (i32.const 16) "bad params!")"#);
    let evaluation = evaluate_twice(&runtime(), &wasm);
    assert_eq!(failure(&evaluation), &PolicyFailure::Aborted { message: "bad params!".into() });
    assert_eq!(evaluation.reasons[0], "policy aborted: bad params!");
}

#[test]
fn out_of_bounds_host_access() {
    let evaluation = evaluate_twice(&runtime(), &module("(call $input_read (i32.const 65530))", ""));
    let PolicyFailure::OutOfBounds { offset, memory_bytes, .. } = failure(&evaluation) else {
        panic!("{evaluation:?}")
    };
    assert_eq!((*offset, *memory_bytes), (65_530, 65_536));

    let evaluation = evaluate_twice(&runtime(), &module("(call $output_write (i32.const -1) (i32.const 8))", ""));
    assert!(matches!(failure(&evaluation), PolicyFailure::OutOfBounds { offset: 4_294_967_295, .. }));
}

#[test]
fn host_call_loop_runs_out_of_fuel() {
    let body = "(loop $again (call $input_read (i32.const 0)) (br $again))";
    let evaluation = evaluate_twice(&runtime(), &module(body, ""));
    assert!(matches!(failure(&evaluation), PolicyFailure::OutOfFuel { .. }));
}

#[test]
fn float_results_are_canonical() {
    // 0/0 gives a NaN whose sign bit differs between CPUs (x86 sets it); with NaN
    // canonicalization every node reads 0x7ff8000000000000. The module spins through
    // float work first, then writes the NaN's bits as the expiry.
    let body = r#"
        (local $i i32) (local $x f64)
        (local.set $x (f64.const 1.5))
        (loop $work
            (local.set $x (f64.add (f64.sqrt (local.get $x)) (f64.div (f64.const 1) (f64.const 3))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $work (i32.lt_u (local.get $i) (i32.const 10000))))
        (f64.store (i32.const 64) (f64.div (f64.sub (local.get $x) (local.get $x)) (f64.const 0)))
        (i32.store (i32.const 16) (i32.const 0))
        (i64.store (i32.const 20) (i64.const 0))
        (i32.store8 (i32.const 28) (i32.const 1))
        (i64.store (i32.const 29) (i64.load (i32.const 64)))
        (call $output_write (i32.const 16) (i32.const 21))"#;
    let evaluation = evaluate_twice(&runtime(), &module(body, ""));
    assert_eq!(evaluation.verdict, Verdict::Approved, "{evaluation:?}");
    assert_eq!(evaluation.expires_at_ms, Some(0x7ff8_0000_0000_0000));
}

#[test]
fn oversize_input_quarantines() {
    let limits = PolicyLimits { input_bytes_max: 16, ..PolicyLimits::default() };
    let evaluation = evaluate_twice(&runtime_with(limits), &module("", ""));
    let size = input().as_bytes().len() as u64;
    assert_eq!(failure(&evaluation), &PolicyFailure::InputTooLarge { size, max: 16 });
    assert_eq!(evaluation.fuel_used, 0);
}

fn deploy_error(wasm: &[u8]) -> DeployError {
    runtime().deploy(wasm).err().expect("module is rejected at deploy")
}

#[test]
fn forbidden_imports_rejected() {
    let wasi = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1) (func (export "vouch_evaluate")))"#,
    )
    .unwrap();
    let error = deploy_error(&wasi);
    assert_eq!(
        error,
        DeployError::ForbiddenImport {
            module: "wasi_snapshot_preview1".into(),
            name: "fd_write".into(),
            kind: "function"
        }
    );
    assert!(error.to_string().contains("`wasi_snapshot_preview1.fd_write`"), "{error}");

    let memory =
        wat::parse_str(r#"(module (import "vouch_v1" "memory" (memory 1)) (func (export "vouch_evaluate")))"#).unwrap();
    assert!(matches!(deploy_error(&memory), DeployError::ForbiddenImport { kind: "memory", .. }));

    let unknown = wat::parse_str(
        r#"(module (import "vouch_v1" "clock" (func (result i64))) (memory (export "memory") 1) (func (export "vouch_evaluate")))"#,
    )
    .unwrap();
    assert_eq!(deploy_error(&unknown), DeployError::UnknownHostFunction { name: "clock".into() });

    let wrong = wat::parse_str(
        r#"(module (import "vouch_v1" "input_len" (func (result i64))) (memory (export "memory") 1) (func (export "vouch_evaluate")))"#,
    )
    .unwrap();
    let error = deploy_error(&wrong);
    assert_eq!(
        error.to_string(),
        "policy module imports `vouch_v1.input_len` as () -> (i64); the host defines it as () -> (i32)"
    );
}

#[test]
fn required_exports_checked() {
    let no_memory = wat::parse_str(r#"(module (memory 1) (func (export "vouch_evaluate")))"#).unwrap();
    assert_eq!(deploy_error(&no_memory), DeployError::MissingExport { name: "memory" });

    let no_entry = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    assert_eq!(deploy_error(&no_entry), DeployError::MissingExport { name: "vouch_evaluate" });

    let wrong_entry =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "vouch_evaluate") (param i32)))"#)
            .unwrap();
    let error = deploy_error(&wrong_entry);
    assert_eq!(
        error.to_string(),
        "policy module exports `vouch_evaluate` as a function (i32) -> (); expected a function () -> ()"
    );
}

#[test]
fn resource_limits_checked_at_deploy() {
    let limits = PolicyLimits::default();
    let pages = limits.memory_bytes_max / 65_536;
    let at_limit =
        wat::parse_str(format!(r#"(module (memory (export "memory") {pages}) (func (export "vouch_evaluate")))"#))
            .unwrap();
    assert!(runtime().deploy(&at_limit).is_ok());

    let over = wat::parse_str(format!(
        r#"(module (memory (export "memory") {}) (func (export "vouch_evaluate")))"#,
        pages + 1
    ))
    .unwrap();
    assert_eq!(
        deploy_error(&over),
        DeployError::InitialMemoryTooLarge {
            initial_bytes: limits.memory_bytes_max + 65_536,
            max: limits.memory_bytes_max
        }
    );

    let table = limits.table_elements_max + 1;
    let big_table = wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) (table {table} funcref) (func (export "vouch_evaluate")))"#
    ))
    .unwrap();
    assert_eq!(
        deploy_error(&big_table),
        DeployError::InitialTableTooLarge { initial: u64::from(table), max: limits.table_elements_max }
    );
}

#[test]
fn module_size_limit_edge() {
    let wasm = module("", "");
    let fits = PolicyLimits { module_bytes_max: wasm.len() as u32, ..PolicyLimits::default() };
    assert!(runtime_with(fits).deploy(&wasm).is_ok());
    let too_small = PolicyLimits { module_bytes_max: wasm.len() as u32 - 1, ..PolicyLimits::default() };
    assert_eq!(
        runtime_with(too_small).deploy(&wasm).err(),
        Some(DeployError::TooLarge { size: wasm.len(), max: wasm.len() as u32 - 1 })
    );
}

#[test]
fn invalid_and_disabled_features_rejected() {
    assert!(matches!(deploy_error(b"\0asm\x01\0\0\0garbage"), DeployError::Invalid { .. }));
    assert!(matches!(deploy_error(b"not wasm"), DeployError::Invalid { .. }));

    let simd = module("(drop (v128.const i64x2 0 0))", "");
    assert!(matches!(deploy_error(&simd), DeployError::Invalid { .. }));

    let two_memories =
        wat::parse_str(r#"(module (memory (export "memory") 1) (memory 1) (func (export "vouch_evaluate")))"#).unwrap();
    assert_eq!(deploy_error(&two_memories), DeployError::MemoryCount { count: 2 });
    let no_memory = wat::parse_str(r#"(module (func (export "vouch_evaluate")))"#).unwrap();
    assert_eq!(deploy_error(&no_memory), DeployError::MemoryCount { count: 0 });
}

#[test]
fn deploy_caches_by_code_hash() {
    let config =
        RuntimeConfig { cached_modules_max: std::num::NonZeroUsize::new(2).unwrap(), ..RuntimeConfig::default() };
    let runtime = PolicyRuntime::new(config).unwrap();
    let modules: Vec<Vec<u8>> = (0..3).map(|n| module(&format!("(drop (i32.const {n}))"), "")).collect();

    let first = runtime.deploy(&modules[0]).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &runtime.deploy(&modules[0]).unwrap()));
    runtime.deploy(&modules[1]).unwrap();
    assert!(runtime.cached(&first.code_hash()).is_some(), "touch module 0 so module 1 is the oldest");
    let third = runtime.deploy(&modules[2]).unwrap();

    assert_eq!(runtime.cached_count(), 2);
    assert!(runtime.cached(&first.code_hash()).is_some());
    assert!(runtime.cached(&third.code_hash()).is_some());
    let second_hash = vouch_node::policy::CodeHash::of(&modules[1]);
    assert!(runtime.cached(&second_hash).is_none());
}

#[test]
fn concurrent_deploys_compile_once() {
    let runtime = runtime();
    let wasm = module("(drop (i32.const 7))", "");
    let barrier = std::sync::Barrier::new(4);
    let deployed: Vec<_> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    runtime.deploy(&wasm).unwrap()
                })
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().unwrap()).collect()
    });

    for policy in &deployed[1..] {
        assert!(std::sync::Arc::ptr_eq(&deployed[0], policy), "every thread gets the one compiled module");
    }
    assert_eq!(runtime.cached_count(), 1);
}

#[test]
fn rust_panic_reported_through_abort() {
    let wasm = include_bytes!(concat!(env!("OUT_DIR"), "/vouch_hostile_panic.wasm"));
    let runtime = runtime();
    let policy = runtime.deploy(wasm).expect("the SDK's module passes the deploy checks");
    let mut text = Input {
        image_digest: "sha256:00",
        repositories: vec![],
        block: Block { height: 1, time_ms: 0 },
        attestations: vec![],
        parameters: "short",
        storage: vec![],
    };
    let evaluation = runtime.evaluate(&policy, &EncodedInput::encode(&text)).unwrap();
    assert_eq!(failure(&evaluation), &PolicyFailure::Aborted { message: "deliberate panic: short".into() });

    // The SDK keeps the first ABORT_MESSAGE_BYTES_MAX bytes, cut at a character boundary.
    let long = format!("{}{}", "a".repeat(229), "é".repeat(40));
    text.parameters = &long;
    let first = runtime.evaluate(&policy, &EncodedInput::encode(&text)).unwrap();
    let second = runtime.evaluate(&policy, &EncodedInput::encode(&text)).unwrap();
    assert_eq!(first, second);
    let PolicyFailure::Aborted { message } = failure(&first) else { panic!("{first:?}") };
    assert_eq!(message.len(), 255, "256 bytes would split a two-byte character");
    assert!(message.starts_with("deliberate panic: aaa"), "{message}");
    assert!(message.ends_with('é'), "{message}");
}
