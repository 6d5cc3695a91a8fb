use std::collections::BTreeSet;

use super::*;
use crate::keys::SEED_BYTES;

fn chain(text: &str) -> ChainId {
    ChainId::new(text).unwrap()
}

fn key() -> SigningKey {
    SigningKey::from_seed(&[5; SEED_BYTES])
}

#[test]
fn signing_bytes_layout_is_fixed() {
    let bytes = signing_bytes(&chain("vouch-1"), SignKind::Prevote, b"msg");
    let mut expected = vec![8];
    expected.extend_from_slice(b"vouch/v1");
    expected.push(7);
    expected.extend_from_slice(b"vouch-1");
    expected.push(3);
    expected.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(b"msg");
    assert_eq!(bytes, expected);
}

#[test]
fn tags_are_distinct_and_stable() {
    let tags: Vec<u8> = SignKind::ALL.iter().map(|k| k.tag()).collect();
    assert_eq!(tags, [1, 2, 3, 4, 5, 6, 7]);
    let names: BTreeSet<&str> = SignKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), SignKind::ALL.len());
}

#[test]
fn sign_then_verify_accepts() {
    let key = key();
    let signature = sign(&key, &chain("main"), SignKind::Transaction, b"tx");
    assert!(verify(&key.public_key(), &chain("main"), SignKind::Transaction, b"tx", &signature).is_ok());
}

#[test]
fn signature_never_verifies_as_other_kind() {
    let key = key();
    for signed_as in SignKind::ALL {
        let signature = sign(&key, &chain("main"), signed_as, b"same bytes");
        for checked_as in SignKind::ALL.into_iter().filter(|k| *k != signed_as) {
            let result = verify(&key.public_key(), &chain("main"), checked_as, b"same bytes", &signature);
            assert!(result.is_err(), "{signed_as} signature verified as {checked_as}");
        }
    }
}

#[test]
fn signature_never_verifies_on_other_chain() {
    let key = key();
    let signature = sign(&key, &chain("main"), SignKind::Precommit, b"vote");
    let error = verify(&key.public_key(), &chain("test"), SignKind::Precommit, b"vote", &signature).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("precommit"), "{text}");
    assert!(text.contains("chain test"), "{text}");
}

#[test]
fn signature_covers_exact_bytes() {
    let key = key();
    let message = crate::encoding::encode(&(7u64, "image".to_owned()));
    let signature = sign(&key, &chain("main"), SignKind::Transaction, &message);
    let public = key.public_key();

    let mut longer = message.clone();
    longer.push(0);
    let mut flipped = message.clone();
    flipped[0] ^= 1;
    for changed in [longer, flipped, message[..message.len() - 1].to_vec()] {
        assert!(verify(&public, &chain("main"), SignKind::Transaction, &changed, &signature).is_err());
    }
    assert!(verify(&public, &chain("main"), SignKind::Transaction, &message, &signature).is_ok());
}

#[test]
fn length_prefixes_keep_fields_apart() {
    // Without prefixes, chain "ab" with message "c..." and chain "a" with "bc..." could
    // share bytes; with them, the signing bytes differ.
    let first = signing_bytes(&chain("ab"), SignKind::Header, b"c");
    let second = signing_bytes(&chain("a"), SignKind::Header, b"bc");
    assert_ne!(first, second);
}

#[test]
fn dsse_pae_never_starts_like_signing_bytes() {
    let pae = crate::dsse::pae("application/vnd.in-toto+json", b"{}");
    let bytes = signing_bytes(&chain("main"), SignKind::Transaction, b"{}");
    assert_ne!(pae[0], bytes[0]);
}

#[test]
fn chain_id_length_at_and_past_edge() {
    assert!(ChainId::new(&"a".repeat(CHAIN_ID_BYTES_MAX)).is_ok());
    assert!(ChainId::new(&"a".repeat(CHAIN_ID_BYTES_MAX + 1)).is_err());
    assert!(ChainId::new("").is_err());
}

#[test]
fn chain_id_rejects_bad_characters() {
    let error = ChainId::new("Main").unwrap_err();
    assert!(error.to_string().contains("'M' at position 0"), "{error}");
    assert!(ChainId::new("main net").is_err());
    assert!(ChainId::new("-main").is_err());
    assert!(ChainId::new("main-").is_err());
    assert!(ChainId::new("vouch-main-2").is_ok());
}

#[test]
fn chain_id_deserialize_validates() {
    assert!(serde_json::from_str::<ChainId>("\"ok-1\"").is_ok());
    assert!(serde_json::from_str::<ChainId>("\"NOT OK\"").is_err());
}
