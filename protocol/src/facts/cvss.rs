//! CVSS base scores as fixed-point tenths, read exactly from scanner JSON.
//!
//! # Invariants
//! - A [`CvssScore`] is between 0 and 100 tenths (0.0 to 10.0); no float is stored.
//! - Reading a score rounds its decimal text to one digit, half away from zero
//!   (9.849 → 9.8, 9.85 → 9.9), and rejects negative values, values above 10.0
//!   and text that is not a plain decimal number ("NaN", "high", "1e1").

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Highest CVSS base score, in tenths.
pub const CVSS_TENTHS_MAX: u8 = 100;

/// Number of significant digits of a score's integer part that are read before
/// the value is rejected as above 10.0, so very long numbers need no big integers.
const INTEGER_DIGITS_MAX: usize = 3;

/// A CVSS base score in tenths: 9.8 is stored as 98.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct CvssScore(u8);

/// Error of reading a CVSS score.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    #[error("CVSS score {text:?} is not a decimal number; expected a value such as 7.5")]
    NotANumber { text: String },
    #[error("CVSS score {text} is negative; base scores range from 0.0 to 10.0")]
    Negative { text: String },
    #[error("CVSS score {text} is above 10.0, the highest base score")]
    AboveMax { text: String },
    #[error("CVSS score of {tenths} tenths is above {CVSS_TENTHS_MAX} tenths (10.0)")]
    TenthsAboveMax { tenths: u8 },
}

impl CvssScore {
    /// Builds a score from tenths (98 for 9.8).
    pub fn from_tenths(tenths: u8) -> Result<CvssScore, CvssError> {
        if tenths > CVSS_TENTHS_MAX {
            return Err(CvssError::TenthsAboveMax { tenths });
        }
        Ok(CvssScore(tenths))
    }

    /// Returns the score in tenths.
    pub fn tenths(self) -> u8 {
        self.0
    }

    /// Reads a plain decimal text such as "9.8", "10" or "6.45".
    pub fn parse_decimal(text: &str) -> Result<CvssScore, CvssError> {
        let trimmed = text.trim();
        if trimmed.strip_prefix('-').is_some_and(is_plain_decimal) {
            return Err(CvssError::Negative { text: trimmed.to_owned() });
        }
        if !is_plain_decimal(trimmed) {
            return Err(CvssError::NotANumber { text: trimmed.to_owned() });
        }
        round_to_tenths(trimmed)
    }

    /// Reads a JSON number that serde_json delivered as a float.
    ///
    /// The float's shortest round-trip decimal text is rounded, so the digits that
    /// the JSON file holds decide the result, not binary rounding. NOTE: serde_json
    /// (without its `float_roundtrip` feature) may parse numbers with more than
    /// about 15 significant digits one unit in the last place off; such a number
    /// exactly halfway between two tenths could then round down. Scanners write
    /// at most two decimals, which parse exactly.
    pub fn from_f64(value: f64) -> Result<CvssScore, CvssError> {
        if !value.is_finite() {
            return Err(CvssError::NotANumber { text: value.to_string() });
        }
        if value < 0.0 {
            return Err(CvssError::Negative { text: value.to_string() });
        }
        CvssScore::parse_decimal(&value.abs().to_string())
    }

    /// Reads a JSON integer.
    pub fn from_u64(value: u64) -> Result<CvssScore, CvssError> {
        match u8::try_from(value) {
            Ok(whole) if whole <= 10 => Ok(CvssScore(whole * 10)),
            _ => Err(CvssError::AboveMax { text: value.to_string() }),
        }
    }
}

/// Returns true for `digits` or `digits.digits`, with at least one digit before the point.
fn is_plain_decimal(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    !whole.is_empty() && all_digits(whole) && all_digits(fraction) && !(text.ends_with('.'))
}

/// Rounds a checked plain decimal to tenths, half away from zero.
fn round_to_tenths(text: &str) -> Result<CvssScore, CvssError> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole = whole.trim_start_matches('0');
    let above_max = || CvssError::AboveMax { text: text.to_owned() };
    if whole.len() > INTEGER_DIGITS_MAX {
        return Err(above_max());
    }

    let whole: u32 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| above_max())? };
    let digit = |n: usize| fraction.as_bytes().get(n).map_or(0, |b| u32::from(b - b'0'));
    let fraction_is_zero = fraction.bytes().all(|b| b == b'0');
    if whole > 10 || (whole == 10 && !fraction_is_zero) {
        return Err(above_max());
    }

    let tenths = whole * 10 + digit(0) + u32::from(digit(1) >= 5);
    let tenths = u8::try_from(tenths).map_err(|_| above_max())?;
    CvssScore::from_tenths(tenths).map_err(|_| above_max())
}

impl TryFrom<u8> for CvssScore {
    type Error = CvssError;

    fn try_from(tenths: u8) -> Result<CvssScore, CvssError> {
        CvssScore::from_tenths(tenths)
    }
}

impl From<CvssScore> for u8 {
    fn from(score: CvssScore) -> u8 {
        score.0
    }
}

impl fmt::Display for CvssScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// A CVSS score as scanner reports write it: a JSON number or a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReportScore(pub CvssScore);

impl<'de> Deserialize<'de> for ReportScore {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ReportScore, D::Error> {
        deserializer.deserialize_any(ReportScoreVisitor)
    }
}

struct ReportScoreVisitor;

impl Visitor<'_> for ReportScoreVisitor {
    type Value = ReportScore;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CVSS base score from 0.0 to 10.0")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<ReportScore, E> {
        CvssScore::from_u64(value).map(ReportScore).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<ReportScore, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Err(E::custom(CvssError::Negative { text: value.to_string() })),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<ReportScore, E> {
        CvssScore::from_f64(value).map(ReportScore).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ReportScore, E> {
        CvssScore::parse_decimal(text).map(ReportScore).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_rounds_half_away_from_zero() {
        for (text, tenths) in [
            ("9.8", 98),
            ("10", 100),
            ("10.0", 100),
            ("0", 0),
            ("0.04", 0),
            ("0.05", 1),
            ("6.45", 65),
            ("6.449", 64),
            ("9.85", 99),
            ("7", 70),
            ("007.5", 75),
        ] {
            assert_eq!(CvssScore::parse_decimal(text).map(CvssScore::tenths), Ok(tenths), "{text}");
        }
    }

    #[test]
    fn out_of_range_is_rejected() {
        assert!(matches!(CvssScore::parse_decimal("10.01"), Err(CvssError::AboveMax { .. })));
        assert!(matches!(CvssScore::parse_decimal("11"), Err(CvssError::AboveMax { .. })));
        assert!(matches!(CvssScore::parse_decimal("99999999999999999999"), Err(CvssError::AboveMax { .. })));
        assert!(matches!(CvssScore::parse_decimal("-0.1"), Err(CvssError::Negative { .. })));
        assert!(matches!(CvssScore::from_f64(-1.5), Err(CvssError::Negative { .. })));
        assert!(matches!(CvssScore::from_f64(f64::NAN), Err(CvssError::NotANumber { .. })));
        assert!(matches!(CvssScore::from_f64(f64::INFINITY), Err(CvssError::NotANumber { .. })));
        assert!(matches!(CvssScore::from_u64(11), Err(CvssError::AboveMax { .. })));
        assert!(CvssScore::from_tenths(101).is_err());
        assert!(CvssScore::from_tenths(100).is_ok());
    }

    #[test]
    fn non_numbers_are_rejected() {
        for text in ["NaN", "nan", "", ".5", "5.", "1e1", "high", "5,5", "+5"] {
            assert!(matches!(CvssScore::parse_decimal(text), Err(CvssError::NotANumber { .. })), "{text:?}");
        }
    }

    #[test]
    fn floats_read_their_decimal_digits() {
        for (value, tenths) in [(9.8, 98), (5.3, 53), (0.1, 1), (6.45, 65), (9.85, 99), (10.0, 100), (-0.0, 0)] {
            assert_eq!(CvssScore::from_f64(value).map(CvssScore::tenths), Ok(tenths), "{value}");
        }
    }

    #[test]
    fn json_numbers_and_strings_are_read() {
        let read = |json: &str| serde_json::from_str::<ReportScore>(json).map(|s| s.0.tenths());
        assert_eq!(read("9.8").unwrap(), 98);
        assert_eq!(read("4").unwrap(), 40);
        assert_eq!(read("\"5.2\"").unwrap(), 52);
        assert!(read("-1").unwrap_err().to_string().contains("negative"));
        assert!(read("10.5").unwrap_err().to_string().contains("above 10.0"));
        assert!(read("\"NaN\"").unwrap_err().to_string().contains("not a decimal number"));
        assert!(read("true").is_err());
    }

    #[test]
    fn display_and_serde_use_tenths() {
        let score = CvssScore::from_tenths(98).unwrap();
        assert_eq!(score.to_string(), "9.8");
        assert_eq!(serde_json::to_string(&score).unwrap(), "98");
        assert!(serde_json::from_str::<CvssScore>("101").is_err());
    }
}
