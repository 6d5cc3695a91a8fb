//! Passphrase encryption of private keys with Argon2id and XChaCha20-Poly1305.
//!
//! # Invariants
//! Every sealing draws a fresh random salt and nonce. The associated data binds the
//! ciphertext to the key's name and public key, so a ciphertext copied into another
//! key file fails to open instead of producing the wrong key.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::KeyringError;

/// Length of the Argon2id salt, in bytes.
pub const SALT_LEN: usize = 16;
/// Length of the XChaCha20-Poly1305 nonce, in bytes.
pub const NONCE_LEN: usize = 24;
/// Length of an ed25519 seed, the secret that is encrypted, in bytes.
pub const SEED_LEN: usize = 32;
/// Length of the Poly1305 tag appended to the ciphertext, in bytes.
pub const TAG_LEN: usize = 16;

/// Largest Argon2id memory cost accepted from a key file, in KiB (4 GiB), so a crafted
/// file cannot make `vouch` allocate without bound.
pub const KDF_MEMORY_KIB_MAX: u32 = 4 * 1024 * 1024;
/// Largest Argon2id iteration count accepted from a key file.
pub const KDF_ITERATIONS_MAX: u32 = 64;
/// Largest Argon2id parallelism accepted from a key file.
pub const KDF_PARALLELISM_MAX: u32 = 16;

/// Domain separation prefix of the associated data.
const AAD_PREFIX: &[u8] = b"vouch-keyring-v1\0";

/// Argon2id cost parameters, stored in each key file so that they can change later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes over the memory.
    pub iterations: u32,
    /// Number of lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane. RFC 9106 section 4 recommends 64 MiB and 3 passes
    /// with 4 lanes; this build computes lanes one after another, so 1 lane costs the
    /// same time for the same memory.
    fn default() -> KdfParams {
        KdfParams { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 }
    }
}

impl KdfParams {
    /// Checks the parameters against Argon2's own minimums and Vouch's maximums.
    pub fn validate(&self) -> Result<Params, KeyringError> {
        let invalid = |reason: String| KeyringError::InvalidKdfParams { reason };
        if self.memory_kib > KDF_MEMORY_KIB_MAX {
            return Err(invalid(format!(
                "memory {} KiB is over the maximum of {KDF_MEMORY_KIB_MAX} KiB",
                self.memory_kib
            )));
        }
        if self.iterations > KDF_ITERATIONS_MAX {
            return Err(invalid(format!("{} iterations is over the maximum of {KDF_ITERATIONS_MAX}", self.iterations)));
        }
        if self.parallelism > KDF_PARALLELISM_MAX {
            return Err(invalid(format!(
                "parallelism {} is over the maximum of {KDF_PARALLELISM_MAX}",
                self.parallelism
            )));
        }
        Params::new(self.memory_kib, self.iterations, self.parallelism, Some(SEED_LEN)).map_err(|error| {
            invalid(format!(
                "{error} (memory {} KiB, {} iterations, parallelism {})",
                self.memory_kib, self.iterations, self.parallelism
            ))
        })
    }
}

/// An encrypted seed with everything except the passphrase needed to open it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedSeed {
    /// Argon2id cost parameters.
    pub kdf: KdfParams,
    /// Random Argon2id salt.
    pub salt: [u8; SALT_LEN],
    /// Random XChaCha20-Poly1305 nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Encrypted seed followed by the Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

/// Builds the associated data that ties a ciphertext to one key name and public key.
pub fn associated_data(name: &str, public_key: &[u8; 32]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + name.len() + 1 + public_key.len());
    aad.extend_from_slice(AAD_PREFIX);
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(public_key);
    aad
}

/// Encrypts `seed` under a key derived from `passphrase` with fresh salt and nonce.
pub fn seal(seed: &[u8; SEED_LEN], passphrase: &[u8], kdf: KdfParams, aad: &[u8]) -> Result<SealedSeed, KeyringError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut salt)?;
    fill_random(&mut nonce)?;

    let cipher = derive_cipher(passphrase, &salt, kdf)?;
    let mut buffer = Zeroizing::new(Vec::with_capacity(SEED_LEN + TAG_LEN));
    buffer.extend_from_slice(seed);
    cipher.encrypt_in_place(&XNonce::from(nonce), aad, &mut *buffer).map_err(|_| KeyringError::Encryption)?;
    Ok(SealedSeed { kdf, salt, nonce, ciphertext: buffer.to_vec() })
}

/// Decrypts a sealed seed; a wrong passphrase, a changed file or a wrong `aad` all
/// fail the Poly1305 check and return [`KeyringError::Decryption`].
pub fn open(sealed: &SealedSeed, passphrase: &[u8], aad: &[u8]) -> Result<Zeroizing<[u8; SEED_LEN]>, KeyringError> {
    if sealed.ciphertext.len() != SEED_LEN + TAG_LEN {
        return Err(KeyringError::CiphertextLength { found: sealed.ciphertext.len(), expected: SEED_LEN + TAG_LEN });
    }
    let cipher = derive_cipher(passphrase, &sealed.salt, sealed.kdf)?;
    let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
    cipher.decrypt_in_place(&XNonce::from(sealed.nonce), aad, &mut *buffer).map_err(|_| KeyringError::Decryption)?;

    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    seed.copy_from_slice(&buffer);
    Ok(seed)
}

/// Derives the XChaCha20-Poly1305 key from the passphrase with Argon2id.
fn derive_cipher(passphrase: &[u8], salt: &[u8], kdf: KdfParams) -> Result<XChaCha20Poly1305, KeyringError> {
    let params = kdf.validate()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon2
        .hash_password_into(passphrase, salt, &mut *key)
        .map_err(|error| KeyringError::InvalidKdfParams { reason: error.to_string() })?;
    Ok(XChaCha20Poly1305::new(&(*key).into()))
}

/// Fills `buffer` from the operating system's random number generator.
pub fn fill_random(buffer: &mut [u8]) -> Result<(), KeyringError> {
    getrandom::fill(buffer).map_err(|error| KeyringError::Random(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small parameters so the unit tests run quickly; real files use the default.
    const FAST: KdfParams = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn seal_then_open_returns_seed() {
        let seed = [7u8; SEED_LEN];
        let aad = associated_data("alice", &[1u8; 32]);
        let sealed = seal(&seed, b"correct horse", FAST, &aad).unwrap();
        assert_eq!(*open(&sealed, b"correct horse", &aad).unwrap(), seed);
        assert_ne!(&sealed.ciphertext[..SEED_LEN], &seed[..]);
    }

    #[test]
    fn wrong_passphrase_fails() {
        let aad = associated_data("alice", &[1u8; 32]);
        let sealed = seal(&[7u8; SEED_LEN], b"right", FAST, &aad).unwrap();
        assert!(matches!(open(&sealed, b"wrong", &aad), Err(KeyringError::Decryption)));
    }

    #[test]
    fn other_name_or_public_key_fails() {
        let aad = associated_data("alice", &[1u8; 32]);
        let sealed = seal(&[7u8; SEED_LEN], b"pass", FAST, &aad).unwrap();
        let renamed = associated_data("bob", &[1u8; 32]);
        let other_key = associated_data("alice", &[2u8; 32]);
        assert!(matches!(open(&sealed, b"pass", &renamed), Err(KeyringError::Decryption)));
        assert!(matches!(open(&sealed, b"pass", &other_key), Err(KeyringError::Decryption)));
    }

    #[test]
    fn fresh_salt_and_nonce_each_time() {
        let aad = associated_data("alice", &[1u8; 32]);
        let first = seal(&[7u8; SEED_LEN], b"pass", FAST, &aad).unwrap();
        let second = seal(&[7u8; SEED_LEN], b"pass", FAST, &aad).unwrap();
        assert_ne!(first.salt, second.salt);
        assert_ne!(first.nonce, second.nonce);
        assert_ne!(first.ciphertext, second.ciphertext);
    }

    #[test]
    fn kdf_limits_at_and_past_edge() {
        let at_limit = KdfParams {
            memory_kib: KDF_MEMORY_KIB_MAX,
            iterations: KDF_ITERATIONS_MAX,
            parallelism: KDF_PARALLELISM_MAX,
        };
        assert!(at_limit.validate().is_ok());
        let memory = KdfParams { memory_kib: KDF_MEMORY_KIB_MAX + 1, ..at_limit };
        let iterations = KdfParams { iterations: KDF_ITERATIONS_MAX + 1, ..at_limit };
        let parallelism = KdfParams { parallelism: KDF_PARALLELISM_MAX + 1, ..at_limit };
        for params in [memory, iterations, parallelism] {
            assert!(matches!(params.validate(), Err(KeyringError::InvalidKdfParams { .. })), "{params:?}");
        }
        let zero_iterations = KdfParams { iterations: 0, ..FAST };
        assert!(zero_iterations.validate().is_err());
    }

    #[test]
    fn truncated_ciphertext_is_rejected() {
        let aad = associated_data("alice", &[1u8; 32]);
        let mut sealed = seal(&[7u8; SEED_LEN], b"pass", FAST, &aad).unwrap();
        sealed.ciphertext.pop();
        assert!(matches!(
            open(&sealed, b"pass", &aad),
            Err(KeyringError::CiphertextLength { found: 47, expected: 48 })
        ));
    }
}
