//! Severity on one fixed scale for every scanner, with the word mapping and counts.
//!
//! # Invariants
//! - The order is Unknown < Negligible < Low < Medium < High < Critical, so `max`
//!   picks the more severe of two readings.
//! - A reader never drops a finding for its severity: an empty, missing or
//!   unrecognized word becomes [`Severity::Unknown`] and is still counted.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::cvss::CvssScore;

/// Severity of a vulnerability finding, on the scale shared by all readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// No severity was given, or the given word is not on this scale.
    Unknown,
    /// Grype's lowest rating (mostly distribution advisories that will not be fixed).
    Negligible,
    /// Low severity.
    Low,
    /// Medium severity.
    Medium,
    /// High severity.
    High,
    /// Critical severity.
    Critical,
}

/// The result of reading a scanner's severity word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeverityReading {
    /// The word is on the scale (or empty, which means [`Severity::Unknown`]).
    Recognized(Severity),
    /// The word is not on the scale; the finding counts as [`Severity::Unknown`].
    Unrecognized(String),
}

impl Severity {
    /// Every severity from the least to the most severe.
    pub const ALL: [Severity; 6] =
        [Severity::Unknown, Severity::Negligible, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// Returns the lowercase name used in facts and documents.
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

    /// Maps a scanner's severity word case-insensitively ("CRITICAL", "Critical",
    /// "negligible"); surrounding whitespace is ignored and an empty word is Unknown.
    pub fn read_word(word: &str) -> SeverityReading {
        let trimmed = word.trim();
        if trimmed.is_empty() {
            return SeverityReading::Recognized(Severity::Unknown);
        }
        match Severity::ALL.iter().find(|s| s.name().eq_ignore_ascii_case(trimmed)) {
            Some(severity) => SeverityReading::Recognized(*severity),
            None => SeverityReading::Unrecognized(trimmed.to_owned()),
        }
    }

    /// Rates a CVSS v3 base score with the qualitative scale of the CVSS v3.1
    /// specification: 0.1-3.9 Low, 4.0-6.9 Medium, 7.0-8.9 High, 9.0-10.0 Critical.
    /// A score of 0.0 ("None" in CVSS) maps to Negligible.
    pub fn from_cvss(score: CvssScore) -> Severity {
        match score.tenths() {
            0 => Severity::Negligible,
            1..=39 => Severity::Low,
            40..=69 => Severity::Medium,
            70..=89 => Severity::High,
            _ => Severity::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Number of findings for each severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeverityCounts {
    counts: [u64; 6],
}

impl SeverityCounts {
    /// Adds one finding of `severity`.
    pub fn add(&mut self, severity: Severity) {
        self.counts[severity as usize] += 1;
    }

    /// Returns the number of findings of exactly `severity`.
    pub fn get(&self, severity: Severity) -> u64 {
        self.counts[severity as usize]
    }

    /// Returns the number of findings of `severity` or worse. Unknown findings count
    /// only when `severity` is Unknown, because their real severity may be anything.
    pub fn at_or_above(&self, severity: Severity) -> u64 {
        Severity::ALL.iter().filter(|s| **s >= severity).map(|s| self.get(*s)).sum()
    }

    /// Returns the number of findings of every severity.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_map_case_insensitively() {
        for (word, expected) in [
            ("CRITICAL", Severity::Critical),
            ("Critical", Severity::Critical),
            ("negligible", Severity::Negligible),
            ("Medium", Severity::Medium),
            ("UNKNOWN", Severity::Unknown),
            ("", Severity::Unknown),
            ("  high ", Severity::High),
        ] {
            assert_eq!(Severity::read_word(word), SeverityReading::Recognized(expected), "{word:?}");
        }
    }

    #[test]
    fn unrecognized_word_is_reported() {
        assert_eq!(Severity::read_word("Moderate"), SeverityReading::Unrecognized("Moderate".into()));
    }

    #[test]
    fn scale_is_ordered() {
        assert!(Severity::ALL.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn cvss_rating_edges() {
        for (tenths, expected) in [
            (0, Severity::Negligible),
            (1, Severity::Low),
            (39, Severity::Low),
            (40, Severity::Medium),
            (69, Severity::Medium),
            (70, Severity::High),
            (89, Severity::High),
            (90, Severity::Critical),
            (100, Severity::Critical),
        ] {
            let score = CvssScore::from_tenths(tenths).unwrap();
            assert_eq!(Severity::from_cvss(score), expected, "{tenths}");
        }
    }

    #[test]
    fn counts_at_or_above() {
        let mut counts = SeverityCounts::default();
        for severity in [Severity::Unknown, Severity::Low, Severity::High, Severity::Critical, Severity::High] {
            counts.add(severity);
        }
        assert_eq!(counts.total(), 5);
        assert_eq!(counts.get(Severity::High), 2);
        assert_eq!(counts.at_or_above(Severity::High), 3);
        assert_eq!(counts.at_or_above(Severity::Negligible), 4);
        assert_eq!(counts.at_or_above(Severity::Unknown), 5);
    }
}
