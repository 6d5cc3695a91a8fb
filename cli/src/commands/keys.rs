//! `vouch keys`: generate, list, show, import, export and delete keyring keys.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, bail};
use serde::Serialize;
use vouch_keyring::passphrase::Prompt;
use vouch_keyring::{
    KeyFile, KeyKind, KeyName, Keyring, WriteError, crypto, validate_keyid_hash_algorithms, write_secret_file,
};
use vouch_protocol::keys::KeyError;
use vouch_protocol::keys::sslib::{self, KEYID_HASH_ALGORITHMS, KeyForm};
use zeroize::Zeroizing;

use crate::output::{self, OutputFormat};
use crate::passphrase::{NewKeyArgs, PassphraseArgs};

/// Largest securesystemslib key file that `keys import` reads, in bytes.
pub const IMPORT_FILE_BYTES_MAX: u64 = 64 * 1024;

/// The `vouch keys` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate an ed25519 key; prints its key id on stdout.
    Generate(GenerateArgs),
    /// List the keys with key id, kind, encryption and creation time.
    List(ListArgs),
    /// Print a key's public key as securesystemslib JSON.
    Show(ShowArgs),
    /// Import a securesystemslib ed25519 key file (private, or public for verification).
    Import(ImportArgs),
    /// Print a key as securesystemslib JSON: public by default, private with --private.
    Export(ExportArgs),
    /// Delete a key from the keyring.
    Delete(DeleteArgs),
}

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Name of the new key: 1 to 64 characters from A-Z, a-z, 0-9, `.`, `_`, `-`.
    name: String,
    /// Replace an existing key of the same name (its private key is lost).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    protection: NewKeyArgs,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Name of the key.
    name: String,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Name to store the key under.
    name: String,
    /// securesystemslib ed25519 key file (JSON with `keytype`, `scheme`, `keyval`).
    file: PathBuf,
    /// Replace an existing key of the same name.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    protection: NewKeyArgs,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Name of the key.
    name: String,
    /// Export the private key in clear (asks for the passphrase of an encrypted key).
    #[arg(long)]
    private: bool,
    /// Write to FILE (mode 0600) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "out")]
    force: bool,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// Name of the key.
    name: String,
    /// Delete without asking.
    #[arg(long)]
    yes: bool,
}

/// Runs one `vouch keys` subcommand.
pub fn run(command: KeysCommand, keyring: &Keyring) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate(args) => generate(args, keyring),
        KeysCommand::List(args) => list(args, keyring),
        KeysCommand::Show(args) => show(args, keyring),
        KeysCommand::Import(args) => import(args, keyring),
        KeysCommand::Export(args) => export(args, keyring),
        KeysCommand::Delete(args) => delete(args, keyring),
    }
}

fn generate(args: GenerateArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let name = KeyName::parse(&args.name)?;
    reject_existing(keyring, &name, args.force)?;
    let protection = args.protection.protection(&name)?;

    let mut seed = Zeroizing::new([0u8; 32]);
    crypto::fill_random(&mut *seed)?;
    let algorithms = Some(KEYID_HASH_ALGORITHMS.map(str::to_owned).to_vec());
    let key = KeyFile::new_private(name, &seed, algorithms, protection.as_protection(), SystemTime::now())?;
    let path = keyring.save(&key, args.force)?;

    let keyid = key.keyid()?;
    eprintln!("generated ed25519 key `{}` ({}) in {}", key.name, describe_kind(key.kind()), path.display());
    output::print_stdout(keyid.as_str())
}

/// One row of `keys list`.
#[derive(Serialize)]
struct KeySummary {
    name: String,
    keyid: String,
    kind: &'static str,
    encrypted: bool,
    created: String,
}

fn list(args: ListArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let mut summaries = Vec::new();
    for loaded in keyring.list()? {
        match loaded.and_then(|key| summarize(&key)) {
            Ok(summary) => summaries.push(summary),
            Err(error) => tracing::warn!("skipped an unreadable key file: {error}"),
        }
    }
    match args.output {
        OutputFormat::Json => output::print_json(&summaries),
        OutputFormat::Text if summaries.is_empty() => {
            eprintln!("no keys in {}; create one with `vouch keys generate NAME`", keyring.dir().display());
            Ok(())
        }
        OutputFormat::Text => output::print_table(&summary_rows(&summaries)),
    }
}

fn summarize(key: &KeyFile) -> Result<KeySummary, vouch_keyring::KeyringError> {
    let kind = key.kind();
    Ok(KeySummary {
        name: key.name.to_string(),
        keyid: key.keyid()?.to_string(),
        kind: if kind == KeyKind::PublicOnly { "public-only" } else { "signing" },
        encrypted: kind == KeyKind::Encrypted,
        created: humantime::format_rfc3339_seconds(key.created).to_string(),
    })
}

fn summary_rows(summaries: &[KeySummary]) -> Vec<Vec<String>> {
    let header = ["NAME", "KEYID", "KIND", "ENCRYPTED", "CREATED"].map(str::to_owned).to_vec();
    let rows = summaries.iter().map(|s| {
        let encrypted = if s.encrypted {
            "yes"
        } else if s.kind == "signing" {
            "no"
        } else {
            "-"
        };
        vec![s.name.clone(), s.keyid.clone(), s.kind.to_owned(), encrypted.to_owned(), s.created.clone()]
    });
    std::iter::once(header).chain(rows).collect()
}

fn show(args: ShowArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let name = KeyName::parse(&args.name)?;
    let key = keyring.load(&name)?;
    eprintln!(
        "key `{name}`: keyid {}, {}, created {}",
        key.keyid()?,
        describe_kind(key.kind()),
        humantime::format_rfc3339_seconds(key.created)
    );
    output::print_stdout(&key.public_key_json())
}

fn import(args: ImportArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let name = KeyName::parse(&args.name)?;
    reject_existing(keyring, &name, args.force)?;
    let source_name = args.file.display().to_string();
    let bytes = Zeroizing::new(vouch_protocol::input::read_file_bounded(&args.file, IMPORT_FILE_BYTES_MAX)?);

    let (key, imported_keyid) = match sslib::parse_private_key_json_form(&source_name, &bytes) {
        Ok(parsed) => {
            let algorithms = checked_hash_algorithms(&source_name, &parsed.form)?;
            let protection = args.protection.protection(&name)?;
            let seed = parsed.signing_key.seed();
            let key = KeyFile::new_private(name, &seed, algorithms, protection.as_protection(), SystemTime::now())?;
            (key, parsed.keyid)
        }
        Err(KeyError::MissingPrivateKey { .. }) => {
            let parsed = sslib::parse_public_key_json_form(&source_name, &bytes)?;
            let algorithms = checked_hash_algorithms(&source_name, &parsed.form)?;
            let key = KeyFile::new_public(name, *parsed.public_key.as_bytes(), algorithms, SystemTime::now());
            (key, parsed.keyid)
        }
        Err(error) => return Err(error.into()),
    };
    let keyid = key.keyid()?;
    anyhow::ensure!(
        keyid == imported_keyid,
        "bug: stored key id {keyid} differs from the imported key id {imported_keyid}"
    );
    let path = keyring.save(&key, args.force)?;

    eprintln!("imported ed25519 key `{}` ({}) into {}", key.name, describe_kind(key.kind()), path.display());
    output::print_stdout(keyid.as_str())
}

/// Returns the `keyid_hash_algorithms` of an imported key for the keyring, after
/// checking that the keyring can store them.
fn checked_hash_algorithms(source_name: &str, form: &KeyForm) -> anyhow::Result<Option<Vec<String>>> {
    let algorithms = form.keyid_hash_algorithms().map(<[String]>::to_vec);
    if let Some(algorithms) = &algorithms {
        validate_keyid_hash_algorithms(algorithms)
            .map_err(|reason| anyhow::anyhow!("{source_name}: field `keyid_hash_algorithms`: {reason}"))?;
    }
    Ok(algorithms)
}

fn export(args: ExportArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let name = KeyName::parse(&args.name)?;
    let key = keyring.load(&name)?;
    if !args.private {
        return write_export(&args, key.public_key_json().as_bytes());
    }

    let passphrase = match key.kind() {
        KeyKind::Encrypted => Some(args.passphrase.read(&name, Prompt::Unlock)?),
        KeyKind::Unencrypted | KeyKind::PublicOnly => None,
    };
    let signing_key = key.unlock(passphrase.as_deref().map(Vec::as_slice))?;
    let json = key.private_key_json(&signing_key)?;
    eprintln!("warning: exporting the private key of `{name}` in clear; anyone who reads it can sign as this key");
    write_export(&args, json.as_bytes())
}

/// Writes an exported key to `--out` (mode 0600, atomic) or stdout.
fn write_export(args: &ExportArgs, bytes: &[u8]) -> anyhow::Result<()> {
    let Some(path) = &args.out else {
        return output::print_stdout(std::str::from_utf8(bytes).expect("key JSON is ASCII"));
    };
    let mut content = Zeroizing::new(bytes.to_vec());
    content.push(b'\n');
    write_secret_file(path, &content, args.force).map_err(|error| match error {
        WriteError::Exists => anyhow::anyhow!("{} already exists; pass --force to replace it", path.display()),
        WriteError::Io(path, error) => anyhow::anyhow!("cannot write {}: {error}", path.display()),
    })
}

fn delete(args: DeleteArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let name = KeyName::parse(&args.name)?;
    let path = keyring.key_path(&name);
    if !path.exists() {
        keyring.load(&name)?;
    }
    if !args.yes && !confirm_delete(&name, &path)? {
        eprintln!("key `{name}` kept");
        return Ok(());
    }
    keyring.delete(&name)?;
    eprintln!("deleted key `{name}` ({})", path.display());
    Ok(())
}

/// Asks on the terminal whether to delete; without a terminal, requires `--yes`.
fn confirm_delete(name: &KeyName, path: &std::path::Path) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("deleting key `{name}` needs confirmation: pass --yes");
    }
    eprint!("Delete key `{name}` ({})? This cannot be undone. [y/N] ", path.display());
    std::io::stderr().flush().context("cannot write to stderr")?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("cannot read the answer from the terminal")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn reject_existing(keyring: &Keyring, name: &KeyName, force: bool) -> anyhow::Result<()> {
    let path = keyring.key_path(name);
    if !force && path.exists() {
        return Err(vouch_keyring::KeyringError::AlreadyExists { name: name.clone(), path }.into());
    }
    Ok(())
}

fn describe_kind(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Encrypted => "signing key, encrypted with a passphrase",
        KeyKind::Unencrypted => "signing key, stored UNENCRYPTED",
        KeyKind::PublicOnly => "public key only, for verification",
    }
}
