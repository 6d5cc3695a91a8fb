//! Where the tree's nodes and values are read from, and the writes that one version
//! produces.

use jmt::KeyHash;
use jmt::storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader, TreeUpdateBatch};
use vouch_protocol::state::{StateHasher, StateRoot};

/// Read access to stored tree nodes and values.
pub trait TreeSource {
    /// The error of the underlying storage.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Returns the node stored under `key`, if any.
    fn tree_node(&self, key: &NodeKey) -> Result<Option<Node>, Self::Error>;

    /// Returns the newest value of `key_hash` written at a version at most
    /// `max_version`; `None` if there is none or the newest is a deletion.
    fn tree_value(&self, max_version: u64, key_hash: KeyHash) -> Result<Option<Vec<u8>>, Self::Error>;

    /// Returns whether the tree has a root at `version`, or `None` (the default) when
    /// the source cannot tell without reading the root node.
    fn has_version(&self, _version: u64) -> Option<bool> {
        None
    }
}

/// The nodes and values that one tree version adds, to be stored with its block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeWrites {
    batch: NodeBatch,
}

impl TreeWrites {
    pub(crate) fn new(update: TreeUpdateBatch) -> TreeWrites {
        TreeWrites { batch: update.node_batch }
    }

    /// Returns the new nodes by node key.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeKey, &Node)> {
        self.batch.nodes().iter()
    }

    /// Returns the new node under `key`, if these writes add one.
    pub fn node(&self, key: &NodeKey) -> Option<&Node> {
        self.batch.nodes().get(key)
    }

    /// Returns the new values by (version, key hash); `None` records a deletion.
    pub fn values(&self) -> impl Iterator<Item = (&(u64, KeyHash), &Option<Vec<u8>>)> {
        self.batch.values().iter()
    }

    /// Returns the hash of the root node that these writes add at `version`, if they
    /// add one.
    pub fn root_at(&self, version: u64) -> Option<StateRoot> {
        let (_, root) = self.nodes().find(|(key, _)| key.version() == version && key.nibble_path().is_empty())?;
        Some(StateRoot(node_hash(root)))
    }
}

/// Computes the hash of a stored node, as its parent and the root record it.
pub fn node_hash(node: &Node) -> [u8; 32] {
    match node {
        Node::Null => StateRoot::EMPTY.0,
        Node::Internal(internal) => internal.hash::<StateHasher>(),
        Node::Leaf(leaf) => LeafNode::hash::<StateHasher>(leaf),
    }
}

/// Adapts a [`TreeSource`] to the reader trait of `jmt`.
pub(crate) struct Reader<'a, S> {
    source: &'a S,
}

impl<'a, S> Reader<'a, S> {
    pub(crate) fn new(source: &'a S) -> Reader<'a, S> {
        Reader { source }
    }
}

impl<S: TreeSource> TreeReader for Reader<'_, S> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.source.tree_node(node_key)?)
    }

    fn get_value_option(&self, max_version: u64, key_hash: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.source.tree_value(max_version, key_hash)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // jmt calls this only to restore a tree from a snapshot, which Vouch does not do.
        anyhow::bail!("restoring the state tree from a snapshot is not supported")
    }
}
