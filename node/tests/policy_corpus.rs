//! The standard vulnerability policy, compiled to wasm, on every Trivy and Grype
//! report of the shared corpus: each verdict must match the policy's rule applied
//! by an independent Python reading of the raw JSON.

mod corpus_support;

use std::path::Path;

use corpus_support::{corpus, independent_reading, reports};
use vouch_node::policy::abi::{Attestation, Attester, Block, Facts, Input};
use vouch_node::policy::{EncodedInput, PolicyRuntime, RuntimeConfig, Verdict, facts, standard};

fn expected(path: &Path) -> (Verdict, usize) {
    let (verdict, count) = independent_reading(path);
    let verdict = match verdict.as_str() {
        "quarantined" => Verdict::Quarantined,
        "approved" => Verdict::Approved,
        other => panic!("{}: unexpected output {other:?}", path.display()),
    };
    (verdict, count)
}

#[test]
fn corpus_reports_match_independent_rule() {
    let Some(corpus) = corpus() else { return };
    let runtime = PolicyRuntime::new(RuntimeConfig::default()).unwrap();
    let policy = runtime.deploy(standard::VULNERABILITY_THRESHOLD.wasm).unwrap();
    let mut verdicts = Vec::new();

    for (folder, read) in [
        ("trivy", vouch_protocol::facts::trivy::parse as fn(&str, &[u8]) -> _),
        ("grype", vouch_protocol::facts::grype::parse),
    ] {
        for path in reports(&corpus.join(folder)) {
            let name = path.display().to_string();
            let bytes = std::fs::read(&path).unwrap();
            let report = read(&name, &bytes).unwrap_or_else(|error| panic!("{error}"));
            let (verdict, raw_findings) = expected(&path);
            assert!(report.vulnerabilities.len() <= raw_findings, "{name}: more facts than raw findings");

            let input = Input {
                image_digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                repositories: vec![],
                block: Block { height: 2, time_ms: 1_733_000_000_000 },
                attestations: vec![Attestation {
                    id: "00",
                    attester: Attester { name: folder, key_id: "k", role: "scanner" },
                    predicate_type: "https://cosign.sigstore.dev/attestation/vuln/v1",
                    included: Block { height: 1, time_ms: 1_733_000_000_000 },
                    facts: Some(Facts::Vulnerabilities(facts::vulnerability_report(&report))),
                }],
                parameters: "",
                storage: vec![],
            };
            let evaluation = runtime.evaluate(&policy, &EncodedInput::encode(&input)).unwrap();
            assert_eq!(evaluation.failure, None, "{name}: {:?}", evaluation.reasons);
            assert_eq!(evaluation.verdict, verdict, "{name}: {:?}", evaluation.reasons);
            verdicts.push(verdict);
        }
    }
    assert!(verdicts.contains(&Verdict::Approved), "the corpus holds reports that pass");
    assert!(verdicts.contains(&Verdict::Quarantined), "the corpus holds reports that fail");
    println!("checked {} corpus reports", verdicts.len());
}
