//! Fuzzes the CycloneDX and SPDX readers, from bytes and from a decoded predicate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::facts;

fuzz_target!(|bytes: &[u8]| {
    let _ = facts::cyclonedx::parse("fuzz", bytes);
    let _ = facts::spdx::parse("fuzz", bytes);

    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let _ = facts::from_statement("https://cyclonedx.org/bom", &value);
        let _ = facts::from_statement("https://spdx.dev/Document", &value);
    }
});
