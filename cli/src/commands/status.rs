//! `vouch status`: an image's status as the node reports it, without checking a proof.

use vouch_protocol::api::{ImageStatusResponse, VerdictView};
use vouch_protocol::ledger::{ImageStatus, Verdict};

use crate::client::NodeArgs;
use crate::commands::image_arg;
use crate::output::{self, OutputFormat};

/// Options of `vouch status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The image: a digest (`sha256:<hex>`) or a reference pinned by digest
    /// (`registry/repo@sha256:<hex>`), whose repository becomes the default --repository.
    pub image: String,
    /// Ask for the status under this repository name (`registry/path`) only; a short name is
    /// normalized as in an image reference (`busybox` is `docker.io/library/busybox`).
    #[arg(long, value_name = "NAME")]
    pub repository: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Runs `vouch status`; it exits with 0 whatever the status, unlike `verify`.
pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    let query = image_arg::parse(&args.image, args.repository)?;
    let client = args.node.client()?;
    let response = client.image(&query.digest, query.repository.as_deref(), false)?;
    match args.output {
        OutputFormat::Json => output::print_json(&response),
        OutputFormat::Text => print_text(&response),
    }
}

/// Prints the status, the names and the verdicts as tables.
pub fn print_text(response: &ImageStatusResponse) -> anyhow::Result<()> {
    let mut rows = vec![
        vec!["IMAGE".to_owned(), response.image.to_string()],
        vec!["STATUS".to_owned(), status_name(response.status).to_owned()],
        vec!["REPOSITORY".to_owned(), response.repository.clone().unwrap_or_else(|| "(every name)".to_owned())],
        vec!["HEIGHT".to_owned(), response.height.to_string()],
    ];
    output::print_table(&rows)?;
    rows.clear();

    if !response.names.is_empty() {
        output::print_stdout("")?;
        let header = ["NAME", "SCOPE", "POLICIES"].map(str::to_owned).to_vec();
        let names = response.names.iter().map(|name| {
            let shown = if name.name.is_empty() { "(no name)".to_owned() } else { name.name.clone() };
            vec![shown, name.scope.clone(), name.policies.join(",")]
        });
        output::print_table(&std::iter::once(header).chain(names).collect::<Vec<_>>())?;
    }
    if !response.verdicts.is_empty() {
        output::print_stdout("")?;
        print_verdicts(&response.verdicts)?;
    }
    Ok(())
}

/// Returns the lowercase name of a status, as the JSON API spells it.
pub fn status_name(status: ImageStatus) -> &'static str {
    match status {
        ImageStatus::Approved => "approved",
        ImageStatus::Quarantined => "quarantined",
        ImageStatus::Pending => "pending",
    }
}

/// Prints one table row per policy verdict: policy, version, verdict, height, reasons.
pub fn print_verdicts(verdicts: &[VerdictView]) -> anyhow::Result<()> {
    let header = ["POLICY", "VERSION", "VERDICT", "HEIGHT", "REASONS"].map(str::to_owned).to_vec();
    let rows = verdicts.iter().map(|verdict| {
        vec![
            verdict.policy.clone(),
            verdict.policy_version.to_string(),
            verdict_name(verdict.verdict).to_owned(),
            verdict.height.to_string(),
            verdict.reasons.join("; "),
        ]
    });
    output::print_table(&std::iter::once(header).chain(rows).collect::<Vec<_>>())
}

/// Returns the lowercase name of a verdict, as the JSON API spells it.
pub fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Approved => "approved",
        Verdict::Quarantined => "quarantined",
        Verdict::Pending => "pending",
    }
}
