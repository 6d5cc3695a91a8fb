//! Attestation rules of the app on a real sled store: what `check_tx` rejects and
//! with which code, what a block indexes, and the verdicts it writes.

mod app_support;

use app_support::*;
use serde_json::json;
use vouch_protocol::chain::Transaction;
use vouch_protocol::keys::KeyId;
use vouch_protocol::ledger::{Action, ImageStatus, LedgerTx, Verdict};
use vouch_protocol::signing::ChainId;

fn code(chain: &TestChain, tx: &Transaction) -> &'static str {
    chain.app.check_tx(tx).expect_err("the transaction is rejected").code
}

#[test]
fn clean_scan_is_approved_and_critical_quarantined() {
    let chain = TestChain::start(genesis(&[10]));
    let clean = image("clean");
    let bad = image("bad");
    let outcome = chain.commit(vec![
        scan_tx("ghcr.io/acme/api:1.0", &clean, &["LOW"]),
        scan_tx("ghcr.io/acme/api:2.0", &bad, &["CRITICAL"]),
    ]);
    assert_eq!(outcome.tx_outcomes.len(), 2);
    assert!(outcome.tx_outcomes.iter().all(|(_, text)| text == "applied"), "{:?}", outcome.tx_outcomes);

    let approved = chain.app.image_status(&clean, None, false).unwrap();
    assert_eq!(approved.status, ImageStatus::Approved);
    assert_eq!(approved.names[0].name, "ghcr.io/acme/api");
    assert_eq!(approved.names[0].scope, "*");
    assert_eq!(approved.verdicts[0].verdict, Verdict::Approved);

    let quarantined = chain.app.image_status(&bad, Some("ghcr.io/acme/api"), false).unwrap();
    assert_eq!(quarantined.status, ImageStatus::Quarantined);
    assert!(!quarantined.verdicts[0].reasons.is_empty());

    let listed = chain.app.attestations(&clean).unwrap();
    assert_eq!(listed.attestations.len(), 1);
    assert_eq!(listed.attestations[0].attester_name.as_deref(), Some("scanner"));
    assert_eq!(chain.app.tx_outcome(&outcome.tx_outcomes[0].0).unwrap().unwrap().1, "applied");
}

#[test]
fn check_rejects_each_bad_attestation_with_its_code() {
    let chain = TestChain::start(genesis(&[10]));
    let target = image("target");
    let payload = statement(&[("ghcr.io/acme/api", &target)], VULN_TYPE, trivy_predicate(trivy_report(&["LOW"])));

    let stranger = attest_tx(envelope(payload.clone(), &key(7)));
    assert_eq!(code(&chain, &stranger), "attester_unregistered");

    let mut forged: serde_json::Value = serde_json::from_slice(&envelope(payload.clone(), &key(100))).unwrap();
    let other = envelope(b"{}".to_vec(), &key(100));
    let other: serde_json::Value = serde_json::from_slice(&other).unwrap();
    forged["signatures"][0]["sig"] = other["signatures"][0]["sig"].clone();
    let bad_signature = attest_tx(serde_json::to_vec(&forged).unwrap());
    assert_eq!(code(&chain, &bad_signature), "signature_invalid");

    let no_subjects = serde_json::to_vec(&json!({"_type": "https://in-toto.io/Statement/v1", "subject": [],
        "predicateType": VULN_TYPE, "predicate": {}}))
    .unwrap();
    assert_eq!(code(&chain, &attest_tx(envelope(no_subjects, &key(100)))), "subject_missing");

    let only_sha512 = serde_json::to_vec(&json!({"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"sha512": "ab".repeat(64)}}], "predicateType": "https://example.com/t", "predicate": {}}))
    .unwrap();
    assert_eq!(code(&chain, &attest_tx(envelope(only_sha512, &key(100)))), "subject_missing");

    assert_eq!(code(&chain, &attest_tx(b"not json".to_vec())), "envelope_invalid");
    assert_eq!(code(&chain, &Transaction::new(vec![9, 9, 9])), "tx_malformed");

    let bad_predicate = statement(&[("x", &target)], VULN_TYPE, json!({"scanner": {"result": 5}}));
    assert_eq!(code(&chain, &attest_tx(envelope(bad_predicate, &key(100)))), "predicate_invalid");

    let good = attest_tx(envelope(payload, &key(100)));
    let checked = chain.app.check_tx(&good).unwrap();
    assert_eq!(checked.image.as_ref(), Some(&target));
    chain.commit(vec![good.clone()]);
    assert_eq!(code(&chain, &good), "duplicate");
}

#[test]
fn duplicate_in_a_block_makes_the_block_invalid() {
    let chain = TestChain::start(genesis(&[10]));
    let tx = scan_tx("ghcr.io/acme/api", &image("dup"), &["LOW"]);
    let proposed = chain.app.propose_block(vec![tx.clone(), tx.clone()], 0, &key(1).public_key()).unwrap();
    assert_eq!(proposed.txs.len(), 1, "the proposal drops the second copy");
    chain.commit(vec![tx.clone()]);

    let height = chain.app.tip().height;
    let error = chain.apply(&chain.raw_block(vec![tx])).unwrap_err();
    assert!(error.to_string().contains("already"), "{error}");
    assert_eq!(chain.app.tip().height, height);
}

#[test]
fn envelope_size_limit_at_and_past_the_edge() {
    let payload =
        statement(&[("ghcr.io/acme/api", &image("size"))], VULN_TYPE, trivy_predicate(trivy_report(&["LOW"])));
    let bytes = envelope(payload, &key(100));
    let mut at_limit = genesis(&[10]);
    at_limit.consensus.envelope_bytes_max = bytes.len() as u32;
    let chain = TestChain::start(at_limit);
    assert!(chain.app.check_tx(&attest_tx(bytes.clone())).is_ok());

    let mut below = genesis(&[10]);
    below.consensus.envelope_bytes_max = bytes.len() as u32 - 1;
    let chain = TestChain::start(below);
    let rejection = chain.app.check_tx(&attest_tx(bytes.clone())).unwrap_err();
    assert_eq!(rejection.code, "envelope_too_large");
    assert!(rejection.message.contains(&bytes.len().to_string()), "{}", rejection.message);
}

#[test]
fn attestations_per_image_limit_at_and_past_the_edge() {
    let mut limited = genesis(&[10]);
    limited.consensus.attestations_per_image_max = 2;
    let chain = TestChain::start(limited);
    let target = image("crowded");
    let first = scan_tx("ghcr.io/acme/api:1", &target, &["LOW"]);
    let second = scan_tx("ghcr.io/acme/api:2", &target, &["LOW"]);
    let third = scan_tx("ghcr.io/acme/api:3", &target, &["LOW"]);
    let outcome = chain.commit(vec![first, second]);
    assert_eq!(outcome.tx_outcomes.len(), 2);
    assert_eq!(code(&chain, &third), "image_attestations_full");
}

#[test]
fn revoke_only_by_its_attester_and_verdict_follows() {
    let chain = TestChain::start(genesis(&[10]));
    let target = image("revoked");
    let payload = statement(&[("ghcr.io/acme/api", &target)], VULN_TYPE, trivy_predicate(trivy_report(&["CRITICAL"])));
    let bytes = envelope(payload, &key(100));
    let envelope_hash = *blake3::hash(&bytes).as_bytes();
    chain.commit(vec![attest_tx(bytes)]);
    assert_eq!(chain.app.image_status(&target, None, false).unwrap().status, ImageStatus::Quarantined);

    let revoke = Action::Revoke { image: target.clone(), envelope_hash, reason: "rescanned".into() };
    let by_reviewer = chain.account_tx(&key(101), revoke.clone());
    assert_eq!(code(&chain, &by_reviewer), "not_the_attester");
    let by_validator = chain.account_tx(&key(1), revoke.clone());
    assert_eq!(code(&chain, &by_validator), "not_the_attester");

    let wrong_image = Action::Revoke { image: image("other"), envelope_hash, reason: String::new() };
    assert_eq!(code(&chain, &chain.account_tx(&key(100), wrong_image)), "attestation_not_found");

    let outcome = chain.commit(vec![chain.account_tx(&key(100), revoke)]);
    assert_eq!(outcome.tx_outcomes[0].1, "applied");
    assert_eq!(outcome.evaluated, vec![target.clone()]);
    let status = chain.app.image_status(&target, None, false).unwrap();
    assert_eq!(status.status, ImageStatus::Pending, "no report left: the policy waits");
    assert!(chain.app.attestations(&target).unwrap().attestations.is_empty());
    assert_eq!(chain.nonce(&key(100)), 1);
}

#[test]
fn account_nonce_and_chain_replay() {
    let chain = TestChain::start(genesis(&[10]));
    let vote = Action::Vote { proposal: 99, approve: true };
    let ahead = account_tx(&chain.genesis.chain_id, &key(1), 1, vote.clone());
    assert_eq!(code(&chain, &ahead), "nonce_mismatch");

    let other_chain = ChainId::new("vouch-other").unwrap();
    let replayed = account_tx(&other_chain, &key(1), 0, vote.clone());
    assert_eq!(code(&chain, &replayed), "signature_invalid");

    let unknown_proposal = account_tx(&chain.genesis.chain_id, &key(1), 0, vote);
    assert_eq!(code(&chain, &unknown_proposal), "proposal_not_found");

    // In a block, a correctly signed transaction consumes its nonce even when its
    // action is rejected, so it can never apply later.
    let outcome = chain.apply(&chain.raw_block(vec![unknown_proposal.clone()])).unwrap();
    assert!(outcome.tx_outcomes[0].1.starts_with("rejected: proposal_not_found"), "{:?}", outcome.tx_outcomes);
    assert_eq!(chain.nonce(&key(1)), 1);
    let stored = chain.app.tx_outcome(&unknown_proposal.hash()).unwrap().unwrap();
    assert!(stored.1.starts_with("rejected: proposal_not_found"), "{}", stored.1);

    let reused = account_tx(&chain.genesis.chain_id, &key(1), 0, Action::Vote { proposal: 1, approve: false });
    let outcome = chain.apply(&chain.raw_block(vec![reused])).unwrap();
    assert!(outcome.tx_outcomes[0].1.starts_with("rejected: nonce_mismatch"), "{:?}", outcome.tx_outcomes);
    assert_eq!(chain.nonce(&key(1)), 1);
}

#[test]
fn invalid_attestation_in_a_block_has_no_effect() {
    let chain = TestChain::start(genesis(&[10]));
    let target = image("forged");
    let payload = statement(&[("ghcr.io/acme/api", &target)], VULN_TYPE, trivy_predicate(trivy_report(&["LOW"])));
    let stranger = attest_tx(envelope(payload, &key(7)));
    let outcome = chain.apply(&chain.raw_block(vec![stranger])).unwrap();
    assert!(outcome.tx_outcomes[0].1.starts_with("rejected: attester_unregistered"), "{:?}", outcome.tx_outcomes);
    assert!(outcome.evaluated.is_empty());
    assert!(chain.app.attestations(&target).unwrap().attestations.is_empty());
    let status = chain.app.image_status(&target, None, false).unwrap();
    assert_eq!(status.status, ImageStatus::Pending);
    assert!(status.verdicts.is_empty());
}

#[test]
fn multi_subject_attestation_indexes_each_image_once() {
    let chain = TestChain::start(genesis(&[10]));
    let (first, second) = (image("multi-a"), image("multi-b"));
    let payload = statement(
        &[("ghcr.io/acme/api:1", &first), ("ghcr.io/acme/api:latest", &first), ("ghcr.io/acme/web", &second)],
        VULN_TYPE,
        trivy_predicate(trivy_report(&["LOW"])),
    );
    let outcome = chain.commit(vec![attest_tx(envelope(payload, &key(100)))]);
    assert_eq!(outcome.evaluated, {
        let mut both = vec![first.clone(), second.clone()];
        both.sort();
        both
    });
    let listed = chain.app.attestations(&first).unwrap().attestations;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subject_names, vec!["ghcr.io/acme/api".to_owned()]);
    assert_eq!(chain.app.attestations(&second).unwrap().attestations[0].subject_names, vec!["ghcr.io/acme/web"]);
    assert_eq!(listed[0].attester, KeyId::of(&key(100).public_key()).to_string());
}

#[test]
fn unregistered_key_with_empty_keyid_is_tried_against_every_attester() {
    let chain = TestChain::start(genesis(&[10]));
    let target = image("cosign-style");
    let payload = statement(&[("ghcr.io/acme/api", &target)], VULN_TYPE, trivy_predicate(trivy_report(&["LOW"])));
    let mut value: serde_json::Value = serde_json::from_slice(&envelope(payload, &key(100))).unwrap();
    value["signatures"][0]["keyid"] = json!("");
    let tx = LedgerTx::Attest { envelope: serde_json::to_vec(&value).unwrap() }.to_transaction();
    chain.commit(vec![tx]);
    assert_eq!(chain.app.image_status(&target, None, false).unwrap().status, ImageStatus::Approved);
}
