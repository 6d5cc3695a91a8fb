//! Review expiry durations such as `90m`, `12h` or `30d`.

use std::time::Duration;

use anyhow::bail;

/// Maximum expiry accepted for a review decision: ten years of 365 days.
pub const EXPIRY_MAX: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Parses a whole number followed by one unit: `s`, `m`, `h`, `d` (24 hours) or `w`
/// (7 days). The result is between one second and [`EXPIRY_MAX`].
pub fn parse_expiry(text: &str) -> anyhow::Result<Duration> {
    let hint = "write a whole number and a unit, such as 90m, 12h or 30d (units s, m, h, d, w)";
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(count) = number.parse::<u64>() else {
        bail!("invalid --expires `{text}`: {hint}");
    };
    let unit_seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        "w" => 7 * 24 * 60 * 60,
        _ => bail!("invalid --expires `{text}`: unknown unit `{unit}`; {hint}"),
    };
    let seconds = count.saturating_mul(unit_seconds);
    if seconds == 0 {
        bail!("invalid --expires `{text}`: the duration is zero; {hint}");
    }
    let duration = Duration::from_secs(seconds);
    if duration > EXPIRY_MAX {
        bail!("invalid --expires `{text}`: longer than the maximum of 3650d");
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_to_seconds() {
        let cases = [("90m", 5400), ("12h", 43200), ("30d", 2_592_000), ("2w", 1_209_600), ("45s", 45)];
        for (text, seconds) in cases {
            assert_eq!(parse_expiry(text).unwrap(), Duration::from_secs(seconds), "{text}");
        }
    }

    #[test]
    fn maximum_at_and_past_edge() {
        assert_eq!(parse_expiry("3650d").unwrap(), EXPIRY_MAX);
        assert!(parse_expiry("3651d").is_err());
        assert!(parse_expiry("99999999999999999999d").is_err());
        assert!(parse_expiry(&format!("{}s", EXPIRY_MAX.as_secs() + 1)).is_err());
    }

    #[test]
    fn malformed_durations_name_the_value() {
        for text in ["", "d", "30", "30 d", "1.5h", "-3d", "30y", "0h"] {
            let error = parse_expiry(text).unwrap_err().to_string();
            assert!(error.contains(&format!("`{text}`")), "{error}");
        }
    }
}
