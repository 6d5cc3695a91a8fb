//! Synthetic attestations for load runs: one cosign vulnerability attestation per
//! image, holding a small Trivy report, signed by one attester key, so every submitted
//! transaction is signature-checked and policy-evaluated by the node like a real scan.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use vouch_protocol::Digest;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::Statement;
use vouch_protocol::keys::{KeyId, SigningKey};
use vouch_protocol::ledger::LedgerTx;

/// The cosign vulnerability predicate type that `vouch attest --trivy` writes.
const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// The in-toto payload type of DSSE envelopes.
const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Repository name that load images are attested under.
pub const LOAD_REPOSITORY: &str = "load.vouch.invalid/app";

/// Returns the digest of load image `index` of run `run`.
pub fn image(run: &str, index: u64) -> Digest {
    Digest::sha256(format!("vouch load image {run}/{index}").as_bytes())
}

/// Builds the JSON body of `POST /v1/txs` for load image `index`, with `findings` low
/// severity findings in its report.
pub fn submit_body(run: &str, index: u64, findings: usize, key: &SigningKey) -> anyhow::Result<Vec<u8>> {
    let digest = image(run, index);
    let statement = statement(&digest, findings)?;
    let keyid = KeyId::of(&key.public_key());
    let envelope = Envelope::sign(INTOTO_PAYLOAD_TYPE, statement.to_json_bytes(), &[(&keyid, key)])?;
    let tx = LedgerTx::Attest { envelope: envelope.to_json().into_bytes() };
    let body = json!({ "tx": STANDARD.encode(tx.to_transaction().bytes()), "wait": false });
    Ok(serde_json::to_vec(&body)?)
}

fn statement(digest: &Digest, findings: usize) -> anyhow::Result<Statement> {
    let subject = vouch_protocol::intoto::Subject {
        name: LOAD_REPOSITORY.to_owned(),
        digest: [(digest.algorithm().name().to_owned(), digest.hex().to_owned())].into_iter().collect(),
    };
    Ok(Statement::new(vec![subject], COSIGN_VULN, predicate(digest, findings))?)
}

fn predicate(digest: &Digest, findings: usize) -> Value {
    let vulnerabilities: Vec<Value> = (0..findings)
        .map(|n| {
            json!({
                "VulnerabilityID": format!("CVE-2024-{:05}", 10_000 + n),
                "PkgName": format!("package-{n}"),
                "InstalledVersion": "1.0.0",
                "FixedVersion": "1.0.1",
                "Severity": "LOW",
            })
        })
        .collect();
    let report = json!({
        "SchemaVersion": 2,
        "CreatedAt": "2026-12-01T00:00:00Z",
        "ArtifactName": format!("{LOAD_REPOSITORY}@{digest}"),
        "Metadata": { "RepoDigests": [format!("{LOAD_REPOSITORY}@{digest}")] },
        "Results": [{ "Target": "load", "Class": "os-pkgs", "Vulnerabilities": vulnerabilities }],
    });
    json!({
        "invocation": { "parameters": null, "uri": "", "event_id": "", "builder.id": "" },
        "scanner": { "uri": "https://github.com/aquasecurity/trivy", "version": "0.58.0",
                     "db": { "uri": "", "version": "" }, "result": report },
        "metadata": { "scanStartedOn": "2026-12-01T00:00:00Z", "scanFinishedOn": "2026-12-01T00:00:00Z" },
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use vouch_protocol::dsse::Envelope;
    use vouch_protocol::facts::{self, Facts};
    use vouch_protocol::intoto::Statement;
    use vouch_protocol::keys::{KeyId, SigningKey};
    use vouch_protocol::ledger::LedgerTx;

    use super::*;

    #[test]
    fn load_attestation_verifies_and_reads_as_a_trivy_scan() {
        let key = SigningKey::from_seed(&[3; 32]);
        let body: serde_json::Value = serde_json::from_slice(&submit_body("t", 5, 7, &key).unwrap()).unwrap();
        let tx = STANDARD.decode(body["tx"].as_str().unwrap()).unwrap();
        let LedgerTx::Attest { envelope } = LedgerTx::from_bytes(&tx).unwrap() else { panic!("not an attestation") };
        let envelope = Envelope::from_json("load", &envelope).unwrap();
        let trusted = [(KeyId::of(&key.public_key()), key.public_key())];
        let verified = envelope.verify(&trusted, 1).unwrap();
        let statement = Statement::from_envelope("load", &verified).unwrap();
        assert!(statement.subject_matches(&image("t", 5)));
        let Some(Facts::Vulnerabilities(report)) =
            facts::from_statement(&statement.predicate_type, &statement.predicate).unwrap()
        else {
            panic!("the predicate does not read as a vulnerability report");
        };
        assert_eq!(report.vulnerabilities.len(), 7);
        assert_ne!(image("t", 5), image("t", 6));
    }
}
