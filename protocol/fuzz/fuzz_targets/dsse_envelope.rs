//! Fuzzes DSSE envelope parsing (one JSON document or JSON Lines), writing, verification
//! and the in-toto statement parser on the decoded payload.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::intoto::Statement;
use vouch_protocol::{KeyId, SigningKey};

fuzz_target!(|data: &[u8]| {
    let Ok(envelopes) = Envelope::from_json_or_lines("fuzz.json", data) else {
        return;
    };
    let key = SigningKey::from_seed(&[1; 32]);
    let trusted = [(KeyId::of(&key.public_key()), key.public_key())];
    for envelope in envelopes {
        // What Vouch writes, Vouch reads back as the same envelope.
        let written = envelope.to_json();
        let again = Envelope::from_json("written.json", written.as_bytes()).expect("a written envelope parses");
        assert_eq!(again, envelope);

        // Verification and statement parsing return errors, never panic.
        let _ = envelope.verify(&trusted, 1);
        if let Ok(statement) = Statement::from_json("payload", &envelope.payload) {
            let again =
                Statement::from_json("written", &statement.to_json_bytes()).expect("a written statement parses");
            assert_eq!(again.subjects, statement.subjects);
        }
    }
});
