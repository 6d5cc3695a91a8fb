//! `vouch policy`: propose deploying, binding, unbinding and administering policies,
//! list them, and test a policy locally with the node's runtime.

mod check;
mod test;

use std::path::PathBuf;

use anyhow::{Context, bail};
use vouch_keyring::Keyring;
use vouch_node::policy::{PolicyLimits, PolicyRuntime, RuntimeConfig};
use vouch_protocol::ledger::{AdminMessage, BoundPolicy, GovAction, Scope};

use crate::client::NodeArgs;
use crate::commands::gov::{self, ProposalArgs};
use crate::output::{self, OutputFormat, escape_message};

pub use test::TestArgs;

/// The `vouch policy` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Propose deploying WebAssembly code under a policy name (a new version if the name exists).
    Deploy(DeployArgs),
    /// Propose binding policies, with parameters, to a scope.
    Bind(BindArgs),
    /// Propose removing the binding of a scope.
    Unbind(UnbindArgs),
    /// Propose setting or deleting an entry of a policy's storage.
    Admin(AdminArgs),
    /// List deployed policies and bindings.
    List(ListArgs),
    /// Run a policy locally on attestation files and print its verdict.
    Test(Box<TestArgs>),
}

/// Options of `vouch policy deploy`.
#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// The policy's name.
    pub name: String,
    /// The WebAssembly module.
    pub wasm: PathBuf,
    #[command(flatten)]
    pub proposal: ProposalArgs,
}

/// Options of `vouch policy bind`.
#[derive(clap::Args, Debug)]
pub struct BindArgs {
    /// The scope: `*`, `registry/path/*` or an exact repository name.
    pub scope: String,
    /// Policies to bind, each as NAME or NAME=JSON parameters.
    #[arg(required = true, value_name = "POLICY[=JSON]")]
    pub policies: Vec<String>,
    #[command(flatten)]
    pub proposal: ProposalArgs,
}

/// Options of `vouch policy unbind`.
#[derive(clap::Args, Debug)]
pub struct UnbindArgs {
    /// The scope whose binding is removed.
    pub scope: String,
    #[command(flatten)]
    pub proposal: ProposalArgs,
}

/// The change `vouch policy admin` makes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminOperation {
    /// Set KEY to VALUE.
    Set,
    /// Delete KEY.
    Delete,
}

/// Options of `vouch policy admin`.
#[derive(clap::Args, Debug)]
pub struct AdminArgs {
    /// The policy whose storage changes.
    pub policy: String,
    /// `set KEY VALUE` or `delete KEY`.
    #[arg(value_enum)]
    pub operation: AdminOperation,
    /// The storage key, such as `exemption/CVE-2024-1234`.
    pub storage_key: String,
    /// The value to set (with `set` only).
    pub value: Option<String>,
    #[command(flatten)]
    pub proposal: ProposalArgs,
}

/// Options of `vouch policy list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Runs one `vouch policy` subcommand; only `test` returns an exit code other than 0.
pub fn run(command: PolicyCommand, keyring: &Keyring) -> anyhow::Result<u8> {
    match command {
        PolicyCommand::Deploy(args) => deploy(args, keyring).map(|()| crate::exit::SUCCESS),
        PolicyCommand::Bind(args) => bind(args, keyring).map(|()| crate::exit::SUCCESS),
        PolicyCommand::Unbind(args) => unbind(args, keyring).map(|()| crate::exit::SUCCESS),
        PolicyCommand::Admin(args) => admin(args, keyring).map(|()| crate::exit::SUCCESS),
        PolicyCommand::List(args) => list(args).map(|()| crate::exit::SUCCESS),
        PolicyCommand::Test(args) => test::run(*args, keyring),
    }
}

/// Reads a policy module and checks it with the node's deploy rules under the default
/// limits, so a module the chain would reject fails here with the reason.
pub fn read_checked_module(path: &std::path::Path) -> anyhow::Result<(Vec<u8>, PolicyRuntime)> {
    let limits = PolicyLimits::default();
    let wasm = vouch_protocol::input::read_file_bounded(path, u64::from(limits.module_bytes_max))?;
    let runtime = PolicyRuntime::new(RuntimeConfig::default()).context("cannot start the policy runtime")?;
    runtime.deploy(&wasm).with_context(|| format!("{}: the node would reject this policy module", path.display()))?;
    Ok((wasm, runtime))
}

/// Proposes deploying a policy module.
pub fn deploy(args: DeployArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let (wasm, _) = read_checked_module(&args.wasm)?;
    let hash = blake3::hash(&wasm).to_hex();
    let summary = format!("deploy policy {} (blake3 {hash}, {} bytes)", args.name, wasm.len());
    gov::propose(&args.proposal, keyring, GovAction::DeployPolicy { name: args.name, wasm }, summary)
}

/// Proposes a binding after checking the scope and each policy's JSON parameters,
/// which the policy itself checks when the CLI embeds its code.
pub fn bind(args: BindArgs, keyring: &Keyring) -> anyhow::Result<()> {
    Scope::parse(&args.scope)?;
    let policies = args.policies.iter().map(|text| parse_bound_policy(text)).collect::<anyhow::Result<Vec<_>>>()?;
    let deployed = args.proposal.signer.node.client()?.policies()?.policies;
    for (bound, outcome) in policies.iter().zip(check::check_bindings(&policies, &deployed)?) {
        if let check::Check::Skipped(reason) = outcome {
            eprintln!(
                "warning: the parameters of policy {:?} were not checked: {}",
                bound.policy,
                escape_message(&reason)
            );
        }
    }
    let names: Vec<&str> = policies.iter().map(|bound| bound.policy.as_str()).collect();
    let summary = format!("bind {} to scope {}", names.join(", "), args.scope);
    gov::propose(&args.proposal, keyring, GovAction::BindPolicy { scope: args.scope, policies }, summary)
}

/// Parses `NAME` or `NAME=JSON` into a bound policy whose parameters are the compact
/// JSON text (empty for the policy's defaults), as a genesis binding writes them.
fn parse_bound_policy(text: &str) -> anyhow::Result<BoundPolicy> {
    let (name, parameters) = match text.split_once('=') {
        Some((name, json)) => {
            let value: serde_json::Value = serde_json::from_str(json)
                .with_context(|| format!("the parameters of policy {name:?} are not valid JSON: {json:?}"))?;
            (name, if value.is_null() { String::new() } else { value.to_string() })
        }
        None => (text, String::new()),
    };
    if name.is_empty() {
        bail!("{text:?} has no policy name; write NAME or NAME=JSON");
    }
    Ok(BoundPolicy { policy: name.to_owned(), parameters })
}

/// Proposes removing a binding.
pub fn unbind(args: UnbindArgs, keyring: &Keyring) -> anyhow::Result<()> {
    Scope::parse(&args.scope)?;
    let summary = format!("unbind scope {}", args.scope);
    gov::propose(&args.proposal, keyring, GovAction::UnbindPolicy { scope: args.scope }, summary)
}

/// Proposes a change to a policy's storage.
pub fn admin(args: AdminArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let key = args.storage_key;
    let (message, summary) = match (args.operation, args.value) {
        (AdminOperation::Set, Some(value)) => {
            let summary = format!("set {key} in policy {} storage", args.policy);
            (AdminMessage::Set { key, value }, summary)
        }
        (AdminOperation::Set, None) => bail!("`set {key}` needs a VALUE: vouch policy admin POLICY set KEY VALUE"),
        (AdminOperation::Delete, None) => {
            let summary = format!("delete {key} from policy {} storage", args.policy);
            (AdminMessage::Delete { key }, summary)
        }
        (AdminOperation::Delete, Some(value)) => bail!("`delete {key}` takes no VALUE, but {value:?} was given"),
    };
    gov::propose(&args.proposal, keyring, GovAction::PolicyAdmin { policy: args.policy, message }, summary)
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let response = args.node.client()?.policies()?;
    if args.output == OutputFormat::Json {
        return output::print_json(&response);
    }
    let header = ["POLICY", "VERSION", "CODE HASH", "DEPLOYED", "STORAGE"].map(str::to_owned).to_vec();
    let policies = response.policies.iter().map(|policy| {
        let storage: Vec<String> = policy.storage.iter().map(|(key, value)| format!("{key}={value}")).collect();
        vec![
            policy.name.clone(),
            policy.version.to_string(),
            policy.code_hash.clone(),
            policy.deployed_at.to_string(),
            storage.join(" "),
        ]
    });
    output::print_table(&std::iter::once(header).chain(policies).collect::<Vec<_>>())?;
    output::print_stdout("")?;
    let header = ["SCOPE", "POLICIES"].map(str::to_owned).to_vec();
    let bindings = response.bindings.iter().map(|binding| {
        let policies: Vec<String> = binding
            .policies
            .iter()
            .map(|(name, parameters)| if parameters.is_empty() { name.clone() } else { format!("{name}={parameters}") })
            .collect();
        vec![binding.scope.clone(), policies.join(" ")]
    });
    output::print_table(&std::iter::once(header).chain(bindings).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_policy_without_parameters() {
        let bound = parse_bound_policy("sbom-required").unwrap();
        assert_eq!(bound.policy, "sbom-required");
        assert_eq!(bound.parameters, "");
    }

    #[test]
    fn bound_policy_parameters_are_compact_json() {
        let bound = parse_bound_policy(r#"vulnerability-threshold={ "max_severity" : "high" }"#).unwrap();
        assert_eq!(bound.policy, "vulnerability-threshold");
        assert_eq!(bound.parameters, r#"{"max_severity":"high"}"#);
        assert_eq!(parse_bound_policy("p=null").unwrap().parameters, "");
    }

    #[test]
    fn bound_policy_rejects_bad_json_and_empty_name() {
        let error = parse_bound_policy("p={max").unwrap_err();
        assert!(format!("{error:#}").contains("policy \"p\" are not valid JSON"), "{error:#}");
        let error = parse_bound_policy("={}").unwrap_err();
        assert!(error.to_string().contains("no policy name"), "{error}");
    }
}
