//! The known images: every image digest with an entry in the attestation index, read
//! in digest order a bounded number at a time.
//!
//! The index keys start with their generation, and each generation is in digest
//! order, so a walk reads the next images of every generation and merges them.

use std::collections::BTreeSet;

use vouch_protocol::digest::Digest;

use crate::store::filter::Table;
use crate::store::{Backend, LedgerStore, StoreError, layout};

/// Index keys read at a time from one generation. An image with many attestations
/// has many keys, so a walk may read several batches to find its images.
const KEYS_PER_READ: usize = 1024;

impl<B: Backend> LedgerStore<B> {
    /// Returns up to `limit` images of the attestation index that sort after `after`
    /// (all of them from the first when `after` is `None`), in digest order.
    pub fn images_after(&self, after: Option<&Digest>, limit: usize) -> Result<Vec<Digest>, StoreError> {
        let mut merged = BTreeSet::new();
        for generation in 0..self.filter.generation_count(Table::Attestations) {
            merged.extend(self.generation_images_after(generation, after, limit)?);
        }
        Ok(merged.into_iter().take(limit).collect())
    }

    /// Returns up to `limit` images of one generation after `after`, in digest order.
    fn generation_images_after(
        &self,
        generation: u32,
        after: Option<&Digest>,
        limit: usize,
    ) -> Result<Vec<Digest>, StoreError> {
        let end = layout::attestation_generation_start(generation.saturating_add(1));
        let mut start = match after {
            // Every key of `after` is its prefix and 12 bytes of position, so this is at
            // or past the last of them.
            Some(image) => [layout::attestation_prefix(generation, image), vec![0xff; 12]].concat(),
            None => layout::attestation_generation_start(generation),
        };
        let mut images: Vec<Digest> = Vec::new();
        while images.len() < limit {
            let keys = self.backend.keys_in_range(&start, &end, KEYS_PER_READ)?;
            for key in &keys {
                let image = layout::attestation_image(key).ok_or_else(|| StoreError::Corrupted {
                    reason: format!("attestation index key {} does not start with an image digest", hex::encode(key)),
                })?;
                let new = images.last() != Some(&image) && after.is_none_or(|after| &image > after);
                if new && images.len() < limit {
                    images.push(image);
                }
            }
            let Some(last) = keys.last().filter(|_| keys.len() == KEYS_PER_READ) else {
                break;
            };
            // The smallest key after `last`.
            start = [last.as_slice(), &[0]].concat();
        }
        Ok(images)
    }
}
