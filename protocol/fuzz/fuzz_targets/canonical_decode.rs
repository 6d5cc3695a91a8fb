//! Fuzzes the canonical decoder: whatever it accepts must re-encode to the same bytes.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use vouch_protocol::encoding::{decode, encode};
use vouch_protocol::signing::{ChainId, SignKind};
use vouch_protocol::{Digest, KeyId, PublicKey, Signature};

/// Shaped like a signed ledger message: integers, strings, bytes, options, maps, enums
/// and the protocol's validated types.
type Message = (
    u64,
    u32,
    String,
    Vec<u8>,
    Option<Digest>,
    BTreeMap<String, u64>,
    Vec<(bool, PublicKey, Signature)>,
    ChainId,
    SignKind,
    KeyId,
);

/// Decodes `data` as `$type` and, if that succeeds, checks it re-encodes identically.
/// A macro because the fuzz crate does not depend on serde to name the trait bounds.
macro_rules! check {
    ($type:ty, $data:expr) => {
        if let Ok(value) = decode::<$type>($data) {
            assert_eq!(encode(&value), $data, "decode accepted bytes that re-encode differently");
        }
    };
}

fuzz_target!(|data: &[u8]| {
    check!(Message, data);
    check!(Digest, data);
    check!(BTreeMap<u32, Vec<String>>, data);
});
