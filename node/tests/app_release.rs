//! Emptying the app's caches, as an idle node does, changes no outcome. A chain that
//! empties them between every step gives the same outcomes, state roots and verdicts as
//! a chain that keeps them, because later blocks read what they need from the store.

mod app_support;

use app_support::*;
use vouch_protocol::chain::Transaction;
use vouch_protocol::digest::Digest;
use vouch_protocol::ledger::Action;

fn signed_scan(name: &str, image: &Digest, severities: &[&str]) -> (Transaction, [u8; 32]) {
    let payload = statement(&[(name, image)], VULN_TYPE, trivy_predicate(trivy_report(severities)));
    let envelope = envelope(payload, &key(100));
    let hash = *blake3::hash(&envelope).as_bytes();
    (attest_tx(envelope), hash)
}

/// Who builds the block in [`commit_on_both`].
#[derive(Clone, Copy)]
enum Proposer {
    /// The chain whose caches were just emptied builds it from the store.
    Releasing,
    /// The chain that kept its checked readings builds it, and the other follows.
    Keeping,
}

/// Checks `txs` on both chains as their mempools would, empties the caches of
/// `releasing`, then commits the block built by `proposer` on both chains and compares
/// them. Returns the bytes released.
fn commit_on_both(releasing: &TestChain, keeping: &TestChain, txs: Vec<Transaction>, proposer: Proposer) -> usize {
    for chain in [releasing, keeping] {
        for tx in &txs {
            chain.app.check_tx(tx).expect("the transaction passes the mempool's check");
        }
    }
    let released_after_check = releasing.app.release_caches();
    match proposer {
        Proposer::Releasing => releasing.propose_and_follow(keeping, txs),
        Proposer::Keeping => keeping.propose_and_follow(releasing, txs),
    };
    released_after_check
}

#[test]
fn emptied_caches_change_no_outcome() {
    let genesis = genesis(&[40, 26, 20, 13]);
    let releasing = TestChain::start(genesis.clone());
    let keeping = TestChain::start(genesis);
    let images: Vec<Digest> = (0..6).map(|index| image(&format!("image-{index}"))).collect();

    // First scans: the checks fill the reading cache, which the release empties.
    let scans: Vec<(Transaction, [u8; 32])> = images
        .iter()
        .enumerate()
        .map(|(index, digest)| signed_scan(&format!("ghcr.io/acme/app:{index}"), digest, &["LOW"]))
        .collect();
    let first = scans.iter().map(|(tx, _)| tx.clone()).collect();
    let released = commit_on_both(&releasing, &keeping, first, Proposer::Releasing);
    assert!(released > 0, "the checked attestations' readings were cached");

    // Applying the block filled the tree and committed-reading caches again.
    let after_block = releasing.app.release_caches();
    assert!(after_block > 0, "a block with attestations fills the caches");
    assert_eq!(releasing.app.release_caches(), 0, "a second release finds nothing");

    // New scans of the same images: their evaluations read the first scans from the
    // store, since nothing of them is cached any more.
    let rescans: Vec<Transaction> = images
        .iter()
        .enumerate()
        .map(|(index, digest)| signed_scan(&format!("ghcr.io/acme/app:{index}"), digest, &["CRITICAL"]).0)
        .collect();
    commit_on_both(&releasing, &keeping, rescans, Proposer::Keeping);

    // A revocation of a first scan makes its image's evaluation read it again.
    let revoke = releasing.account_tx(
        &key(100),
        Action::Revoke { image: images[0].clone(), envelope_hash: scans[0].1, reason: "wrong build".into() },
    );
    commit_on_both(&releasing, &keeping, vec![revoke], Proposer::Releasing);
    commit_on_both(&releasing, &keeping, Vec::new(), Proposer::Keeping);

    for digest in &images {
        let on_releasing = releasing.app.image_status(digest, None, true).expect("a status");
        let on_keeping = keeping.app.image_status(digest, None, true).expect("a status");
        assert_eq!(on_releasing.status, on_keeping.status, "status of {digest}");
        assert_eq!(on_releasing.verdicts, on_keeping.verdicts, "verdicts of {digest}");
        assert_eq!(on_releasing.proof, on_keeping.proof, "proof of {digest}");
    }
}
