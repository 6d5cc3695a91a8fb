//! Reading an attestation transaction: the DSSE envelope, the registered attester
//! whose signature counts, the in-toto statement, the images it indexes and the facts
//! of its predicate.
//!
//! # Invariants
//! - The result depends only on the envelope bytes and the set of registered
//!   attesters, so a cached result for the same (envelope hash, attester set hash) is
//!   the result every node computes.
//! - The recorded attester is the signer of the first signature, in envelope order,
//!   that verifies with a registered key.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vouch_protocol::digest::{Algorithm, Digest};
use vouch_protocol::dsse::{DsseError, Envelope, Rejection};
use vouch_protocol::facts::{self, Facts};
use vouch_protocol::intoto::{RawStatement, StatementError, Subject};
use vouch_protocol::keys::{KeyId, PublicKey};
use vouch_protocol::reference::Reference;

use crate::app::TxRejection;
use crate::app::directory::Attesters;
use crate::lru::Lru;

/// Maximum number of distinct image digests one attestation indexes.
pub const ATTESTATION_IMAGES_MAX: usize = 64;

/// Default bound of the reads of attestations checked for the mempool and not yet
/// committed, in charged bytes (see [`ReadCacheLimits`]). A reading is charged its
/// envelope's size plus 512 bytes, so a full default mempool (64 MiB in at most 50,000
/// transactions) charges at most 64 MiB + 24.4 MiB, and every waiting attestation's
/// reading stays until its block, unless an idle node empties the cache (see
/// `storage.idle_release_ms`). A smaller bound evicts the oldest readings first,
/// which are those of the next block: each of its attestations is then checked again.
pub const PENDING_READS_BYTES_MAX: usize = 96 * 1024 * 1024;

/// Default bound of the reads of committed attestations kept for later evaluations of
/// their images, in charged bytes.
pub const COMMITTED_READS_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Bytes charged to one reading besides its envelope's length.
const READ_OVERHEAD_BYTES: usize = 512;

/// Memory bounds of the attestation read cache.
///
/// A reading is charged its envelope's length plus a fixed overhead.
// NOTE: the charge is an estimate: the facts of a report usually take less memory than
// its envelope's JSON, but a predicate made of many tiny fields can take more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadCacheLimits {
    /// Bytes charged to reads of attestations not yet committed. A block whose
    /// attestations were evicted reads them again while it is built.
    pub pending_bytes_max: NonZeroUsize,
    /// Bytes charged to reads of committed attestations.
    pub committed_bytes_max: NonZeroUsize,
}

impl Default for ReadCacheLimits {
    fn default() -> ReadCacheLimits {
        ReadCacheLimits {
            pending_bytes_max: NonZeroUsize::new(PENDING_READS_BYTES_MAX).expect("the default is not zero"),
            committed_bytes_max: NonZeroUsize::new(COMMITTED_READS_BYTES_MAX).expect("the default is not zero"),
        }
    }
}

/// What an attestation says, after its signature was checked.
#[derive(Debug)]
pub(crate) struct ReadAttestation {
    /// BLAKE3 hash of the envelope bytes.
    pub(crate) envelope_hash: [u8; 32],
    /// The envelope's length in bytes.
    pub(crate) envelope_bytes: usize,
    /// The registered attester whose signature counted.
    pub(crate) attester: KeyId,
    /// The attester set the signature was checked against; `None` for a committed
    /// attestation read again only for its facts.
    pub(crate) attester_set: Option<[u8; 32]>,
    /// The statement's predicate type.
    pub(crate) predicate_type: String,
    /// Each sha256 subject digest with the repository names given for it, sorted.
    pub(crate) images: Vec<(Digest, Vec<String>)>,
    /// The facts of the predicate, if its type has a reader.
    pub(crate) facts: Option<Facts>,
}

impl ReadAttestation {
    /// Returns the bytes the cache charges for this reading.
    fn charge(&self) -> usize {
        self.envelope_bytes.saturating_add(READ_OVERHEAD_BYTES)
    }
}

/// Computes the envelope hash that identifies an attestation.
pub(crate) fn envelope_hash(envelope: &[u8]) -> [u8; 32] {
    *blake3::hash(envelope).as_bytes()
}

/// Read attestations by envelope hash, in two parts: readings of attestations that
/// wait for a block, and readings of committed ones.
pub(crate) struct ReadCache {
    pending: Mutex<Lru<[u8; 32], Arc<ReadAttestation>>>,
    committed: Mutex<Lru<[u8; 32], Arc<ReadAttestation>>>,
}

impl ReadCache {
    pub(crate) fn new(limits: ReadCacheLimits) -> ReadCache {
        ReadCache {
            pending: Mutex::new(Lru::new(limits.pending_bytes_max)),
            committed: Mutex::new(Lru::new(limits.committed_bytes_max)),
        }
    }

    /// Returns the cached reading of the envelope `hash`, whatever attester set it was
    /// checked against.
    pub(crate) fn get(&self, hash: &[u8; 32]) -> Option<Arc<ReadAttestation>> {
        if let Some(read) = lock(&self.pending).get(hash) {
            return Some(read);
        }
        lock(&self.committed).get(hash)
    }

    /// Caches the reading of a committed attestation.
    pub(crate) fn insert_committed(&self, read: Arc<ReadAttestation>) {
        let charge = read.charge();
        lock(&self.committed).insert_weighted(read.envelope_hash, read, charge);
    }

    /// Moves the readings of a block's attestations to the committed part, once the
    /// block is stored.
    pub(crate) fn commit<'r>(&self, reads: impl IntoIterator<Item = &'r Arc<ReadAttestation>>) {
        let mut pending = lock(&self.pending);
        let mut committed = lock(&self.committed);
        for read in reads {
            pending.remove(&read.envelope_hash);
            committed.insert_weighted(read.envelope_hash, Arc::clone(read), read.charge());
        }
    }

    /// Empties both parts and frees their memory; returns the bytes they were charged.
    /// An attestation still waiting for a block is read again when its block is built.
    pub(crate) fn clear(&self) -> usize {
        // The readings are freed after the locks are released, so checks and blocks
        // wait only for the swap.
        let pending = lock(&self.pending).take();
        let committed = lock(&self.committed).take();
        pending.weight() + committed.weight()
    }

    /// Returns the number of cached readings and the bytes charged for them, waiting
    /// and committed.
    pub(crate) fn usage(&self) -> ((usize, usize), (usize, usize)) {
        let pending = lock(&self.pending);
        let committed = lock(&self.committed);
        ((pending.len(), pending.weight()), (committed.len(), committed.weight()))
    }

    /// Reads `envelope`, or returns the cached reading made against the same attesters.
    pub(crate) fn read(
        &self,
        envelope: &[u8],
        attesters: &Attesters,
        envelope_bytes_max: usize,
    ) -> Result<Arc<ReadAttestation>, TxRejection> {
        if envelope.len() > envelope_bytes_max {
            return Err(TxRejection::new(
                "envelope_too_large",
                format!(
                    "the envelope is {} bytes, over the chain's limit of {envelope_bytes_max} bytes (consensus.envelope_bytes_max); attest a smaller report",
                    envelope.len()
                ),
            ));
        }
        let hash = envelope_hash(envelope);
        if let Some(cached) = self.get(&hash).filter(|cached| cached.attester_set == Some(attesters.set_hash())) {
            return Ok(cached);
        }
        let read = Arc::new(read_attestation(envelope, hash, attesters)?);
        lock(&self.pending).insert_weighted(hash, Arc::clone(&read), read.charge());
        Ok(read)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each cache operation leaves the map whole before it can panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads and checks one envelope against the registered attesters.
pub(crate) fn read_attestation(
    bytes: &[u8],
    envelope_hash: [u8; 32],
    attesters: &Attesters,
) -> Result<ReadAttestation, TxRejection> {
    let envelope = Envelope::from_json("envelope", bytes)
        .map_err(|error| TxRejection::new("envelope_invalid", format!("{error}; send a DSSE envelope in JSON")))?;
    let trusted = trusted_keys(&envelope, attesters)?;
    let verified = envelope.verify(&trusted, 1).map_err(signature_rejection)?;
    let signer = &verified.signers()[0];
    let key = &trusted.iter().find(|(key_id, _)| key_id == signer).expect("signers come from the trusted list").1;
    let attester = attesters.key_id_of(key).expect("every trusted key is a registered attester's");

    let statement = RawStatement::from_envelope("statement", &verified).map_err(statement_rejection)?;
    let images = subject_images(&statement.subjects)?;
    let facts = facts::from_raw_predicate(&statement.predicate_type, statement.predicate).map_err(|error| {
        TxRejection::new("predicate_invalid", format!("{error}; fix the predicate or attest it under another type"))
    })?;

    Ok(ReadAttestation {
        envelope_hash,
        envelope_bytes: bytes.len(),
        attester,
        attester_set: Some(attesters.set_hash()),
        predicate_type: statement.predicate_type,
        images,
        facts,
    })
}

/// Reads the facts of an envelope that a committed block already checked, without
/// checking its signatures again.
pub(crate) fn reread_committed(bytes: &[u8], attester: KeyId) -> Result<ReadAttestation, TxRejection> {
    let envelope = Envelope::from_json("envelope", bytes)
        .map_err(|error| TxRejection::new("envelope_invalid", error.to_string()))?;
    let statement = RawStatement::from_json("statement", &envelope.payload).map_err(statement_rejection)?;
    let images = subject_images(&statement.subjects)?;
    let facts = facts::from_raw_predicate(&statement.predicate_type, statement.predicate)
        .map_err(|error| TxRejection::new("predicate_invalid", error.to_string()))?;
    Ok(ReadAttestation {
        envelope_hash: envelope_hash(bytes),
        envelope_bytes: bytes.len(),
        attester,
        attester_set: None,
        predicate_type: statement.predicate_type,
        images,
        facts,
    })
}

/// Returns the registered keys to verify `envelope` with: those its signatures name
/// by key id, or every registered attester's when it names none.
fn trusted_keys(envelope: &Envelope, attesters: &Attesters) -> Result<Vec<(KeyId, PublicKey)>, TxRejection> {
    if attesters.records().is_empty() {
        return Err(unregistered("no attester is registered on this chain"));
    }
    let named: Vec<(KeyId, PublicKey)> = attesters
        .trusted()
        .iter()
        .filter(|(key_id, _)| envelope.signatures.iter().any(|signature| signature.keyid == key_id.as_str()))
        .cloned()
        .collect();
    if !named.is_empty() {
        return Ok(named);
    }
    // NOTE: a signature without a registered keyid (cosign writes "") is tried against
    // every registered attester, which costs one verification per attester.
    Ok(attesters.records().iter().map(|(key_id, record)| (key_id.clone(), record.key)).collect())
}

fn signature_rejection(error: DsseError) -> TxRejection {
    match error {
        DsseError::ThresholdNotMet { rejections, .. }
            if rejections.0.iter().any(|rejection| matches!(rejection, Rejection::Invalid { .. })) =>
        {
            TxRejection::new(
                "signature_invalid",
                format!(
                    "the envelope names a registered attester, but its signature does not verify ({rejections}); sign the exact payload again"
                ),
            )
        }
        DsseError::ThresholdNotMet { rejections, .. } => unregistered(&rejections.to_string()),
        other => TxRejection::new("envelope_invalid", other.to_string()),
    }
}

fn unregistered(detail: &str) -> TxRejection {
    TxRejection::new(
        "attester_unregistered",
        format!(
            "no signature is by a registered attester ({detail}); register the key through governance (vouch attester register) or sign with a registered key"
        ),
    )
}

fn statement_rejection(error: StatementError) -> TxRejection {
    match error {
        StatementError::NoSubjects { .. } => TxRejection::new(
            "subject_missing",
            format!("{error}; attest the image by its digest (subject with a sha256 digest)"),
        ),
        other => TxRejection::new("statement_invalid", format!("{other}; send an in-toto statement v1 or v0.1")),
    }
}

/// Returns the sha256 subject digests with their repository names, sorted.
fn subject_images(subjects: &[Subject]) -> Result<Vec<(Digest, Vec<String>)>, TxRejection> {
    let mut images: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for subject in subjects {
        let Some(hex) = subject.digest.get(Algorithm::Sha256.name()) else { continue };
        let digest = Digest::from_hex(Algorithm::Sha256, hex)
            .map_err(|error| TxRejection::new("statement_invalid", format!("subject {:?}: {error}", subject.name)))?;
        let names = images.entry(digest).or_default();
        if let Some(name) = repository_name(&subject.name)
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    if images.is_empty() {
        return Err(TxRejection::new(
            "subject_missing",
            "no subject has a sha256 digest; attest the image by its manifest digest (sha256:...)",
        ));
    }
    if images.len() > ATTESTATION_IMAGES_MAX {
        return Err(TxRejection::new(
            "too_many_subjects",
            format!(
                "the statement names {} image digests, over the limit of {ATTESTATION_IMAGES_MAX}; split it into several attestations",
                images.len()
            ),
        ));
    }
    Ok(images
        .into_iter()
        .map(|(digest, mut names)| {
            names.sort();
            (digest, names)
        })
        .collect())
}

/// Returns the repository name (`registry/path`, without tag or digest) of a subject
/// name, or `None` when the name is not an image reference.
pub(crate) fn repository_name(subject_name: &str) -> Option<String> {
    if subject_name.is_empty() {
        return None;
    }
    Reference::parse(subject_name).ok().map(|reference| reference.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_drop_tags_and_digests() {
        assert_eq!(repository_name("ghcr.io/acme/api:1.2").as_deref(), Some("ghcr.io/acme/api"));
        assert_eq!(repository_name("alpine").as_deref(), Some("docker.io/library/alpine"));
        let pinned = format!("registry.example.com:5000/team/app@sha256:{}", "a".repeat(64));
        assert_eq!(repository_name(&pinned).as_deref(), Some("registry.example.com:5000/team/app"));
        assert_eq!(repository_name(""), None);
        assert_eq!(repository_name("bin/Foo Bar"), None);
    }
}
