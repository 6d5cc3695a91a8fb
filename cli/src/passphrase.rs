//! Command-line options that choose where a key's passphrase comes from. The reading
//! itself is in [`vouch_keyring::passphrase`].

use std::path::PathBuf;

use anyhow::Context;
use vouch_keyring::passphrase::{self, Prompt};
use vouch_keyring::{KdfParams, KeyName, Protection};
use zeroize::Zeroizing;

/// Where to read the passphrase of an encrypted key.
#[derive(clap::Args, Debug)]
pub struct PassphraseArgs {
    /// Read the passphrase from FILE (its whole content without the final newline)
    /// instead of $VOUCH_PASSPHRASE or a prompt.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl PassphraseArgs {
    /// Reads the passphrase for key `name` from `--passphrase-file`, else from
    /// `VOUCH_PASSPHRASE`, else from a prompt when stdin is a terminal.
    pub fn read(&self, name: &KeyName, prompt: Prompt) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        Ok(passphrase::read_passphrase(self.passphrase_file.as_deref(), name, prompt)?)
    }
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
        let passphrase = self.passphrase.read(name, Prompt::NewKey)?;
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
