//! Builds the standard policy contracts for wasm32 and copies them into `OUT_DIR`,
//! where `policy::standard` embeds them with `include_bytes!`.
//!
//! The contracts build in their own target directory (`<target>/wasm-contracts`), so
//! the host build's flags and profiles do not apply. The build is incremental:
//! cargo reruns this script only when something under `contracts/` or the lock file
//! changes, and the nested cargo rebuilds only what changed.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The contract crates, as package names; the wasm file names follow. The first
/// five are the standard policies; `vouch-hostile-panic` only serves the tests.
const CONTRACTS: [&str; 6] = [
    "vouch-policy-vulnerability-threshold",
    "vouch-policy-required-attesters",
    "vouch-policy-sbom-required",
    "vouch-policy-trusted-provenance",
    "vouch-policy-scan-age",
    "vouch-hostile-panic",
];

/// Shadow stack of each contract: 64 KiB instead of rustc's default 1 MiB, which
/// would otherwise take most of a policy's memory limit.
const STACK_BYTES: u32 = 64 * 1024;

/// Initial linear memory of each contract: 1 MiB, so that a typical evaluation never
/// grows memory. Growing changes page protections, which costs a system call and a
/// TLB flush on every core; the runtime keeps this much memory resident per slot.
const INITIAL_MEMORY_BYTES: u32 = 1024 * 1024;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("node/ sits in the workspace root").to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed={}", workspace.join("contracts").display());
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.lock").display());

    let target_dir = env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
    let contracts_target = target_dir.join("wasm-contracts");
    build_contracts(&workspace, &contracts_target);

    let release = contracts_target.join("wasm32-unknown-unknown").join("release");
    for package in CONTRACTS {
        let file_name = format!("{}.wasm", package.replace('-', "_"));
        copy(&release.join(&file_name), &out_dir.join(&file_name));
    }
}

fn build_contracts(workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown", "--target-dir"])
        .arg(target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            format!("-Clink-arg=-zstack-size={STACK_BYTES}\x1f-Clink-arg=--initial-memory={INITIAL_MEMORY_BYTES}"),
        )
        .env_remove("RUSTFLAGS")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true");
    for package in CONTRACTS {
        command.args(["-p", package]);
    }

    let status =
        command.status().unwrap_or_else(|error| panic!("could not run cargo to build the policy contracts: {error}"));
    assert!(
        status.success(),
        "building the policy contracts for wasm32 failed ({status}); the output above names the error. \
         If the target is missing, run `rustup target add wasm32-unknown-unknown`."
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|error| panic!("could not copy {} to {}: {error}", from.display(), to.display()));
}
