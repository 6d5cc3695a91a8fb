//! Turning the chosen input into an unsigned statement or envelope about the target.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Serialize;
use vouch_keyring::Keyring;
use vouch_protocol::InputError;
use vouch_protocol::dsse::{ENVELOPE_BYTES_MAX, PAYLOAD_BYTES_MAX};
use vouch_protocol::facts::{self, Facts};
use vouch_protocol::input::read_file_bounded;
use vouch_protocol::intoto::{STATEMENT_TYPE_V1, Statement, Subject};

use super::image::Target;
use super::sign::Unsigned;
use super::summary::Summary;
use super::{AttestArgs, document, review, statement, vuln};

/// A statement or envelope ready to sign, with its summary.
pub struct Prepared {
    /// Statement or envelope to sign.
    pub unsigned: Unsigned,
    /// Summary printed on stderr.
    pub summary: Summary,
}

/// Reads and checks the input that `args` names and builds what to sign; `keyring`
/// checks the signatures of an existing envelope.
pub fn prepare(args: &AttestArgs, target: &Target, keyring: &Keyring) -> anyhow::Result<Prepared> {
    let max = args.max_input_bytes;
    if let Some(path) = &args.trivy {
        return vuln::prepare(vuln::Scanner::Trivy, path, target, max);
    }
    if let Some(path) = &args.grype {
        return vuln::prepare(vuln::Scanner::Grype, path, target, max);
    }
    if let Some(path) = &args.sbom {
        return document::prepare_sbom(path, target, max);
    }
    if let Some(path) = &args.provenance {
        return document::prepare_provenance(path, target, max);
    }
    if let Some(path) = &args.statement {
        return statement::prepare_statement(path, target, max);
    }
    if let Some(path) = &args.envelope {
        return statement::prepare_envelope(path, target, max, keyring, &args.key);
    }
    review::prepare(args, target)
}

/// A size limit that an input's format sets, whatever `--max-input-bytes` allows.
pub struct FormatLimit {
    /// Maximum size of the file in bytes.
    max: u64,
    /// Name of the limit in errors.
    name: &'static str,
    /// Reason a larger file cannot be signed, and the fix, for errors.
    fix: &'static str,
}

/// Limit of a report, SBOM, provenance or statement, which the signed statement
/// contains whole, so it must fit the DSSE payload.
pub const EMBEDDED_INPUT_LIMIT: FormatLimit = FormatLimit {
    max: PAYLOAD_BYTES_MAX as u64,
    name: "the DSSE payload limit",
    fix: "the signed statement contains the whole file, so it cannot be signed; attest a smaller file",
};

/// Limit of an envelope file (`--envelope`), which is the largest envelope the DSSE
/// parser reads.
pub const ENVELOPE_INPUT_LIMIT: FormatLimit = FormatLimit {
    max: ENVELOPE_BYTES_MAX as u64,
    name: "the DSSE envelope limit",
    fix: "no envelope that large can be countersigned; sign a smaller statement",
};

/// Reads an input file within `--max-input-bytes` and its format's limit, naming the
/// file on failure. The file's size is checked before anything is read.
pub fn read_input(path: &Path, max_input_bytes: u64, limit: &FormatLimit) -> anyhow::Result<Vec<u8>> {
    if max_input_bytes < limit.max {
        return Ok(read_file_bounded(path, max_input_bytes)?);
    }
    match read_file_bounded(path, limit.max) {
        Err(InputError::TooLarge { size, .. }) => {
            let size = describe_size(path, size, limit.max);
            bail!("{}: file {size}, over {} of {} bytes; {}", path.display(), limit.name, limit.max, limit.fix)
        }
        result => Ok(result?),
    }
}

/// Describes the size of a file over `max`: exact for a regular file, and a lower
/// bound for a pipe, which is read only up to one byte past `max`.
fn describe_size(path: &Path, size: u64, max: u64) -> String {
    let regular = std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file());
    if regular { format!("is {size} bytes") } else { format!("is more than {max} bytes") }
}

/// The in-toto Statement v1 as written here, so that the predicate can hold raw JSON.
#[derive(Serialize)]
struct StatementOut<'a, P: Serialize> {
    #[serde(rename = "_type")]
    statement_type: &'static str,
    subject: [Subject; 1],
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    predicate: &'a P,
}

/// Builds the v1 statement about `target` and returns its bytes with the facts read
/// back from them.
///
/// `predicate` is written as it serializes, so a [`serde_json::value::RawValue`] inside it
/// keeps the input's exact bytes. The bytes are then parsed again with the protocol's
/// statement parser and facts reader, so what is signed is what verifiers will read.
pub fn statement_about<P: Serialize>(
    target: &Target,
    predicate_type: &str,
    predicate: &P,
) -> anyhow::Result<(Vec<u8>, Facts)> {
    let digest = BTreeMap::from([(target.digest.algorithm().name().to_owned(), target.digest.hex().to_owned())]);
    let subject = Subject { name: target.name.clone(), digest };
    let out = StatementOut { statement_type: STATEMENT_TYPE_V1, subject: [subject], predicate_type, predicate };
    let bytes = serde_json::to_vec(&out).context("cannot encode the statement")?;

    let statement = Statement::from_json("the statement built from the input", &bytes)?;
    let facts = facts::from_statement(predicate_type, &statement.predicate)
        .with_context(|| format!("the {predicate_type} predicate built from the input does not read back"))?
        .with_context(|| format!("bug: no facts reader for predicate type {predicate_type}"))?;
    Ok((bytes, facts))
}

/// Reads a JSON document as raw JSON: its exact bytes without the surrounding
/// whitespace, checked to be one valid JSON value.
pub fn raw_json(source_name: &str, bytes: &[u8]) -> anyhow::Result<Box<serde_json::value::RawValue>> {
    Ok(vouch_protocol::input::parse_json(source_name, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help of `--max-input-bytes` and docs/CLI.md state these limits in bytes.
    #[test]
    fn format_limits_match_help_text() {
        assert_eq!(EMBEDDED_INPUT_LIMIT.max, 16_777_216);
        assert_eq!(ENVELOPE_INPUT_LIMIT.max, 25_165_824);
    }
}
