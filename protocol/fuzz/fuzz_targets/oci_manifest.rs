//! Fuzzes manifest and index parsing: no input may panic, a parsed document's kind
//! must agree with its media type, and platform selection over a parsed index must
//! stay within its image entries.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::oci::{Manifest, Platform, parse_manifest};

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = parse_manifest("fuzz", data) else {
        return;
    };
    let Manifest::Index(index) = &manifest else {
        assert!(!manifest.media_type().is_index());
        return;
    };
    assert!(manifest.media_type().is_index());

    let platforms = index.platforms();
    assert_eq!(platforms.len(), index.image_entries().count());
    for platform in &platforms {
        assert!(index.image_entries().any(|entry| entry.platform.as_ref().is_some_and(|p| platform.matches(p))));
        // Platform strings from documents may hold any text; parsing them must not panic.
        let _ = Platform::parse(&platform.to_string());
    }
});
