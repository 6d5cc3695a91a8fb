//! The encoding of one version's state tree nodes in the ledger log, and of the
//! sparse index that finds them.
//!
//! A version's nodes are written sorted by path, in spans of about [`SPAN_BYTES`].
//! The index contains one record per span: the path of the span's first node, where the
//! span is, and a checksum of its bytes. Finding a node is a binary search over the
//! index and one read of a span. The index costs a few bytes per span instead of per
//! node, so a whole version's index is one small entry that stays in memory.
//!
//! # Paths
//! A path is written as its nibble count (u8) and its nibbles packed two a byte, high
//! nibble first. Nodes and spans are ordered by these bytes, so by nibble count first.
//! Any fixed order serves: the search only needs the one that the writer used.
//!
//! # Span format
//! One record per node: the path, the length of the node's encoding (u32, big-endian)
//! and the encoding.
//!
//! # Index format
//! The log offset of the version's first span (u64, big-endian), then one record per
//! span: the path of its first node, its offset from the first span (u32), its length
//! (u32) and the first 8 bytes of the BLAKE3 hash of its bytes.

use jmt::storage::NibblePath;

/// The size at which a span is closed. A span contains at least one node, so a node larger
/// than this makes a span of its own.
pub(crate) const SPAN_BYTES: usize = 4096;

const CHECKSUM_BYTES: usize = 8;
const BASE_BYTES: usize = 8;

/// Encodes a path as its nibble count and packed nibbles.
pub(crate) fn path_bytes(path: &NibblePath) -> Vec<u8> {
    let count = u8::try_from(path.num_nibbles()).expect("a tree path has at most 64 nibbles");
    let nibbles: Vec<u8> = path.nibbles().map(u8::from).collect();
    let mut out = Vec::with_capacity(1 + nibbles.len().div_ceil(2));
    out.push(count);
    out.extend(nibbles.chunks(2).map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0)));
    out
}

/// Splits an encoded path off the front of `bytes`.
fn split_path(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let count = *bytes.first()?;
    let len = 1 + usize::from(count).div_ceil(2);
    (count <= 64 && bytes.len() >= len).then(|| bytes.split_at(len))
}

fn checksum(bytes: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let mut sum = [0; CHECKSUM_BYTES];
    sum.copy_from_slice(&blake3::hash(bytes).as_bytes()[..CHECKSUM_BYTES]);
    sum
}

/// One version's nodes as written to the log, and the index records of their spans
/// with offsets from the start of `bytes`.
pub(crate) struct EncodedSpans {
    pub(crate) bytes: Vec<u8>,
    index_records: Vec<u8>,
}

impl EncodedSpans {
    /// Encodes `nodes`, each an encoded path and the node's encoding, which must be
    /// sorted by path with no path twice.
    pub(crate) fn new<'a>(nodes: impl IntoIterator<Item = (Vec<u8>, &'a [u8])>) -> EncodedSpans {
        let mut spans = EncodedSpans { bytes: Vec::new(), index_records: Vec::new() };
        let mut span_start = 0;
        let mut previous: Option<Vec<u8>> = None;
        for (path, node) in nodes {
            debug_assert!(previous.as_ref().is_none_or(|before| *before < path), "nodes are sorted by path");
            if previous.is_none() || spans.bytes.len() - span_start >= SPAN_BYTES {
                spans.close_span(span_start);
                span_start = spans.bytes.len();
                spans.index_records.extend_from_slice(&path);
            }
            let len = u32::try_from(node.len()).expect("a node's encoding is smaller than 4 GiB");
            spans.bytes.extend_from_slice(&path);
            spans.bytes.extend_from_slice(&len.to_be_bytes());
            spans.bytes.extend_from_slice(node);
            previous = Some(path);
        }
        spans.close_span(span_start);
        spans
    }

    /// Completes the index record of the span that starts at `start`, if one is open.
    fn close_span(&mut self, start: usize) {
        if self.index_records.is_empty() || start == self.bytes.len() {
            return;
        }
        let offset = u32::try_from(start).expect("a version's nodes are smaller than 4 GiB");
        let len = u32::try_from(self.bytes.len() - start).expect("a span is smaller than 4 GiB");
        let sum = checksum(&self.bytes[start..]);
        self.index_records.extend_from_slice(&offset.to_be_bytes());
        self.index_records.extend_from_slice(&len.to_be_bytes());
        self.index_records.extend_from_slice(&sum);
    }

    /// Returns the index entry of these spans once they are in the log at `log_offset`.
    pub(crate) fn index(&self, log_offset: u64) -> Vec<u8> {
        let mut index = Vec::with_capacity(BASE_BYTES + self.index_records.len());
        index.extend_from_slice(&log_offset.to_be_bytes());
        index.extend_from_slice(&self.index_records);
        index
    }
}

/// The location of a span in the log, and its checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanLocation {
    pub(crate) offset: u64,
    pub(crate) len: u32,
    checksum: [u8; CHECKSUM_BYTES],
}

impl SpanLocation {
    /// Returns whether `bytes` match the span's checksum.
    pub(crate) fn matches(&self, bytes: &[u8]) -> bool {
        checksum(bytes) == self.checksum
    }
}

/// A decoded index of one version: its bytes and where each span record starts.
#[derive(Debug)]
pub(crate) struct VersionIndex {
    bytes: Vec<u8>,
    base: u64,
    records: Vec<u32>,
}

impl VersionIndex {
    /// Decodes an index entry, or returns what is wrong with it.
    pub(crate) fn decode(bytes: Vec<u8>) -> Result<VersionIndex, String> {
        let Some((base, mut rest)) = bytes.split_first_chunk::<BASE_BYTES>() else {
            return Err(format!("{} bytes, too short for the base offset", bytes.len()));
        };
        let base = u64::from_be_bytes(*base);
        let mut records = Vec::new();
        let mut previous: Option<&[u8]> = None;
        while !rest.is_empty() {
            let start = bytes.len() - rest.len();
            let Some((path, after)) = split_path(rest) else {
                return Err(format!("the span record at byte {start} has a malformed path"));
            };
            if previous.is_some_and(|before| before >= path) {
                return Err(format!("the span record at byte {start} is out of order"));
            }
            if after.len() < 8 + CHECKSUM_BYTES {
                return Err(format!("the span record at byte {start} is cut off"));
            }
            records.push(u32::try_from(start).map_err(|_| "the index is larger than 4 GiB".to_owned())?);
            previous = Some(path);
            rest = &after[8 + CHECKSUM_BYTES..];
        }
        Ok(VersionIndex { bytes, base, records })
    }

    /// Returns the bytes that this index takes in memory, for cache accounting.
    pub(crate) fn weight(&self) -> usize {
        self.bytes.len() + self.records.len() * size_of::<u32>()
    }

    /// Returns the span that contains the node with the encoded path `path` if the
    /// version has that node: the last span whose first path is not after it.
    pub(crate) fn span_for(&self, path: &[u8]) -> Result<Option<SpanLocation>, String> {
        let after = self.records.partition_point(|&start| self.record_path(start) <= path);
        let Some(&start) = after.checked_sub(1).and_then(|at| self.records.get(at)) else {
            return Ok(None);
        };
        let record = &self.bytes[start as usize..];
        let fields = &record[self.record_path(start).len()..];
        let field = |at: usize| u32::from_be_bytes(fields[at..at + 4].try_into().expect("4 bytes"));
        let offset = self.base.checked_add(u64::from(field(0))).ok_or("a span offset overflows")?;
        let mut checksum = [0; CHECKSUM_BYTES];
        checksum.copy_from_slice(&fields[8..8 + CHECKSUM_BYTES]);
        Ok(Some(SpanLocation { offset, len: field(4), checksum }))
    }

    fn record_path(&self, start: u32) -> &[u8] {
        split_path(&self.bytes[start as usize..]).expect("decode checked every record").0
    }
}

/// Finds the encoding of the node with the encoded path `path` in the bytes of a span,
/// or returns what is wrong with the span.
pub(crate) fn find_in_span<'a>(span: &'a [u8], path: &[u8]) -> Result<Option<&'a [u8]>, String> {
    let mut rest = span;
    while !rest.is_empty() {
        let at = span.len() - rest.len();
        let (record_path, after) =
            split_path(rest).ok_or_else(|| format!("the node at byte {at} has a malformed path"))?;
        let (len, after) = after.split_first_chunk::<4>().ok_or_else(|| format!("the node at byte {at} is cut off"))?;
        let len = u32::from_be_bytes(*len) as usize;
        if after.len() < len {
            return Err(format!("the node at byte {at} is cut off"));
        }
        let (node, after) = after.split_at(len);
        if record_path == path {
            return Ok(Some(node));
        }
        if record_path > path {
            break;
        }
        rest = after;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans_of(nodes: &[(Vec<u8>, Vec<u8>)]) -> EncodedSpans {
        EncodedSpans::new(nodes.iter().map(|(path, node)| (path.clone(), node.as_slice())))
    }

    /// Looks a node up through a decoded index, as the store does.
    fn lookup(spans: &EncodedSpans, log: &[u8], path: &[u8]) -> Option<Vec<u8>> {
        let index = VersionIndex::decode(spans.index(100)).unwrap();
        let span = index.span_for(path).unwrap()?;
        let start = (span.offset - 100) as usize;
        let bytes = &log[start..start + span.len as usize];
        assert!(span.matches(bytes));
        find_in_span(bytes, path).unwrap().map(<[u8]>::to_vec)
    }

    fn sorted_nodes(count: usize, node_len: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut nodes: Vec<(Vec<u8>, Vec<u8>)> = (0..count)
            .map(|i| {
                let path = vec![4, (2 * i >> 8) as u8, (2 * i) as u8];
                (path, vec![i as u8; node_len])
            })
            .collect();
        nodes.insert(0, (vec![0], b"root".to_vec()));
        nodes.insert(1, (vec![1, 0x30], b"odd".to_vec()));
        nodes.sort();
        nodes
    }

    #[test]
    fn every_node_is_found_across_many_spans() {
        let nodes = sorted_nodes(3000, 37);
        let spans = spans_of(&nodes);
        let index = VersionIndex::decode(spans.index(100)).unwrap();
        assert!(index.records.len() > 20, "{} spans", index.records.len());
        for (path, node) in &nodes {
            assert_eq!(lookup(&spans, &spans.bytes, path).as_ref(), Some(node), "path {path:?}");
        }
    }

    #[test]
    fn absent_paths_are_not_found() {
        let nodes = sorted_nodes(500, 37);
        let spans = spans_of(&nodes);
        assert_eq!(lookup(&spans, &spans.bytes, &[4, 0x01, 0x01]), None, "between two nodes");
        assert_eq!(lookup(&spans, &spans.bytes, &[5, 0, 0, 0]), None, "after the last node");
        assert_eq!(lookup(&spans, &spans.bytes, &[1, 0x20]), None, "before the first span's second node");
        let empty = spans_of(&[]);
        assert!(empty.bytes.is_empty());
        assert_eq!(VersionIndex::decode(empty.index(7)).unwrap().span_for(&[0]).unwrap(), None);
    }

    #[test]
    fn span_with_one_large_node() {
        let nodes = vec![(vec![0], vec![1; 10]), (vec![1, 0x10], vec![2; SPAN_BYTES * 2]), (vec![1, 0x20], vec![3; 5])];
        let spans = spans_of(&nodes);
        let index = VersionIndex::decode(spans.index(100)).unwrap();
        assert_eq!(index.records.len(), 2, "the root and the big node, then the last node");
        for (path, node) in &nodes {
            assert_eq!(lookup(&spans, &spans.bytes, path).as_ref(), Some(node));
        }
    }

    #[test]
    fn changed_span_bytes_fail_the_checksum() {
        let nodes = sorted_nodes(100, 20);
        let spans = spans_of(&nodes);
        let index = VersionIndex::decode(spans.index(0)).unwrap();
        let span = index.span_for(&nodes[50].0).unwrap().unwrap();
        let mut bytes = spans.bytes[span.offset as usize..][..span.len as usize].to_vec();
        assert!(span.matches(&bytes));
        bytes[10] ^= 1;
        assert!(!span.matches(&bytes));
    }

    #[test]
    fn malformed_indexes_are_errors() {
        assert!(VersionIndex::decode(vec![0; 7]).unwrap_err().contains("too short"));
        let mut cut = vec![0; 8];
        cut.extend_from_slice(&[2, 0xab, 0, 0, 0, 0]);
        assert!(VersionIndex::decode(cut).unwrap_err().contains("cut off"));
        let mut bad_path = vec![0; 8];
        bad_path.push(65);
        assert!(VersionIndex::decode(bad_path).unwrap_err().contains("malformed path"));
        let record = |path: &[u8]| [path, &[0; 16]].concat();
        let unordered = [vec![0; 8], record(&[1, 0x20]), record(&[1, 0x10])].concat();
        assert!(VersionIndex::decode(unordered).unwrap_err().contains("out of order"));
    }

    #[test]
    fn malformed_spans_are_errors() {
        assert!(find_in_span(&[2, 0xab], &[2, 0xab]).unwrap_err().contains("cut off"));
        assert!(find_in_span(&[0, 0, 0, 0, 9, 1], &[0]).unwrap_err().contains("cut off"));
        assert!(find_in_span(&[70], &[0]).unwrap_err().contains("malformed path"));
    }
}
