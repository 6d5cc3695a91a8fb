//! Turning the chosen input into an unsigned statement or envelope about the target.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;
use vouch_protocol::facts::{self, Facts};
use vouch_protocol::intoto::{Statement, Subject};

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

/// Reads and checks the input that `args` names and builds what to sign.
pub fn prepare(args: &AttestArgs, target: &Target) -> anyhow::Result<Prepared> {
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
        return statement::prepare_envelope(path, target, max);
    }
    review::prepare(args, target)
}

/// Reads an input file within the size limit, naming it on failure.
pub fn read_input(path: &Path, max_input_bytes: u64) -> anyhow::Result<Vec<u8>> {
    Ok(vouch_protocol::input::read_file_bounded(path, max_input_bytes)?)
}

/// Builds the v1 statement about `target`, checks that facts can read its
/// predicate, and returns its bytes with the facts.
pub fn statement_about(target: &Target, predicate_type: &str, predicate: Value) -> anyhow::Result<(Vec<u8>, Facts)> {
    let digest = BTreeMap::from([(target.digest.algorithm().name().to_owned(), target.digest.hex().to_owned())]);
    let subject = Subject { name: target.name.clone(), digest };
    let statement = Statement::new(vec![subject], predicate_type, predicate)?;
    let facts = facts::from_statement(predicate_type, &statement.predicate)
        .with_context(|| format!("the {predicate_type} predicate built from the input does not read back"))?
        .with_context(|| format!("bug: no facts reader for predicate type {predicate_type}"))?;
    Ok((statement.to_json_bytes(), facts))
}
