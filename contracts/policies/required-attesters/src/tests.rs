use super::*;
use alloc::vec;
use vouch_policy_sdk::testing::{attestation, input, review};

const NOW: i64 = 5_000;

#[test]
fn default_needs_one_attester() {
    let nobody = evaluate(&input(NOW, vec![]));
    assert_eq!(nobody.verdict, Verdict::Pending);
    assert_eq!(nobody.reasons, ["attested by nobody (0 distinct, 1 required)"]);
    let output = evaluate(&input(NOW, vec![attestation("alice", "scanner", 1, None)]));
    assert_eq!(output.verdict, Verdict::Approved);
    assert_eq!(output.reasons, ["attested by alice (1 distinct, 1 required)"]);
}

#[test]
fn same_attester_counts_once() {
    let mut two =
        input(NOW, vec![attestation("alice", "reviewer", 1, None), attestation("alice", "reviewer", 2, None)]);
    two.parameters = r#"{"threshold": 2}"#;
    let output = evaluate(&two);
    assert_eq!(output.verdict, Verdict::Pending);
    assert_eq!(output.reasons, ["attested by alice (1 distinct, 2 required)"]);

    two.attestations.push(attestation("bob", "reviewer", 3, None));
    assert_eq!(evaluate(&two).verdict, Verdict::Approved);
}

#[test]
fn threshold_edge() {
    let attestations = vec![attestation("a", "reviewer", 1, None), attestation("b", "reviewer", 1, None)];
    let mut two = input(NOW, attestations);
    two.parameters = r#"{"threshold": 2, "attesters": ["a", "b", "c"]}"#;
    assert_eq!(evaluate(&two).verdict, Verdict::Approved);
    two.parameters = r#"{"threshold": 3, "attesters": ["a", "b", "c"]}"#;
    assert_eq!(evaluate(&two).verdict, Verdict::Pending);
}

#[test]
fn unlisted_attester_and_role_ignored() {
    let mut one =
        input(NOW, vec![attestation("mallory", "reviewer", 1, None), attestation("alice", "scanner", 1, None)]);
    one.parameters = r#"{"attesters": ["alice", "bob"], "roles": ["reviewer"]}"#;
    assert_eq!(evaluate(&one).verdict, Verdict::Pending);
}

#[test]
fn required_roles_must_all_appear() {
    let mut both = input(NOW, vec![attestation("scan", "scanner", 1, None), attestation("scan2", "scanner", 1, None)]);
    both.parameters = r#"{"threshold": 2, "required_roles": ["scanner", "reviewer"]}"#;
    let output = evaluate(&both);
    assert_eq!(output.verdict, Verdict::Pending);
    assert_eq!(output.reasons[1], "no attester yet with the roles: reviewer");

    both.attestations.push(attestation("rev", "reviewer", 1, Some(review(Decision::Approve, None))));
    assert_eq!(evaluate(&both).verdict, Verdict::Approved);
}

#[test]
fn rejection_quarantines() {
    let rejecting = input(
        NOW,
        vec![
            attestation("alice", "reviewer", 1, Some(review(Decision::Approve, None))),
            attestation("bob", "reviewer", 2, Some(review(Decision::Reject, Some(NOW + 10)))),
        ],
    );
    let output = evaluate(&rejecting);
    assert_eq!(output.verdict, Verdict::Quarantined);
    assert_eq!(output.reasons, ["bob rejected the image: reviewed"]);
    assert_eq!(output.expires_at_ms, Some(NOW + 10));
}

#[test]
fn expired_reviews_do_not_count() {
    let expired = input(
        NOW,
        vec![
            attestation("bob", "reviewer", 2, Some(review(Decision::Reject, Some(NOW)))),
            attestation("alice", "reviewer", 1, Some(review(Decision::Approve, Some(NOW)))),
        ],
    );
    assert_eq!(evaluate(&expired).verdict, Verdict::Pending);

    let expiring =
        input(NOW, vec![attestation("alice", "reviewer", 1, Some(review(Decision::Approve, Some(NOW + 1))))]);
    let output = evaluate(&expiring);
    assert_eq!(output.verdict, Verdict::Approved);
    assert_eq!(output.expires_at_ms, Some(NOW + 1));
}

#[test]
fn impossible_parameters_fail_closed() {
    let mut none = input(NOW, vec![]);
    none.parameters = r#"{"threshold": 0}"#;
    assert_eq!(evaluate(&none).reasons, ["invalid policy parameters: threshold must be at least 1"]);
    none.parameters = r#"{"threshold": 3, "attesters": ["a", "b"]}"#;
    assert_eq!(evaluate(&none).reasons, ["invalid policy parameters: threshold 3 is more than the 2 listed attesters"]);
}
