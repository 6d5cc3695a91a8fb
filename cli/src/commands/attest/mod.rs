//! `vouch attest`: build an in-toto statement about one image from a scanner report,
//! SBOM, provenance, statement, envelope or review decision, check it, and sign it.

mod document;
mod duration;
mod existing;
mod image;
mod predicate;
mod review;
mod sign;
mod statement;
mod submit;
mod summary;
mod vuln;

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::ArgGroup;
use vouch_keyring::{KeyName, Keyring};
use vouch_protocol::InputError;

use crate::client::NodeArgs;
use crate::output::OutputFormat;
use crate::passphrase::PassphraseArgs;

/// Options of `vouch attest`.
#[derive(clap::Args, Debug)]
#[command(group(ArgGroup::new("input").required(true).args([
    "trivy", "grype", "sbom", "provenance", "statement", "envelope", "approve", "reject",
])))]
#[command(group(ArgGroup::new("decision").args(["approve", "reject"])))]
pub struct AttestArgs {
    /// The image: `registry/repo@sha256:<hex>` (a tag next to the digest is kept as a
    /// label), or `oci:DIR[:TAG]` for an OCI image layout folder.
    pub image: String,

    /// Trivy JSON report (`trivy image --format json`), signed as a cosign vuln attestation.
    #[arg(long, value_name = "FILE")]
    pub trivy: Option<PathBuf>,
    /// Grype JSON report (`grype -o json`), signed as a cosign vuln attestation.
    #[arg(long, value_name = "FILE")]
    pub grype: Option<PathBuf>,
    /// CycloneDX or SPDX JSON SBOM; the format is detected from the content.
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// SLSA provenance predicate, v0.2 or v1 (detected from the content).
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
    /// Unsigned in-toto statement to sign as it is.
    #[arg(long, value_name = "FILE")]
    pub statement: Option<PathBuf>,
    /// Existing DSSE envelope to add a signature to; its signatures are kept, and
    /// those by keyring keys must verify.
    #[arg(long, value_name = "FILE")]
    pub envelope: Option<PathBuf>,

    /// Record a reviewer's approval of the image.
    #[arg(long, requires = "reason")]
    pub approve: bool,
    /// Record a reviewer's rejection of the image.
    #[arg(long, requires = "reason")]
    pub reject: bool,
    /// Reason for the approval or rejection (with --approve or --reject).
    #[arg(long, value_name = "TEXT", requires = "decision")]
    pub reason: Option<String>,
    /// How long the decision applies, such as 90m, 12h or 30d (units s, m, h, d, w).
    #[arg(long, value_name = "DURATION", requires = "decision")]
    pub expires: Option<String>,
    /// Reviewer name or email, shown to people reading the ledger.
    #[arg(long, value_name = "NAME", requires = "decision")]
    pub reviewer: Option<String>,

    /// Platform of a multi-platform OCI index to attest, as os/arch[/variant]; by
    /// default the index itself is the subject. For a single image manifest, the
    /// platform its image config records must match.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// Keyring key that signs.
    #[arg(long, value_name = "NAME")]
    pub key: String,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,

    /// Print the signed envelope instead of submitting it to the node.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Output format of the submission's result (not of --dry-run, which prints the envelope).
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,

    /// Largest input file read, in bytes. Reports, SBOMs, provenance and statements
    /// are read only up to 16777216 bytes (the DSSE payload limit) and envelopes up to
    /// 25165824 bytes, because larger ones cannot be signed. It also bounds the files
    /// read from an `oci:` layout (manifests at most 4194304 bytes, the registry limit).
    #[arg(long, value_name = "BYTES", default_value_t = vouch_protocol::input::DEFAULT_INPUT_BYTES_MAX)]
    pub max_input_bytes: u64,
}

/// Runs `vouch attest`: signs, then prints the envelope (`--dry-run`) or submits it.
pub fn run(args: AttestArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let key_name = KeyName::parse(&args.key)?;
    let key = keyring.load(&key_name)?;
    let signer = sign::Signer::check(&key)?;

    // A bad --node fails here, before the passphrase prompt and the signature.
    let client = if args.dry_run { None } else { Some(args.node.client()?) };

    let target = image::resolve(&args.image, args.platform.as_deref(), args.max_input_bytes)?;
    let prepared = predicate::prepare(&args, &target, keyring).map_err(add_input_limit_hint)?;
    sign::check_payload_size(&prepared.unsigned, input_file(&args))?;

    let signing_key = signer.unlock(&key, &args.passphrase)?;
    let envelope = sign::sign(prepared.unsigned, signer.keyid(), &signing_key)?;

    if args.dry_run {
        crate::output::print_stdout(&envelope.to_json())?;
        summary::print(&target, &prepared.summary, &key_name, signer.keyid(), &envelope, "the envelope is on stdout");
        return Ok(());
    }
    let client = client.expect("a client is built unless --dry-run");
    summary::print(&target, &prepared.summary, &key_name, signer.keyid(), &envelope, "submitting it");
    // The status shown afterwards is the one under the attested repository, as
    // `vouch status` and `vouch verify` show it for the same reference.
    let repository = (!args.image.starts_with(image::OCI_LAYOUT_PREFIX)).then_some(target.name.as_str());
    submit::run(&client, args.output, &envelope, &target.digest, repository)
}

/// Returns the input file given with --trivy, --grype, --sbom, --provenance,
/// --statement or --envelope, or `None` for a review.
fn input_file(args: &AttestArgs) -> Option<&Path> {
    [&args.trivy, &args.grype, &args.sbom, &args.provenance, &args.statement, &args.envelope]
        .into_iter()
        .find_map(|path| path.as_deref())
}

/// Adds the option that raises the limit to the error for an input file over
/// `--max-input-bytes`; other size limits (keys, OCI layouts) have no option.
fn add_input_limit_hint(error: anyhow::Error) -> anyhow::Error {
    match error.downcast_ref::<InputError>() {
        Some(InputError::TooLarge { .. }) => {
            anyhow!("{error:#}; raise the limit with --max-input-bytes if the file is trusted")
        }
        _ => error,
    }
}
