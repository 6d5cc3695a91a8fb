//! `vouch attester`: propose registering or removing attester keys, and list the
//! registered attesters.

use anyhow::Context;
use vouch_keyring::{KeyName, Keyring};
use vouch_protocol::keys::{KeyId, PublicKey};
use vouch_protocol::ledger::GovAction;

use crate::client::NodeArgs;
use crate::commands::gov::{self, ProposalArgs};
use crate::output::{self, OutputFormat};

/// The `vouch attester` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum AttesterCommand {
    /// Propose registering an attester key under a name and role.
    Register(RegisterArgs),
    /// Propose removing a registered attester by key id.
    Remove(RemoveArgs),
    /// List the registered attesters.
    List(ListArgs),
}

/// Options of `vouch attester register`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("attester").required(true).args(["public_key", "attester_key"])))]
pub struct RegisterArgs {
    /// The attester's name, unique on the ledger.
    pub name: String,
    /// The attester's role, such as scanner, builder or reviewer.
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// The attester's ed25519 public key, 64 hex characters.
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
    /// A keyring key (public-only keys too) whose public key is registered.
    #[arg(long, value_name = "KEYNAME")]
    pub attester_key: Option<String>,
    #[command(flatten)]
    pub proposal: ProposalArgs,
}

/// Options of `vouch attester remove`.
#[derive(clap::Args, Debug)]
pub struct RemoveArgs {
    /// The attester's key id (64 hex characters, as `vouch attester list` shows it).
    pub key_id: String,
    #[command(flatten)]
    pub proposal: ProposalArgs,
}

/// Options of `vouch attester list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Runs one `vouch attester` subcommand.
pub fn run(command: AttesterCommand, keyring: &Keyring) -> anyhow::Result<()> {
    match command {
        AttesterCommand::Register(args) => register(args, keyring),
        AttesterCommand::Remove(args) => remove(args, keyring),
        AttesterCommand::List(args) => list(args),
    }
}

/// Proposes registering an attester.
pub fn register(args: RegisterArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let key = attester_public_key(&args, keyring)?;
    let summary = format!("register attester {} ({}) with key {}", args.name, args.role, key.to_hex());
    let action = GovAction::RegisterAttester { name: args.name, role: args.role, key };
    gov::propose(&args.proposal, keyring, action, summary)
}

fn attester_public_key(args: &RegisterArgs, keyring: &Keyring) -> anyhow::Result<PublicKey> {
    if let Some(hex) = &args.public_key {
        return PublicKey::from_hex(hex).with_context(|| format!("invalid --public-key {hex:?}"));
    }
    let name = args.attester_key.as_deref().expect("clap requires --public-key or --attester-key");
    let file = keyring.load(&KeyName::parse(name)?)?;
    Ok(PublicKey::from_bytes(&file.public_key)?)
}

/// Proposes removing an attester.
pub fn remove(args: RemoveArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let key_id = KeyId::parse(&args.key_id).with_context(|| format!("invalid KEYID {:?}", args.key_id))?;
    let summary = format!("remove attester {key_id}");
    gov::propose(&args.proposal, keyring, GovAction::RemoveAttester { key_id }, summary)
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let response = args.node.client()?.attesters()?;
    if args.output == OutputFormat::Json {
        return output::print_json(&response);
    }
    if response.attesters.is_empty() {
        eprintln!("no registered attesters");
        return Ok(());
    }
    let header = ["KEYID", "NAME", "ROLE", "REGISTERED"].map(str::to_owned).to_vec();
    let rows = response.attesters.iter().map(|attester| {
        vec![attester.key_id.clone(), attester.name.clone(), attester.role.clone(), attester.registered_at.to_string()]
    });
    output::print_table(&std::iter::once(header).chain(rows).collect::<Vec<_>>())
}
