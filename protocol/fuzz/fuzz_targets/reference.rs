//! Fuzzes image reference parsing: no input may panic, and every accepted reference
//! must parse back unchanged from its normalized and familiar forms.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(reference) = Reference::parse(text) else {
        return;
    };

    let normalized = reference.to_string();
    assert_eq!(Reference::parse(&normalized).as_ref(), Ok(&reference), "normalized form {normalized}");
    let familiar = reference.familiar();
    assert_eq!(Reference::parse(&familiar).as_ref(), Ok(&reference), "familiar form {familiar}");
    assert!(reference.name().len() <= vouch_protocol::reference::NAME_LENGTH_MAX);
    assert!(reference.tag().is_some() || reference.digest().is_some());
});
