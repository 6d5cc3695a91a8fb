//! The policy ABI's data: the evaluation input a policy reads and the output it
//! returns, with their wire encoding.
//!
//! # Format
//! Both directions use bincode 2.0.1 with fixed-width little-endian integers, the
//! layout of `vouch_protocol::encoding`. `u8`/`u32`/`u64`/`i64` take 1/4/8/8 bytes.
//! Strings and sequences are a `u64` length followed by their bytes or elements.
//! `Option` is one byte (0 or 1) followed by the value. Enum variants are a `u32`
//! index in declaration order, and struct fields follow in declaration order.
//!
//! # Invariants
//! - Input strings borrow from the input buffer, so decoding allocates only vectors.
//! - Times are signed Unix milliseconds (`i64`), block heights `u64`; no floats.
//! - An [`Output`] that [`Output::decode`] accepts has at most [`REASONS_MAX`]
//!   reasons of at most [`REASON_BYTES_MAX`] bytes each and encodes to at most
//!   [`OUTPUT_BYTES_MAX`] bytes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

/// Name of the only module a policy may import functions from.
pub const HOST_MODULE: &str = "vouch_v1";

/// Name of the exported function that the node calls once per evaluation.
pub const EVALUATE_EXPORT: &str = "vouch_evaluate";

/// Name of the exported linear memory that host functions read and write.
pub const MEMORY_EXPORT: &str = "memory";

/// Maximum size of an encoded input that the SDK decodes: 16 MiB.
pub const INPUT_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Maximum number of reasons in one output.
pub const REASONS_MAX: usize = 16;

/// Maximum length of one reason, in bytes of UTF-8.
pub const REASON_BYTES_MAX: usize = 256;

/// Maximum size of an encoded output: 8 KiB, above the largest valid output
/// (4-byte verdict, 8-byte count, [`REASONS_MAX`] reasons of 8 + [`REASON_BYTES_MAX`]
/// bytes and a 9-byte expiry, 4,245 bytes in all).
pub const OUTPUT_BYTES_MAX: usize = 8 * 1024;

/// Maximum length of the message a policy passes to the host's `abort`, in bytes.
pub const ABORT_MESSAGE_BYTES_MAX: usize = 256;

/// The bincode configuration of the policy ABI (see the module's format notes).
pub const CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Fixint,
    bincode::config::Limit<INPUT_BYTES_MAX>,
> = bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<INPUT_BYTES_MAX>();

/// Everything a policy reads when it evaluates one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input<'a> {
    /// The image digest, such as `sha256:<64 hex>`.
    pub image_digest: &'a str,
    /// Repository names this digest was seen under (`registry/path`), sorted.
    #[serde(borrow)]
    pub repositories: Vec<&'a str>,
    /// The block whose execution runs this evaluation.
    pub block: Block,
    /// Attestations about the image that are in force, oldest inclusion first.
    #[serde(borrow)]
    pub attestations: Vec<Attestation<'a>>,
    /// The binding's parameters: JSON text, or empty for the policy's defaults.
    pub parameters: &'a str,
    /// The policy's own storage, sorted by key with unique keys; read-only here.
    #[serde(borrow)]
    pub storage: Vec<StorageEntry<'a>>,
}

/// Height and time of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Block height.
    pub height: u64,
    /// Block time in Unix milliseconds, as agreed by consensus.
    pub time_ms: i64,
}

/// One attestation as the ledger recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation<'a> {
    /// The ledger's identifier of the attestation (lowercase hex).
    pub id: &'a str,
    /// The registered attester that signed it.
    #[serde(borrow)]
    pub attester: Attester<'a>,
    /// The in-toto predicate type, exactly as signed.
    pub predicate_type: &'a str,
    /// Height and time of the block that included it.
    pub included: Block,
    /// The node's normalized reading of the predicate; None for predicate types
    /// that carry no facts.
    #[serde(borrow)]
    pub facts: Option<Facts<'a>>,
}

/// A registered attester's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attester<'a> {
    /// The name it was registered under; unique on the ledger.
    pub name: &'a str,
    /// The key id of its ed25519 key (securesystemslib form, lowercase hex).
    pub key_id: &'a str,
    /// Its registered role, such as `scanner`, `builder` or `reviewer`.
    pub role: &'a str,
}

/// One entry of a policy's storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageEntry<'a> {
    /// UTF-8 key; each policy documents its key scheme.
    pub key: &'a str,
    /// UTF-8 value, JSON for the standard policies.
    pub value: &'a str,
}

/// The normalized reading of one predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Facts<'a> {
    /// Findings of a vulnerability scanner.
    Vulnerabilities(#[serde(borrow)] VulnerabilityReport<'a>),
    /// A software bill of materials.
    Sbom(#[serde(borrow)] Sbom<'a>),
    /// SLSA build provenance.
    Provenance(#[serde(borrow)] Provenance<'a>),
    /// A Vouch reviewer's decision.
    Review(#[serde(borrow)] Review<'a>),
}

/// Vulnerability findings of one scan, deduplicated and sorted by id, package and
/// installed version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnerabilityReport<'a> {
    /// Lowercase scanner name, such as `trivy` or `grype`.
    pub scanner: &'a str,
    /// The scanner's version, when the report gives one.
    pub scanner_version: Option<&'a str>,
    /// Time of the scan (Unix milliseconds), when the report states it.
    pub scanned_at_ms: Option<i64>,
    /// The findings.
    #[serde(borrow)]
    pub vulnerabilities: Vec<Vulnerability<'a>>,
}

/// One vulnerability finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability<'a> {
    /// Advisory id, such as `CVE-2024-1234` or `GHSA-…`.
    pub id: &'a str,
    /// Other ids of the same advisory, sorted.
    #[serde(borrow)]
    pub aliases: Vec<&'a str>,
    /// Affected package name, when the format names one.
    pub package: Option<&'a str>,
    /// Installed version of that package.
    pub installed_version: Option<&'a str>,
    /// First fixed version; None when no fix is known.
    pub fixed_version: Option<&'a str>,
    /// Severity on the shared scale.
    pub severity: Severity,
    /// CVSS v3 base score in tenths (98 for 9.8).
    pub cvss_tenths: Option<u8>,
}

/// Severity on one scale for every scanner, least severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No severity given, or a word that is not on this scale.
    Unknown,
    /// Grype's lowest rating.
    Negligible,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Returns the lowercase name used in parameters and reasons.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Negligible => "negligible",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The SBOM formats the node reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SbomFormat {
    /// CycloneDX JSON.
    CycloneDx,
    /// SPDX 2.x JSON.
    Spdx,
}

/// The components a software bill of materials lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom<'a> {
    /// Document format.
    pub format: SbomFormat,
    /// The format's version, such as `1.5` or `2.3`.
    pub spec_version: &'a str,
    /// Name of what the SBOM describes.
    pub subject_name: Option<&'a str>,
    /// Digest of what the SBOM describes, when the document states one.
    #[serde(borrow)]
    pub subject_digest: Option<DigestRef<'a>>,
    /// Listed components in document order.
    #[serde(borrow)]
    pub components: Vec<Component<'a>>,
}

/// A digest as algorithm and lowercase hex, such as `sha256` and 64 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestRef<'a> {
    /// Algorithm name, `sha256` or `sha512`.
    pub algorithm: &'a str,
    /// Lowercase hex digits.
    pub hex: &'a str,
}

impl DigestRef<'_> {
    /// Returns true when `text` is this digest written as `algorithm:hex`.
    pub fn matches(&self, text: &str) -> bool {
        text.split_once(':').is_some_and(|(algorithm, hex)| algorithm == self.algorithm && hex == self.hex)
    }
}

impl fmt::Display for DigestRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

/// One SBOM component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component<'a> {
    /// Component name.
    pub name: &'a str,
    /// Version as given.
    pub version: Option<&'a str>,
    /// Package URL.
    pub purl: Option<&'a str>,
    /// Component type, such as `library` or `operating-system`.
    pub kind: Option<&'a str>,
}

/// The SLSA provenance versions the node reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlsaVersion {
    /// `https://slsa.dev/provenance/v0.2`.
    V0_2,
    /// `https://slsa.dev/provenance/v1`.
    V1,
}

/// Builder, build type and source of an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance<'a> {
    /// The predicate version that was read.
    pub slsa_version: SlsaVersion,
    /// Builder id URI.
    pub builder_id: &'a str,
    /// Build type URI.
    pub build_type: &'a str,
    /// Source repository URI without `git+`, ref suffix or `.git`.
    pub source_repository: Option<&'a str>,
    /// Git ref that was built, such as `refs/tags/v1.2.0`.
    pub source_ref: Option<&'a str>,
    /// Commit that was built.
    pub source_revision: Option<&'a str>,
    /// Build configuration file or entry point.
    pub entry_point: Option<&'a str>,
    /// Build inputs in document order.
    #[serde(borrow)]
    pub materials: Vec<Material<'a>>,
}

/// One input of a build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material<'a> {
    /// Origin of the input.
    pub uri: Option<&'a str>,
    /// Its name.
    pub name: Option<&'a str>,
    /// Digests as (algorithm, hex) pairs sorted by algorithm.
    #[serde(borrow)]
    pub digests: Vec<(&'a str, &'a str)>,
}

/// A reviewer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The reviewer approves the image.
    Approve,
    /// The reviewer rejects the image.
    Reject,
}

/// A Vouch reviewer's decision about an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review<'a> {
    /// Approve or reject.
    pub decision: Decision,
    /// Why, in the reviewer's words.
    pub reason: &'a str,
    /// When the decision stops applying (Unix milliseconds).
    pub expires_at_ms: Option<i64>,
    /// Reviewer name or email, as free text.
    pub reviewer: Option<&'a str>,
}

/// A policy's decision about an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The image may be used.
    Approved,
    /// The image must not be used.
    Quarantined,
    /// The policy is waiting for more attestations.
    Pending,
}

impl Verdict {
    /// Returns the lowercase name used in documents and reasons.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Quarantined => "quarantined",
            Verdict::Pending => "pending",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy's result: verdict, reasons and expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The decision.
    pub verdict: Verdict,
    /// Why, at most [`REASONS_MAX`] entries of at most [`REASON_BYTES_MAX`] bytes.
    pub reasons: Vec<String>,
    /// Block time (Unix milliseconds) from which the node evaluates again.
    pub expires_at_ms: Option<i64>,
}

/// Errors in ABI bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AbiError {
    /// The bytes are not a valid encoding of the expected type.
    Malformed {
        /// The decoded item: `input` or `output`.
        what: &'static str,
        /// bincode's description of the problem.
        message: String,
    },
    /// Bytes remain after the value.
    TrailingBytes {
        /// The decoded item.
        what: &'static str,
        /// Number of bytes left over.
        trailing: usize,
    },
    /// The encoding is larger than its limit.
    TooLarge {
        /// The decoded item.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// An output holds more than [`REASONS_MAX`] reasons.
    TooManyReasons {
        /// The number of reasons.
        count: usize,
    },
    /// An output reason is longer than [`REASON_BYTES_MAX`].
    ReasonTooLong {
        /// Position of the reason, from 0.
        index: usize,
        /// Its length in bytes.
        length: usize,
    },
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbiError::Malformed { what, message } => write!(f, "malformed {what}: {message}"),
            AbiError::TrailingBytes { what, trailing } => {
                write!(f, "malformed {what}: {trailing} bytes after the end of the value")
            }
            AbiError::TooLarge { what, size, max } => {
                write!(f, "{what} is {size} bytes, over the limit of {max} bytes")
            }
            AbiError::TooManyReasons { count } => {
                write!(f, "output has {count} reasons, over the limit of {REASONS_MAX}")
            }
            AbiError::ReasonTooLong { index, length } => {
                write!(f, "output reason {index} is {length} bytes, over the limit of {REASON_BYTES_MAX} bytes")
            }
        }
    }
}

impl core::error::Error for AbiError {}

impl<'a> Input<'a> {
    /// Decodes an input, borrowing its strings from `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Input<'a>, AbiError> {
        check_size("input", bytes.len(), INPUT_BYTES_MAX)?;
        // A direct decoder with word-wise ASCII checks: bincode's serde path with
        // `core::str::from_utf8` cost about 1,800 fuel per finding in wasm, this 1,250.
        let mut reader = decode::Reader::new(bytes);
        let input = <Input<'a> as decode::Decode<'a>>::decode(&mut reader)
            .map_err(|message| AbiError::Malformed { what: "input", message })?;
        let read = bytes.len() - reader.remaining();
        check_trailing("input", bytes.len(), read)?;
        Ok(input)
    }

    /// Encodes the input; the node calls this once per evaluation.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, CONFIG).expect("ABI types serialize with known lengths")
    }

    /// Returns the storage value under `key`.
    pub fn storage(&self, key: &str) -> Option<&'a str> {
        let index = self.storage.binary_search_by(|entry| entry.key.cmp(key)).ok()?;
        Some(self.storage[index].value)
    }

    /// Returns the storage entries whose keys start with `prefix`, in key order.
    pub fn storage_with_prefix<'s>(&'s self, prefix: &'s str) -> impl Iterator<Item = &'s StorageEntry<'a>> + 's {
        let start = self.storage.partition_point(|entry| entry.key < prefix);
        self.storage[start..].iter().take_while(move |entry| entry.key.starts_with(prefix))
    }
}

impl Output {
    /// Starts an output with `verdict` and no reasons.
    pub fn new(verdict: Verdict) -> Output {
        Output { verdict, reasons: Vec::new(), expires_at_ms: None }
    }

    /// Starts an approved output.
    pub fn approved() -> Output {
        Output::new(Verdict::Approved)
    }

    /// Starts a quarantined output with one reason.
    pub fn quarantined(reason: impl Into<String>) -> Output {
        Output::new(Verdict::Quarantined).with_reason(reason)
    }

    /// Starts a pending output with one reason.
    pub fn pending(reason: impl Into<String>) -> Output {
        Output::new(Verdict::Pending).with_reason(reason)
    }

    /// Adds a reason, keeping the output within the ABI limits: a reason longer than
    /// [`REASON_BYTES_MAX`] is cut at a character boundary, and once
    /// [`REASONS_MAX`] − 1 reasons are present the last slot says that further
    /// reasons were left out.
    pub fn push_reason(&mut self, reason: impl Into<String>) {
        let omitted_note = "further reasons omitted";
        match self.reasons.len() {
            count if count + 1 < REASONS_MAX => self.reasons.push(truncate(reason.into())),
            count if count + 1 == REASONS_MAX => self.reasons.push(String::from(omitted_note)),
            _ => {}
        }
    }

    /// Adds a reason and returns the output.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Output {
        self.push_reason(reason);
        self
    }

    /// Sets the expiry to `time_ms` or keeps an earlier one.
    pub fn expire_by(&mut self, time_ms: i64) {
        self.expires_at_ms = Some(self.expires_at_ms.map_or(time_ms, |current| current.min(time_ms)));
    }

    /// Encodes the output.
    pub fn encode(&self) -> Vec<u8> {
        bincode::serde::encode_to_vec(self, CONFIG).expect("ABI types serialize with known lengths")
    }

    /// Decodes an output and checks the ABI limits.
    pub fn decode(bytes: &[u8]) -> Result<Output, AbiError> {
        check_size("output", bytes.len(), OUTPUT_BYTES_MAX)?;
        let (output, read): (Output, usize) = bincode::serde::decode_from_slice(bytes, CONFIG)
            .map_err(|error| AbiError::Malformed { what: "output", message: describe(&error) })?;
        check_trailing("output", bytes.len(), read)?;
        output.check_limits()?;
        Ok(output)
    }

    /// Checks the reason count and lengths.
    pub fn check_limits(&self) -> Result<(), AbiError> {
        if self.reasons.len() > REASONS_MAX {
            return Err(AbiError::TooManyReasons { count: self.reasons.len() });
        }
        match self.reasons.iter().position(|reason| reason.len() > REASON_BYTES_MAX) {
            Some(index) => Err(AbiError::ReasonTooLong { index, length: self.reasons[index].len() }),
            None => Ok(()),
        }
    }
}

/// Cuts `text` to at most [`REASON_BYTES_MAX`] bytes at a character boundary.
fn truncate(mut text: String) -> String {
    if text.len() > REASON_BYTES_MAX {
        let mut end = REASON_BYTES_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn check_size(what: &'static str, size: usize, max: usize) -> Result<(), AbiError> {
    if size > max {
        return Err(AbiError::TooLarge { what, size, max });
    }
    Ok(())
}

fn check_trailing(what: &'static str, size: usize, read: usize) -> Result<(), AbiError> {
    if read != size {
        return Err(AbiError::TrailingBytes { what, trailing: size - read });
    }
    Ok(())
}

/// Words bincode's decode errors without addresses or type layouts.
fn describe(error: &bincode::error::DecodeError) -> String {
    use alloc::string::ToString;
    match error {
        bincode::error::DecodeError::UnexpectedEnd { additional } => {
            alloc::format!("input ends early; at least {additional} more bytes are needed")
        }
        bincode::error::DecodeError::LimitExceeded => {
            alloc::format!("a length prefix announces more than {INPUT_BYTES_MAX} bytes")
        }
        other => other.to_string(),
    }
}

mod decode;
#[cfg(test)]
mod tests;
