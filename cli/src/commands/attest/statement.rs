//! Statements and envelopes made elsewhere: checked against the image and signed, or
//! countersigned, as they are.

use std::path::Path;

use anyhow::bail;
use vouch_keyring::Keyring;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::facts::{self, Facts};
use vouch_protocol::intoto::{PAYLOAD_TYPE, Statement};

use super::existing::{self, Outcome};
use super::image::Target;
use super::predicate::{EMBEDDED_INPUT_LIMIT, ENVELOPE_INPUT_LIMIT, Prepared, read_input};
use super::sign::Unsigned;
use super::summary::{Summary, format_counts};

/// Reads an unsigned in-toto statement about `target`; its exact bytes are signed.
pub fn prepare_statement(path: &Path, target: &Target, max_input_bytes: u64) -> anyhow::Result<Prepared> {
    let source_name = path.display().to_string();
    let bytes = read_input(path, max_input_bytes, &EMBEDDED_INPUT_LIMIT)?;
    if looks_like_envelope(&bytes) {
        bail!("{source_name}: this is a DSSE envelope, not a statement; pass it with --envelope to add a signature");
    }
    let statement = Statement::from_json(&source_name, &bytes)?;
    let summary = check_statement(&source_name, &statement, target)?;
    Ok(Prepared { unsigned: Unsigned::Statement(bytes), summary })
}

/// Reads a DSSE envelope whose payload is an in-toto statement about `target`, and
/// checks its signatures against the keys of `keyring` (see [`existing`]).
///
/// `signing_key` names the key that will sign; an existing signature that verifies
/// with it is rejected as a duplicate, whatever key id it carries.
pub fn prepare_envelope(
    path: &Path,
    target: &Target,
    max_input_bytes: u64,
    keyring: &Keyring,
    signing_key: &str,
) -> anyhow::Result<Prepared> {
    let source_name = path.display().to_string();
    let bytes = read_input(path, max_input_bytes, &ENVELOPE_INPUT_LIMIT)?;
    let envelope = single_envelope(&source_name, &bytes)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        bail!(
            "{source_name}: payloadType is {:?}; vouch signs only in-toto statements ({PAYLOAD_TYPE:?})",
            envelope.payload_type
        );
    }
    let payload_name = format!("{source_name} payload");
    let statement = Statement::from_json(&payload_name, &envelope.payload)?;
    let mut summary = check_statement(&payload_name, &statement, target)?;

    let keys = existing::known_keys(keyring)?;
    let checked = existing::check_signatures(&source_name, &envelope, &keys)?;
    for check in &checked {
        if matches!(&check.outcome, Outcome::Verified(name) if name.as_str() == signing_key) {
            bail!(
                "{source_name}: the envelope already has a signature by key `{signing_key}` ({check}); sign with another key"
            );
        }
        summary.line("existing signature", check.to_string());
    }
    Ok(Prepared { unsigned: Unsigned::Envelope(envelope), summary })
}

/// Parses the one envelope of an `--envelope` file, naming the count and the fix for a
/// JSON Lines file with several envelopes (as `cosign` writes to `.jsonl` files).
fn single_envelope(source_name: &str, bytes: &[u8]) -> anyhow::Result<Envelope> {
    let mut envelopes = Envelope::from_json_or_lines(source_name, bytes)?;
    if envelopes.len() > 1 {
        bail!(
            "{source_name}: the file holds {} envelopes, one per line (JSON Lines); --envelope takes exactly one, \
             so write the one to sign to its own file, for example `sed -n 2p {source_name} > one.json` to take line 2",
            envelopes.len()
        );
    }
    Ok(envelopes.remove(0))
}

/// Requires a subject with `target`'s digest and a predicate that facts can read.
fn check_statement(source_name: &str, statement: &Statement, target: &Target) -> anyhow::Result<Summary> {
    if !statement.subject_matches(&target.digest) {
        bail!(
            "{source_name}: no subject has the image's digest {}; the subjects are {}; \
             attest one of those digests or fix the statement's subject",
            target.digest,
            describe_subjects(statement)
        );
    }
    let mut summary = Summary::new(&statement.predicate_type);
    summary.line("statement", statement.statement_type().to_owned());
    match facts::from_statement(&statement.predicate_type, &statement.predicate)? {
        Some(facts) => add_facts(&mut summary, &facts),
        None => {
            tracing::warn!(predicate_type = %statement.predicate_type, "the predicate type has no facts reader; it is signed as opaque data");
            summary.line("facts", "none (predicate type without a facts reader)".to_owned());
        }
    }
    Ok(summary)
}

/// Adds the lines that each kind of facts contributes to the summary.
fn add_facts(summary: &mut Summary, facts: &Facts) {
    match facts {
        Facts::Vulnerabilities(report) => summary.line("vulnerabilities", format_counts(&report.counts())),
        Facts::Sbom(sbom) => summary.line("components", sbom.components.len().to_string()),
        Facts::Provenance(provenance) => summary.line("builder", provenance.builder_id.clone()),
        Facts::Review(review) => summary.line("decision", format!("{:?}", review.decision).to_lowercase()),
    }
}

/// Lists subjects as `name@algorithm:hex`, for error messages.
fn describe_subjects(statement: &Statement) -> String {
    let described: Vec<String> = statement
        .subjects
        .iter()
        .flat_map(|subject| {
            subject.digest.iter().map(move |(algorithm, hex)| format!("{}@{algorithm}:{hex}", subject.name))
        })
        .collect();
    described.join(", ")
}

/// Returns whether the JSON has a top-level `payloadType`, which statements never have.
fn looks_like_envelope(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|value| value.get("payloadType").is_some())
}
