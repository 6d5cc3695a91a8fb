//! How commands print: results on stdout for scripts, messages for people on stderr.

use std::io::Write;

use anyhow::Context;
use serde::Serialize;

/// Format of a command's result on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Text,
    /// JSON for scripts.
    Json,
}

/// Prints `value` as pretty JSON followed by a newline on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode the result as JSON")?;
    print_stdout(&text)
}

/// Prints `text` and a newline on stdout, failing (instead of panicking like
/// `println!`) when stdout is closed.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").and_then(|()| stdout.flush()).context("cannot write to stdout")
}

/// Prints rows as columns separated by two spaces; the first row is the header.
pub fn print_table(rows: &[Vec<String>]) -> anyhow::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| rows.iter().filter_map(|row| row.get(column)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    print_stdout(text.trim_end_matches('\n'))
}
