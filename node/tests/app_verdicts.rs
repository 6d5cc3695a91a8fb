//! Verdicts on the app: the most specific binding, the union of policies over an
//! image's names, bounded and resumed re-evaluation, expiry, and a hostile policy.

mod app_support;

use app_support::*;
use serde_json::{Value, json};
use vouch_protocol::ledger::{Action, AdminMessage, BoundPolicy, GovAction, ImageStatus, Verdict};

fn status(chain: &TestChain, image: &vouch_protocol::digest::Digest, repository: Option<&str>) -> ImageStatus {
    chain.app.image_status(image, repository, false).unwrap().status
}

#[test]
fn most_specific_binding_wins() {
    let mut genesis = genesis(&[10]);
    genesis.bindings = vec![
        binding("*", &[("vulnerability-threshold", Value::Null)]),
        binding("ghcr.io/*", &[("vulnerability-threshold", json!({"max_severity": "low"}))]),
        binding("ghcr.io/acme/*", &[("vulnerability-threshold", json!({"max_severity": "critical"}))]),
    ];
    let chain = TestChain::start(genesis);
    let (acme, other, hub) = (image("acme"), image("other"), image("hub"));
    chain.commit(vec![
        scan_tx("ghcr.io/acme/api:1", &acme, &["HIGH"]),
        scan_tx("ghcr.io/other/api:1", &other, &["MEDIUM"]),
        scan_tx("alpine:3", &hub, &["MEDIUM"]),
    ]);

    let acme_status = chain.app.image_status(&acme, None, false).unwrap();
    assert_eq!(acme_status.names[0].scope, "ghcr.io/acme/*");
    assert_eq!(acme_status.status, ImageStatus::Approved, "critical is allowed under ghcr.io/acme/*");
    let other_status = chain.app.image_status(&other, None, false).unwrap();
    assert_eq!(other_status.names[0].scope, "ghcr.io/*");
    assert_eq!(other_status.status, ImageStatus::Quarantined, "medium fails the ghcr.io/* limit of low");
    let hub_status = chain.app.image_status(&hub, None, false).unwrap();
    assert_eq!(hub_status.names[0].name, "docker.io/library/alpine");
    assert_eq!(hub_status.names[0].scope, "*");
    assert_eq!(hub_status.status, ImageStatus::Approved);
}

#[test]
fn several_names_take_the_union_of_policies() {
    let mut genesis = genesis(&[10]);
    genesis.bindings = vec![
        binding("ghcr.io/acme/*", &[("vulnerability-threshold", Value::Null)]),
        binding("ghcr.io/mirror/*", &[("sbom-required", Value::Null)]),
    ];
    let chain = TestChain::start(genesis);
    let target = image("two-names");
    chain.commit(vec![
        scan_tx("ghcr.io/acme/api:1", &target, &["LOW"]),
        scan_tx("ghcr.io/mirror/api:1", &target, &["LOW", "MEDIUM"]),
    ]);
    let response = chain.app.image_status(&target, None, false).unwrap();
    let names: Vec<(&str, &str)> =
        response.names.iter().map(|name| (name.name.as_str(), name.scope.as_str())).collect();
    assert_eq!(names, [("ghcr.io/acme/api", "ghcr.io/acme/*"), ("ghcr.io/mirror/api", "ghcr.io/mirror/*")]);
    let policies: Vec<&str> = response.verdicts.iter().map(|verdict| verdict.policy.as_str()).collect();
    assert_eq!(policies, ["sbom-required", "vulnerability-threshold"]);
    assert_eq!(response.verdicts[0].verdict, Verdict::Pending, "no SBOM is attested");
    assert_eq!(response.verdicts[1].verdict, Verdict::Approved);
    assert_eq!(response.verdicts[1].attestations.len(), 2);

    assert_eq!(status(&chain, &target, Some("ghcr.io/acme/api")), ImageStatus::Approved);
    assert_eq!(status(&chain, &target, Some("ghcr.io/mirror/api")), ImageStatus::Pending);
    assert_eq!(status(&chain, &target, None), ImageStatus::Pending);
    assert_eq!(status(&chain, &target, Some("ghcr.io/unknown/api")), ImageStatus::Pending);
}

#[test]
fn newest_scan_of_a_scanner_decides_by_ledger_order() {
    let chain = TestChain::start(genesis(&[10]));
    let target = image("rescanned");
    chain.commit(vec![scan_tx("ghcr.io/acme/api:1", &target, &["CRITICAL"])]);
    assert_eq!(status(&chain, &target, None), ImageStatus::Quarantined);
    chain.commit(vec![scan_tx("ghcr.io/acme/api:2", &target, &["LOW"])]);
    let response = chain.app.image_status(&target, None, false).unwrap();
    assert_eq!(response.status, ImageStatus::Approved, "the later block's scan replaces the earlier one");
    assert_eq!(response.verdicts[0].attestations.len(), 2, "both stay in the index");
}

#[test]
fn reevaluation_is_bounded_per_block_and_resumes() {
    let mut genesis = genesis(&[10]);
    genesis.consensus.reevaluations_per_block = 2;
    let chain = TestChain::start(genesis);
    let images: Vec<_> = (0..5).map(|n| image(&format!("pass-{n}"))).collect();
    chain.commit(images.iter().map(|digest| scan_tx("ghcr.io/acme/api", digest, &["LOW"])).collect());
    assert!(images.iter().all(|digest| status(&chain, digest, None) == ImageStatus::Approved));

    let strict = GovAction::BindPolicy {
        scope: "*".into(),
        policies: vec![BoundPolicy {
            policy: "vulnerability-threshold".into(),
            parameters: r#"{"max_severity":"negligible"}"#.into(),
        }],
    };
    let mut counts = Vec::new();
    let outcome = chain.commit(vec![chain.propose(0, strict)]);
    counts.push(outcome.evaluated.len());
    let quarantined =
        |chain: &TestChain| images.iter().filter(|d| status(chain, d, None) == ImageStatus::Quarantined).count();
    let mut quarantined_counts = vec![quarantined(&chain)];

    // The pass resumes after a restart, because its cursor is in the state.
    let chain = chain.reopen();
    for _ in 0..3 {
        counts.push(chain.commit(vec![]).evaluated.len());
        quarantined_counts.push(quarantined(&chain));
    }
    assert_eq!(counts, [2, 2, 1, 0]);
    assert_eq!(quarantined_counts, [2, 4, 5, 5]);
}

#[test]
fn policy_admin_storage_reaches_the_policy() {
    let chain = TestChain::start(genesis(&[10]));
    let target = image("exempted");
    chain.commit(vec![scan_tx("ghcr.io/acme/api", &target, &["CRITICAL"])]);
    assert_eq!(status(&chain, &target, None), ImageStatus::Quarantined);

    let expires = GENESIS_TIME_MS as i64 + 1_000_000;
    let exemption = GovAction::PolicyAdmin {
        policy: "vulnerability-threshold".into(),
        message: AdminMessage::Set {
            key: "exemption/CVE-2024-0000".into(),
            value: format!(r#"{{"expires_at_ms": {expires}}}"#),
        },
    };
    chain.commit(vec![chain.propose(0, exemption)]);
    let response = chain.app.image_status(&target, None, false).unwrap();
    assert_eq!(response.status, ImageStatus::Approved, "{:?}", response.verdicts);
    assert_eq!(response.verdicts[0].expires_at_ms, Some(expires));
    let storage = &chain
        .app
        .policies()
        .unwrap()
        .policies
        .into_iter()
        .find(|p| p.name == "vulnerability-threshold")
        .unwrap()
        .storage;
    assert_eq!(storage.len(), 1);

    // The exemption's expiry makes the verdict expire, and the image is evaluated again.
    let outcome = chain.commit_at(vec![], expires as u64);
    assert_eq!(outcome.evaluated, vec![target.clone()]);
    assert_eq!(status(&chain, &target, None), ImageStatus::Quarantined);
}

#[test]
fn expired_review_is_evaluated_again_at_its_expiry() {
    let mut genesis = genesis(&[10]);
    genesis.bindings = vec![binding("*", &[("required-attesters", json!({"threshold": 1, "roles": ["reviewer"]}))])];
    let chain = TestChain::start(genesis);
    let target = image("reviewed");
    let expires_ms = GENESIS_TIME_MS + 10_000;
    let review = json!({"decision": "approve", "reason": "looked at it", "expiresAt": "2025-06-15T15:06:50Z"});
    assert_eq!(expires_ms, 1_750_000_010_000, "the review's expiresAt is 10 s after genesis");
    let payload = statement(&[("ghcr.io/acme/api", &target)], "https://vouch.dev/review/v1", review);
    chain.commit(vec![attest_tx(envelope(payload, &key(101)))]);
    let response = chain.app.image_status(&target, None, false).unwrap();
    assert_eq!(response.status, ImageStatus::Approved, "{:?}", response.verdicts);
    assert_eq!(response.verdicts[0].expires_at_ms, Some(expires_ms as i64));

    assert!(chain.commit_at(vec![], expires_ms - 1).evaluated.is_empty());
    let outcome = chain.commit_at(vec![], expires_ms);
    assert_eq!(outcome.evaluated, vec![target.clone()]);
    assert_eq!(status(&chain, &target, None), ImageStatus::Pending);
    assert!(chain.commit(vec![]).evaluated.is_empty(), "a verdict without expiry is not evaluated again");
}

#[test]
fn hostile_policy_quarantines_while_blocks_keep_committing() {
    let mut genesis = genesis(&[10]);
    genesis.policy_limits.fuel_per_evaluation = 200_000;
    let chain = TestChain::start(genesis);
    let looping = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "vouch_evaluate") (loop $spin (br $spin))))"#,
    )
    .unwrap();
    let deploy = GovAction::DeployPolicy { name: "spin".into(), wasm: looping };
    let bind = GovAction::BindPolicy {
        scope: "ghcr.io/hostile/*".into(),
        policies: vec![BoundPolicy { policy: "spin".into(), parameters: String::new() }],
    };
    chain.commit(vec![chain.propose(0, deploy)]);
    chain.commit(vec![chain.account_tx(&key(1), Action::Propose { action: bind, description: String::new() })]);

    let (hostile, friendly) = (image("hostile"), image("friendly"));
    let outcome = chain.commit(vec![
        scan_tx("ghcr.io/hostile/app", &hostile, &["LOW"]),
        scan_tx("ghcr.io/ok/app", &friendly, &["LOW"]),
    ]);
    assert_eq!(outcome.evaluated.len(), 2);
    let response = chain.app.image_status(&hostile, None, false).unwrap();
    assert_eq!(response.status, ImageStatus::Quarantined);
    assert!(response.verdicts[0].reasons[0].contains("ran out of fuel"), "{:?}", response.verdicts[0].reasons);
    assert_eq!(status(&chain, &friendly, None), ImageStatus::Approved);
    let height = chain.app.tip().height;
    chain.commit(vec![scan_tx("ghcr.io/hostile/app:2", &hostile, &["LOW"])]);
    assert_eq!(chain.app.tip().height.0, height.0 + 1);
}
