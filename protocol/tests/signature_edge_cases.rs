//! Ed25519 edge cases that Vouch's one strict rule must reject: small-order keys,
//! non-canonical and malleated signatures, and signatures that the looser checks
//! (`verify`, `verify_batch`) accept.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::Verifier as _;
use sha2::Digest as _;
use vouch_protocol::keys::{KeyError, SEED_BYTES};
use vouch_protocol::signing::{self, ChainId, SignKind};
use vouch_protocol::{PublicKey, Signature, SigningKey};

/// The group order ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Compressed encodings of the eight points of order dividing 8, plus non-canonical
/// encodings of some of them (y at least p, or x = 0 with the sign bit set).
const SMALL_ORDER_POINTS: [(&str, &str); 10] = [
    ("identity (order 1)", "0100000000000000000000000000000000000000000000000000000000000000"),
    ("order 2, y = -1", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ("order 4, y = 0, x positive", "0000000000000000000000000000000000000000000000000000000000000000"),
    ("order 4, y = 0, x negative", "0000000000000000000000000000000000000000000000000000000000000080"),
    ("order 8, first", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    ("order 8, first negated", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
    ("order 8, second", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    ("order 8, second negated", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    ("identity, non-canonical y = p + 1", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ("identity, x = 0 with sign bit", "0100000000000000000000000000000000000000000000000000000000000080"),
];

fn bytes32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

fn seed() -> [u8; SEED_BYTES] {
    [42; SEED_BYTES]
}

fn chain() -> ChainId {
    ChainId::new("edge").unwrap()
}

/// Adds two 256-bit little-endian integers (no reduction).
fn add_le(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "sum overflowed 256 bits");
    out
}

/// Builds `R || s` with `s = r + H(R || A || M) * a`, the ed25519 equation, for any `R`
/// the caller chooses and the nonce scalar `r` that goes with it.
fn forge_with_r(key: &ed25519_dalek::SigningKey, r_point: EdwardsPoint, r: Scalar, message: &[u8]) -> [u8; 64] {
    let r_bytes = r_point.compress().to_bytes();
    let hash = sha2::Sha512::new()
        .chain_update(r_bytes)
        .chain_update(key.verifying_key().as_bytes())
        .chain_update(message)
        .finalize();
    let wide: [u8; 64] = hash.into();
    let k = Scalar::from_bytes_mod_order_wide(&wide);
    let s = r + k * key.to_scalar();

    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r_bytes);
    signature[32..].copy_from_slice(s.as_bytes());
    signature
}

#[test]
fn small_order_points_are_really_small_order() {
    for (name, text) in SMALL_ORDER_POINTS {
        let point = CompressedEdwardsY(bytes32(text)).decompress();
        let point = point.unwrap_or_else(|| panic!("{name} does not decompress"));
        assert!(point.is_small_order(), "{name}");
        assert!(point.mul_by_cofactor().is_identity(), "{name}");
    }
}

#[test]
fn small_order_public_keys_are_rejected() {
    for (name, text) in SMALL_ORDER_POINTS {
        let error = PublicKey::from_bytes(&bytes32(text)).unwrap_err();
        assert!(matches!(error, KeyError::WeakKey { .. }), "{name}: {error}");
        assert!(error.to_string().contains(text), "{name}: error does not name the key: {error}");
    }
}

#[test]
fn weak_key_error_says_why() {
    let error = PublicKey::from_bytes(&bytes32(SMALL_ORDER_POINTS[1].1)).unwrap_err();
    assert!(error.to_string().contains("small order"), "{error}");
}

#[test]
fn non_canonical_s_is_rejected() {
    let key = SigningKey::from_seed(&seed());
    let valid = signing::sign(&key, &chain(), SignKind::Transaction, b"tx").to_bytes();
    let mut s = [0u8; 32];
    s.copy_from_slice(&valid[32..]);

    let mut malleated = valid;
    malleated[32..].copy_from_slice(&add_le(s, GROUP_ORDER));
    let malleated = Signature::from_bytes(malleated);
    assert_ne!(malleated.to_bytes(), valid);

    let public = key.public_key();
    assert!(signing::verify(&public, &chain(), SignKind::Transaction, b"tx", &Signature::from_bytes(valid)).is_ok());
    assert!(signing::verify(&public, &chain(), SignKind::Transaction, b"tx", &malleated).is_err());
}

#[test]
fn flipped_bits_are_rejected() {
    let key = SigningKey::from_seed(&seed());
    let valid = signing::sign(&key, &chain(), SignKind::Header, b"header").to_bytes();
    for index in [0, 31, 32, 63] {
        let mut changed = valid;
        changed[index] ^= 0x01;
        let result =
            signing::verify(&key.public_key(), &chain(), SignKind::Header, b"header", &Signature::from_bytes(changed));
        assert!(result.is_err(), "byte {index} flipped still verifies");
    }
}

#[test]
fn small_order_r_passes_verify_but_not_strict() {
    // R = identity and s = k * a satisfy the cofactorless equation s B = R + k A.
    let dalek_key = ed25519_dalek::SigningKey::from_bytes(&seed());
    let message = b"any message at all";
    let signature = forge_with_r(&dalek_key, EdwardsPoint::default(), Scalar::ZERO, message);
    let dalek_signature = ed25519_dalek::Signature::from_bytes(&signature);

    let verifying_key = dalek_key.verifying_key();
    assert!(verifying_key.verify(message, &dalek_signature).is_ok(), "plain verify should accept it");
    assert!(verifying_key.verify_strict(message, &dalek_signature).is_err());

    let public = SigningKey::from_seed(&seed()).public_key();
    let error = public.verify(message, &Signature::from_bytes(signature)).unwrap_err();
    assert!(matches!(error, KeyError::InvalidSignature { .. }), "{error}");
}

#[test]
fn batch_accepts_small_order_r_that_strict_rejects() {
    let dalek_key = ed25519_dalek::SigningKey::from_bytes(&seed());
    let message: &[u8] = b"batch";
    let signature =
        ed25519_dalek::Signature::from_bytes(&forge_with_r(&dalek_key, EdwardsPoint::default(), Scalar::ZERO, message));
    let verifying_key = dalek_key.verifying_key();

    assert!(ed25519_dalek::verify_batch(&[message], &[signature], &[verifying_key]).is_ok());
    assert!(verifying_key.verify_strict(message, &signature).is_err());
}

#[test]
fn batch_accepts_torsion_r_verify_rejects() {
    // R = r B + T with T of order 8. The batch equation multiplies T by a random 128-bit
    // z derived from the inputs, which cancels T whenever 8 divides z: about one message
    // in eight. Plain verify compares R with s B - k A = r B and rejects every one.
    let dalek_key = ed25519_dalek::SigningKey::from_bytes(&seed());
    let verifying_key = dalek_key.verifying_key();
    let torsion = CompressedEdwardsY(bytes32(SMALL_ORDER_POINTS[4].1)).decompress().unwrap();
    let r = Scalar::from_bytes_mod_order([7; 32]);
    let r_point = EdwardsPoint::mul_base(&r) + torsion;

    let mut accepted_by_batch = None;
    for counter in 0u32..256 {
        let message = counter.to_le_bytes();
        let signature = ed25519_dalek::Signature::from_bytes(&forge_with_r(&dalek_key, r_point, r, &message));
        assert!(verifying_key.verify(&message, &signature).is_err(), "message {counter}");
        assert!(verifying_key.verify_strict(&message, &signature).is_err(), "message {counter}");
        if ed25519_dalek::verify_batch(&[&message], &[signature], &[verifying_key]).is_ok() {
            accepted_by_batch = Some(counter);
            break;
        }
    }
    assert!(accepted_by_batch.is_some(), "no message in 256 made verify_batch accept a torsion R");
}
