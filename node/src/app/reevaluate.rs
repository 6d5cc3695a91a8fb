//! Bounded re-evaluation: images whose verdicts expired, and every known image after a
//! change of bindings, policies or attesters, at most `reevaluations_per_block` per
//! block.
//!
//! # Design
//! The cursor of the re-evaluation pass (the last image done, in digest order) is a
//! parameter of the authenticated state. The set of known images (every image of the
//! ledger store's attestation index) and the expiry schedule (each image's earliest
//! verdict expiry) are derived from the committed blocks and state, so every node
//! has the same ones and picks the same images. Blocks store the schedule's changes
//! with the ledger, and a node reads the stored schedule when it opens.
//!
//! # Invariants
//! - Each block evaluates at most `reevaluations_per_block` images for expiry and the
//!   pass together; expired verdicts go first, earliest expiry first.
//! - A change while a pass runs restarts the pass from the first image, so every image
//!   sees the newest change.

use std::collections::{BTreeMap, BTreeSet};

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

/// The verdict expiries of the known images, as of the committed height. The known
/// images themselves are read from the ledger store's attestation index when a pass
/// needs them, so memory does not grow with every image ever attested.
// NOTE: images whose verdicts expire stay in memory, about 260 bytes each, so a chain
// whose policies set an expiry on every verdict grows this with its images.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schedule {
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
    /// Returns the number of images with a verdict that expires.
    pub(crate) fn expiring_count(&self) -> usize {
        self.expiry_of.len()
    }

    /// Records an image's new verdicts.
    pub(crate) fn record(&mut self, image: &Digest, expiry: Option<i64>) {
        if let Some(previous) = self.expiry_of.remove(image) {
            self.expiries.remove(&(previous, image.clone()));
        }
        if let Some(expiry) = expiry {
            self.expiry_of.insert(image.clone(), expiry);
            self.expiries.insert((expiry, image.clone()));
        }
    }

    /// Returns the images of `records` whose earliest expiry differs from the recorded
    /// one, with the new expiry: the changes a block stores.
    pub(crate) fn changes(&self, records: &[(Digest, Option<i64>)]) -> Vec<(Digest, Option<i64>)> {
        let changed = records.iter().filter(|(image, expiry)| self.expiry_of.get(image).copied() != *expiry);
        changed.cloned().collect()
    }

    /// Returns every image with an expiring verdict and its earliest expiry.
    pub(crate) fn entries(&self) -> Vec<(Digest, i64)> {
        self.expiry_of.iter().map(|(image, expiry)| (image.clone(), *expiry)).collect()
    }

    /// Picks the images a block at `time_ms` evaluates again beyond `touched`.
    /// `known_after(after, limit)` returns up to `limit` known images after `after` in
    /// digest order, from the first one when `after` is `None`.
    pub(crate) fn select<E>(
        &self,
        cursor: &ReevaluationCursor,
        touched: &BTreeSet<Digest>,
        time_ms: i64,
        budget: usize,
        mut known_after: impl FnMut(Option<&Digest>, usize) -> Result<Vec<Digest>, E>,
    ) -> Result<Selection, E> {
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
            let mut finished = true;
            'walk: loop {
                // Touched and already chosen images take no room, so a read may not
                // fill the budget; the walk then reads on.
                let batch = known_after(cursor.after.as_ref(), budget.max(PASS_READ_MIN))?;
                if batch.is_empty() {
                    break;
                }
                for image in batch {
                    if images.len() == budget {
                        finished = false;
                        break 'walk;
                    }
                    if !touched.contains(&image) {
                        images.insert(image.clone());
                    }
                    cursor.after = Some(image);
                }
            }
            if finished {
                cursor = ReevaluationCursor::default();
            }
        }
        Ok(Selection { images, cursor })
    }
}

/// Known images read at least at a time by a pass.
const PASS_READ_MIN: usize = 64;

/// Returns the earliest expiry of an image record's verdicts.
pub(crate) fn expiry(record: &ImageRecord) -> Option<i64> {
    crate::app::evaluate::earliest_expiry(record)
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use super::*;

    fn image(n: u8) -> Digest {
        Digest::sha256(&[n])
    }

    /// Lists the images of `all` as the ledger store's walk does, a few at a time.
    fn known(all: &BTreeSet<Digest>) -> impl FnMut(Option<&Digest>, usize) -> Result<Vec<Digest>, ()> + '_ {
        |after, limit| {
            let start = after.map_or(Bound::Unbounded, |after| Bound::Excluded(after.clone()));
            Ok(all.range((start, Bound::Unbounded)).take(limit.min(3)).cloned().collect())
        }
    }

    #[test]
    fn pass_skips_touched_images_without_spending_the_budget() {
        let all: BTreeSet<Digest> = (0..40).map(image).collect();
        let touched: BTreeSet<Digest> = all.iter().take(10).cloned().collect();
        let start = ReevaluationCursor { active: true, after: None };
        let selection = Schedule::default().select(&start, &touched, 0, 5, known(&all)).unwrap();
        let expected: BTreeSet<Digest> = all.iter().skip(10).take(5).cloned().collect();
        assert_eq!(selection.images, expected);
        assert_eq!(selection.cursor.after.as_ref(), expected.last());
        assert!(selection.cursor.active);
    }

    #[test]
    fn pass_with_no_known_images_finishes() {
        let start = ReevaluationCursor { active: true, after: None };
        let selection = Schedule::default().select(&start, &BTreeSet::new(), 0, 0, known(&BTreeSet::new())).unwrap();
        assert!(selection.images.is_empty());
        assert_eq!(selection.cursor, ReevaluationCursor::default());
    }

    #[test]
    fn pass_error_is_returned() {
        let start = ReevaluationCursor { active: true, after: None };
        let failing = |_: Option<&Digest>, _: usize| Err::<Vec<Digest>, &str>("index unreadable");
        assert_eq!(
            Schedule::default().select(&start, &BTreeSet::new(), 0, 3, failing).unwrap_err(),
            "index unreadable"
        );
    }

    #[test]
    fn pass_is_bounded_and_resumes_after_the_cursor() {
        let all: BTreeSet<Digest> = (0..5).map(image).collect();
        let schedule = Schedule::default();
        let start = ReevaluationCursor { active: true, after: None };
        let first = schedule.select(&start, &BTreeSet::new(), 0, 2, known(&all)).unwrap();
        assert_eq!(first.images.len(), 2);
        assert!(first.cursor.active);
        let second = schedule.select(&first.cursor, &BTreeSet::new(), 0, 2, known(&all)).unwrap();
        assert_eq!(second.images.len(), 2);
        assert!(first.images.is_disjoint(&second.images));
        let third = schedule.select(&second.cursor, &BTreeSet::new(), 0, 2, known(&all)).unwrap();
        assert_eq!(third.images.len(), 1);
        assert_eq!(third.cursor, ReevaluationCursor::default());
        let seen: BTreeSet<Digest> = first.images.into_iter().chain(second.images).chain(third.images).collect();
        assert_eq!(seen, all);
    }

    #[test]
    fn expired_verdicts_go_first_within_the_budget() {
        let all: BTreeSet<Digest> = (0..4).map(image).collect();
        let mut schedule = Schedule::default();
        schedule.record(&image(1), Some(50));
        schedule.record(&image(2), Some(10));
        schedule.record(&image(3), Some(500));
        let cursor = ReevaluationCursor { active: true, after: None };
        let selection = schedule.select(&cursor, &BTreeSet::new(), 100, 3, known(&all)).unwrap();
        assert!(selection.images.contains(&image(1)));
        assert!(selection.images.contains(&image(2)));
        assert!(!selection.images.contains(&image(3)) || selection.images.len() == 3);
        assert_eq!(selection.images.len(), 3);
        schedule.record(&image(2), None);
        let later = schedule.select(&ReevaluationCursor::default(), &BTreeSet::new(), 100, 3, known(&all)).unwrap();
        assert_eq!(later.images, BTreeSet::from([image(1)]));
    }
}
