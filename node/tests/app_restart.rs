//! Restart and replay: reopening the store resumes at the same height and root,
//! replaying the stored blocks into a fresh store gives the same roots, and proofs of
//! image status verify against the stored header.

mod app_support;

use app_support::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use vouch_node::app::AppError;
use vouch_node::store::{LedgerStore, MemoryBackend};
use vouch_protocol::chain::{Commit, Header, Height};
use vouch_protocol::ledger::{Action, GovAction, ImageRecord};
use vouch_protocol::state::{StateKey, StateProof, verify_absence, verify_inclusion};

fn busy_chain() -> TestChain {
    let chain = TestChain::start(genesis(&[40, 26, 20, 13]));
    chain.commit(vec![
        scan_tx("ghcr.io/acme/api", &image("a"), &["LOW"]),
        scan_tx("ghcr.io/acme/web", &image("b"), &["HIGH"]),
    ]);
    let register =
        GovAction::RegisterAttester { name: "extra".into(), role: "builder".into(), key: key(70).public_key() };
    chain.commit(vec![chain.propose(0, register)]);
    chain.commit(vec![chain.account_tx(&key(2), Action::Vote { proposal: 1, approve: true })]);
    chain.commit(vec![chain.account_tx(&key(4), Action::Vote { proposal: 1, approve: true })]);
    chain.commit(vec![scan_tx("ghcr.io/acme/api", &image("a"), &["CRITICAL"])]);
    chain
}

#[test]
fn restart_resumes_at_the_same_height_and_root() {
    let chain = busy_chain();
    let before = chain.app.tip();
    let status = chain.app.image_status(&image("a"), None, false).unwrap();
    let chain = chain.reopen();
    assert_eq!(chain.app.tip(), before);
    assert_eq!(chain.app.image_status(&image("a"), None, false).unwrap(), status);
    assert!(chain.app.attesters().unwrap().attesters.iter().any(|attester| attester.name == "extra"));
    let next = chain.commit(vec![scan_tx("ghcr.io/acme/api", &image("c"), &["LOW"])]);
    assert_eq!(next.height.0, before.height.0 + 1);
}

#[test]
fn reopening_with_another_genesis_is_refused() {
    let chain = busy_chain();
    let TestChain { dir, app, .. } = chain;
    drop(app);
    let mut other = genesis(&[40, 26, 20, 13]);
    other.consensus.reevaluations_per_block = 7;
    let backend = vouch_node::store::SledBackend::open(dir.path()).unwrap();
    let store = LedgerStore::open(backend).unwrap();
    let error = vouch_node::app::App::open(store, &other, Default::default()).err().expect("a genesis mismatch");
    assert!(matches!(error, AppError::GenesisMismatch { .. }), "{error}");
}

#[test]
fn replaying_stored_blocks_into_a_fresh_store_gives_the_same_roots() {
    let chain = busy_chain();
    let latest = chain.app.tip().height;
    let fresh = vouch_node::app::App::open(
        LedgerStore::open(MemoryBackend::new()).unwrap(),
        &chain.genesis,
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        fresh.store().state_root(Height::GENESIS).unwrap(),
        chain.app.store().state_root(Height::GENESIS).unwrap()
    );
    for height in 1..=latest.0 {
        let height = Height(height);
        let block = chain.app.store().block(height).unwrap().unwrap();
        let commit = chain.app.store().commit(height).unwrap().unwrap();
        let outcome = fresh.apply_block(&block, &commit).unwrap();
        assert_eq!(Some(outcome.state_root), chain.app.store().state_root(height).unwrap(), "height {height}");
    }
    assert_eq!(fresh.tip(), chain.app.tip());
}

#[test]
fn commit_without_two_thirds_is_refused() {
    let mut chain = TestChain::start(genesis(&[40, 26, 20, 13]));
    chain.signers = vec![0, 1];
    let block = chain.raw_block(vec![]);
    let error = chain.apply(&block).unwrap_err();
    assert!(error.to_string().contains("66 of 99 stake"), "{error}");
    chain.signers = vec![0, 1, 3];
    chain.apply(&block).unwrap();

    let mut late = chain.raw_block(vec![]);
    late.header.time_unix_ms = chain.app.tip().time_unix_ms;
    let error = chain.apply(&late).unwrap_err();
    assert!(error.to_string().contains("is not after the previous block's time"), "{error}");
}

#[test]
fn image_status_proofs_verify_against_the_header() {
    let chain = busy_chain();
    chain.commit(vec![]);
    let present = image("a");
    let response = chain.app.image_status(&present, None, true).unwrap();
    let proof = response.proof.expect("a proof");
    let header = Header::from_bytes(&BASE64.decode(&proof.header).unwrap()).unwrap();
    let commit = Commit::from_bytes(&BASE64.decode(&proof.commit).unwrap()).unwrap();
    assert_eq!(header.height.0, proof.height + 1);
    assert_eq!(commit.block_hash, header.hash());
    let record_bytes = BASE64.decode(proof.record.as_ref().unwrap()).unwrap();
    let state_proof = StateProof::from_bytes(&BASE64.decode(&proof.state_proof).unwrap()).unwrap();
    let key = StateKey::Verdict { image: present.clone() };
    verify_inclusion(&header.app_hash, &key, &record_bytes, &state_proof).unwrap();
    let record: ImageRecord = vouch_protocol::encoding::decode(&record_bytes).unwrap();
    assert_eq!(record.status(None), response.status);

    let absent = image("never-attested");
    let response = chain.app.image_status(&absent, None, true).unwrap();
    let proof = response.proof.expect("an absence proof");
    assert!(proof.record.is_none());
    let header = Header::from_bytes(&BASE64.decode(&proof.header).unwrap()).unwrap();
    let state_proof = StateProof::from_bytes(&BASE64.decode(&proof.state_proof).unwrap()).unwrap();
    verify_absence(&header.app_hash, &StateKey::Verdict { image: absent }, &state_proof).unwrap();
}

#[test]
fn image_limit_survives_restart() {
    let mut limited = genesis(&[10]);
    limited.consensus.attestations_per_image_max = 2;
    let chain = TestChain::start(limited);
    let target = image("crowded");
    chain.commit(vec![scan_tx("ghcr.io/acme/api:1", &target, &["LOW"])]);
    chain.commit(vec![scan_tx("ghcr.io/acme/api:2", &target, &["LOW"])]);

    // The reopened app still counts both attestations of the image.
    let chain = chain.reopen();
    let third = scan_tx("ghcr.io/acme/api:3", &target, &["LOW"]);
    assert_eq!(chain.app.check_tx(&third).unwrap_err().code, "image_attestations_full");
    let other = scan_tx("ghcr.io/acme/api:3", &image("roomy"), &["LOW"]);
    assert!(chain.app.check_tx(&other).is_ok());
}

/// Starts a one-validator chain whose only binding needs one review. Commits a review
/// of an image that expires 10 s after genesis, and returns the image and the expiry.
fn chain_with_expiring_review() -> (TestChain, vouch_protocol::digest::Digest, u64) {
    let mut genesis = genesis(&[10]);
    genesis.bindings =
        vec![binding("*", &[("required-attesters", serde_json::json!({"threshold": 1, "roles": ["reviewer"]}))])];
    let chain = TestChain::start(genesis);
    let target = image("reviewed");
    let review =
        serde_json::json!({"decision": "approve", "reason": "looked at it", "expiresAt": "2025-06-15T15:06:50Z"});
    let payload = statement(&[("ghcr.io/acme/api", &target)], "https://vouch.dev/review/v1", review);
    chain.commit(vec![attest_tx(envelope(payload, &key(101)))]);
    (chain, target, GENESIS_TIME_MS + 10_000)
}

#[test]
fn verdict_expiry_survives_a_restart() {
    let (chain, target, expires_ms) = chain_with_expiring_review();
    let stored = chain.app.store().expiries().unwrap();
    assert_eq!(stored, Some(vec![(target.clone(), expires_ms as i64)]));

    let chain = chain.reopen();
    assert!(chain.commit_at(vec![], expires_ms - 1).evaluated.is_empty());
    assert_eq!(chain.commit_at(vec![], expires_ms).evaluated, vec![target.clone()]);
    assert_eq!(chain.app.store().expiries().unwrap(), Some(vec![]), "the new verdict does not expire");
    let chain = chain.reopen();
    assert!(chain.commit(vec![]).evaluated.is_empty(), "nothing is scheduled after the restart");
}

#[test]
fn store_without_expiry_table_builds_it() {
    let (chain, target, expires_ms) = chain_with_expiring_review();
    // Replay into a store, then remove its expiry table as a store written before the
    // table existed lacks it.
    let backend = MemoryBackend::new();
    let replay =
        vouch_node::app::App::open(LedgerStore::open(backend.clone()).unwrap(), &chain.genesis, Default::default())
            .unwrap();
    for height in 1..=chain.app.tip().height.0 {
        let block = chain.app.store().block(Height(height)).unwrap().unwrap();
        let commit = chain.app.store().commit(Height(height)).unwrap().unwrap();
        replay.apply_block(&block, &commit).unwrap();
    }
    drop(replay);
    let table: Vec<Vec<u8>> =
        backend.keys().into_iter().filter(|key| key.first() == Some(&b'x') || key == b"mexpiry-index").collect();
    assert_eq!(table.len(), 2, "one expiry and the marker");
    for key in &table {
        backend.corrupt(key, None);
    }
    let store = LedgerStore::open(backend.clone()).unwrap();
    assert_eq!(store.expiries().unwrap(), None);

    let reopened = vouch_node::app::App::open(store, &chain.genesis, Default::default()).unwrap();
    assert_eq!(reopened.store().expiries().unwrap(), Some(vec![(target.clone(), expires_ms as i64)]));
    let block = reopened.propose_block(vec![], expires_ms, &key(1).public_key()).unwrap();
    let outcome = reopened.apply_block(&block, &chain.sign_commit(&block, &[0])).unwrap();
    assert_eq!(outcome.evaluated, vec![target]);
}
