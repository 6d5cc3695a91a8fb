//! The `vouch` command: keys and signed attestations about container images.
//!
//! This file wires the command line to the commands; each command lives in
//! `commands/`. Errors print as one line on stderr and exit with code 1; usage errors
//! exit with code 2.

mod commands;
mod output;
mod passphrase;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use vouch_keyring::Keyring;

use commands::attest::AttestArgs;
use commands::keys::KeysCommand;

/// Exit code of a failed command; clap exits with 2 for usage errors.
const EXIT_FAILURE: u8 = 1;

/// Sign attestations about container images for the Vouch network.
#[derive(Parser, Debug)]
#[command(name = "vouch", version, about, propagate_version = true)]
struct Cli {
    /// Keyring folder [default: <user config folder>/vouch/keyring]
    #[arg(long, global = true, env = "VOUCH_KEYRING", value_name = "DIR")]
    keyring: Option<PathBuf>,

    /// Log more on stderr: -v for debug, -vv for trace. RUST_LOG overrides it.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage the ed25519 keys that sign attestations.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign an attestation about an image: a scan, SBOM, provenance, statement or review.
    Attest(Box<AttestArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let keyring = Keyring::open(cli.keyring)?;
    match cli.command {
        Command::Keys(command) => commands::keys::run(command, &keyring),
        Command::Attest(args) => commands::attest::run(*args, &keyring),
    }
}

/// Logs to stderr at warn, debug (`-v`) or trace (`-vv`), unless RUST_LOG is set.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
