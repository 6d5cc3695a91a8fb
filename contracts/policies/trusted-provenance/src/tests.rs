use super::*;
use alloc::vec;
use vouch_policy_sdk::testing::{attestation, input, provenance};

const GENERATOR: &str =
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v1.7.0";

#[test]
fn no_provenance_is_pending() {
    assert_eq!(evaluate(&input(0, vec![])).verdict, Verdict::Pending);
}

#[test]
fn default_builders_trusted() {
    for builder in [GENERATOR, "https://tekton.dev/chains/v2"] {
        let built = input(0, vec![attestation("ci", "builder", 0, Some(provenance(builder, None)))]);
        assert_eq!(evaluate(&built).verdict, Verdict::Approved, "{builder}");
    }
}

#[test]
fn untrusted_builder_quarantines() {
    let built = input(0, vec![attestation("ci", "builder", 0, Some(provenance("https://evil.example/builder", None)))]);
    let output = evaluate(&built);
    assert_eq!(output.verdict, Verdict::Quarantined);
    assert_eq!(output.reasons, ["builder https://evil.example/builder is not trusted"]);
}

#[test]
fn source_repository_checked() {
    let facts = provenance(GENERATOR, Some("https://github.com/acme/app"));
    let mut built = input(0, vec![attestation("ci", "builder", 0, Some(facts))]);
    built.parameters = r#"{"source_repositories": ["https://github.com/acme/*"]}"#;
    assert_eq!(evaluate(&built).verdict, Verdict::Approved);

    built.parameters = r#"{"source_repositories": ["https://github.com/acme/lib"]}"#;
    let output = evaluate(&built);
    assert_eq!(output.verdict, Verdict::Quarantined);
    assert_eq!(output.reasons, ["source repository https://github.com/acme/app is not allowed"]);

    let mut unstated = input(0, vec![attestation("ci", "builder", 0, Some(provenance(GENERATOR, None)))]);
    unstated.parameters = r#"{"source_repositories": ["https://github.com/acme/*"]}"#;
    assert!(evaluate(&unstated).reasons[0].ends_with("states no source repository"));
}

#[test]
fn one_passing_provenance_approves() {
    let built = input(
        0,
        vec![
            attestation("ci", "builder", 0, Some(provenance("https://evil.example/builder", None))),
            attestation("ci2", "builder", 0, Some(provenance("https://tekton.dev/chains/v2", None))),
        ],
    );
    assert_eq!(evaluate(&built).verdict, Verdict::Approved);
}

#[test]
fn empty_builder_list_fails_closed() {
    let mut built = input(0, vec![]);
    built.parameters = r#"{"trusted_builders": []}"#;
    assert_eq!(evaluate(&built).verdict, Verdict::Quarantined);
}
