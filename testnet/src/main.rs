//! `vouch-testnet`: load generators and measurements against running Vouch nodes.

mod http;
mod query;
mod simulate;
mod submit;
mod verify_rate;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use vouch_keyring::{KeyName, Keyring};
use vouch_protocol::input::read_file_bounded;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::keys::sslib::parse_private_key_json;

/// Maximum size of a private key file in bytes.
const KEY_FILE_BYTES_MAX: u64 = 64 * 1024;

#[derive(Parser)]
#[command(name = "vouch-testnet", version, about = "Load generators and measurements for Vouch nodes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put load on a running node and print the figures with their ratios.
    #[command(subcommand)]
    Load(Load),
    /// Print the resident memory of a process (for example an idle vouchd).
    Rss {
        /// The process id.
        #[arg(long)]
        pid: u32,
    },
    /// Run seeds of the deterministic consensus simulator and check every run.
    Simulate(simulate::SimulateArgs),
}

#[derive(Subcommand)]
enum Load {
    /// Submit signed attestations and measure commits per second.
    Submit(SubmitArgs),
    /// Query image verdicts and measure answers per second.
    Query(QueryArgs),
}

#[derive(Args)]
struct NodeArgs {
    /// The node's API URL.
    #[arg(long, default_value = "http://127.0.0.1:7070", env = "VOUCH_NODE")]
    node: String,
    /// Run name: the images of a run are derived from it.
    #[arg(long, default_value = "load")]
    run: String,
    /// Parallel connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
}

#[derive(Args)]
struct SubmitArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The registered attester's key in the CLI keyring; it must be unencrypted, as the
    /// `dev` key that `vouchd start --dev` places there is.
    #[arg(long, default_value = "dev", conflicts_with = "key_file")]
    key: String,
    /// The CLI keyring folder.
    #[arg(long, env = "VOUCH_KEYRING", value_name = "DIR")]
    keyring: Option<PathBuf>,
    /// The attester's private key in securesystemslib JSON, in place of `--key`.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Number of attestations, one per image.
    #[arg(long, default_value_t = 300_000)]
    count: u64,
    /// Findings in each report.
    #[arg(long, default_value_t = 20)]
    findings: usize,
}

#[derive(Args)]
struct QueryArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Number of images the submit run attested.
    #[arg(long)]
    images: u64,
    /// Ask for Merkle proofs.
    #[arg(long)]
    proof: bool,
    /// Length of each measurement, for example `20s`.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Load(Load::Submit(args)) => submit(args),
        Command::Load(Load::Query(args)) => query(args),
        Command::Rss { pid } => rss(pid),
        Command::Simulate(args) => simulate::simulate(args),
    }
}

fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let key = attester_key(&args)?;
    let run = submit::SubmitRun {
        address: http::node_address(&args.node.node)?,
        run: args.node.run,
        count: args.count,
        findings: args.findings,
        connections: args.node.connections,
        key,
        settle: Duration::from_secs(10),
    };
    let report = run.run()?;
    let rate = report.committed as f64 / report.seconds;
    println!("attestations accepted:  {}", report.accepted);
    println!("attestations committed: {} in {:.1} s", report.committed, report.seconds);
    println!("commit rate:            {rate:.0} attestations/s (target 5000/s: {:.2}x)", rate / 5000.0);
    println!("ed25519 verify, 1 core: {:.0}/s", report.verify_rate);
    println!("ratio to 1-core verify: {:.3}", rate / report.verify_rate);
    for (code, count) in &report.rejections {
        println!("rejected {code}: {count}");
    }
    Ok(())
}

fn attester_key(args: &SubmitArgs) -> anyhow::Result<SigningKey> {
    if let Some(path) = &args.key_file {
        let bytes = read_file_bounded(path, KEY_FILE_BYTES_MAX)?;
        return Ok(parse_private_key_json(&path.display().to_string(), &bytes)?.0);
    }
    let keyring = Keyring::open(args.keyring.clone())?;
    let name = KeyName::parse(&args.key)?;
    let file = keyring.load(&name)?;
    file.unlock(None).with_context(|| {
        format!(
            "key {name} in {} is encrypted or unreadable; the load tool needs an unencrypted key",
            keyring.dir().display()
        )
    })
}

fn query(args: QueryArgs) -> anyhow::Result<()> {
    let run = query::QueryRun {
        address: http::node_address(&args.node.node)?,
        run: args.node.run,
        images: args.images,
        proof: args.proof,
        connections: args.node.connections,
        duration: args.duration,
    };
    let report = run.run()?;
    let target = if args.proof { 5_000.0 } else { 20_000.0 };
    let kind = if args.proof { "with proof" } else { "without proof" };
    println!(
        "verdict queries {kind}: {:.0}/s (target {target:.0}/s: {:.2}x)",
        report.verdicts_per_second,
        report.verdicts_per_second / target
    );
    println!("GET /v1/status ceiling:  {:.0}/s", report.status_per_second);
    println!("ratio to the ceiling:    {:.3}", report.verdicts_per_second / report.status_per_second);
    Ok(())
}

fn rss(pid: u32) -> anyhow::Result<()> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}; is process {pid} running?"))?;
    for line in text.lines().filter(|line| line.starts_with("VmRSS") || line.starts_with("VmHWM")) {
        println!("{line}");
    }
    Ok(())
}
