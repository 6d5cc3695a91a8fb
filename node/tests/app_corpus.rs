//! Every Trivy and Grype report of the shared corpus, attested through the app under
//! its own image digest in one block: each image's status must match the default
//! vulnerability threshold computed by an independent Python reading of the raw JSON.

mod app_support;
mod corpus_support;

use std::path::{Path, PathBuf};

use app_support::*;
use corpus_support::{corpus, independent_reading, reports};
use serde_json::{Value, json};
use vouch_protocol::digest::Digest;
use vouch_protocol::ledger::ImageStatus;

fn expected(path: &Path) -> ImageStatus {
    match independent_reading(path).0.as_str() {
        "quarantined" => ImageStatus::Quarantined,
        "approved" => ImageStatus::Approved,
        other => panic!("{}: unexpected output {other:?}", path.display()),
    }
}

fn predicate(scanner_uri: &str, report: Value) -> Value {
    json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": scanner_uri, "version": "", "db": {"uri": "", "version": ""}, "result": report},
        "metadata": {"scanStartedOn": "2025-06-01T00:00:00Z", "scanFinishedOn": "2025-06-01T00:00:00Z"}
    })
}

#[test]
fn corpus_reports_get_the_independent_verdict() {
    let Some(corpus) = corpus() else { return };
    let chain = TestChain::start(genesis(&[10]));
    let mut cases: Vec<(PathBuf, Digest, ImageStatus)> = Vec::new();
    let mut txs = Vec::new();
    for (folder, uri) in
        [("trivy", "https://github.com/aquasecurity/trivy"), ("grype", "https://github.com/anchore/grype")]
    {
        for path in reports(&corpus.join(folder)) {
            let bytes = std::fs::read(&path).unwrap();
            let digest = Digest::sha256(&bytes);
            let report: Value = serde_json::from_slice(&bytes).unwrap();
            let payload =
                statement(&[("registry.example.com/corpus/app:1", &digest)], VULN_TYPE, predicate(uri, report));
            let tx = attest_tx(envelope(payload, &key(100)));
            let checked = chain.app.check_tx(&tx).unwrap_or_else(|rejection| panic!("{}: {rejection}", path.display()));
            assert_eq!(checked.image.as_ref(), Some(&digest));
            txs.push(tx);
            cases.push((path.clone(), digest, expected(&path)));
        }
    }

    let outcome = chain.commit(txs);
    assert!(outcome.tx_outcomes.iter().all(|(_, text)| text == "applied"), "{:?}", outcome.tx_outcomes);
    assert_eq!(outcome.evaluated.len(), cases.len());
    for (path, digest, expected) in &cases {
        let response = chain.app.image_status(digest, None, false).unwrap();
        assert_eq!(response.status, *expected, "{}: {:?}", path.display(), response.verdicts);
        assert_eq!(chain.app.attestations(digest).unwrap().attestations.len(), 1);
    }
    let statuses: Vec<ImageStatus> = cases.iter().map(|(_, _, status)| *status).collect();
    assert!(statuses.contains(&ImageStatus::Approved), "the corpus holds reports that pass");
    assert!(statuses.contains(&ImageStatus::Quarantined), "the corpus holds reports that fail");
    println!("checked {} corpus reports", cases.len());
}
