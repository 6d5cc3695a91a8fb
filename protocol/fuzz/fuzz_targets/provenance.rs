//! Fuzzes the SLSA provenance (v0.2 and v1) and Vouch review readers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::facts::{self, SlsaVersion};

fuzz_target!(|bytes: &[u8]| {
    let _ = facts::slsa::parse(SlsaVersion::V0_2, "fuzz", bytes);
    let _ = facts::slsa::parse(SlsaVersion::V1, "fuzz", bytes);
    if let Ok(review) = facts::review::parse("fuzz", bytes) {
        let json = serde_json::to_value(&review).expect("a review encodes as JSON");
        assert_eq!(facts::review::from_value("fuzz", &json).expect("an encoded review reads back"), review);
    }

    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        for predicate_type in
            ["https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1", "https://vouch.dev/review/v1"]
        {
            let _ = facts::from_statement(predicate_type, &value);
        }
    }
});
