//! A state tree kept in memory, for tests and for recomputing a root from scratch.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use jmt::KeyHash;
use jmt::storage::{Node, NodeKey};

use crate::state::{TreeSource, TreeWrites};

/// Tree nodes and values in memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    nodes: HashMap<NodeKey, Node>,
    values: BTreeMap<(KeyHash, u64), Option<Vec<u8>>>,
}

impl MemoryTree {
    /// Creates an empty tree store.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Stores the nodes and values of one version.
    pub fn write(&mut self, writes: &TreeWrites) {
        for (key, node) in writes.nodes() {
            self.nodes.insert(key.clone(), node.clone());
        }
        for ((version, key_hash), value) in writes.values() {
            self.values.insert((*key_hash, *version), value.clone());
        }
    }

    /// Returns the number of stored nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

impl TreeSource for MemoryTree {
    type Error = Infallible;

    fn tree_node(&self, key: &NodeKey) -> Result<Option<Node>, Infallible> {
        Ok(self.nodes.get(key).cloned())
    }

    fn tree_value(&self, max_version: u64, key_hash: KeyHash) -> Result<Option<Vec<u8>>, Infallible> {
        let newest = self.values.range((key_hash, 0)..=(key_hash, max_version)).next_back();
        Ok(newest.and_then(|(_, value)| value.clone()))
    }
}
