//! Attestation rules of the app on a real sled store: what `check_tx` rejects and
//! with which code, what a block indexes, and the verdicts it writes.

mod app_support;

use app_support::*;
use vouch_protocol::ledger::{ImageStatus, Verdict};

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
}
