//! The storage that the write-ahead log and the double-sign guard write to: a flat
//! directory of named files with explicit durability points.
//!
//! # Durability contract
//! - [`Storage::append`] bytes may be lost, or kept only in part, by a crash until a
//!   later [`Storage::sync`] of the same file returns.
//! - [`Storage::sync`] makes the file's bytes durable, and its directory entry too when
//!   the file was created since its last sync.
//! - [`Storage::truncate`] and [`Storage::replace`] are durable when they return.
//!   `replace` is atomic: after a crash the file contains either its old or its new
//!   bytes.

use std::io;

/// A directory of named files with the durability contract of this module.
pub trait Storage {
    /// Returns the whole content of file `name`, or `None` when it does not exist.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>>;

    /// Appends `bytes` to file `name`, creating it if needed. The bytes are not durable
    /// until [`Storage::sync`] returns.
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;

    /// Makes everything appended to file `name` durable.
    fn sync(&mut self, name: &str) -> io::Result<()>;

    /// Cuts file `name` to `len` bytes, durably.
    fn truncate(&mut self, name: &str, len: u64) -> io::Result<()>;

    /// Replaces the content of file `name` with `bytes` atomically and durably.
    fn replace(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;

    /// Returns where file `name` lives, for error messages: a path, or a label for an
    /// in-memory store.
    fn locate(&self, name: &str) -> String;
}
