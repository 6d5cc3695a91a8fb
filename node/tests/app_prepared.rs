//! A block applied with the execution that its proposal kept gives the same outcomes,
//! verdicts and state roots as the same block executed afresh by a node that did not
//! propose it.

mod app_support;

use app_support::*;
use vouch_protocol::chain::Transaction;
use vouch_protocol::digest::Digest;
use vouch_protocol::ledger::{Action, GovAction};

fn register(name: &str, seed: u8) -> GovAction {
    GovAction::RegisterAttester { name: name.into(), role: "scanner".into(), key: key(seed).public_key() }
}

fn vote(chain: &TestChain, validator: usize, proposal: u64) -> Transaction {
    chain.account_tx(&key(validator as u8 + 1), Action::Vote { proposal, approve: true })
}

fn signed_scan(name: &str, image: &Digest, severities: &[&str], signer: u8) -> (Transaction, [u8; 32]) {
    let payload = statement(&[(name, image)], VULN_TYPE, trivy_predicate(trivy_report(severities)));
    let envelope = envelope(payload, &key(signer));
    let hash = *blake3::hash(&envelope).as_bytes();
    (attest_tx(envelope), hash)
}

#[test]
fn reused_proposal_execution_matches_fresh_execution() {
    let mut genesis = genesis(&[40, 26, 20, 13]);
    genesis.governance.voting_period_blocks = 2;
    let proposer = TestChain::start(genesis.clone());
    let follower = TestChain::start(genesis);
    let (clean, bad, late) = (image("clean"), image("bad"), image("late"));

    // Attestations, one byte-identical duplicate and a proposal that stays open.
    let (clean_scan, _) = signed_scan("ghcr.io/acme/api:1", &clean, &["LOW"], 100);
    let (bad_scan, bad_hash) = signed_scan("ghcr.io/acme/api:2", &bad, &["CRITICAL"], 100);
    let opened = proposer.propose(0, register("late", 52));
    let block = proposer.propose_and_follow(&follower, vec![clean_scan.clone(), bad_scan, clean_scan, opened]);
    assert_eq!(block.txs.len(), 3, "the duplicate is left out of the proposal");

    // Votes pass the proposal, so the new attester's scan later in the same block
    // counts; the scanner revokes its critical scan.
    let (late_scan, _) = signed_scan("ghcr.io/acme/late:1", &late, &["LOW"], 52);
    let revoke = proposer.account_tx(
        &key(100),
        Action::Revoke { image: bad.clone(), envelope_hash: bad_hash, reason: "rescanned".into() },
    );
    let votes = vec![vote(&proposer, 1, 1), vote(&proposer, 2, 1), late_scan, revoke];
    let block = proposer.propose_and_follow(&follower, votes);
    assert_eq!(block.txs.len(), 4);

    // A second proposal expires after two blocks; a vote on it is then left out.
    let expiring = proposer.propose(0, register("expiring", 53));
    proposer.propose_and_follow(&follower, vec![expiring]);
    proposer.propose_and_follow(&follower, vec![]);
    let late_vote = vote(&proposer, 1, 2);
    let block = proposer.propose_and_follow(&follower, vec![late_vote]);
    assert!(block.txs.is_empty(), "the vote on an expired proposal is left out");

    for digest in [&clean, &bad, &late] {
        let on_proposer = proposer.app.image_status(digest, None, false).unwrap();
        let on_follower = follower.app.image_status(digest, None, false).unwrap();
        assert_eq!(on_proposer.status, on_follower.status, "status of {digest}");
        assert_eq!(on_proposer.verdicts, on_follower.verdicts, "verdicts of {digest}");
    }
}
