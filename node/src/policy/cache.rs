//! A bounded cache of compiled policies keyed by code hash, evicting the least
//! recently used.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use super::CompiledPolicy;
use super::verdict::CodeHash;

/// Compiled policies with their last use, at most `capacity` of them.
pub(crate) struct ModuleCache {
    capacity: NonZeroUsize,
    entries: HashMap<CodeHash, (Arc<CompiledPolicy>, u64)>,
    clock: u64,
}

impl ModuleCache {
    pub(crate) fn new(capacity: NonZeroUsize) -> ModuleCache {
        ModuleCache { capacity, entries: HashMap::new(), clock: 0 }
    }

    /// Returns the policy and marks it used.
    pub(crate) fn get(&mut self, code_hash: &CodeHash) -> Option<Arc<CompiledPolicy>> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(code_hash).map(|(policy, last_used)| {
            *last_used = clock;
            Arc::clone(policy)
        })
    }

    /// Adds a policy, evicting the least recently used one when full.
    pub(crate) fn insert(&mut self, policy: Arc<CompiledPolicy>) {
        self.clock += 1;
        if !self.entries.contains_key(&policy.code_hash) && self.entries.len() == self.capacity.get() {
            let oldest = self.entries.iter().min_by_key(|(_, (_, last_used))| *last_used).map(|(hash, _)| *hash);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(policy.code_hash, (policy, self.clock));
        assert!(self.entries.len() <= self.capacity.get(), "the cache never holds more than its capacity");
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
