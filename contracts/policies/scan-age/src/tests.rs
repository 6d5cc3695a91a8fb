use super::*;
use alloc::vec;
use vouch_policy_sdk::testing::{attestation, input, report};

const NOW: i64 = 100 * DAY_MS;

fn scanned_at(included_ms: i64, stated_ms: Option<i64>) -> vouch_policy_sdk::Attestation<'static> {
    attestation("trivy", "scanner", included_ms, Some(report("trivy", stated_ms, vec![])))
}

#[test]
fn no_scan_is_pending() {
    assert_eq!(evaluate(&input(NOW, vec![])).verdict, Verdict::Pending);
}

#[test]
fn age_edge() {
    let exact = evaluate(&input(NOW, vec![scanned_at(NOW - 7 * DAY_MS, None)]));
    assert_eq!(exact.verdict, Verdict::Approved);
    assert_eq!(exact.reasons, ["the newest scan is 7d old, within the maximum of 7d"]);
    assert_eq!(exact.expires_at_ms, Some(NOW + 1));

    let over = evaluate(&input(NOW, vec![scanned_at(NOW - 7 * DAY_MS - 1, None)]));
    assert_eq!(over.verdict, Verdict::Quarantined);
    assert_eq!(over.reasons, ["the newest scan is 7d old, over the maximum of 7d"]);
}

#[test]
fn stated_scan_time_used() {
    let old_scan = input(NOW, vec![scanned_at(NOW, Some(NOW - 8 * DAY_MS))]);
    assert_eq!(evaluate(&old_scan).verdict, Verdict::Quarantined);
}

#[test]
fn future_scan_time_capped_at_inclusion() {
    let future = evaluate(&input(NOW, vec![scanned_at(NOW - 8 * DAY_MS, Some(NOW + DAY_MS))]));
    assert_eq!(future.verdict, Verdict::Quarantined);
}

#[test]
fn newest_of_several_counts() {
    let scans = input(NOW, vec![scanned_at(NOW - DAY_MS, None), scanned_at(NOW - 30 * DAY_MS, None)]);
    let output = evaluate(&scans);
    assert_eq!(output.verdict, Verdict::Approved);
    assert_eq!(output.expires_at_ms, Some(NOW + 6 * DAY_MS + 1));
}

#[test]
fn custom_max_age() {
    let mut recent = input(NOW, vec![scanned_at(NOW - 90_061_000, None)]);
    recent.parameters = r#"{"max_age_ms": 3600000}"#;
    let output = evaluate(&recent);
    assert_eq!(output.reasons, ["the newest scan is 1d1h1m1s old, over the maximum of 1h"]);
    recent.parameters = r#"{"max_age_ms": 0}"#;
    assert_eq!(evaluate(&recent).reasons, ["invalid policy parameters: max_age_ms must be at least 1"]);
}
