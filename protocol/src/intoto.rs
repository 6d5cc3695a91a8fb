//! in-toto Statements: the subjects (artifacts by digest), predicate type and predicate
//! that an attestation's DSSE payload carries.
//!
//! # Invariants
//! A parsed [`Statement`] has a known `_type`, between 1 and [`SUBJECTS_MAX`] subjects,
//! each with a non-empty digest set whose supported-algorithm values are valid lowercase
//! hex, and a non-empty `predicateType`. No object in its JSON has a key twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::digest::{Algorithm, Digest, DigestError};
use crate::dsse::VerifiedEnvelope;
use crate::input::{InputError, parse_json, reject_duplicate_keys_after_parse};

/// The DSSE `payloadType` of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The `_type` of in-toto Statement v1, which Vouch writes.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";

/// The `_type` of in-toto Statement v0.1, which cosign and Tekton Chains still write;
/// accepted on input.
pub const STATEMENT_TYPE_V0_1: &str = "https://in-toto.io/Statement/v0.1";

/// Maximum number of subjects in one statement.
pub const SUBJECTS_MAX: usize = 1024;

/// Errors from parsing or validating a statement.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{source_name}: unknown `_type` {found:?}; expected {STATEMENT_TYPE_V1:?} or {STATEMENT_TYPE_V0_1:?}")]
    UnknownType { source_name: String, found: String },
    #[error("{source_name}: payloadType is {found:?}, but an in-toto statement needs {PAYLOAD_TYPE:?}")]
    WrongPayloadType { source_name: String, found: String },
    #[error("{source_name}: `subject` is empty; a statement must name at least one artifact by digest")]
    NoSubjects { source_name: String },
    #[error("{source_name}: has {count} subjects, over the limit of {SUBJECTS_MAX}")]
    TooManySubjects { source_name: String, count: usize },
    #[error(
        "{source_name}: subject {index} ({name:?}) has an empty digest set; give at least one digest such as sha256"
    )]
    EmptyDigestSet { source_name: String, index: usize, name: String },
    #[error("{source_name}: subject {index} ({name:?}): {algorithm} digest: {error}")]
    InvalidSubjectDigest { source_name: String, index: usize, name: String, algorithm: Algorithm, error: DigestError },
    #[error("{source_name}: `predicateType` is missing or empty; name the predicate's schema URI")]
    MissingPredicateType { source_name: String },
    #[error(
        "{source_name}: found a JSON array, expected an in-toto statement object with `_type`, `subject`, `predicateType` and `predicate`"
    )]
    NotAnObject { source_name: String },
}

/// One artifact a statement is about: a name and its digests by algorithm name. It is
/// read from a JSON object only (`subject_reader.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// The artifact's name, for example an image repository; may be empty.
    pub name: String,
    /// Hex digests keyed by algorithm name. Names Vouch does not support (for example
    /// `gitCommit`) are kept but never matched.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// Returns whether one of this subject's digests under a supported algorithm equals
    /// `digest`.
    pub fn matches(&self, digest: &Digest) -> bool {
        self.digest.get(digest.algorithm().name()).is_some_and(|hex| hex == digest.hex())
    }
}

/// An in-toto Statement (v1, or v0.1 on input).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The artifacts the statement is about.
    pub subjects: Vec<Subject>,
    /// The URI naming the predicate's schema, for example `https://slsa.dev/provenance/v1`.
    pub predicate_type: String,
    /// The predicate as JSON; `Null` when the statement has none.
    pub predicate: serde_json::Value,
    statement_type: &'static str,
}

/// A statement as parsed, with the predicate as `P`: a decoded value or raw text.
#[derive(Deserialize)]
#[serde(expecting = "an in-toto statement object")]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "P: Deserialize<'de> + Default"))]
struct StatementIn<P> {
    #[serde(rename = "_type")]
    statement_type: String,
    #[serde(rename = "subject", deserialize_with = "subjects")]
    subjects: Vec<Subject>,
    #[serde(default)]
    predicate_type: String,
    #[serde(default)]
    predicate: P,
}

/// A checked statement whose predicate stays the raw JSON text of the payload, for
/// readers that decode it straight into their own types (see
/// `facts::from_raw_predicate`).
#[derive(Debug)]
pub struct RawStatement<'a> {
    /// The artifacts the statement is about.
    pub subjects: Vec<Subject>,
    /// The URI naming the predicate's schema.
    pub predicate_type: String,
    /// The predicate's JSON text; `None` when the statement has none or it is `null`.
    pub predicate: Option<&'a serde_json::value::RawValue>,
}

impl<'a> RawStatement<'a> {
    /// Parses and checks a statement as [`Statement::from_json`] does.
    pub fn from_json(source_name: &str, bytes: &'a [u8]) -> Result<RawStatement<'a>, StatementError> {
        let raw: StatementIn<Option<&'a serde_json::value::RawValue>> = parse_statement(source_name, bytes)?;
        Ok(RawStatement { subjects: raw.subjects, predicate_type: raw.predicate_type, predicate: raw.predicate })
    }

    /// Parses the statement in a verified envelope, as [`Statement::from_envelope`] does.
    pub fn from_envelope(
        source_name: &str,
        envelope: &'a VerifiedEnvelope<'_>,
    ) -> Result<RawStatement<'a>, StatementError> {
        check_payload_type(source_name, envelope)?;
        RawStatement::from_json(source_name, envelope.payload())
    }
}

/// Parses a statement with any predicate form, then checks its type, its keys and
/// its fields.
fn parse_statement<'a, P: Deserialize<'a> + Default>(
    source_name: &str,
    bytes: &'a [u8],
) -> Result<StatementIn<P>, StatementError> {
    // serde reads a derived struct from an array of its fields in order too, which
    // other in-toto parsers refuse.
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[') {
        return Err(StatementError::NotAnObject { source_name: source_name.to_owned() });
    }
    let mut raw: StatementIn<P> = parse_json(source_name, bytes)?;
    reject_duplicate_keys_after_parse(source_name, bytes)?;
    raw.statement_type = match raw.statement_type.as_str() {
        STATEMENT_TYPE_V1 | STATEMENT_TYPE_V0_1 => raw.statement_type,
        _ => {
            return Err(StatementError::UnknownType { source_name: source_name.to_owned(), found: raw.statement_type });
        }
    };
    validate_fields(source_name, &raw.subjects, &raw.predicate_type)?;
    Ok(raw)
}

fn check_payload_type(source_name: &str, envelope: &VerifiedEnvelope<'_>) -> Result<(), StatementError> {
    if envelope.payload_type() != PAYLOAD_TYPE {
        return Err(StatementError::WrongPayloadType {
            source_name: source_name.to_owned(),
            found: envelope.payload_type().to_owned(),
        });
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatementOut<'a> {
    #[serde(rename = "_type")]
    statement_type: &'static str,
    subject: &'a [Subject],
    predicate_type: &'a str,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    predicate: &'a serde_json::Value,
}

fn subjects<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Subject>, D::Error> {
    crate::bounded::deserialize_bounded::<D, Subject, SUBJECTS_MAX>(deserializer, "subjects")
}

impl Statement {
    /// Builds a v1 statement and checks it as [`Statement::from_json`] would.
    pub fn new(
        subjects: Vec<Subject>,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Result<Statement, StatementError> {
        let statement = Statement {
            subjects,
            predicate_type: predicate_type.to_owned(),
            predicate,
            statement_type: STATEMENT_TYPE_V1,
        };
        statement.validate("statement")?;
        Ok(statement)
    }

    /// Parses and validates a statement from JSON. An object with a duplicate key is
    /// rejected, because statements are signed as bytes that other tools parse too.
    pub fn from_json(source_name: &str, bytes: &[u8]) -> Result<Statement, StatementError> {
        let raw: StatementIn<serde_json::Value> = parse_statement(source_name, bytes)?;
        let statement_type = match raw.statement_type.as_str() {
            STATEMENT_TYPE_V0_1 => STATEMENT_TYPE_V0_1,
            _ => STATEMENT_TYPE_V1,
        };
        Ok(Statement {
            subjects: raw.subjects,
            predicate_type: raw.predicate_type,
            predicate: raw.predicate,
            statement_type,
        })
    }

    /// Parses the statement in a verified envelope, checking its payload type first.
    pub fn from_envelope(source_name: &str, envelope: &VerifiedEnvelope<'_>) -> Result<Statement, StatementError> {
        check_payload_type(source_name, envelope)?;
        Statement::from_json(source_name, envelope.payload())
    }

    /// Returns the `_type` the statement was parsed with, or v1 for a new statement.
    pub fn statement_type(&self) -> &'static str {
        self.statement_type
    }

    /// Returns whether any subject has `digest` under a supported algorithm.
    pub fn subject_matches(&self, digest: &Digest) -> bool {
        self.subjects.iter().any(|subject| subject.matches(digest))
    }

    /// Returns the subjects that match `digest`.
    pub fn matching_subjects<'a>(&'a self, digest: &'a Digest) -> impl Iterator<Item = &'a Subject> + 'a {
        self.subjects.iter().filter(move |subject| subject.matches(digest))
    }

    /// Writes the statement as compact JSON with `_type` v1, ready to sign as a DSSE
    /// payload of type [`PAYLOAD_TYPE`].
    ///
    /// A statement parsed as v0.1 is written as v1; the originally signed bytes stay in
    /// their envelope.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let out = StatementOut {
            statement_type: STATEMENT_TYPE_V1,
            subject: &self.subjects,
            predicate_type: &self.predicate_type,
            predicate: &self.predicate,
        };
        serde_json::to_vec(&out).expect("a statement of strings and JSON values always serializes")
    }

    fn validate(&self, source_name: &str) -> Result<(), StatementError> {
        validate_fields(source_name, &self.subjects, &self.predicate_type)
    }
}

/// Checks the subjects and the predicate type of a statement.
fn validate_fields(source_name: &str, subjects: &[Subject], predicate_type: &str) -> Result<(), StatementError> {
    let source_name = source_name.to_owned();
    if subjects.is_empty() {
        return Err(StatementError::NoSubjects { source_name });
    }
    if subjects.len() > SUBJECTS_MAX {
        return Err(StatementError::TooManySubjects { source_name, count: subjects.len() });
    }
    for (index, subject) in subjects.iter().enumerate() {
        validate_subject(&source_name, index, subject)?;
    }
    if predicate_type.is_empty() {
        return Err(StatementError::MissingPredicateType { source_name });
    }
    Ok(())
}

/// Checks that a subject has digests and that each supported one is valid hex.
fn validate_subject(source_name: &str, index: usize, subject: &Subject) -> Result<(), StatementError> {
    if subject.digest.is_empty() {
        return Err(StatementError::EmptyDigestSet {
            source_name: source_name.to_owned(),
            index,
            name: subject.name.clone(),
        });
    }
    for (name, hex) in &subject.digest {
        let Some(algorithm) = Algorithm::from_name(name) else { continue };
        Digest::from_hex(algorithm, hex).map_err(|error| StatementError::InvalidSubjectDigest {
            source_name: source_name.to_owned(),
            index,
            name: subject.name.clone(),
            algorithm,
            error,
        })?;
    }
    Ok(())
}

mod subject_reader;

#[cfg(test)]
mod tests;
