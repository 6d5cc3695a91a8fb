//! Passphrases for the keyring, read from a passphrase file, `VOUCH_PASSPHRASE` or a
//! prompt without echo, never from a command-line argument.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use super::{KeyName, KeyringError};

/// Environment variable that holds a passphrase for non-interactive use.
pub const PASSPHRASE_ENV: &str = "VOUCH_PASSPHRASE";
/// Largest passphrase file read, in bytes.
pub const PASSPHRASE_FILE_BYTES_MAX: u64 = 4096;

/// Whether the passphrase unlocks an existing key or protects a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// Ask once.
    Unlock,
    /// Ask twice and compare.
    NewKey,
}

/// Reads a passphrase for key `name`: from `file` when given, else from
/// `VOUCH_PASSPHRASE`, else from a prompt when stdin is a terminal. An empty
/// passphrase is rejected.
pub fn read_passphrase(
    file: Option<&Path>,
    name: &KeyName,
    prompt: Prompt,
) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    let new_key = prompt == Prompt::NewKey;
    let passphrase = if let Some(path) = file {
        read_passphrase_file(path)?
    } else if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        Zeroizing::new(value.into_encoded_bytes())
    } else if std::io::stdin().is_terminal() {
        prompt_passphrase(name, prompt)?
    } else {
        return Err(KeyringError::NoPassphrase { name: name.clone(), new_key });
    };
    if passphrase.is_empty() {
        return Err(KeyringError::EmptyPassphrase { name: name.clone(), new_key });
    }
    Ok(passphrase)
}

/// Reads a passphrase file, dropping one final `\n` or `\r\n`.
fn read_passphrase_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    let mut bytes = Zeroizing::new(vouch_protocol::input::read_file_bounded(path, PASSPHRASE_FILE_BYTES_MAX)?);
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    Ok(bytes)
}

/// Asks on the terminal without echo; a new key's passphrase is asked twice.
fn prompt_passphrase(name: &KeyName, prompt: Prompt) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("Passphrase for key `{name}`: ")).map_err(KeyringError::Terminal)?,
    );
    if prompt == Prompt::NewKey {
        let second =
            Zeroizing::new(rpassword::prompt_password("Repeat the passphrase: ").map_err(KeyringError::Terminal)?);
        if *first != *second {
            return Err(KeyringError::PassphrasesDiffer { name: name.clone() });
        }
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_drops_one_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&[u8], &[u8]); 4] = [(b"pw\n", b"pw"), (b"pw\r\n", b"pw"), (b"pw", b"pw"), (b"pw\n\n", b"pw\n")];
        for (content, expected) in cases {
            let path = dir.path().join("pass");
            std::fs::write(&path, content).unwrap();
            assert_eq!(&read_passphrase_file(&path).unwrap()[..], expected);
        }
    }

    #[test]
    fn file_size_limit_at_and_past_edge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, vec![b'x'; PASSPHRASE_FILE_BYTES_MAX as usize]).unwrap();
        assert!(read_passphrase_file(&path).is_ok());
        std::fs::write(&path, vec![b'x'; PASSPHRASE_FILE_BYTES_MAX as usize + 1]).unwrap();
        let error = read_passphrase_file(&path).unwrap_err();
        assert!(error.to_string().contains("over the limit of 4096 bytes"), "{error}");
    }

    #[test]
    fn empty_file_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pass");
        std::fs::write(&path, b"\n").unwrap();
        let name = KeyName::parse("alice").unwrap();
        let error = read_passphrase(Some(&path), &name, Prompt::NewKey).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the passphrase for key `alice` is empty; choose a non-empty passphrase or pass --no-passphrase"
        );
    }
}
