//! Blocks, their transactions, and the Merkle root over the transactions.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chain::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX, ChainError, Header, TxHash, check_size, hash_with_context};
use crate::encoding;

/// The BLAKE3 context string for transaction hashes.
const TX_HASH_CONTEXT: &str = "vouch/v1 transaction";

/// The BLAKE3 context string for the nodes of the transactions Merkle tree.
const TXS_ROOT_CONTEXT: &str = "vouch/v1 transactions root";

/// One transaction as the canonical bytes that its sender signed; the block format does
/// not look inside.
///
/// The bytes are shared: a clone is a reference count, not a copy, so the mempool, the
/// proposal, the block and the store's write hold one buffer. The hash is computed on
/// first use and kept, because a transaction's hash is asked for at every step from
/// submission to storage.
#[derive(Clone)]
pub struct Transaction(Arc<Shared>);

struct Shared {
    bytes: Vec<u8>,
    hash: OnceLock<TxHash>,
}

impl Transaction {
    /// Wraps the canonical bytes of a transaction.
    pub fn new(bytes: Vec<u8>) -> Transaction {
        Transaction(Arc::new(Shared { bytes, hash: OnceLock::new() }))
    }

    /// Returns the transaction's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Returns the size of the transaction in bytes.
    pub fn len(&self) -> usize {
        self.0.bytes.len()
    }

    /// Returns whether the transaction has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.bytes.is_empty()
    }

    /// Returns the transaction's hash, under which the ledger stores it.
    pub fn hash(&self) -> TxHash {
        *self.0.hash.get_or_init(|| TxHash(hash_with_context(TX_HASH_CONTEXT, &self.0.bytes)))
    }
}

impl PartialEq for Transaction {
    fn eq(&self, other: &Transaction) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Transaction {}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transaction({} bytes, {})", self.len(), self.hash())
    }
}

// Bytes go through serialize_bytes, which bincode writes as a u64 length and the raw
// bytes: the same encoding as a Vec<u8>, written in one copy instead of byte by byte.
impl Serialize for Transaction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.bytes())
    }
}

impl<'de> Deserialize<'de> for Transaction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Transaction, D::Error> {
        deserializer.deserialize_byte_buf(TransactionVisitor)
    }
}

struct TransactionVisitor;

impl<'de> serde::de::Visitor<'de> for TransactionVisitor {
    type Value = Transaction;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("transaction bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Transaction, E> {
        Ok(Transaction::new(bytes.to_vec()))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Transaction, E> {
        Ok(Transaction::new(bytes))
    }
}

/// A header and the ordered transactions that it commits to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header, whose hash is the block's hash.
    pub header: Header,
    /// The transactions in execution order.
    pub txs: Vec<Transaction>,
}

impl Block {
    /// Encodes the block canonically.
    pub fn to_bytes(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a block and checks its size, transaction count, header rules and
    /// transactions root.
    pub fn from_bytes(bytes: &[u8]) -> Result<Block, ChainError> {
        check_size("block", bytes.len(), BLOCK_BYTES_MAX)?;
        let block: Block = encoding::decode(bytes)?;
        block.validate()?;
        Ok(block)
    }

    /// Checks the rules that a block obeys on its own: the limits, the header rules and
    /// that `txs_root` matches the transactions.
    pub fn validate(&self) -> Result<(), ChainError> {
        if self.txs.len() > BLOCK_TXS_MAX {
            return Err(ChainError::TooMany { what: "block transactions", count: self.txs.len(), max: BLOCK_TXS_MAX });
        }
        check_size("block", self.encoded_len(), BLOCK_BYTES_MAX)?;
        self.header.validate()?;

        let computed = txs_root(&self.txs);
        if computed != self.header.txs_root {
            return Err(ChainError::TxsRootMismatch {
                height: self.header.height,
                in_header: hex::encode(self.header.txs_root),
                computed: hex::encode(computed),
            });
        }
        Ok(())
    }

    /// Returns the size of the block's encoding without building it.
    pub fn encoded_len(&self) -> usize {
        // The header, the u64 transaction count, and per transaction a u64 length and its bytes.
        let txs: usize = self.txs.iter().map(|tx| 8 + tx.len()).sum();
        self.header.to_bytes().len() + 8 + txs
    }
}

/// Computes the Merkle root over the transactions' hashes, in block order.
///
/// The tree has the shape of RFC 6962 (Certificate Transparency): a leaf is
/// `H(0x00 || tx hash)`, an inner node is `H(0x01 || left || right)`, the left subtree
/// holds the largest power of two of leaves smaller than the total, and no transactions
/// hash to `H("")`. `H` is BLAKE3 under the context `vouch/v1 transactions root`.
pub fn txs_root(txs: &[Transaction]) -> [u8; 32] {
    let leaves: Vec<[u8; 32]> = txs.iter().map(|tx| leaf_hash(&tx.hash())).collect();
    if leaves.is_empty() {
        return hash_with_context(TXS_ROOT_CONTEXT, &[]);
    }
    subtree_root(&leaves)
}

fn leaf_hash(tx_hash: &TxHash) -> [u8; 32] {
    let mut bytes = [0u8; 33];
    bytes[1..].copy_from_slice(&tx_hash.0);
    hash_with_context(TXS_ROOT_CONTEXT, &bytes)
}

fn subtree_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    if let [leaf] = leaves {
        return *leaf;
    }
    // The largest power of two below the leaf count is the highest set bit of count - 1.
    let split = 1 << (usize::BITS - 1 - (leaves.len() - 1).leading_zeros());
    let (left, right) = leaves.split_at(split);

    let mut bytes = [0u8; 65];
    bytes[0] = 1;
    bytes[1..33].copy_from_slice(&subtree_root(left));
    bytes[33..].copy_from_slice(&subtree_root(right));
    hash_with_context(TXS_ROOT_CONTEXT, &bytes)
}
