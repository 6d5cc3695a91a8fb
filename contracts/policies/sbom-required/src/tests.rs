use super::*;
use alloc::vec;
use vouch_policy_sdk::testing::{attestation, input, sbom};

#[test]
fn missing_sbom_is_pending() {
    let output = evaluate(&input(0, vec![attestation("a", "scanner", 0, None)]));
    assert_eq!(output.verdict, Verdict::Pending);
    assert_eq!(output.reasons, ["no SBOM of this image has been attested yet"]);
}

#[test]
fn missing_verdict_configurable() {
    let mut none = input(0, vec![]);
    none.parameters = r#"{"missing_verdict": "quarantined"}"#;
    let output = evaluate(&none);
    assert_eq!(output.verdict, Verdict::Quarantined);
    assert_eq!(output.reasons, ["no SBOM of this image has been attested yet"]);
    none.parameters = r#"{"missing_verdict": "approved"}"#;
    let output = evaluate(&none);
    assert_eq!(output.verdict, Verdict::Quarantined);
    assert!(output.reasons[0].starts_with("invalid policy parameters"));
}

#[test]
fn sbom_approves() {
    let output = evaluate(&input(0, vec![attestation("syft", "scanner", 0, Some(sbom(3, None)))]));
    assert_eq!(output.verdict, Verdict::Approved);
    assert_eq!(output.reasons, ["CycloneDX SBOM 1.5 from syft lists 3 components"]);
}

#[test]
fn min_components_edge() {
    let mut one = input(0, vec![attestation("syft", "scanner", 0, Some(sbom(2, None)))]);
    one.parameters = r#"{"min_components": 2}"#;
    assert_eq!(evaluate(&one).verdict, Verdict::Approved);
    one.parameters = r#"{"min_components": 3}"#;
    let output = evaluate(&one);
    assert_eq!(output.verdict, Verdict::Pending);
    assert_eq!(output.reasons[1], "SBOM from syft does not count: it lists 2 components, fewer than 3");
    assert_eq!(
        evaluate(&input(0, vec![attestation("syft", "scanner", 0, Some(sbom(0, None)))])).verdict,
        Verdict::Pending
    );
}

#[test]
fn other_subject_does_not_count() {
    let own = input(0, vec![]).image_digest;
    let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    assert_eq!(
        evaluate(&input(0, vec![attestation("s", "scanner", 0, Some(sbom(1, Some(own))))])).verdict,
        Verdict::Approved
    );
    let output = evaluate(&input(0, vec![attestation("s", "scanner", 0, Some(sbom(1, Some(other))))]));
    assert_eq!(output.verdict, Verdict::Pending);
    assert!(output.reasons[1].ends_with(&format!("it describes {other}")));
}

#[test]
fn format_filter() {
    let mut spdx_only = input(0, vec![attestation("s", "scanner", 0, Some(sbom(1, None)))]);
    spdx_only.parameters = r#"{"formats": ["spdx"]}"#;
    let output = evaluate(&spdx_only);
    assert_eq!(output.verdict, Verdict::Pending);
    assert_eq!(output.reasons[1], "SBOM from s does not count: its format CycloneDX is not allowed");
}
