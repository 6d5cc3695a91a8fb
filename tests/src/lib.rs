//! Helpers shared by the black-box tests: where the built binaries, the corpus and
//! the Python tools live, a `vouchd --dev` process to test against, an HTTP client of
//! its API, signed test attestations, and audits of a stopped node's ledger.

mod attest;
mod dev_node;
mod http;
mod ledger_audit;
mod seed;
mod tamper;

use std::path::{Path, PathBuf};

pub use attest::{TEST_REPOSITORY, TestAttestation, test_attestation, test_image};
pub use dev_node::DevNode;
pub use http::{HttpError, NodeHttp, REQUEST_TIMEOUT, Submitted};
pub use ledger_audit::{
    AuditError, AuditReport, LOCK_RELEASE_WAIT, LedgerAudit, StoppedLedger, ledger_data_dir, wait_for_sled_unlocked,
};
pub use seed::SeededRng;
pub use tamper::{Tamper, start_proxy};

/// Returns the path of a binary that cargo built beside the running test executable.
pub fn binary(name: &str) -> PathBuf {
    let test_exe = std::env::current_exe().expect("path of the test executable");
    let profile_dir = test_exe.parent().and_then(Path::parent).expect("the test runs from target/<profile>/deps");
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing; build it first with `cargo build --workspace` (scripts/test does)",
        binary.display()
    );
    binary
}

/// Returns the corpus folder from `VOUCH_CORPUS`, or prints why the test is skipped.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VOUCH_CORPUS") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            println!("skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)");
            None
        }
    }
}

/// Returns the `.json` files of a corpus folder, sorted.
pub fn json_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()))
        .map(|entry| entry.expect("directory entries are readable").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    files.sort();
    files
}

/// Returns the JSON that a successful command printed on stdout. Fails the test with
/// the command's `label`, status and output when it failed or printed something else.
pub fn ok_json(output: &std::process::Output, label: &str) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{label} failed with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{label}: output is not JSON: {error}"))
}
