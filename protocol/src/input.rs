//! Bounded reading of input files and JSON parsing with errors that point at the
//! offending byte, field and fix.
//!
//! Every reader of an untrusted file (scanner reports, SBOMs, envelopes, manifests)
//! goes through here, so size limits and error wording are the same everywhere.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

mod key_scan;
mod unique_keys;

/// Default maximum size of one input file: 64 MiB, larger than any scanner report or
/// SBOM in common use and small enough to hold in memory.
pub const DEFAULT_INPUT_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// Error from reading or parsing an untrusted input file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{source_name}: cannot read: {error}")]
    Io { source_name: String, error: std::io::Error },
    #[error("{source_name}: file is {size} bytes, over the limit of {max} bytes")]
    TooLarge { source_name: String, size: u64, max: u64 },
    #[error("{source_name}: file is empty; expected a JSON document")]
    Empty { source_name: String },
    #[error(
        "{source_name}: file starts with a {encoding} byte order mark; JSON files must be UTF-8 without one, so save the file again as UTF-8 without a byte order mark"
    )]
    ByteOrderMark { source_name: String, encoding: &'static str },
    #[error("{source_name}: byte {offset}: expected a JSON document but found text {preview:?}{hint}")]
    NotJson { source_name: String, offset: u64, preview: String, hint: LeadingTextHint },
    #[error(
        "{source_name}: JSON ends early at byte {offset} (line {line}, column {column}); the file is truncated, so write it again completely"
    )]
    Truncated { source_name: String, offset: u64, line: usize, column: usize },
    #[error("{source_name}: invalid JSON at byte {offset} (line {line}, column {column}): {message}")]
    Syntax { source_name: String, offset: u64, line: usize, column: usize, message: String },
    #[error("{source_name}: invalid document at byte {offset} (line {line}, column {column}): {message}")]
    Document { source_name: String, offset: u64, line: usize, column: usize, message: String },
    #[error("{source_name}: field `{path}` at byte {offset} (line {line}, column {column}): {message}")]
    Field { source_name: String, path: String, offset: u64, line: usize, column: usize, message: String },
}

/// The fix suggested when a file starts with text that is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadingTextHint {
    json_offset: Option<u64>,
}

impl fmt::Display for LeadingTextHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.json_offset {
            Some(offset) => write!(
                f,
                "; JSON seems to start at byte {offset}, so the file probably begins with log lines: \
                 send the tool's logs to stderr or use its --output option"
            ),
            None => f.write_str("; the file is not JSON, so pass the tool's JSON output"),
        }
    }
}

/// Reads a whole file, failing before reading anything if it is larger than `max_bytes`.
///
/// The size is checked from the file's metadata first and again while reading, so a
/// file that grows or a pipe without a size cannot exceed the limit either.
pub fn read_file_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>, InputError> {
    let source_name = path.display().to_string();
    let io_error = |error| InputError::Io { source_name: source_name.clone(), error };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let size = file.metadata().map_err(io_error)?.len();
    if size > max_bytes {
        return Err(InputError::TooLarge { source_name, size, max: max_bytes });
    }

    // Reading one byte past the limit shows that the file grew. The addition saturates
    // because a limit of `u64::MAX` admits every file.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(io_error)?;
    if bytes.len() as u64 > max_bytes {
        return Err(InputError::TooLarge { source_name, size: bytes.len() as u64, max: max_bytes });
    }
    Ok(bytes)
}

/// Parses `bytes` as JSON into `T`, naming `source_name`, the byte offset and, for
/// type errors, the path of the offending field.
pub fn parse_json<'a, T: Deserialize<'a>>(source_name: &str, bytes: &'a [u8]) -> Result<T, InputError> {
    check_json_start(source_name, bytes)?;
    // Tracking the field path costs about as much as the parse, so it runs only to
    // name the field once the plain parse has failed.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    if let Ok(value) = T::deserialize(&mut deserializer).and_then(|value| deserializer.end().map(|()| value)) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| json_error(source_name, bytes, &error.path().to_string(), error.inner()))?;
    deserializer.end().map_err(|error| json_error(source_name, bytes, ".", &error))?;
    Ok(value)
}

/// Rejects JSON in which an object has the same key twice, naming the object's field
/// path, because parsers differ on which of the values counts. Use it on bytes that
/// are signed or verified as they are.
pub fn reject_duplicate_keys(source_name: &str, bytes: &[u8]) -> Result<(), InputError> {
    parse_json::<unique_keys::UniqueKeys>(source_name, bytes).map(|_| ())
}

/// Rejects duplicate keys as [`reject_duplicate_keys`] does, in bytes that have parsed
/// as JSON already. A byte scan passes most documents at a fraction of the cost of a
/// second parse. Only a document the scan cannot clear, such as one with an escaped
/// key, gets the full check, which also names the key and its path.
pub fn reject_duplicate_keys_after_parse(source_name: &str, bytes: &[u8]) -> Result<(), InputError> {
    // serde_json skips the strings of unknown fields without checking their UTF-8, so
    // the parse does not show that all the text is UTF-8; the full check rejects it.
    if let Ok(text) = std::str::from_utf8(bytes)
        && key_scan::keys_surely_unique(text)
    {
        return Ok(());
    }
    reject_duplicate_keys(source_name, bytes)
}

/// Byte order marks that editors and shells write before text, with the encoding
/// each one announces.
const BYTE_ORDER_MARKS: [(&[u8], &str); 3] =
    [(b"\xEF\xBB\xBF", "UTF-8"), (b"\xFF\xFE", "UTF-16 little-endian"), (b"\xFE\xFF", "UTF-16 big-endian")];

/// Rejects empty input, a byte order mark and input that is not a JSON value.
fn check_json_start(source_name: &str, bytes: &[u8]) -> Result<(), InputError> {
    if let Some((_, encoding)) = BYTE_ORDER_MARKS.iter().find(|(mark, _)| bytes.starts_with(mark)) {
        return Err(InputError::ByteOrderMark { source_name: source_name.to_owned(), encoding });
    }
    let Some(start) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err(InputError::Empty { source_name: source_name.to_owned() });
    };
    if matches!(bytes[start], b'{' | b'[' | b'"') || is_json_scalar(&bytes[start..]) {
        return Ok(());
    }

    let line_end = bytes[start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| start + n);
    let preview: String = String::from_utf8_lossy(&bytes[start..line_end]).chars().take(60).collect();
    let json_offset = find_json_after_text(&bytes[start..]).map(|n| (start + n) as u64);
    Err(InputError::NotJson {
        source_name: source_name.to_owned(),
        offset: start as u64,
        preview,
        hint: LeadingTextHint { json_offset },
    })
}

/// Returns whether `bytes` is one JSON number, `true`, `false` or `null`, so that the
/// typed reader rejects it by naming what it expected instead of calling it not JSON.
fn is_json_scalar(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Finds the first line that starts with `{` or `[`, where a report usually begins
/// after log output.
fn find_json_after_text(bytes: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for line in bytes.split(|&b| b == b'\n') {
        let first = line.iter().position(|b| !b.is_ascii_whitespace());
        if let Some(n) = first
            && matches!(line[n], b'{' | b'[')
        {
            return Some(line_start + n);
        }
        line_start += line.len() + 1;
    }
    None
}

/// Converts a serde_json error into an [`InputError`] with a byte offset.
fn json_error(source_name: &str, bytes: &[u8], path: &str, inner: &serde_json::Error) -> InputError {
    let path = path.to_owned();
    let (line, column) = (inner.line(), inner.column());
    let offset = byte_offset(bytes, line, column);
    let source_name = source_name.to_owned();
    match inner.classify() {
        serde_json::error::Category::Eof => {
            InputError::Truncated { source_name, offset: bytes.len() as u64, line, column }
        }
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
            InputError::Syntax { source_name, offset, line, column, message: strip_position(inner) }
        }
        serde_json::error::Category::Data if path == "." => {
            InputError::Document { source_name, offset, line, column, message: strip_position(inner) }
        }
        serde_json::error::Category::Data => {
            InputError::Field { source_name, path, offset, line, column, message: strip_position(inner) }
        }
    }
}

/// Returns serde_json's message without its trailing " at line L column C".
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// Escapes control characters, bidirectional-text controls and `\` in `text` as Rust
/// string escapes (`\n`, `\u{1b}`, `\\`), so a message that quotes untrusted input never
/// sends control bytes to a terminal. Other characters are kept as they are.
pub fn escape_control_characters(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if is_terminal_control(character) || character == '\\' {
            escaped.extend(character.escape_default());
        } else {
            escaped.push(character);
        }
    }
    escaped
}

/// Returns whether `character` is a control character (C0, DEL, C1) or a Unicode
/// bidi embedding, override, isolate or mark, which reorders the text around it.
pub fn is_terminal_control(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Converts serde_json's one-based line and column, which point at the last byte it
/// read, into that byte's zero-based offset.
pub fn byte_offset(bytes: &[u8], line: usize, column: usize) -> u64 {
    if line == 0 {
        return 0;
    }
    let line_start =
        bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(line.saturating_sub(2)).map_or(0, |(i, _)| i + 1);
    let line_start = if line == 1 { 0 } else { line_start };
    (line_start + column.saturating_sub(1)).min(bytes.len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Report {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        score: u32,
    }

    #[test]
    fn field_error_names_path_and_offset() {
        let bytes = br#"{"name": "x", "items": [{"score": 1}, {"score": "high"}]}"#;
        let error = parse_json::<Report>("r.json", bytes).unwrap_err();
        let InputError::Field { path, offset, .. } = &error else { panic!("unexpected {error:?}") };
        assert_eq!(path, "items[1].score");
        assert_eq!(&bytes[(*offset as usize) - 5..=*offset as usize], b"\"high\"");
        assert!(error.to_string().starts_with("r.json: field `items[1].score` at byte"), "{error}");
    }

    #[test]
    fn truncated_json_is_reported() {
        let error = parse_json::<Report>("r.json", br#"{"name": "x", "items": [{"#).unwrap_err();
        assert!(matches!(error, InputError::Truncated { offset: 25, .. }), "{error:?}");
    }

    #[test]
    fn log_lines_before_json_point_at_start() {
        let bytes = b"2024-01-01T00:00:00Z INFO scanning\n{\"name\": \"x\", \"items\": []}";
        let error = parse_json::<Report>("r.json", bytes).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("byte 0"), "{text}");
        assert!(text.contains("JSON seems to start at byte 35"), "{text}");
    }

    #[test]
    fn trailing_garbage_is_rejected() {
        let error = parse_json::<Report>("r.json", br#"{"name": "x", "items": []} extra"#).unwrap_err();
        assert!(matches!(error, InputError::Syntax { offset: 27, .. }), "{error:?}");
    }

    #[test]
    fn missing_top_level_field_names_it() {
        let error = parse_json::<Report>("r.json", br#"{"items": []}"#).unwrap_err();
        assert!(matches!(error, InputError::Document { .. }), "{error:?}");
        assert!(error.to_string().contains("missing field `name`"), "{error}");
    }

    #[test]
    fn empty_input_is_rejected() {
        assert!(matches!(parse_json::<Report>("r.json", b"  \n"), Err(InputError::Empty { .. })));
    }

    #[test]
    fn oversize_file_is_rejected_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        std::fs::write(&path, vec![b' '; 101]).unwrap();
        let error = read_file_bounded(&path, 100).unwrap_err();
        assert!(matches!(error, InputError::TooLarge { size: 101, max: 100, .. }), "{error:?}");
        assert_eq!(read_file_bounded(&path, 101).unwrap().len(), 101);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control_characters("a\x1b[31mb\nc"), "a\\u{1b}[31mb\\nc");
        assert_eq!(escape_control_characters("tab\there\\"), "tab\\there\\\\");
        assert_eq!(escape_control_characters("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape_control_characters("ghcr.io/app:v1 é"), "ghcr.io/app:v1 é");
    }

    #[test]
    fn byte_offset_counts_lines() {
        let bytes = b"ab\ncd\nef";
        assert_eq!(byte_offset(bytes, 1, 2), 1);
        assert_eq!(byte_offset(bytes, 2, 1), 3);
        assert_eq!(byte_offset(bytes, 3, 2), 7);
    }
}
