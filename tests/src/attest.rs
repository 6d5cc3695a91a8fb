//! Signed attestation transactions for load in tests: one cosign vulnerability
//! attestation per image, holding a small Trivy report with low-severity findings,
//! so the node signature-checks and policy-evaluates each one like a real scan.

use serde_json::{Value, json};
use vouch_protocol::chain::{Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::{Statement, Subject};
use vouch_protocol::keys::{KeyId, SigningKey};
use vouch_protocol::ledger::LedgerTx;

/// The cosign vulnerability predicate type that `vouch attest --trivy` writes.
const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// The in-toto payload type of DSSE envelopes.
const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The repository that test images are attested under.
pub const TEST_REPOSITORY: &str = "registry.example/crash/app";

/// Number of findings in each generated report.
const FINDINGS: usize = 3;

/// One attestation ready to submit.
#[derive(Clone, Debug)]
pub struct TestAttestation {
    /// The attested image.
    pub image: Digest,
    /// The ledger transaction that carries the envelope.
    pub tx: Transaction,
    /// The transaction's hash.
    pub hash: TxHash,
}

/// Returns the digest of image `index` of run `run`. Distinct runs and indexes give
/// distinct images.
pub fn test_image(run: u64, index: u64) -> Digest {
    Digest::sha256(format!("vouch crash test image {run}/{index}").as_bytes())
}

/// Builds the attestation of image `index` of run `run`, signed by `key`.
pub fn test_attestation(run: u64, index: u64, key: &SigningKey) -> TestAttestation {
    let image = test_image(run, index);
    let subject = Subject {
        name: TEST_REPOSITORY.to_owned(),
        digest: [(image.algorithm().name().to_owned(), image.hex().to_owned())].into_iter().collect(),
    };
    let statement = Statement::new(vec![subject], COSIGN_VULN, trivy_predicate(&image))
        .expect("the generated statement has a subject and a predicate");
    let keyid = KeyId::of(&key.public_key());
    let envelope = Envelope::sign(INTOTO_PAYLOAD_TYPE, statement.to_json_bytes(), &[(&keyid, key)])
        .expect("the generated envelope is within the DSSE limits");
    let tx = LedgerTx::Attest { envelope: envelope.to_json().into_bytes() }.to_transaction();
    let hash = tx.hash();
    TestAttestation { image, tx, hash }
}

fn trivy_predicate(image: &Digest) -> Value {
    let vulnerabilities: Vec<Value> = (0..FINDINGS)
        .map(|n| {
            json!({
                "VulnerabilityID": format!("CVE-2025-{:05}", 20_000 + n),
                "PkgName": format!("library-{n}"),
                "InstalledVersion": "2.0.0",
                "FixedVersion": "2.0.1",
                "Severity": "LOW",
            })
        })
        .collect();
    let reference = format!("{TEST_REPOSITORY}@{image}");
    let report = json!({
        "SchemaVersion": 2,
        "CreatedAt": "2026-11-02T00:00:00Z",
        "ArtifactName": reference,
        "Metadata": { "RepoDigests": [reference] },
        "Results": [{ "Target": "crash", "Class": "os-pkgs", "Vulnerabilities": vulnerabilities }],
    });
    json!({
        "invocation": { "parameters": null, "uri": "", "event_id": "", "builder.id": "" },
        "scanner": { "uri": "https://github.com/aquasecurity/trivy", "version": "0.58.0",
                     "db": { "uri": "", "version": "" }, "result": report },
        "metadata": { "scanStartedOn": "2026-11-02T00:00:00Z", "scanFinishedOn": "2026-11-02T00:00:00Z" },
    })
}
