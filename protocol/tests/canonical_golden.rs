//! Golden byte vectors and properties of the canonical encoding, so that any change to
//! the ledger's byte format fails a test.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use vouch_protocol::encoding::{EncodingError, decode, encode};
use vouch_protocol::signing::{ChainId, SignKind};
use vouch_protocol::{Digest, KeyId, SigningKey};

/// Shaped like a signed message header: every kind of field a ledger type uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct HeaderLike {
    height: u64,
    round: u32,
    chain_id: String,
    proposer: Vec<u8>,
    previous: Option<Digest>,
    powers: BTreeMap<String, u64>,
    step: Step,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Step {
    Propose,
    Vote(u16),
    Commit { round: u8, note: String },
}

fn header() -> HeaderLike {
    HeaderLike {
        height: 0x0102,
        round: 3,
        chain_id: "vouch".to_owned(),
        proposer: vec![0xaa, 0xbb],
        previous: Some(Digest::sha256(b"")),
        powers: [("b".to_owned(), 2), ("a".to_owned(), 1)].into_iter().collect(),
        step: Step::Commit { round: 4, note: "ok".to_owned() },
    }
}

fn hex_of<T: Serialize>(value: &T) -> String {
    hex::encode(encode(value))
}

#[test]
fn header_like_golden_bytes() {
    let expected = concat!(
        "0201000000000000", // height u64
        "03000000",         // round u32
        "0500000000000000",
        "766f756368", // chain_id "vouch"
        "0200000000000000",
        "aabb",             // proposer bytes
        "01",               // previous: Some
        "4700000000000000", // digest string length 71
        "7368613235363a",   // "sha256:"
        "6533623063343432393866633163313439616662663463383939366662393234",
        "3237616534316534363439623933346361343935393931623738353262383535",
        "0200000000000000", // powers: 2 entries, sorted by key
        "0100000000000000",
        "61",
        "0100000000000000",
        "0100000000000000",
        "62",
        "0200000000000000",
        "02000000", // step: variant 2 (Commit)
        "04",       // Commit.round
        "0200000000000000",
        "6f6b", // Commit.note "ok"
    );
    assert_eq!(hex_of(&header()), expected);
    assert_eq!(decode::<HeaderLike>(&hex::decode(expected).unwrap()).unwrap(), header());
}

#[test]
fn empty_variants_golden_bytes() {
    let header = HeaderLike {
        height: 0,
        round: 0,
        chain_id: String::new(),
        proposer: Vec::new(),
        previous: None,
        powers: BTreeMap::new(),
        step: Step::Vote(0x1234),
    };
    let expected = concat!(
        "0000000000000000",
        "00000000",
        "0000000000000000",
        "0000000000000000",
        "00",
        "0000000000000000",
        "01000000",
        "3412",
    );
    assert_eq!(hex_of(&header), expected);
}

#[test]
fn digest_golden_bytes() {
    let digest = Digest::sha256(b"abc");
    let expected = concat!(
        "4700000000000000",
        "7368613235363a",
        "6261373831366266386630316366656134313431343064653564616532323233",
        "6230303336316133393631373761396362343130666636316632303031356164",
    );
    assert_eq!(hex_of(&digest), expected);
}

#[test]
fn key_and_signature_golden_bytes() {
    // RFC 8032 section 7.1, test 1: this seed, empty message.
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap().try_into().unwrap();
    let key = SigningKey::from_seed(&seed);
    let public = key.public_key();
    assert_eq!(public.to_hex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assert_eq!(hex_of(&public), format!("2000000000000000{}", public.to_hex()));

    let chain = ChainId::new("main").unwrap();
    let signature = vouch_protocol::signing::sign(&key, &chain, SignKind::Prevote, b"");
    assert_eq!(hex_of(&signature), format!("4000000000000000{}", hex::encode(signature.to_bytes())));
    assert_eq!(hex_of(&chain), "04000000000000006d61696e");
    assert_eq!(hex_of(&SignKind::Prevote), "02000000");

    let keyid = KeyId::of(&public);
    assert_eq!(hex_of(&keyid), format!("4000000000000000{}", hex::encode(keyid.as_str())));
}

#[test]
fn weak_public_key_does_not_decode() {
    let mut identity = vec![32, 0, 0, 0, 0, 0, 0, 0, 1];
    identity.extend_from_slice(&[0; 31]);
    let error = decode::<vouch_protocol::PublicKey>(&identity).unwrap_err();
    assert!(matches!(error, EncodingError::Invalid { .. }), "{error}");
    assert!(error.to_string().contains("weak"), "{error}");
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Propose),
        any::<u16>().prop_map(Step::Vote),
        (any::<u8>(), ".{0,8}").prop_map(|(round, note)| Step::Commit { round, note }),
    ]
}

fn header_strategy() -> impl Strategy<Value = HeaderLike> {
    let digest = prop::option::of(prop::collection::vec(any::<u8>(), 0..16).prop_map(|b| Digest::sha256(&b)));
    (
        any::<u64>(),
        any::<u32>(),
        "[a-z0-9-]{0,12}",
        prop::collection::vec(any::<u8>(), 0..40),
        digest,
        prop::collection::btree_map(".{0,6}", any::<u64>(), 0..6),
        step(),
    )
        .prop_map(|(height, round, chain_id, proposer, previous, powers, step)| HeaderLike {
            height,
            round,
            chain_id,
            proposer,
            previous,
            powers,
            step,
        })
}

/// A change to an encoding: flip a bit, insert a byte or remove one.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { index: usize, bit: u8 },
    Insert { index: usize, byte: u8 },
    Remove { index: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(index, bit)| Mutation::Flip { index, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(index, byte)| Mutation::Insert { index, byte }),
        any::<usize>().prop_map(|index| Mutation::Remove { index }),
    ]
}

fn apply(bytes: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut changed = bytes.to_vec();
    match *mutation {
        Mutation::Flip { index, bit } => changed[index % bytes.len()] ^= 1 << bit,
        Mutation::Insert { index, byte } => changed.insert(index % (bytes.len() + 1), byte),
        Mutation::Remove { index } => {
            changed.remove(index % bytes.len());
        }
    }
    changed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn decode_inverts_encode(header in header_strategy()) {
        let bytes = encode(&header);
        prop_assert_eq!(decode::<HeaderLike>(&bytes).unwrap(), header);
    }

    #[test]
    fn changed_bytes_never_decode_to_same_value(header in header_strategy(), mutation in mutation()) {
        let bytes = encode(&header);
        let changed = apply(&bytes, &mutation);
        if let Ok(other) = decode::<HeaderLike>(&changed) {
            // Whatever decodes is canonical and is a different value: one value, one encoding.
            prop_assert_eq!(encode(&other), changed);
            prop_assert_ne!(other, header);
        }
    }
}
