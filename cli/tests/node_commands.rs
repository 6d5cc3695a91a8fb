//! Black-box tests of the node commands against a mock node on a loopback port: the
//! proofs it serves are real (see `common::chain`), and the transactions `vouch`
//! posts are decoded and checked here.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::chain::{
    Fixture, chain_id, commit, genesis, genesis_validators, image, validator_key, validators_response,
};
use common::mock_node::{MockNode, Request, Response};
use common::{Run, Vouch};
use serde_json::Value;
use vouch_protocol::api::{
    AccountResponse, BlockResponse, ImageProof, ImageStatusResponse, PoliciesResponse, PolicyView, StatusResponse,
    SubmitTxResponse, TxState, ValidatorsResponse,
};
use vouch_protocol::chain::Height;
use vouch_protocol::encoding;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{Action, GovAction, ImageRecord, ImageStatus, LedgerTx, TxBody};
use vouch_protocol::light::{LightValidator, ValidatorSet};

/// Largest response body `vouch` reads, as the client defines it.
const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Builds the status response that a node would send with `proof`, claiming `status`.
fn image_response(number: u32, proof: ImageProof, status: ImageStatus) -> ImageStatusResponse {
    ImageStatusResponse {
        image: image(number),
        status,
        repository: None,
        height: proof.height,
        names: Vec::new(),
        verdicts: Vec::new(),
        proof: Some(proof),
    }
}

/// Starts a node that serves the fixture's proof of image `number` with `edit` applied,
/// claiming `claimed` as the status.
fn proof_node(number: u32, claimed: ImageStatus, edit: fn(&mut ImageProof)) -> MockNode {
    let fixture = Fixture::new();
    let mut proof = fixture.proof(number);
    edit(&mut proof);
    let body = image_response(number, proof, claimed);
    chain_node(validators_response(&genesis_validators()), move |_| Response::json(&body))
}

/// Starts a node that serves `validators` at `GET /v1/validators` and passes every
/// other request to `handler`.
fn chain_node(validators: ValidatorsResponse, handler: impl Fn(&Request) -> Response + Send + 'static) -> MockNode {
    MockNode::start(move |request: &Request| match request.target.split('?').next() {
        Some("/v1/validators") => Response::json(&validators),
        _ => handler(request),
    })
}

fn write_genesis(vouch: &Vouch) -> String {
    let path = vouch.path("genesis.json");
    std::fs::write(&path, genesis().to_json()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn verify(vouch: &Vouch, node: &MockNode, number: u32, extra: &[&str]) -> Run {
    let genesis = write_genesis(vouch);
    let digest = image(number).to_string();
    let mut args = vec!["verify", &digest, "--genesis", &genesis, "--node", &node.url];
    args.extend_from_slice(extra);
    vouch.run(&args)
}

#[test]
fn verify_exit_codes_follow_verified_status() {
    let vouch = Vouch::new();
    let cases = [(0, 0, "approved"), (1, 3, "quarantined"), (2, 4, "pending"), (1000, 4, "pending")];
    for (number, code, status) in cases {
        let node = proof_node(number, ImageStatus::Approved, |_| {});
        let run = verify(&vouch, &node, number, &["--output", "json"]).expect_code(code);
        let output: Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(output["status"], status, "image {number}");
        assert_eq!(output["verified"], true);
        assert!(node.requests().iter().any(|request| request.target.contains("proof=true")), "{:?}", node.requests());

        // The text output reports an image proven absent, and only such an image.
        let text = verify(&vouch, &node, number, &[]).expect_code(code);
        let absent = text.stdout.contains("no committed attestation names this image");
        assert_eq!(absent, number == 1000, "image {number}: {}", text.stdout);
    }
}

#[test]
fn verify_ignores_claimed_status() {
    let vouch = Vouch::new();
    let node = proof_node(1, ImageStatus::Approved, |_| {});
    let run = verify(&vouch, &node, 1, &[]).expect_code(3);
    assert!(run.stdout.contains("quarantined (proof verified)"), "{}", run.stdout);
    assert!(run.stderr.contains("differs from the verified record"), "{}", run.stderr);
}

#[test]
fn verify_rejects_tampered_record() {
    let vouch = Vouch::new();
    let node = proof_node(1, ImageStatus::Approved, |proof| {
        let mut record: ImageRecord =
            encoding::decode(&STANDARD.decode(proof.record.as_ref().unwrap()).unwrap()).unwrap();
        record.verdicts.clear();
        proof.record = Some(STANDARD.encode(encoding::encode(&record)));
    });
    let run = verify(&vouch, &node, 1, &[]).failure();
    assert!(run.stderr.contains("failed verification"), "{}", run.stderr);
    assert!(run.stderr.contains("does not prove the image record"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn verify_rejects_forged_absence() {
    let vouch = Vouch::new();
    let node = proof_node(1, ImageStatus::Pending, |proof| proof.record = None);
    let run = verify(&vouch, &node, 1, &[]).failure();
    assert!(run.stderr.contains("does not prove that the image is absent"), "{}", run.stderr);
}

#[test]
fn verify_rejects_expired_genesis() {
    let vouch = Vouch::new();
    let node = proof_node(0, ImageStatus::Approved, |_| {});

    // The fixture's genesis is at least a day old, so a one-hour trust period has run out.
    let run = verify(&vouch, &node, 0, &["--trust-period", "1h"]).failure();
    assert!(run.stderr.contains("the trusted header at height 0"), "{}", run.stderr);
    assert!(run.stderr.contains("raise --trust-period"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    verify(&vouch, &node, 0, &["--trust-period", "3d"]).expect_code(0);
}

/// Returns the key of validator `index` of a set that keeps genesis validators 0 and 1
/// and adds two keys of its own.
fn changed_set_key(index: usize) -> SigningKey {
    match index {
        0 | 1 => validator_key(index),
        _ => SigningKey::from_seed(&[70 + index as u8; 32]),
    }
}

/// Returns the hash of the light-client set of `validators`.
fn set_hash(validators: &[(SigningKey, u64)]) -> [u8; 32] {
    let members =
        validators.iter().map(|(key, stake)| LightValidator { public_key: key.public_key(), power: *stake }).collect();
    ValidatorSet::new(Height(1), members).unwrap().hash()
}

#[test]
fn verify_follows_set_change_with_trusted_overlap() {
    // Genesis validators 0 and 1 (6 of the genesis 9) stay; two new validators join.
    let changed: Vec<(SigningKey, u64)> = (0..4).map(|index| (changed_set_key(index), [4, 2, 3, 3][index])).collect();
    let fixture = Fixture::new();
    let mut header = fixture.header();
    header.validators_hash = set_hash(&changed);
    header.next_validators_hash = header.validators_hash;
    let proof = fixture.proof_with(0, &header, &commit(&header, &[0, 1, 2, 3], changed_set_key));
    let body = image_response(0, proof, ImageStatus::Approved);
    let node = chain_node(validators_response(&changed), move |_| Response::json(&body));

    let vouch = Vouch::new();
    let run = verify(&vouch, &node, 0, &[]).expect_code(0);
    assert!(run.stdout.contains("approved (proof verified)"), "{}", run.stdout);
}

#[test]
fn verify_names_set_change_it_cannot_follow() {
    // A set with none of the genesis validators signs height 2, so the light client
    // needs height 1, for which this node serves the wrong set.
    let disjoint: Vec<(SigningKey, u64)> = (0..3).map(|index| (changed_set_key(index + 2), 5)).collect();
    let key_of = |index: usize| changed_set_key(index + 2);
    let fixture = Fixture::new();
    let mut header = fixture.header();
    header.validators_hash = set_hash(&disjoint);
    header.next_validators_hash = header.validators_hash;
    let proof = fixture.proof_with(0, &header, &commit(&header, &[0, 1, 2], key_of));

    let mut first = fixture.header();
    first.height = Height(1);
    first.previous_block_hash = None;
    first.next_validators_hash = set_hash(&disjoint);
    let first_block = BlockResponse {
        height: 1,
        hash: first.hash().to_hex(),
        time_unix_ms: first.time_unix_ms,
        app_hash: first.app_hash.to_hex(),
        txs: Vec::new(),
        header: STANDARD.encode(first.to_bytes()),
        commit: STANDARD.encode(commit(&first, &[0, 1, 3], validator_key).to_bytes()),
    };
    let body = image_response(0, proof, ImageStatus::Approved);
    let node = chain_node(validators_response(&disjoint), move |request: &Request| match request.target.as_str() {
        "/v1/blocks/1" => Response::json(&first_block),
        _ => Response::json(&body),
    });

    let vouch = Vouch::new();
    let run = verify(&vouch, &node, 0, &[]).failure();
    assert!(run.stderr.contains("validator set for height 1 hashes to"), "{}", run.stderr);
    assert!(run.stderr.contains("served a validator set that the header does not name"), "{}", run.stderr);
    assert!(node.requests().iter().any(|request| request.target == "/v1/blocks/1"), "{:?}", node.requests());
    let asked = |target: &str| node.requests().iter().any(|request| request.target == target);
    assert!(asked("/v1/validators?height=1"), "the set of height 1 is requested by height: {:?}", node.requests());
}

#[test]
fn verify_without_proof_fails() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let mut body = image_response(0, fixture.proof(0), ImageStatus::Approved);
    body.proof = None;
    let node = MockNode::start(move |_| Response::json(&body));
    let run = verify(&vouch, &node, 0, &[]).failure();
    assert!(run.stderr.contains("returned no proof"), "{}", run.stderr);
}

#[test]
fn verify_names_node_error() {
    let vouch = Vouch::new();
    let node = MockNode::start(|_| Response::error(404, "not_found", "no such height"));
    let run = verify(&vouch, &node, 0, &[]).failure();
    let expected = format!("{}/v1/images/{}", node.url, image(0));
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 404: not_found: no such height"), "{}", run.stderr);
}

#[test]
fn status_passes_repository_from_reference() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let body = image_response(0, fixture.proof(0), ImageStatus::Approved);
    let node = MockNode::start(move |_| Response::json(&body));
    let reference = format!("ghcr.io/acme/api@{}", image(0));
    let run = vouch.run(&["status", &reference, "--node", &node.url]).success();
    assert!(run.stdout.contains("approved"), "{}", run.stdout);
    let target = &node.requests()[0].target;
    assert!(target.contains("repository=ghcr.io%2Facme%2Fapi"), "{target}");
    assert!(!target.contains("proof"), "{target}");
}

#[test]
fn response_size_limit_at_and_past_edge() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let json = serde_json::to_vec(&image_response(0, fixture.proof(0), ImageStatus::Approved)).unwrap();
    let pad = |size: usize| {
        let mut body = json.clone();
        body.resize(size, b' ');
        body
    };
    let at_limit = pad(RESPONSE_BYTES_MAX);
    let node = MockNode::start(move |_| Response { status: 200, body: at_limit.clone() });
    vouch.run(&["status", &image(0).to_string(), "--node", &node.url]).success();

    let past_limit = pad(RESPONSE_BYTES_MAX + 1);
    let node = MockNode::start(move |_| Response { status: 200, body: past_limit.clone() });
    let run = vouch.run(&["status", &image(0).to_string(), "--node", &node.url]).failure();
    assert!(run.stderr.contains("over the limit of 16777216 bytes"), "{}", run.stderr);
}

/// Starts a node that serves status, account, policy and submission requests like a
/// dev chain whose signer has nonce 7, and that lists no proposals.
fn account_node() -> MockNode {
    MockNode::start(|request: &Request| match (request.method.as_str(), request.target.as_str()) {
        ("GET", "/v1/status") => Response::json(&StatusResponse {
            chain_id: chain_id().as_str().to_owned(),
            node_version: "mock".to_owned(),
            latest_height: 4,
            latest_block_hash: None,
            latest_time_unix_ms: None,
            state_root: "00".repeat(32),
            mempool_txs: 0,
        }),
        ("GET", target) if target.starts_with("/v1/accounts/") => Response::json(&AccountResponse {
            public_key: target.trim_start_matches("/v1/accounts/").to_owned(),
            nonce: 7,
            stake: 1,
        }),
        ("POST", "/v1/txs") => Response::json(&SubmitTxResponse {
            tx_hash: "ab".repeat(32),
            state: TxState::Committed,
            height: Some(5),
            image: None,
            outcome: Some("applied".to_owned()),
        }),
        ("GET", "/v1/proposals") => Response::json(&serde_json::json!({"proposals": []})),
        ("GET", "/v1/policies") => Response::json(&standard_policies()),
        _ => Response::error(404, "not_found", "unknown path"),
    })
}

/// Builds the policies of a dev chain: every standard policy, deployed under its own name.
fn standard_policies() -> PoliciesResponse {
    let policies = vouch_node::policy::standard::ALL
        .iter()
        .map(|policy| PolicyView {
            name: policy.name.to_owned(),
            version: 1,
            code_hash: blake3::hash(policy.wasm).to_hex().to_string(),
            deployed_at: 0,
            storage: Vec::new(),
        })
        .collect();
    PoliciesResponse { policies, bindings: Vec::new() }
}

/// Returns the body of the transaction that `vouch` posted, after checking its
/// signature for the chain.
fn posted_body(node: &MockNode, signer_public_key: &str) -> TxBody {
    let post = node.requests().into_iter().find(|request| request.method == "POST").expect("a POST /v1/txs");
    let request: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(request["wait"], true);
    let bytes = STANDARD.decode(request["tx"].as_str().unwrap()).unwrap();
    let LedgerTx::Account(signed) = LedgerTx::from_bytes(&bytes).unwrap() else {
        panic!("expected an account transaction");
    };
    assert_eq!(signed.signer.to_hex(), signer_public_key);
    signed.verify(&chain_id()).unwrap()
}

fn public_key_of(vouch: &Vouch, name: &str) -> String {
    let file: Value =
        serde_json::from_slice(&std::fs::read(vouch.keyring().join(format!("{name}.json"))).unwrap()).unwrap();
    file["public"].as_str().unwrap().to_owned()
}

#[test]
fn gov_vote_signs_for_chain_and_nonce() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("validator");
    let node = account_node();
    let run = vouch.run(&["gov", "vote", "3", "--yes", "--key", "validator", "--node", &node.url]).success();
    assert!(run.stdout.contains(&"ab".repeat(32)), "{}", run.stdout);

    let body = posted_body(&node, &public_key_of(&vouch, "validator"));
    assert_eq!(body.nonce, 7);
    assert_eq!(body.action, Action::Vote { proposal: 3, approve: true });
}

#[test]
fn attester_register_proposes_keyring_key() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("validator");
    vouch.generate_unencrypted("scanner");
    let node = account_node();
    let args = ["attester", "register", "trivy-ci", "--role", "scanner", "--attester-key", "scanner"];
    vouch.run(&[&args[..], &["--key", "validator", "--node", &node.url]].concat()).success();

    let body = posted_body(&node, &public_key_of(&vouch, "validator"));
    let Action::Propose { action: GovAction::RegisterAttester { name, role, key }, description } = body.action else {
        panic!("expected a register proposal, got {:?}", body.action);
    };
    assert_eq!((name.as_str(), role.as_str()), ("trivy-ci", "scanner"));
    assert_eq!(key.to_hex(), public_key_of(&vouch, "scanner"));
    assert!(description.contains("trivy-ci"), "{description}");
}

#[test]
fn policy_bind_checks_scope_before_sending() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("validator");
    let node = account_node();
    let run = vouch.run(&["policy", "bind", "ghcr.io/*/api", "p", "--key", "validator", "--node", &node.url]).failure();
    assert!(run.stderr.contains("invalid scope"), "{}", run.stderr);
    assert!(node.requests().is_empty(), "{:?}", node.requests());

    let args = ["policy", "bind", "ghcr.io/acme/*", "vulnerability-threshold={\"max_severity\": \"high\"}"];
    vouch.run(&[&args[..], &["--key", "validator", "--node", &node.url]].concat()).success();
    let body = posted_body(&node, &public_key_of(&vouch, "validator"));
    let Action::Propose { action: GovAction::BindPolicy { scope, policies }, .. } = body.action else {
        panic!("expected a bind proposal, got {:?}", body.action);
    };
    assert_eq!(scope, "ghcr.io/acme/*");
    assert_eq!(policies[0].parameters, r#"{"max_severity":"high"}"#);
}

#[test]
fn rejected_transaction_names_code() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("validator");
    let node = MockNode::start(|request: &Request| match request.target.as_str() {
        "/v1/status" => Response::json(&serde_json::json!({
            "chain_id": "vouch-light-test", "node_version": "mock", "latest_height": 1,
            "latest_block_hash": null, "latest_time_unix_ms": null, "state_root": "00", "mempool_txs": 0})),
        "/v1/txs" => Response::error(400, "tx_rejected", "the signer is not a validator"),
        _ => Response::json(&serde_json::json!({"public_key": "", "nonce": 0, "stake": 0})),
    });
    let run = vouch.run(&["gov", "vote", "1", "--no", "--key", "validator", "--node", &node.url]).failure();
    assert!(run.stderr.contains("HTTP 400: tx_rejected: the signer is not a validator"), "{}", run.stderr);
}

#[test]
fn status_normalizes_repository_option() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let body = image_response(0, fixture.proof(0), ImageStatus::Approved);
    let node = MockNode::start(move |_| Response::json(&body));
    let digest = image(0).to_string();
    vouch.run(&["status", &digest, "--repository", "busybox", "--node", &node.url]).success();
    let target = &node.requests()[0].target;
    assert!(target.contains("repository=docker.io%2Flibrary%2Fbusybox"), "{target}");

    let run = vouch.run(&["status", &digest, "--repository", "busybox:latest", "--node", &node.url]).failure();
    assert!(run.stderr.contains("invalid --repository \"busybox:latest\""), "{}", run.stderr);
    assert!(run.stderr.contains("such as docker.io/library/busybox"), "{}", run.stderr);
    assert_eq!(node.requests().len(), 1, "{:?}", node.requests());
}

/// A reason that tries to set the terminal title, clear the screen and fake a line.
const HOSTILE_REASON: &str = "pkg \u{1b}]0;PWNED\u{7}\u{1b}[2J\u{9b}2J\u{202e}\nFAKE-LINE approved";

fn assert_no_terminal_controls(text: &str) {
    let controls: Vec<char> =
        text.chars().filter(|c| *c != '\n' && (c.is_control() || ('\u{202a}'..='\u{202e}').contains(c))).collect();
    assert!(controls.is_empty(), "raw controls {controls:?} in {text:?}");
    assert!(!text.lines().any(|line| line.starts_with("FAKE-LINE")), "{text}");
}

#[test]
fn status_escapes_node_supplied_text() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let mut body = image_response(0, fixture.proof(0), ImageStatus::Quarantined);
    body.proof = None;
    body.names = vec![vouch_protocol::api::NameView {
        name: format!("ghcr.io/acme/api{HOSTILE_REASON}"),
        scope: "*".to_owned(),
        policies: vec![HOSTILE_REASON.to_owned()],
    }];
    body.verdicts = vec![vouch_protocol::api::VerdictView {
        policy: "vulnerability-threshold".to_owned(),
        policy_version: 1,
        code_hash: "00".repeat(32),
        verdict: vouch_protocol::ledger::Verdict::Quarantined,
        reasons: vec![HOSTILE_REASON.to_owned()],
        expires_at_ms: None,
        height: 1,
        attestations: Vec::new(),
    }];
    let node = MockNode::start(move |_| Response::json(&body));
    let digest = image(0).to_string();
    let run = vouch.run(&["status", &digest, "--node", &node.url]).success();
    assert_no_terminal_controls(&run.stdout);
    assert!(run.stdout.contains("\\u{1b}]0;PWNED\\u{7}"), "{}", run.stdout);

    let run = vouch.run(&["status", &digest, "--node", &node.url, "--output", "json"]).success();
    assert_no_terminal_controls(&run.stdout);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["verdicts"][0]["reasons"][0], HOSTILE_REASON);
}

#[test]
fn node_error_message_is_escaped() {
    let vouch = Vouch::new();
    let node = MockNode::start(|_| Response::error(400, "bad\u{1b}[2J", HOSTILE_REASON));
    let run = vouch.run(&["status", &image(0).to_string(), "--node", &node.url]).failure();
    assert_no_terminal_controls(&run.stderr);
    assert!(run.stderr.contains("HTTP 400: bad\\u{1b}[2J: pkg \\u{1b}]0;PWNED"), "{}", run.stderr);
}

#[test]
fn account_command_checks_node_before_key() {
    let vouch = Vouch::new();
    let run =
        vouch.run(&["gov", "vote", "1", "--yes", "--key", "missing", "--node", "http://127.0.0.1:1/v1"]).failure();
    assert!(run.stderr.contains("drop the trailing /v1"), "{}", run.stderr);
    assert!(run.stderr.contains("use http://127.0.0.1:1"), "{}", run.stderr);
    assert!(!run.stderr.contains("no key named"), "{}", run.stderr);
}

#[test]
fn timeout_must_be_positive() {
    let vouch = Vouch::new();
    let digest = image(0).to_string();
    for bad in ["0", "3601"] {
        let run = vouch.run(&["status", &digest, "--timeout", bad, "--node", "http://127.0.0.1:1"]).expect_code(2);
        assert!(run.stderr.contains(&format!("invalid value '{bad}' for '--timeout <SECONDS>'")), "{}", run.stderr);
    }
    let fixture = Fixture::new();
    let body = image_response(0, fixture.proof(0), ImageStatus::Approved);
    let node = MockNode::start(move |_| Response::json(&body));
    for good in ["1", "3600"] {
        vouch.run(&["status", &digest, "--timeout", good, "--node", &node.url]).success();
    }
}

#[test]
fn malformed_digest_is_named_invalid() {
    let vouch = Vouch::new();
    let run = vouch.run(&["status", "sha256:55", "--node", "http://127.0.0.1:1"]).failure();
    assert!(run.stderr.contains("invalid IMAGE \"sha256:55\""), "{}", run.stderr);
    assert!(run.stderr.contains("invalid digest `sha256:55`: sha256 needs 64 hex characters"), "{}", run.stderr);
    assert!(!run.stderr.contains("tag"), "{}", run.stderr);
}

#[test]
fn policy_bind_rejects_bad_parameters_before_sending() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("validator");
    let node = account_node();
    for parameters in [r#"{"threshold":"many"}"#, r#"{"threshold":0}"#, r#"{"treshold":5}"#] {
        let policy = format!("required-attesters={parameters}");
        let args = ["policy", "bind", "registry.example/pm/*", &policy, "--key", "validator", "--node", &node.url];
        let run = vouch.run(&args).failure();
        assert!(run.stderr.contains("policy \"required-attesters\" rejects the parameters"), "{}", run.stderr);
        assert!(run.stderr.contains("invalid policy parameters"), "{}", run.stderr);
    }
    assert!(node.requests().iter().all(|request| request.method == "GET"), "{:?}", node.requests());

    let args = ["policy", "bind", "registry.example/pm/*", r#"required-attesters={"threshold":2}"#];
    vouch.run(&[&args[..], &["--key", "validator", "--node", &node.url]].concat()).success();
    let body = posted_body(&node, &public_key_of(&vouch, "validator"));
    let Action::Propose { action: GovAction::BindPolicy { policies, .. }, .. } = body.action else {
        panic!("expected a bind proposal, got {:?}", body.action);
    };
    assert_eq!(policies[0].parameters, r#"{"threshold":2}"#);
}

#[test]
fn policy_bind_warns_when_check_skipped() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("validator");
    let node = account_node();
    let args = ["policy", "bind", "*", r#"custom={"anything":1}"#, "--key", "validator", "--node", &node.url];
    let run = vouch.run(&args).success();
    assert!(run.stderr.contains("the parameters of policy \"custom\" were not checked"), "{}", run.stderr);
    assert!(run.stderr.contains("not deployed"), "{}", run.stderr);
}

/// Returns the unproven status of image 0 whose newest verdict is at `evaluated`.
fn latest_status(fixture: &Fixture, evaluated: u64) -> ImageStatusResponse {
    let mut latest = image_response(0, fixture.proof(0), ImageStatus::Approved);
    latest.proof = None;
    latest.height = evaluated;
    latest.verdicts = vec![vouch_protocol::api::VerdictView {
        policy: "vulnerability-threshold".to_owned(),
        policy_version: 1,
        code_hash: "05".repeat(32),
        verdict: vouch_protocol::ledger::Verdict::Approved,
        reasons: Vec::new(),
        expires_at_ms: None,
        height: evaluated,
        attestations: Vec::new(),
    }];
    latest
}

fn proof_requests(node: &MockNode) -> usize {
    node.requests().iter().filter(|request| request.target.contains("proof=true")).count()
}

#[test]
fn verify_waits_for_proof_of_newest_verdict() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let latest = latest_status(&fixture, common::chain::STATE_HEIGHT);
    let proven = image_response(0, fixture.proof(0), ImageStatus::Approved);
    let mut behind = proven.clone();
    behind.proof.as_mut().unwrap().height = common::chain::STATE_HEIGHT - 1;
    let served = std::sync::atomic::AtomicUsize::new(0);
    let node = chain_node(validators_response(&genesis_validators()), move |request: &Request| {
        if !request.target.contains("proof=true") {
            return Response::json(&latest);
        }
        match served.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Response::json(&behind),
            _ => Response::json(&proven),
        }
    });
    let run = verify(&vouch, &node, 0, &["--wait", "60s"]).expect_code(0);
    assert!(run.stdout.contains("approved (proof verified)"), "{}", run.stdout);
    assert!(!run.stderr.contains("note:"), "{}", run.stderr);
    assert_eq!(proof_requests(&node), 2, "{:?}", node.requests());
}

#[test]
fn verify_notes_proof_behind_after_wait() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let evaluated = common::chain::STATE_HEIGHT + 1;
    let latest = latest_status(&fixture, evaluated);
    let proven = image_response(0, fixture.proof(0), ImageStatus::Approved);
    let node = chain_node(validators_response(&genesis_validators()), move |request: &Request| {
        match request.target.contains("proof=true") {
            true => Response::json(&proven),
            false => Response::json(&latest),
        }
    });
    for wait in ["0", "300ms"] {
        let run = verify(&vouch, &node, 0, &["--wait", wait]).expect_code(0);
        let note = format!("the proof is at height 1 but the node evaluated the image at height {evaluated}");
        assert!(run.stderr.contains(&note), "{}", run.stderr);
        assert!(run.stderr.contains("raise --wait"), "{}", run.stderr);
    }
}

#[test]
fn verify_wait_zero_asks_once() {
    let vouch = Vouch::new();
    let fixture = Fixture::new();
    let latest = latest_status(&fixture, common::chain::STATE_HEIGHT + 1);
    let proven = image_response(0, fixture.proof(0), ImageStatus::Approved);
    let node = chain_node(validators_response(&genesis_validators()), move |request: &Request| {
        match request.target.contains("proof=true") {
            true => Response::json(&proven),
            false => Response::json(&latest),
        }
    });
    verify(&vouch, &node, 0, &["--wait", "0"]).expect_code(0);
    assert_eq!(proof_requests(&node), 1, "{:?}", node.requests());
}
