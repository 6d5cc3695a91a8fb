//! RFC 3339 timestamps normalized to UTC, stored as integers.
//!
//! # Invariants
//! - A [`Timestamp`] is seconds since the Unix epoch plus nanoseconds below one
//!   second; years 0000 to 9999 in UTC. No float is involved.
//! - Its text form is always UTC with a `Z` suffix and the shortest fraction that
//!   keeps every given digit: `2024-02-22T19:46:26.372724916+01:00` becomes
//!   `2024-02-22T18:46:26.372724916Z`.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// Most fraction digits read: nanosecond precision.
const FRACTION_DIGITS_MAX: usize = 9;

/// Seconds in one day.
const DAY_SECONDS: i64 = 86_400;

/// Seconds from 0000-01-01T00:00:00Z to the Unix epoch, the lowest value accepted.
const UNIX_SECONDS_MIN: i64 = -62_167_219_200;

/// Seconds from the Unix epoch to 10000-01-01T00:00:00Z, just past the highest value.
const UNIX_SECONDS_END: i64 = 253_402_300_800;

/// A point in time read from RFC 3339 text and kept in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_seconds: i64,
    nanos: u32,
}

/// Error of reading a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error(
        "timestamp {text:?} is not RFC 3339 date-time text; expected a form such as 2024-02-22T19:46:26Z or 2024-02-22T19:46:26.5+01:00"
    )]
    Malformed { text: String },
    #[error("timestamp {text:?} names a date or time that does not exist")]
    OutOfRange { text: String },
    #[error(
        "timestamp {text:?} falls outside the years 0000 to 9999 once converted to UTC; \
         Vouch keeps only UTC times in that range, so write a time inside it"
    )]
    OutsideUtcYears { text: String },
    #[error(
        "timestamp {text:?} has more than {FRACTION_DIGITS_MAX} fraction digits; nanoseconds are the finest precision kept"
    )]
    FractionTooLong { text: String },
}

impl Timestamp {
    /// Builds a timestamp from Unix seconds and nanoseconds, or None outside years 0000-9999.
    pub fn from_unix(unix_seconds: i64, nanos: u32) -> Option<Timestamp> {
        let in_range = (UNIX_SECONDS_MIN..UNIX_SECONDS_END).contains(&unix_seconds);
        (in_range && nanos < 1_000_000_000).then_some(Timestamp { unix_seconds, nanos })
    }

    /// Parses RFC 3339 date-time text with any UTC offset.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let malformed = || TimestampError::Malformed { text: text.to_owned() };
        let out_of_range = || TimestampError::OutOfRange { text: text.to_owned() };
        let bytes = text.as_bytes();
        if bytes.len() < 20 || !text.is_ascii() {
            return Err(malformed());
        }

        let date = parse_date(&bytes[..10]).ok_or_else(malformed)?;
        if !matches!(bytes[10], b'T' | b't' | b' ') {
            return Err(malformed());
        }
        let seconds_of_day = parse_time(&bytes[11..19]).ok_or_else(malformed)?;
        let (nanos, zone) = parse_fraction(&text[19..], text)?;
        let offset_seconds = parse_offset(zone).ok_or_else(malformed)?;

        let (year, month, day) = date;
        let Some(seconds_of_day) = seconds_of_day.filter(|_| day <= days_in_month(year, month)) else {
            return Err(out_of_range());
        };
        let local = days_from_civil(year, month, day) * DAY_SECONDS + seconds_of_day;
        let outside_utc_years = || TimestampError::OutsideUtcYears { text: text.to_owned() };
        Timestamp::from_unix(local - offset_seconds, nanos).ok_or_else(outside_utc_years)
    }

    /// Returns whole seconds since 1970-01-01T00:00:00Z (negative before it).
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }

    /// Returns the nanoseconds past [`Timestamp::unix_seconds`].
    pub fn nanos(&self) -> u32 {
        self.nanos
    }
}

/// Reads `YYYY-MM-DD`.
fn parse_date(bytes: &[u8]) -> Option<(i64, u32, u32)> {
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    ((1..=12).contains(&month) && day >= 1).then_some((i64::from(year), month, day))
}

/// Reads `HH:MM:SS` into seconds of the day. The outer None means malformed text.
/// The inner None means a well-formed time that does not exist: hour 24, minute 60,
/// or leap second 60, which Unix seconds cannot represent.
fn parse_time(bytes: &[u8]) -> Option<Option<i64>> {
    if bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let hour = i64::from(digits(&bytes[0..2])?);
    let minute = i64::from(digits(&bytes[3..5])?);
    let second = i64::from(digits(&bytes[6..8])?);
    let valid = hour < 24 && minute < 60 && second < 60;
    Some(valid.then_some(hour * 3600 + minute * 60 + second))
}

/// Reads an optional `.fraction` and returns the nanoseconds and the rest (the zone).
fn parse_fraction<'a>(rest: &'a str, text: &str) -> Result<(u32, &'a str), TimestampError> {
    let Some(after_point) = rest.strip_prefix('.') else {
        return Ok((0, rest));
    };
    let length = after_point.bytes().take_while(u8::is_ascii_digit).count();
    if length == 0 {
        return Err(TimestampError::Malformed { text: text.to_owned() });
    }
    if length > FRACTION_DIGITS_MAX {
        return Err(TimestampError::FractionTooLong { text: text.to_owned() });
    }

    let (fraction, zone) = after_point.split_at(length);
    let scale = 10u32.pow((FRACTION_DIGITS_MAX - length) as u32);
    let nanos = digits(fraction.as_bytes()).map(|n| n * scale);
    nanos.map(|n| (n, zone)).ok_or_else(|| TimestampError::Malformed { text: text.to_owned() })
}

/// Reads `Z`, `z` or `±HH:MM` and returns the offset east of UTC in seconds.
fn parse_offset(zone: &str) -> Option<i64> {
    if zone == "Z" || zone == "z" {
        return Some(0);
    }
    let bytes = zone.as_bytes();
    if bytes.len() != 6 || bytes[3] != b':' {
        return None;
    }
    let sign = match bytes[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = i64::from(digits(&bytes[1..3])?);
    let minutes = i64::from(digits(&bytes[4..6])?);
    (hours < 24 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

/// Parses ASCII digits only (no sign), at most nine of them.
fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date, with eras of 400
/// years so that the arithmetic needs no table (Howard Hinnant's public-domain
/// `days_from_civil` algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Converts days since 1970-01-01 back to (year, month, day), the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.unix_seconds.div_euclid(DAY_SECONDS);
        let second_of_day = self.unix_seconds.rem_euclid(DAY_SECONDS);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")?;
        if self.nanos != 0 {
            let fraction = format!("{:09}", self.nanos);
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(de::Error::custom)
    }
}

/// A timestamp field of a scanner report where an empty string means "absent".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OptionalTimestamp(pub Option<Timestamp>);

impl<'de> Deserialize<'de> for OptionalTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OptionalTimestamp, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(OptionalTimestamp(None));
        }
        Timestamp::parse(&text).map(|t| OptionalTimestamp(Some(t))).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(text: &str) -> String {
        Timestamp::parse(text).unwrap().to_string()
    }

    #[test]
    fn offsets_are_normalized_to_utc() {
        assert_eq!(normalized("2024-02-22T19:46:26.372724916+01:00"), "2024-02-22T18:46:26.372724916Z");
        assert_eq!(normalized("2022-10-07T10:41:07-04:00"), "2022-10-07T14:41:07Z");
        assert_eq!(normalized("2021-08-25T12:20:30.000000005Z"), "2021-08-25T12:20:30.000000005Z");
        assert_eq!(normalized("2022-07-29T02:28:48.500Z"), "2022-07-29T02:28:48.5Z");
        assert_eq!(normalized("2021-01-01T00:30:00+01:00"), "2020-12-31T23:30:00Z");
        assert_eq!(normalized("2024-02-29t23:59:59z"), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn unix_seconds_match_known_values() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().unix_seconds(), 0);
        assert_eq!(Timestamp::parse("2000-03-01T00:00:00Z").unwrap().unix_seconds(), 951_868_800);
        assert_eq!(Timestamp::parse("0001-01-01T00:00:00Z").unwrap().unix_seconds(), -62_135_596_800);
        assert_eq!(Timestamp::parse("0000-01-01T00:00:00Z").unwrap().unix_seconds(), UNIX_SECONDS_MIN);
        assert_eq!(Timestamp::parse("9999-12-31T23:59:59Z").unwrap().unix_seconds(), UNIX_SECONDS_END - 1);
    }

    #[test]
    fn offset_past_utc_year_range_is_named() {
        for text in ["9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+00:01"] {
            let error = Timestamp::parse(text).unwrap_err();
            assert_eq!(error, TimestampError::OutsideUtcYears { text: text.to_owned() });
            assert!(error.to_string().contains("outside the years 0000 to 9999 once converted to UTC"), "{error}");
        }
        assert!(Timestamp::parse("9999-12-31T23:59:59+23:59").is_ok());
        let missing_day = Timestamp::parse("2023-02-29T00:00:00Z").unwrap_err();
        assert!(matches!(missing_day, TimestampError::OutOfRange { .. }), "{missing_day:?}");
    }

    #[test]
    fn round_trip_over_many_days() {
        for days in (-719_528..2_932_896).step_by(997) {
            let stamp = Timestamp::from_unix(days * DAY_SECONDS + 3_723, 1).unwrap();
            assert_eq!(Timestamp::parse(&stamp.to_string()), Ok(stamp), "{stamp}");
        }
    }

    #[test]
    fn invalid_text_is_rejected() {
        for text in [
            "",
            "2024-02-22",
            "2024-02-22T19:46:26",
            "2024-02-22T19:46:26+0100",
            "2024-13-01T00:00:00Z",
            "2024-02-22T19:46:26.Z",
            "2024-02-22X19:46:26Z",
            "２024-02-22T19:46:26Z",
        ] {
            assert!(matches!(Timestamp::parse(text), Err(TimestampError::Malformed { .. })), "{text:?}");
        }
        for text in ["2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-01-01T24:00:00Z", "2016-12-31T23:59:60Z"] {
            assert!(matches!(Timestamp::parse(text), Err(TimestampError::OutOfRange { .. })), "{text:?}");
        }
        assert!(matches!(
            Timestamp::parse("2024-01-01T00:00:00.1234567891Z"),
            Err(TimestampError::FractionTooLong { .. })
        ));
    }

    #[test]
    fn order_follows_time_not_text() {
        let earlier = Timestamp::parse("2024-01-01T10:00:00+02:00").unwrap();
        let later = Timestamp::parse("2024-01-01T09:00:00Z").unwrap();
        assert!(earlier < later);
    }

    #[test]
    fn empty_report_timestamp_is_absent() {
        assert_eq!(serde_json::from_str::<OptionalTimestamp>("\"\"").unwrap(), OptionalTimestamp(None));
        assert_eq!(serde_json::from_str::<OptionalTimestamp>("null").unwrap(), OptionalTimestamp(None));
        assert!(serde_json::from_str::<OptionalTimestamp>("\"yesterday\"").is_err());
    }
}
