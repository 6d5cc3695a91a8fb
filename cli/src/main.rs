//! The `vouch` command: keys, signed attestations about container images, and the
//! node's ledger: status, verified status, attesters, policies and governance.
//!
//! This file wires the command line to the commands; each command lives in
//! `commands/`. Errors print as one line on stderr and exit with code 1; usage errors
//! exit with code 2; `verify` and `policy test` exit with 3 (quarantined) or 4
//! (pending) as [`exit`] describes.

mod client;
mod commands;
mod exit;
mod output;
mod passphrase;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use vouch_keyring::Keyring;

use commands::attest::AttestArgs;
use commands::attester::AttesterCommand;
use commands::gov::GovCommand;
use commands::keys::KeysCommand;
use commands::policy::PolicyCommand;
use commands::revoke::{AttestationsArgs, RevokeArgs};
use commands::staking::StakingCommand;
use commands::status::StatusArgs;
use commands::verify::VerifyArgs;

/// Sign attestations about container images and check their status on the Vouch network.
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
    /// Sign an attestation about an image (a scan, SBOM, provenance, statement or
    /// review) and submit it to a node.
    Attest(Box<AttestArgs>),
    /// Withdraw a committed attestation, signed by the attester that made it.
    Revoke(RevokeArgs),
    /// List the committed attestations of an image.
    Attestations(AttestationsArgs),
    /// Show an image's status as a node reports it.
    Status(StatusArgs),
    /// Check an image's status with a proof against a trusted genesis; exits 0
    /// approved, 3 quarantined, 4 pending, 1 on any error.
    Verify(VerifyArgs),
    /// Propose registering or removing attesters, and list them.
    #[command(subcommand)]
    Attester(AttesterCommand),
    /// Propose policy deployments, bindings and storage changes; list and test policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Open governance proposals, vote on them and list them.
    #[command(subcommand)]
    Gov(GovCommand),
    /// Create a validator, bond, unbond and unjail with a validator's key.
    #[command(subcommand)]
    Staking(StakingCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {}", output::escape_message(&error_text(&error)));
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Runs the command and returns its exit code.
fn run(cli: Cli) -> anyhow::Result<u8> {
    let keyring = Keyring::open(cli.keyring)?;
    let success = |()| exit::SUCCESS;
    match cli.command {
        Command::Keys(command) => commands::keys::run(command, &keyring).map(success),
        Command::Attest(args) => commands::attest::run(*args, &keyring).map(success),
        Command::Revoke(args) => commands::revoke::revoke(args, &keyring).map(success),
        Command::Attestations(args) => commands::revoke::list(args).map(success),
        Command::Status(args) => commands::status::run(args).map(success),
        Command::Verify(args) => commands::verify::run(args),
        Command::Attester(command) => commands::attester::run(command, &keyring).map(success),
        Command::Policy(command) => commands::policy::run(command, &keyring),
        Command::Gov(command) => commands::gov::run(command, &keyring).map(success),
        Command::Staking(command) => commands::staking::run(command, &keyring).map(success),
    }
}

/// Joins the error's chain of causes with `: `. A cause whose text the line already
/// contains is left out, because some errors repeat their source's message.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
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
    fn error_text_skips_repeated_causes() {
        use vouch_node::policy::{ConfigError, RuntimeError};

        let error = anyhow::Error::new(RuntimeError::Config(ConfigError::NoFuel)).context("cannot start the runtime");
        let repeated = format!("{error:#}");
        let message = ConfigError::NoFuel.to_string();
        assert_eq!(repeated.matches(&message).count(), 2, "{repeated}");
        let text = error_text(&error);
        assert_eq!(text.matches(&message).count(), 1, "{text}");
        assert!(text.starts_with("cannot start the runtime: invalid policy runtime configuration"), "{text}");
    }

    #[test]
    fn error_text_keeps_distinct_causes() {
        let error = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(error_text(&error), "outer: middle: inner");
    }

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
