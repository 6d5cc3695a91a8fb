//! The shared corpus and the independent vulnerability rule, for the node's corpus
//! tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The default threshold rule read independently from the raw JSON by a Python
/// script: it prints the verdict, the number of raw findings and the report's registry
/// digest.
const INDEPENDENT_RULE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/vulnerability_rule.py");

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
pub fn reports(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("directory entries are readable").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    files.sort();
    files
}

/// Returns the independent rule's verdict (`approved` or `quarantined`) and finding
/// count for a report.
pub fn independent_reading(path: &Path) -> (String, usize) {
    let output = Command::new("python3").arg(INDEPENDENT_RULE).arg(path).output().expect("python3 runs");
    assert!(output.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("python prints UTF-8");
    let mut lines = text.lines();
    let verdict = lines.next().unwrap_or_default().to_owned();
    let count = lines.next().and_then(|count| count.parse().ok()).expect("python prints the finding count");
    (verdict, count)
}
