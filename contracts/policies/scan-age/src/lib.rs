//! Standard policy: quarantine an image whose newest vulnerability scan is older
//! than a maximum age, measured in block time.
//!
//! Parameters (JSON, all optional): `max_age_ms` (default 604,800,000: 7 days, at
//! least 1). A scan's time is the time the report states, or the block time of its
//! inclusion when the report states none or states a later time, because a scan
//! cannot be newer than the block that recorded it. Without any report the verdict
//! is pending. An approval expires when the newest scan becomes too old.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use serde::Deserialize;
use vouch_policy_sdk::{Input, Output, Verdict};

vouch_policy_sdk::entry!(evaluate);

/// Milliseconds in one day.
const DAY_MS: i64 = 86_400_000;

/// The binding's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Parameters {
    /// Oldest a scan may be, in milliseconds of block time.
    pub max_age_ms: i64,
}

impl Default for Parameters {
    fn default() -> Parameters {
        Parameters { max_age_ms: 7 * DAY_MS }
    }
}

/// Evaluates the age of the image's newest scan.
pub fn evaluate(input: &Input<'_>) -> Output {
    let parameters: Parameters = match vouch_policy_sdk::parameters(input) {
        Ok(parameters) => parameters,
        Err(error) => return Output::quarantined(error),
    };
    if parameters.max_age_ms < 1 {
        return Output::quarantined("invalid policy parameters: max_age_ms must be at least 1");
    }

    let newest = input
        .vulnerability_reports()
        .map(|(attestation, report)| {
            report.scanned_at_ms.map_or(attestation.included.time_ms, |t| t.min(attestation.included.time_ms))
        })
        .max();
    let Some(scanned_at_ms) = newest else {
        return Output::pending("no vulnerability report has been attested yet");
    };

    let age_ms = input.block.time_ms.saturating_sub(scanned_at_ms);
    let limit = describe_duration(parameters.max_age_ms);
    if age_ms > parameters.max_age_ms {
        return Output::quarantined(format!(
            "the newest scan is {} old, over the maximum of {limit}",
            describe_duration(age_ms)
        ));
    }
    let mut output = Output::new(Verdict::Approved)
        .with_reason(format!("the newest scan is {} old, within the maximum of {limit}", describe_duration(age_ms)));
    output.expire_by(scanned_at_ms.saturating_add(parameters.max_age_ms).saturating_add(1));
    output
}

/// Words a duration as days, hours, minutes and seconds, dropping zero parts.
fn describe_duration(ms: i64) -> String {
    let seconds = ms / 1000;
    let parts = [(seconds / 86_400, "d"), (seconds / 3600 % 24, "h"), (seconds / 60 % 60, "m"), (seconds % 60, "s")];
    let mut text = String::new();
    for (value, unit) in parts.iter().filter(|(value, _)| *value != 0) {
        text.push_str(&format!("{value}{unit}"));
    }
    if text.is_empty() { format!("{ms}ms") } else { text }
}

#[cfg(test)]
mod tests;
