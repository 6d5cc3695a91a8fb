//! How commands print: results on stdout for scripts, messages for people on stderr.
//!
//! Text from nodes, reports and other files (reasons, names, node messages) can hold
//! terminal escape sequences, so every table cell, JSON result and error line escapes
//! control characters before it reaches the terminal.

use std::io::Write;

use anyhow::Context;
use serde::Serialize;
use vouch_protocol::input::{escape_control_characters, is_terminal_control};

/// Format of a command's result on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Text,
    /// JSON for scripts.
    Json,
}

/// Prints `value` as pretty JSON followed by a newline on stdout, with every control
/// character inside strings written as a `\uXXXX` escape.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode the result as JSON")?;
    print_stdout(&escape_json_controls(&text))
}

/// Escapes the control characters that serde_json leaves raw in strings (DEL, C1 and
/// bidi controls) as `\uXXXX`, which decodes to the same JSON value. serde_json
/// already escapes C0 characters in strings, so a raw newline is layout and stays.
fn escape_json_controls(json: &str) -> String {
    let mut escaped = String::with_capacity(json.len());
    for character in json.chars() {
        if is_terminal_control(character) && u32::from(character) >= 0x7f {
            escaped.push_str(&format!("\\u{:04x}", u32::from(character)));
        } else {
            escaped.push(character);
        }
    }
    escaped
}

/// Escapes terminal control characters (C0 including newlines, DEL, C1 and bidi
/// controls) as Rust escapes, leaving backslashes as they are, for messages that mix
/// this program's text with text from elsewhere.
pub fn escape_message(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if is_terminal_control(character) {
            escaped.extend(character.escape_default());
        } else {
            escaped.push(character);
        }
    }
    escaped
}

/// Prints `text` and a newline on stdout, failing (instead of panicking like
/// `println!`) when stdout is closed.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").and_then(|()| stdout.flush()).context("cannot write to stdout")
}

/// Prints rows as columns separated by two spaces; the first row is the header. Cells
/// are escaped with [`escape_control_characters`], so a cell is always one line.
pub fn print_table(rows: &[Vec<String>]) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|row| row.iter().map(|cell| escape_control_characters(cell)).collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| rows.iter().filter_map(|row| row.get(column)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    print_stdout(text.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_controls_escape_to_same_value() {
        let value = serde_json::json!({"reason": "a\u{1b}]0;x\u{7}\u{9b}2J\u{7f}\u{202e}b\nc", "n": 1});
        let text = escape_json_controls(&serde_json::to_string_pretty(&value).unwrap());
        assert!(!text.chars().any(|c| is_terminal_control(c) && c != '\n'), "{text:?}");
        for escape in ["\\u009b", "\\u007f", "\\u202e"] {
            assert!(text.contains(escape), "{escape} missing in {text}");
        }
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
    }

    #[test]
    fn message_escapes_controls_but_not_backslashes() {
        assert_eq!(escape_message("a\u{1b}[2J\nFAKE \\ \u{202e}"), "a\\u{1b}[2J\\nFAKE \\ \\u{202e}");
        assert_eq!(escape_message("ghcr.io/app é"), "ghcr.io/app é");
    }
}
