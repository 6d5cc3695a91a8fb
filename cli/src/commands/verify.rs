//! `vouch verify`: fetches an image's status with its proof and checks it against a
//! trusted genesis with the light client, so the result does not depend on trusting
//! the node.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Serialize;
use vouch_protocol::api::{NameView, VerdictView};
use vouch_protocol::ledger::{Genesis, ImageRecord, ImageStatus};
use vouch_protocol::light::{self, VerifiedImage};

use crate::client::NodeArgs;
use crate::commands::image_arg;
use crate::commands::status::{status_name, verdict_name};
use crate::exit;
use crate::output::{self, OutputFormat};

/// Options of `vouch verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The image: a digest (`sha256:<hex>`) or a reference pinned by digest, whose
    /// repository becomes the default --repository.
    pub image: String,
    /// The chain's genesis file, whose validators and stake are trusted.
    #[arg(long, value_name = "FILE")]
    pub genesis: PathBuf,
    /// Check the status under this repository name (`registry/path`) only; a short name is
    /// normalized as in an image reference (`busybox` is `docker.io/library/busybox`).
    #[arg(long, value_name = "NAME")]
    pub repository: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// The result of `verify --output json`.
#[derive(Serialize)]
struct VerifyOutput {
    image: String,
    status: &'static str,
    repository: Option<String>,
    /// Always true: an unverified response is an error, never an output.
    verified: bool,
    height: u64,
    block_height: u64,
    block_hash: String,
    names: Vec<NameView>,
    verdicts: Vec<VerdictView>,
}

/// Runs `vouch verify` and returns its exit code: 0 approved, 3 quarantined, 4 pending.
pub fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let query = image_arg::parse(&args.image, args.repository)?;
    let genesis = Genesis::read(&args.genesis)?;
    let client = args.node.client()?;

    let response = client.image(&query.digest, query.repository.as_deref(), true)?;
    let Some(proof) = &response.proof else {
        bail!("{}: the node returned no proof for {}; it must support ?proof=true", client.base_url(), query.digest);
    };
    if response.image != query.digest {
        bail!(
            "{}: the node returned the status of image {} instead of {}",
            client.base_url(),
            response.image,
            query.digest
        );
    }
    let verified = light::verify_image_proof(&genesis, &query.digest, proof)
        .with_context(|| format!("the proof from {} failed verification", client.base_url()))?;

    let status = verified.status(query.repository.as_deref());
    if status != response.status {
        tracing::warn!(
            node = client.base_url(),
            reported = status_name(response.status),
            verified = status_name(status),
            "the node's reported status differs from the verified record; using the verified status"
        );
    }
    let result = verify_output(&verified, status, query.repository);
    match args.output {
        OutputFormat::Json => output::print_json(&result)?,
        OutputFormat::Text => print_text(&result)?,
    }
    Ok(exit::for_status(status))
}

fn verify_output(verified: &VerifiedImage, status: ImageStatus, repository: Option<String>) -> VerifyOutput {
    let empty = ImageRecord { names: Vec::new(), verdicts: Vec::new() };
    let record = verified.record.as_ref().unwrap_or(&empty);
    VerifyOutput {
        image: verified.image.to_string(),
        status: status_name(status),
        repository,
        verified: true,
        height: verified.height.0,
        block_height: verified.header.height.0,
        block_hash: verified.header.hash().to_hex(),
        names: record.names.iter().map(name_view).collect(),
        verdicts: record.verdicts.iter().map(verdict_view).collect(),
    }
}

fn name_view(binding: &vouch_protocol::ledger::NameBinding) -> NameView {
    NameView { name: binding.name.clone(), scope: binding.scope.clone(), policies: binding.policies.clone() }
}

fn verdict_view(record: &vouch_protocol::ledger::VerdictRecord) -> VerdictView {
    VerdictView {
        policy: record.policy.clone(),
        policy_version: record.policy_version,
        code_hash: hex::encode(record.code_hash),
        verdict: record.verdict,
        reasons: record.reasons.clone(),
        expires_at_ms: record.expires_at_ms,
        height: record.height.0,
        attestations: record.attestations.iter().map(hex::encode).collect(),
    }
}

fn print_text(result: &VerifyOutput) -> anyhow::Result<()> {
    let rows = vec![
        vec!["IMAGE".to_owned(), result.image.clone()],
        vec!["STATUS".to_owned(), format!("{} (verified)", result.status)],
        vec!["REPOSITORY".to_owned(), result.repository.clone().unwrap_or_else(|| "(every name)".to_owned())],
        vec!["HEIGHT".to_owned(), result.height.to_string()],
        vec!["BLOCK".to_owned(), format!("{} at height {}", result.block_hash, result.block_height)],
    ];
    output::print_table(&rows)?;
    if result.verdicts.is_empty() {
        return Ok(());
    }
    output::print_stdout("")?;
    let header = ["POLICY", "VERSION", "VERDICT", "HEIGHT", "REASONS"].map(str::to_owned).to_vec();
    let verdicts = result.verdicts.iter().map(|verdict| {
        vec![
            verdict.policy.clone(),
            verdict.policy_version.to_string(),
            verdict_name(verdict.verdict).to_owned(),
            verdict.height.to_string(),
            verdict.reasons.join("; "),
        ]
    });
    output::print_table(&std::iter::once(header).chain(verdicts).collect::<Vec<_>>())
}
