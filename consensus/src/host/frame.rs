//! Record framing for append-only files: length-prefixed, checksummed records, and a
//! scan that separates a torn tail from damage before it.
//!
//! # Layout of one frame
//! ```text
//! u32 LE  payload length
//! u32 LE  CRC-32 (IEEE) of the payload
//! u32 LE  CRC-32 (IEEE) of the 8 bytes above
//! payload
//! ```
//! The header has its own checksum, so a damaged length is never trusted to skip bytes.
//!
//! # Torn tail or damage
//! A crash during an append can leave the last frame short, or with bytes that do not
//! match its checksums. The scan cuts such a frame when it is the last one: its header
//! or payload runs past the end of the file, or no valid frame starts anywhere after
//! it. A bad frame followed by a valid one is damage that a crash cannot cause, and the
//! scan reports it.

/// Bytes of a frame header.
pub const FRAME_HEADER_BYTES: usize = 12;

/// A frame that the scan rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFrame {
    /// The byte offset where the bad frame starts.
    pub offset: u64,
    /// The check that failed, in words.
    pub reason: String,
}

/// The result of scanning a file of frames.
#[derive(Debug)]
pub struct Scan<'a> {
    /// The valid frames' payloads with the offsets of their frames, in file order.
    pub payloads: Vec<(u64, &'a [u8])>,
    /// The length of the valid prefix: where the next frame goes.
    pub valid_len: u64,
    /// The torn last frame that the valid prefix leaves out, if any.
    pub torn: Option<BadFrame>,
}

/// Damage before the tail: a bad frame with a valid frame after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The bad frame.
    pub frame: BadFrame,
    /// The offset of a valid frame after it.
    pub next_valid_offset: u64,
}

/// Returns the frame of `payload`. The caller keeps payloads under `u32::MAX` bytes.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
    frame.resize(FRAME_HEADER_BYTES, 0);
    frame.extend_from_slice(payload);
    seal_frame(&mut frame);
    frame
}

/// Fills the header of `frame`, whose payload follows [`FRAME_HEADER_BYTES`] bytes
/// reserved for it, so that a large payload is framed where it was encoded. The
/// caller keeps payloads under `u32::MAX` bytes.
pub fn seal_frame(frame: &mut [u8]) {
    let (header, payload) = frame.split_at_mut(FRAME_HEADER_BYTES);
    let len = u32::try_from(payload.len()).expect("record payloads are bounded far below 4 GiB");
    header[..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    let header_check = crc32fast::hash(&header[..8]);
    header[8..].copy_from_slice(&header_check.to_le_bytes());
}

/// Scans `bytes` as frames whose payloads are at most `payload_bytes_max` long.
pub fn scan(bytes: &[u8], payload_bytes_max: usize) -> Result<Scan<'_>, Damage> {
    let mut payloads = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        match read_frame(bytes, offset, payload_bytes_max) {
            Ok(payload) => {
                payloads.push((offset as u64, payload));
                offset += FRAME_HEADER_BYTES + payload.len();
            }
            Err(frame) => {
                check_tail(bytes, frame.clone(), payload_bytes_max)?;
                return Ok(Scan { payloads, valid_len: offset as u64, torn: Some(frame) });
            }
        }
    }
    Ok(Scan { payloads, valid_len: offset as u64, torn: None })
}

/// Returns the payload of the frame at `offset`, or why it is not a valid frame.
fn read_frame(bytes: &[u8], offset: usize, payload_bytes_max: usize) -> Result<&[u8], BadFrame> {
    let bad = |reason: String| BadFrame { offset: offset as u64, reason };
    let rest = &bytes[offset..];
    if rest.len() < FRAME_HEADER_BYTES {
        return Err(bad(format!("the file ends {} bytes into a {FRAME_HEADER_BYTES}-byte frame header", rest.len())));
    }
    let word = |at: usize| u32::from_le_bytes(rest[at..at + 4].try_into().expect("4 bytes"));
    if crc32fast::hash(&rest[..8]) != word(8) {
        return Err(bad("the frame header does not match its checksum".to_owned()));
    }

    let len = word(0) as usize;
    if len > payload_bytes_max {
        return Err(bad(format!(
            "the frame header gives a payload of {len} bytes, over the limit of {payload_bytes_max}"
        )));
    }
    let available = rest.len() - FRAME_HEADER_BYTES;
    if available < len {
        return Err(bad(format!("the file ends {available} bytes into a {len}-byte payload")));
    }
    let payload = &rest[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + len];
    if crc32fast::hash(payload) != word(4) {
        return Err(bad(format!("the {len}-byte payload does not match its checksum")));
    }
    Ok(payload)
}

/// Accepts `frame` as a torn tail unless a valid frame starts after it.
///
/// When the bad frame's header is valid, the search starts after its payload, so bytes
/// inside a payload (which peers may choose) are never taken for a frame.
// NOTE: when the header itself is damaged the search starts at the next byte, so a torn
// header followed by payload bytes that happen to form a valid frame is reported as
// damage. Proposals carry peer-chosen bytes, so a peer could craft such a payload; the
// node then reports damage at start instead of cutting the tail.
fn check_tail(bytes: &[u8], frame: BadFrame, payload_bytes_max: usize) -> Result<(), Damage> {
    let offset = frame.offset as usize;
    let search_from = match valid_header_len(&bytes[offset..]) {
        Some(len) => offset.saturating_add(FRAME_HEADER_BYTES).saturating_add(len),
        None => offset + 1,
    };
    let next = (search_from..bytes.len()).find(|&start| read_frame(bytes, start, payload_bytes_max).is_ok());
    match next {
        Some(next) => Err(Damage { frame, next_valid_offset: next as u64 }),
        None => Ok(()),
    }
}

/// Returns the payload length of a complete header with a valid checksum.
fn valid_header_len(rest: &[u8]) -> Option<usize> {
    let header = rest.get(..FRAME_HEADER_BYTES)?;
    let word = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    (crc32fast::hash(&header[..8]) == word(8)).then(|| word(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        payloads.iter().flat_map(|payload| encode_frame(payload)).collect()
    }

    #[test]
    fn sealed_frame_equals_encoded_frame() {
        for payload in [&b""[..], b"x", b"a longer payload of some bytes"] {
            let mut sealed = vec![0xff; FRAME_HEADER_BYTES];
            sealed.extend_from_slice(payload);
            seal_frame(&mut sealed);
            assert_eq!(sealed, encode_frame(payload));
            let scanned = scan(&sealed, 64).unwrap();
            assert_eq!(scanned.payloads, vec![(0, payload)]);
        }
    }

    #[test]
    fn scan_returns_every_payload() {
        let bytes = file(&[b"first", b"", b"third"]);
        let scan = scan(&bytes, 64).unwrap();
        let payloads: Vec<&[u8]> = scan.payloads.iter().map(|(_, payload)| *payload).collect();
        assert_eq!(payloads, vec![&b"first"[..], b"", b"third"]);
        assert_eq!(scan.payloads[1].0, 17);
        assert_eq!(scan.valid_len, bytes.len() as u64);
        assert_eq!(scan.torn, None);
    }

    #[test]
    fn scan_cuts_tail_at_every_length() {
        let whole = file(&[b"first", b"second record"]);
        let last = 17;
        for len in last..whole.len() {
            let scan = scan(&whole[..len], 64).unwrap();
            assert_eq!(scan.payloads.len(), 1, "cut at {len}");
            assert_eq!(scan.valid_len, last as u64, "cut at {len}");
            assert_eq!(scan.torn.is_some(), len > last, "cut at {len}");
        }
    }

    #[test]
    fn scan_cuts_last_frame_with_any_byte_flipped() {
        let whole = file(&[b"first", b"second record"]);
        for at in 17..whole.len() {
            let mut bytes = whole.clone();
            bytes[at] ^= 0x40;
            let scan = scan(&bytes, 64).unwrap();
            assert_eq!(scan.valid_len, 17, "byte {at} flipped");
            assert_eq!(scan.torn.map(|frame| frame.offset), Some(17), "byte {at} flipped");
        }
    }

    #[test]
    fn scan_reports_damage_before_valid_frame() {
        let whole = file(&[b"first", b"second", b"third"]);
        for at in 0..17 {
            let mut bytes = whole.clone();
            bytes[at] ^= 0x01;
            let damage = scan(&bytes, 64).unwrap_err();
            assert_eq!(damage.frame.offset, 0, "byte {at} flipped");
            assert!(damage.next_valid_offset > 0, "byte {at} flipped");
        }
    }

    #[test]
    fn scan_rejects_payload_over_limit() {
        let bytes = file(&[b"0123456789", b"ok"]);
        let damage = scan(&bytes, 4).unwrap_err();
        assert!(damage.frame.reason.contains("over the limit of 4"), "{}", damage.frame.reason);
    }

    #[test]
    fn scan_ignores_frames_inside_torn_payload() {
        // The torn last record's payload contains a valid frame. Its header is intact,
        // so the scan skips its payload and still reports a torn tail.
        let mut payload = encode_frame(b"inner");
        payload.push(b'x');
        let mut bytes = file(&[b"first", &payload]);
        *bytes.last_mut().unwrap() ^= 0x01;
        let scan = scan(&bytes, 64).unwrap();
        assert_eq!(scan.valid_len, 17);
    }
}
