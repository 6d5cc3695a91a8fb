//! Bounded re-evaluation: images whose verdicts expired, and every known image after a
//! change of bindings, policies or attesters, at most `reevaluations_per_block` per
//! block.
//!
//! # Design
//! The cursor of the re-evaluation pass (the last image done, in digest order) is a
//! parameter of the authenticated state. The set of known images (every image of the
//! ledger store's attestation index) and the expiry schedule (each image's earliest
//! verdict expiry) are derived from the committed blocks and state, so every node
//! holds the same ones and picks the same images. A node rebuilds them when it opens.
//!
//! # Invariants
//! - Each block evaluates at most `reevaluations_per_block` images for expiry and the
//!   pass together; expired verdicts go first, earliest expiry first.
//! - A change while a pass runs restarts the pass from the first image, so every image
//!   sees the newest change.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use vouch_protocol::digest::Digest;
use vouch_protocol::ledger::ImageRecord;

/// Where the pass over every known image stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReevaluationCursor {
    /// Whether a pass is running.
    pub(crate) active: bool,
    /// The last image evaluated by the pass; the next block starts after it.
    pub(crate) after: Option<Digest>,
}

/// The known images and their verdict expiries, as of the committed height.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schedule {
    // NOTE: every known image stays in memory, about 130 bytes each (an estimate:
    // 31 MB for 240,000 images), so a node's memory grows with the images it has
    // seen. Walking the attestation index in digest order would bound it.
    images: BTreeSet<Digest>,
    expiries: BTreeSet<(i64, Digest)>,
    expiry_of: BTreeMap<Digest, i64>,
}

/// The images one block evaluates again, and the cursor after it.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    /// Images to evaluate, besides those the block's transactions touch.
    pub(crate) images: BTreeSet<Digest>,
    /// The cursor to store after this block.
    pub(crate) cursor: ReevaluationCursor,
}

impl Schedule {
    /// Builds the schedule from the known images and their records.
    pub(crate) fn new(images: BTreeSet<Digest>) -> Schedule {
        Schedule { images, ..Schedule::default() }
    }

    /// Returns the number of known images.
    pub(crate) fn image_count(&self) -> usize {
        self.images.len()
    }

    /// Records an image's new verdicts.
    pub(crate) fn record(&mut self, image: &Digest, expiry: Option<i64>) {
        self.images.insert(image.clone());
        if let Some(previous) = self.expiry_of.remove(image) {
            self.expiries.remove(&(previous, image.clone()));
        }
        if let Some(expiry) = expiry {
            self.expiry_of.insert(image.clone(), expiry);
            self.expiries.insert((expiry, image.clone()));
        }
    }

    /// Picks the images a block at `time_ms` evaluates again beyond `touched`.
    pub(crate) fn select(
        &self,
        cursor: &ReevaluationCursor,
        touched: &BTreeSet<Digest>,
        time_ms: i64,
        budget: usize,
    ) -> Selection {
        let mut images = BTreeSet::new();
        for (expiry, image) in &self.expiries {
            if *expiry > time_ms || images.len() == budget {
                break;
            }
            if !touched.contains(image) {
                images.insert(image.clone());
            }
        }

        let mut cursor = cursor.clone();
        if cursor.active {
            let start = match &cursor.after {
                Some(after) => Bound::Excluded(after.clone()),
                None => Bound::Unbounded,
            };
            let mut finished = true;
            for image in self.images.range((start, Bound::Unbounded)) {
                if images.len() == budget {
                    finished = false;
                    break;
                }
                cursor.after = Some(image.clone());
                if !touched.contains(image) {
                    images.insert(image.clone());
                }
            }
            if finished {
                cursor = ReevaluationCursor::default();
            }
        }
        Selection { images, cursor }
    }
}

/// Returns the earliest expiry of an image record's verdicts.
pub(crate) fn expiry(record: &ImageRecord) -> Option<i64> {
    crate::app::evaluate::earliest_expiry(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: u8) -> Digest {
        Digest::sha256(&[n])
    }

    #[test]
    fn pass_is_bounded_and_resumes_after_the_cursor() {
        let all: BTreeSet<Digest> = (0..5).map(image).collect();
        let schedule = Schedule::new(all.clone());
        let start = ReevaluationCursor { active: true, after: None };
        let first = schedule.select(&start, &BTreeSet::new(), 0, 2);
        assert_eq!(first.images.len(), 2);
        assert!(first.cursor.active);
        let second = schedule.select(&first.cursor, &BTreeSet::new(), 0, 2);
        assert_eq!(second.images.len(), 2);
        assert!(first.images.is_disjoint(&second.images));
        let third = schedule.select(&second.cursor, &BTreeSet::new(), 0, 2);
        assert_eq!(third.images.len(), 1);
        assert_eq!(third.cursor, ReevaluationCursor::default());
        let seen: BTreeSet<Digest> = first.images.into_iter().chain(second.images).chain(third.images).collect();
        assert_eq!(seen, all);
    }

    #[test]
    fn expired_verdicts_go_first_within_the_budget() {
        let mut schedule = Schedule::new((0..4).map(image).collect());
        schedule.record(&image(1), Some(50));
        schedule.record(&image(2), Some(10));
        schedule.record(&image(3), Some(500));
        let cursor = ReevaluationCursor { active: true, after: None };
        let selection = schedule.select(&cursor, &BTreeSet::new(), 100, 3);
        assert!(selection.images.contains(&image(1)));
        assert!(selection.images.contains(&image(2)));
        assert!(!selection.images.contains(&image(3)) || selection.images.len() == 3);
        assert_eq!(selection.images.len(), 3);
        schedule.record(&image(2), None);
        let later = schedule.select(&ReevaluationCursor::default(), &BTreeSet::new(), 100, 3);
        assert_eq!(later.images, BTreeSet::from([image(1)]));
    }
}
