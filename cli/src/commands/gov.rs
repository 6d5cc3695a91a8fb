//! `vouch gov`: governance proposals and votes. Every change to attesters, policies
//! and bindings is a proposal that validators vote on; `vouch attester` and
//! `vouch policy` open them through [`propose`].

use vouch_keyring::Keyring;
use vouch_protocol::api::ProposalView;
use vouch_protocol::ledger::{Action, DESCRIPTION_BYTES_MAX, GovAction};

use crate::client::NodeArgs;
use crate::commands::account::{self, SignerArgs, TxResult};
use crate::commands::attester::{RegisterArgs, RemoveArgs};
use crate::commands::policy::{AdminArgs, BindArgs, DeployArgs, UnbindArgs};
use crate::output::{self, OutputFormat};

/// The `vouch gov` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum GovCommand {
    /// Open a proposal (the same as `vouch attester ...` and `vouch policy ...`).
    #[command(subcommand)]
    Propose(ProposeCommand),
    /// Vote on an open proposal with a validator key.
    Vote(VoteArgs),
    /// List proposals, newest first.
    List(ListArgs),
}

/// The actions a proposal can carry.
#[derive(clap::Subcommand, Debug)]
pub enum ProposeCommand {
    /// Register an attester key under a name and role.
    RegisterAttester(RegisterArgs),
    /// Remove a registered attester by key id.
    RemoveAttester(RemoveArgs),
    /// Deploy WebAssembly code under a policy name.
    DeployPolicy(DeployArgs),
    /// Bind policies, with parameters, to a scope.
    BindPolicy(BindArgs),
    /// Remove the binding of a scope.
    UnbindPolicy(UnbindArgs),
    /// Set or delete an entry of a policy's storage.
    PolicyAdmin(AdminArgs),
}

/// Options of `vouch gov vote`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("choice").required(true).args(["yes", "no"])))]
pub struct VoteArgs {
    /// The proposal's id.
    pub id: u64,
    /// Vote for the proposal.
    #[arg(long)]
    pub yes: bool,
    /// Vote against the proposal.
    #[arg(long)]
    pub no: bool,
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Options of `vouch gov list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Options that every proposal shares.
#[derive(clap::Args, Debug)]
pub struct ProposalArgs {
    /// The reason for the change, for the voters (at most 4096 bytes); a summary of
    /// the action by default.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Runs one `vouch gov` subcommand.
pub fn run(command: GovCommand, keyring: &Keyring) -> anyhow::Result<()> {
    match command {
        GovCommand::Propose(command) => run_propose(command, keyring),
        GovCommand::Vote(args) => vote(args, keyring),
        GovCommand::List(args) => list(args),
    }
}

fn run_propose(command: ProposeCommand, keyring: &Keyring) -> anyhow::Result<()> {
    match command {
        ProposeCommand::RegisterAttester(args) => crate::commands::attester::register(args, keyring),
        ProposeCommand::RemoveAttester(args) => crate::commands::attester::remove(args, keyring),
        ProposeCommand::DeployPolicy(args) => crate::commands::policy::deploy(args, keyring),
        ProposeCommand::BindPolicy(args) => crate::commands::policy::bind(args, keyring),
        ProposeCommand::UnbindPolicy(args) => crate::commands::policy::unbind(args, keyring),
        ProposeCommand::PolicyAdmin(args) => crate::commands::policy::admin(args, keyring),
    }
}

/// Opens a proposal for `action`, waits for its block and prints the transaction with
/// the new proposal's id.
pub fn propose(args: &ProposalArgs, keyring: &Keyring, action: GovAction, summary: String) -> anyhow::Result<()> {
    let description = args.description.clone().unwrap_or(summary);
    anyhow::ensure!(
        description.len() <= DESCRIPTION_BYTES_MAX,
        "--description is {} bytes, over the limit of {DESCRIPTION_BYTES_MAX} bytes",
        description.len()
    );
    let (client, key, response) =
        account::submit_action(&args.signer, keyring, Action::Propose { action, description })?;

    // The response does not carry the proposal id, so it is looked up: the newest
    // proposal by this key opened at the transaction's height.
    let proposer = key.public_key().to_hex();
    let found = match client.proposals() {
        Ok(list) => find_proposal(&list.proposals, &proposer, response.height).cloned(),
        Err(error) => {
            tracing::warn!(%error, "cannot list proposals to find the new proposal's id");
            None
        }
    };
    let proposal = found.as_ref().map(|found| found.id);
    let result = TxResult {
        tx_hash: &response.tx_hash,
        height: response.height,
        outcome: response.outcome.as_deref(),
        proposal,
    };
    account::print_result(args.signer.output, &result)?;
    match found {
        Some(found) if found.status == "voting" => {
            eprintln!(
                "proposal {} is open; validators vote with `vouch gov vote {} --yes --key NAME`",
                found.id, found.id
            );
        }
        Some(found) if found.status != "passed" => {
            anyhow::bail!("proposal {} was committed but did not pass: {}", found.id, found.status)
        }
        _ => {}
    }
    Ok(())
}

fn find_proposal<'a>(proposals: &'a [ProposalView], proposer: &str, height: Option<u64>) -> Option<&'a ProposalView> {
    proposals
        .iter()
        .filter(|proposal| proposal.proposer == proposer && Some(proposal.submitted_at) == height)
        .max_by_key(|proposal| proposal.id)
}

fn vote(args: VoteArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let action = Action::Vote { proposal: args.id, approve: args.yes };
    let (_, _, response) = account::submit_action(&args.signer, keyring, action)?;
    let result = TxResult {
        tx_hash: &response.tx_hash,
        height: response.height,
        outcome: response.outcome.as_deref(),
        proposal: Some(args.id),
    };
    account::print_result(args.signer.output, &result)
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let response = args.node.client()?.proposals()?;
    if args.output == OutputFormat::Json {
        return output::print_json(&response);
    }
    if response.proposals.is_empty() {
        eprintln!("no proposals");
        return Ok(());
    }
    let header = ["ID", "STATUS", "ACTION", "YES", "NO", "TOTAL", "VOTING ENDS"].map(str::to_owned).to_vec();
    let rows = response.proposals.iter().map(|proposal| {
        vec![
            proposal.id.to_string(),
            proposal.status.clone(),
            proposal.action.clone(),
            proposal.yes_stake.to_string(),
            proposal.no_stake.to_string(),
            proposal.total_stake.to_string(),
            proposal.voting_ends_at.to_string(),
        ]
    });
    output::print_table(&std::iter::once(header).chain(rows).collect::<Vec<_>>())
}
