//! The stored verdict expiries: each image whose verdicts expire, with the earliest
//! expiry. Blocks keep them current, so a node rebuilds its expiry schedule from
//! this table instead of reading every image's verdict when it opens.

use vouch_protocol::digest::Digest;
use vouch_protocol::encoding;

use crate::store::{Backend, LedgerStore, StoreError, WriteBatch, layout};

impl<B: Backend> LedgerStore<B> {
    /// Returns every image with an expiring verdict and its earliest expiry, or `None`
    /// when the store predates the table and it was not built yet.
    pub fn expiries(&self) -> Result<Option<Vec<(Digest, i64)>>, StoreError> {
        if self.backend.get(layout::EXPIRY_INDEX_KEY)?.is_none() {
            return Ok(None);
        }
        let mut expiries = Vec::new();
        for (key, value) in self.backend.scan_prefix(&layout::expiry_prefix(), usize::MAX)? {
            let invalid = |reason: &str| StoreError::Corrupted {
                reason: format!("the expiry record {}: {reason}", hex::encode(&key)),
            };
            let image: Digest = encoding::decode(&key[1..]).map_err(|_| invalid("the key is not an image digest"))?;
            match <[u8; 8]>::try_from(value.as_slice()) {
                Ok(bytes) => expiries.push((image, i64::from_be_bytes(bytes))),
                Err(_) if value.is_empty() => {}
                Err(_) => return Err(invalid(&format!("the value is {} bytes, not 0 or 8", value.len()))),
            }
        }
        Ok(Some(expiries))
    }

    /// Builds the table of a store that predates it from `expiries`, found by reading
    /// every verdict, and records that it is complete, in one batch.
    pub fn build_expiries(&self, expiries: &[(Digest, i64)]) -> Result<(), StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.is_poisoned() {
            return Err(StoreError::Poisoned);
        }
        let mut batch = WriteBatch::new();
        for (image, expiry) in expiries {
            batch.put(layout::expiry_key(image), layout::encode_expiry(Some(*expiry)));
        }
        batch.put(layout::EXPIRY_INDEX_KEY.to_vec(), Vec::new());
        self.backend.apply(batch)?;
        self.backend.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateChanges;
    use crate::store::MemoryBackend;
    use crate::synthetic::SyntheticChain;

    fn image(n: u8) -> Digest {
        Digest::sha256(&[n])
    }

    /// Commits a block that changes the expiries of `changes`.
    fn commit(store: &LedgerStore<MemoryBackend>, chain: &SyntheticChain, changes: Vec<(Digest, Option<i64>)>) {
        let mut write = chain.block_write(store, Vec::new(), &StateChanges::new(), Vec::new()).unwrap();
        write.expiries = changes;
        store.commit_block(write).unwrap();
    }

    #[test]
    fn blocks_set_and_clear_expiries() {
        let store = LedgerStore::open(MemoryBackend::new()).unwrap();
        let chain = SyntheticChain::new(1);
        chain.init(&store).unwrap();
        assert_eq!(store.expiries().unwrap(), Some(vec![]), "a new store keeps the table from genesis");

        commit(&store, &chain, vec![(image(1), Some(50)), (image(2), Some(-7))]);
        let mut expected = vec![(image(1), 50), (image(2), -7)];
        expected.sort();
        let mut stored = store.expiries().unwrap().unwrap();
        stored.sort();
        assert_eq!(stored, expected);

        commit(&store, &chain, vec![(image(1), None), (image(2), Some(90))]);
        assert_eq!(store.expiries().unwrap(), Some(vec![(image(2), 90)]));
    }

    #[test]
    fn damaged_expiry_is_corruption() {
        let backend = MemoryBackend::new();
        let store = LedgerStore::open(backend.clone()).unwrap();
        SyntheticChain::new(1).init(&store).unwrap();
        backend.corrupt(&layout::expiry_key(&image(3)), Some(vec![1, 2, 3]));
        let error = store.expiries().unwrap_err().to_string();
        assert!(error.contains("the value is 3 bytes, not 0 or 8"), "{error}");

        backend.corrupt(&[b'x', 0xff], Some(Vec::new()));
        backend.corrupt(&layout::expiry_key(&image(3)), None);
        let error = store.expiries().unwrap_err().to_string();
        assert!(error.contains("the key is not an image digest"), "{error}");
    }

    #[test]
    fn built_table_is_read_back() {
        let backend = MemoryBackend::new();
        let store = LedgerStore::open(backend.clone()).unwrap();
        SyntheticChain::new(1).init(&store).unwrap();
        backend.corrupt(layout::EXPIRY_INDEX_KEY, None);
        assert_eq!(store.expiries().unwrap(), None, "a store from before the table");
        store.build_expiries(&[(image(4), 12)]).unwrap();
        assert_eq!(store.expiries().unwrap(), Some(vec![(image(4), 12)]));
    }
}
