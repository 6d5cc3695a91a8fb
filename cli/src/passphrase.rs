//! Passphrases for the keyring, read from `--passphrase-file`, `VOUCH_PASSPHRASE` or a
//! prompt without echo, never from a command-line argument.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, bail};
use zeroize::Zeroizing;

use crate::keyring::{KdfParams, KeyName, Protection};

/// Environment variable that holds a passphrase for non-interactive use.
pub const PASSPHRASE_ENV: &str = "VOUCH_PASSPHRASE";
/// Largest passphrase file read, in bytes.
pub const PASSPHRASE_FILE_BYTES_MAX: u64 = 4096;

/// Where to read the passphrase of an encrypted key.
#[derive(clap::Args, Debug)]
pub struct PassphraseArgs {
    /// Read the passphrase from FILE (its whole content without the final newline)
    /// instead of $VOUCH_PASSPHRASE or a prompt.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// How to protect a key that is being generated or imported.
#[derive(clap::Args, Debug)]
pub struct NewKeyArgs {
    /// Store the private key unencrypted, for CI and development; `keys list` and
    /// `keys show` report it as unencrypted.
    #[arg(long, conflicts_with = "passphrase_file")]
    pub no_passphrase: bool,

    #[command(flatten)]
    pub passphrase: PassphraseArgs,

    /// Argon2id memory cost for the new key, in KiB. Lowering it weakens the
    /// encryption; tests use it to run fast.
    #[arg(long, env = "VOUCH_KDF_MEMORY_KIB", hide = true, value_name = "KIB")]
    pub kdf_memory_kib: Option<u32>,

    /// Argon2id iteration count for the new key; for tests, like --kdf-memory-kib.
    #[arg(long, env = "VOUCH_KDF_ITERATIONS", hide = true, value_name = "COUNT")]
    pub kdf_iterations: Option<u32>,
}

/// A passphrase or the choice to store the key in clear.
pub enum NewKeyProtection {
    /// Encrypt with this passphrase and these Argon2id parameters.
    Passphrase(Zeroizing<Vec<u8>>, KdfParams),
    /// Store unencrypted.
    Unencrypted,
}

impl NewKeyProtection {
    /// Returns the keyring's view of this protection.
    pub fn as_protection(&self) -> Protection<'_> {
        match self {
            NewKeyProtection::Passphrase(passphrase, kdf) => Protection::Passphrase { passphrase, kdf: *kdf },
            NewKeyProtection::Unencrypted => Protection::Unencrypted,
        }
    }
}

impl NewKeyArgs {
    /// Reads the passphrase for new key `name` (asking twice at a prompt) unless
    /// `--no-passphrase` was given.
    pub fn protection(&self, name: &KeyName) -> anyhow::Result<NewKeyProtection> {
        if self.no_passphrase {
            return Ok(NewKeyProtection::Unencrypted);
        }
        let kdf = self.kdf_params()?;
        let passphrase = read_passphrase(&self.passphrase, name, Prompt::NewKey)?;
        Ok(NewKeyProtection::Passphrase(passphrase, kdf))
    }

    /// Returns the default Argon2id parameters with the hidden test overrides applied.
    fn kdf_params(&self) -> anyhow::Result<KdfParams> {
        let default = KdfParams::default();
        let kdf = KdfParams {
            memory_kib: self.kdf_memory_kib.unwrap_or(default.memory_kib),
            iterations: self.kdf_iterations.unwrap_or(default.iterations),
            ..default
        };
        kdf.validate().context("check --kdf-memory-kib and --kdf-iterations")?;
        if kdf.memory_kib < default.memory_kib || kdf.iterations < default.iterations {
            tracing::warn!(
                memory_kib = kdf.memory_kib,
                iterations = kdf.iterations,
                "Argon2id cost lowered below the default; use this only for tests"
            );
        }
        Ok(kdf)
    }
}

/// Whether the passphrase unlocks an existing key or protects a new one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Ask once.
    Unlock,
    /// Ask twice and compare.
    NewKey,
}

/// Reads a passphrase for key `name`: from `--passphrase-file`, else from
/// `VOUCH_PASSPHRASE`, else from a prompt when stdin is a terminal.
pub fn read_passphrase(args: &PassphraseArgs, name: &KeyName, prompt: Prompt) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let passphrase = if let Some(path) = &args.passphrase_file {
        read_passphrase_file(path)?
    } else if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        Zeroizing::new(value.into_encoded_bytes())
    } else if std::io::stdin().is_terminal() {
        prompt_passphrase(name, prompt)?
    } else {
        bail!(
            "key `{name}` needs a passphrase: set {PASSPHRASE_ENV}, pass --passphrase-file FILE, or run in a terminal{}",
            if prompt == Prompt::NewKey { ", or pass --no-passphrase to store the key unencrypted" } else { "" }
        );
    };
    if passphrase.is_empty() {
        bail!(
            "the passphrase for key `{name}` is empty; choose a non-empty passphrase{}",
            if prompt == Prompt::NewKey { " or pass --no-passphrase" } else { "" }
        );
    }
    Ok(passphrase)
}

/// Reads a passphrase file, dropping one final `\n` or `\r\n`.
fn read_passphrase_file(path: &std::path::Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
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
fn prompt_passphrase(name: &KeyName, prompt: Prompt) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("Passphrase for key `{name}`: "))
            .context("cannot read the passphrase from the terminal")?,
    );
    if prompt == Prompt::NewKey {
        let second = Zeroizing::new(
            rpassword::prompt_password("Repeat the passphrase: ")
                .context("cannot read the passphrase from the terminal")?,
        );
        if *first != *second {
            bail!("the two passphrases for key `{name}` differ; run the command again");
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
}
