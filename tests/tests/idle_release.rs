//! A real dev node that turns idle empties its caches, reopens its database and
//! returns free memory, logs the first release of each idle stretch, and keeps
//! committing and evaluating afterwards.

use vouch_tests::{DevNode, NodeHttp, Submitted, TEST_REPOSITORY, ok_json, test_attestation};

/// The idle time set in the node's config: short, so the test waits little.
const IDLE_RELEASE_MS: u64 = 1000;

const RELEASED: &str = "released memory while idle";

/// Starts a dev node once to create its home, then again with `storage.idle_release_ms`
/// set to [`IDLE_RELEASE_MS`] and `storage.reopen_after_bytes` to 1, so that any block
/// written makes the release reopen the database.
fn start_with_short_idle_release() -> DevNode {
    let (status, home, keyring) = DevNode::start().terminate();
    assert!(status.success(), "the first start stops cleanly: {status}");
    let config_path = home.path().join("config.toml");
    let config = std::fs::read_to_string(&config_path).expect("the dev home has a config");
    let line = config.lines().find(|line| line.starts_with("idle_release_ms")).expect("the config lists the field");
    let config = config.replace(line, &format!("idle_release_ms = {IDLE_RELEASE_MS}"));
    let line = config.lines().find(|line| line.starts_with("reopen_after_bytes")).expect("the config lists the field");
    let config = config.replace(line, "reopen_after_bytes = 1");
    std::fs::write(&config_path, config).expect("write the config");
    DevNode::start_in(home, keyring)
}

/// Returns the `cache_bytes` field of a release log line.
fn released_cache_bytes(line: &str) -> u64 {
    let field = line.split_whitespace().find_map(|word| word.strip_prefix("cache_bytes="));
    field.and_then(|value| value.parse().ok()).unwrap_or_else(|| panic!("no cache_bytes in {line:?}"))
}

#[test]
fn idle_node_releases_caches_and_keeps_committing() {
    let mut node = start_with_short_idle_release();
    let http = NodeHttp::new(&node.url);
    let key = node.keyring_key("dev");

    // The first stretch starts when the node opens.
    node.wait_for_line(|line| line.contains(RELEASED));

    let attestations: Vec<_> = (0..20).map(|index| test_attestation(1, index, &key)).collect();
    for attestation in &attestations {
        let submitted = http.submit(&attestation.tx, true).expect("the attestation is submitted");
        assert!(matches!(submitted, Submitted::Committed { .. }), "{submitted:?}");
    }
    let image = attestations[0].image.to_string();
    let before = ok_json(&node.vouch(&["status", &image, "--output", "json"]), "status before the release");

    // The blocks with attestations filled the caches; the next stretch empties them.
    let seen = node.wait_for_line(|line| line.contains(RELEASED));
    let line = seen.last().expect("the release line");
    let released = released_cache_bytes(line);
    assert!(released > 0, "the caches held the blocks' readings and tree nodes: {released}");
    assert!(line.contains("store_reopened=true"), "the blocks wrote more than one byte: {line}");
    assert!(
        !seen.iter().any(|line| line.contains("ERROR") || line.contains("WARN")),
        "the release reported a problem:\n{}",
        seen.join("\n")
    );

    let after = ok_json(&node.vouch(&["status", &image, "--output", "json"]), "status after the release");
    // Three low findings pass the standard policies, read again from the store.
    assert_eq!(after["status"], "approved", "{after}");
    assert_eq!(before["verdicts"], after["verdicts"], "the release changes no verdict");
    assert_eq!(before["status"], after["status"], "the release changes no status");

    // A reviewer's approval commits, and its evaluation reads the scan from the
    // store, since the caches no longer hold it: the verdict stays the scan's.
    let reference = format!("{TEST_REPOSITORY}@{image}");
    let review = node.vouch(&[
        "attest",
        &reference,
        "--approve",
        "--reason",
        "reviewed after the release",
        "--key",
        "dev-reviewer",
        "--output",
        "json",
    ]);
    let review = ok_json(&review, "attest the approval");
    assert_eq!(review["status"]["status"], before["status"], "{review}");
    let considered = http.attestations(&attestations[0].image).expect("the image's attestations");
    assert_eq!(considered.attestations.len(), 2, "the scan and the approval: {considered:?}");
}
