//! Hostile input for the shared readers: limits at the extremes of their types, text
//! encodings other than UTF-8, and JSON that different parsers read differently.

use vouch_protocol::input::read_file_bounded;

#[test]
fn size_limit_of_u64_max_reads_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, b"{}").unwrap();
    let bytes = read_file_bounded(&path, u64::MAX).expect("a limit of u64::MAX admits any file");
    assert_eq!(bytes, b"{}");
}
