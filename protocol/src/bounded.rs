//! A JSON array field that stops deserializing past a maximum count.
//!
//! The error is raised while the array is read, so serde_path_to_error names the field
//! and the byte offset of the first element over the limit, and no memory is spent on it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

/// Deserializes a sequence of at most `MAX` elements, naming `what` in the error.
pub(crate) fn deserialize_bounded<'de, D, T, const MAX: usize>(
    deserializer: D,
    what: &'static str,
) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_seq(BoundedVisitor::<T, MAX> { what, element: PhantomData })
}

struct BoundedVisitor<T, const MAX: usize> {
    what: &'static str,
    element: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {MAX} {}", self.what)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            if items.len() == MAX {
                return Err(serde::de::Error::custom(format!(
                    "more than {MAX} {}, which is the maximum Vouch accepts",
                    self.what
                )));
            }
            items.push(item);
        }
        Ok(items)
    }
}
