//! The standard vulnerability policy, compiled to wasm, on every Trivy and Grype
//! report of the shared corpus: each verdict must match the policy's rule applied
//! by an independent Python reading of the raw JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use vouch_node::policy::abi::{Attestation, Attester, Block, Facts, Input};
use vouch_node::policy::{EncodedInput, PolicyRuntime, RuntimeConfig, Verdict, facts, standard};

/// The default threshold rule read independently from the raw JSON: prints the
/// verdict, the number of raw findings and the report's registry digest.
const INDEPENDENT_RULE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/python/vulnerability_rule.py");

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VOUCH_CORPUS") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            println!("skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)");
            None
        }
    }
}

fn reports(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("directory entries are readable").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    files.sort();
    files
}

fn expected(path: &Path) -> (Verdict, usize) {
    let output = Command::new("python3").arg(INDEPENDENT_RULE).arg(path).output().expect("python3 runs");
    assert!(output.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("python prints UTF-8");
    let mut lines = text.lines();
    let verdict = match lines.next() {
        Some("quarantined") => Verdict::Quarantined,
        Some("approved") => Verdict::Approved,
        other => panic!("{}: unexpected output {other:?}", path.display()),
    };
    (verdict, lines.next().and_then(|count| count.parse().ok()).expect("python prints the finding count"))
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
