//! The short human summary that `vouch attest` prints on stderr.

use vouch_keyring::KeyName;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::facts::SeverityCounts;
use vouch_protocol::facts::severity::Severity;
use vouch_protocol::keys::KeyId;

use super::image::Target;
use crate::output::escape_message;

/// Summary of an attestation beyond its subject: the predicate type and lines that depend on
/// the input kind (severity counts, component count, builder, decision).
pub struct Summary {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// `label: value` lines.
    pub lines: Vec<(&'static str, String)>,
}

impl Summary {
    /// Starts a summary for `predicate_type`.
    pub fn new(predicate_type: &str) -> Summary {
        Summary { predicate_type: predicate_type.to_owned(), lines: Vec::new() }
    }

    /// Adds a `label: value` line.
    pub fn line(&mut self, label: &'static str, value: impl Into<String>) {
        self.lines.push((label, value.into()));
    }
}

/// Formats severity counts from the most to the least severe, as
/// `critical=2 high=0 medium=4 low=0 negligible=0 unknown=0 total=6`.
pub fn format_counts(counts: &SeverityCounts) -> String {
    let mut parts: Vec<String> =
        Severity::ALL.iter().rev().map(|severity| format!("{}={}", severity.name(), counts.get(*severity))).collect();
    parts.push(format!("total={}", counts.total()));
    parts.join(" ")
}

/// Prints the summary on stderr, escaping control characters in every line, because
/// names and values come from the input files. `next` describes what happens to the
/// envelope, such as "the envelope is on stdout".
pub fn print(target: &Target, summary: &Summary, key: &KeyName, keyid: &KeyId, envelope: &Envelope, next: &str) {
    let mut lines = vec![format!("signed with key `{key}` (keyid {keyid}); {next}")];
    lines.push(format!("  subject: {}@{}", target.name, target.digest));
    if let Some(chosen) = &target.chosen {
        lines.push(format!("  image: {chosen}"));
    }
    lines.push(format!("  predicate type: {}", summary.predicate_type));
    for (label, value) in &summary.lines {
        lines.push(format!("  {label}: {value}"));
    }
    lines.push(format!("  signatures: {}", envelope.signatures.len()));
    let text: String = lines.iter().map(|line| format!("{}\n", escape_message(line))).collect();
    eprint!("{text}");
}
