//! `vouch verify`: fetches an image's status with its proof and checks it against a
//! trusted genesis with the light client, so the result does not depend on trusting
//! the node.
//!
//! A node proves the state after block H with the header of block H + 1, so the
//! newest evaluation of an image becomes provable one block after it is committed.
//! `verify` therefore first requests the unproven status. It then requests the proof
//! until the proof's height reaches the newest verdict's height or `--wait` ends.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::Serialize;
use vouch_protocol::api::{ImageStatusResponse, NameView, VerdictView};
use vouch_protocol::ledger::{Genesis, ImageRecord, ImageStatus};
use vouch_protocol::light::{self, LightError, TrustOptions, TrustedState, VerifiedImage, Verifier};

use crate::client::{NodeArgs, NodeClient};
use crate::commands::image_arg::{self, ImageQuery};
use crate::commands::status::{self, status_name};
use crate::commands::verify::node_provider::NodeProvider;
use crate::exit;
use crate::output::{self, OutputFormat};

mod node_provider;

/// Default of `--wait`, as the option spells it.
pub const DEFAULT_WAIT: &str = "10s";
/// Longest `--wait`.
pub const WAIT_MAX: Duration = Duration::from_secs(10 * 60);
/// Time between two proof requests while the proof is behind.
const WAIT_POLL_INTERVAL: Duration = Duration::from_millis(250);

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
    /// How long a trusted header (first the genesis) vouches for later headers, such as
    /// 14d or 72h. Keep it below the chain's unbonding period. The default is the light
    /// client's trust period of two weeks.
    #[arg(long, value_name = "DURATION", value_parser = parse_trust_period)]
    pub trust_period: Option<Duration>,
    /// How long to wait for a proof that covers the node's newest evaluation of the
    /// image, such as 10s, 500ms or 2m (at most 10m); 0 takes the first proof.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_WAIT, value_parser = parse_wait)]
    pub wait: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Parses `--wait`: a humantime duration such as `10s` or `0`, at most [`WAIT_MAX`].
fn parse_wait(text: &str) -> Result<Duration, String> {
    let wait = humantime::parse_duration(text)
        .map_err(|error| format!("{error}; write a duration such as 10s, 500ms or 2m, or 0 to not wait"))?;
    if wait > WAIT_MAX {
        return Err(format!("{text} is longer than the maximum of {}", humantime::format_duration(WAIT_MAX)));
    }
    Ok(wait)
}

/// Parses `--trust-period`: a humantime duration such as `14d`, longer than the light
/// client's clock drift.
fn parse_trust_period(text: &str) -> Result<Duration, String> {
    let period =
        humantime::parse_duration(text).map_err(|error| format!("{error}; write a duration such as 14d or 72h"))?;
    let drift = TrustOptions::default().clock_drift;
    if period <= drift {
        return Err(format!(
            "{text} is not longer than the allowed clock drift of {}; write a duration such as 14d",
            humantime::format_duration(drift)
        ));
    }
    Ok(period)
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

    let evaluated = latest_evaluation_height(&client, &query)?;
    let response = fetch_proof(&client, &query, evaluated, args.wait)?;
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
    let mut options = TrustOptions::default();
    if let Some(trust_period) = args.trust_period {
        options.trust_period = trust_period;
    }
    let mut verifier = Verifier::new(TrustedState::from_genesis(&genesis)?, options)?;
    let mut provider = NodeProvider::new(&client);
    let verified = light::verify_image_proof(&mut verifier, &mut provider, &query.digest, proof, unix_now_ms()?)
        .map_err(with_hint)
        .with_context(|| format!("the proof from {} failed verification", client.base_url()))?;

    if verified.height.0 < evaluated {
        eprintln!(
            "note: the proof is at height {} but the node evaluated the image at height {evaluated}, so the \
             verified status may be out of date; raise --wait (now {}) to wait for the next block",
            verified.height.0,
            humantime::format_duration(args.wait)
        );
    }
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

/// Appends to the light client's error what the user of `vouch verify` can do about
/// it, for the errors that have a remedy.
fn with_hint(error: LightError) -> anyhow::Error {
    let hint = match &error {
        LightError::TrustExpired { .. } => {
            "If the genesis validators are still bonded, raise --trust-period above the chain's age"
        }
        LightError::ValidatorSetMismatch { .. } => {
            "The node served a validator set that the header does not name, so it is out of step with the chain \
             or faulty; verify against another node"
        }
        _ => return error.into(),
    };
    anyhow::anyhow!("{error}. {hint}")
}

/// Reads the system clock as Unix milliseconds, the unit of block times.
fn unix_now_ms() -> anyhow::Result<u64> {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?;
    Ok(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// Returns the height of the node's newest verdict about the image, unproven; 0 when
/// the node has none.
fn latest_evaluation_height(client: &NodeClient, query: &ImageQuery) -> anyhow::Result<u64> {
    let latest = client.image(&query.digest, query.repository.as_deref(), false)?;
    Ok(latest.verdicts.iter().map(|verdict| verdict.height).max().unwrap_or(0))
}

/// Fetches the status with its proof until the proof's height reaches `evaluated` or
/// `wait` ends, and returns the last response.
// NOTE: `evaluated` comes from the node unproven, so a lying node can make verify wait
// up to `wait`. The verified status does not depend on it.
fn fetch_proof(
    client: &NodeClient,
    query: &ImageQuery,
    evaluated: u64,
    wait: Duration,
) -> anyhow::Result<ImageStatusResponse> {
    let deadline = Instant::now() + wait;
    loop {
        let response = client.image(&query.digest, query.repository.as_deref(), true)?;
        let Some(proof) = &response.proof else {
            return Ok(response);
        };
        let now = Instant::now();
        if proof.height >= evaluated || now >= deadline {
            return Ok(response);
        }
        tracing::debug!(proof_height = proof.height, evaluated, "the proof is behind the newest verdict; waiting");
        std::thread::sleep(WAIT_POLL_INTERVAL.min(deadline - now));
    }
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
    let mut rows = vec![
        vec!["IMAGE".to_owned(), result.image.clone()],
        vec!["STATUS".to_owned(), format!("{} (proof verified)", result.status)],
        vec!["REPOSITORY".to_owned(), result.repository.clone().unwrap_or_else(|| "(every name)".to_owned())],
        vec!["HEIGHT".to_owned(), result.height.to_string()],
        vec!["BLOCK".to_owned(), format!("{} at height {}", result.block_hash, result.block_height)],
    ];
    if result.names.is_empty() && result.verdicts.is_empty() {
        let absent = "none: no committed attestation names this image, and the proof shows its absence";
        rows.push(vec!["VERDICTS".to_owned(), absent.to_owned()]);
    }
    output::print_table(&rows)?;
    if result.verdicts.is_empty() {
        return Ok(());
    }
    output::print_stdout("")?;
    status::print_verdicts(&result.verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_accepts_zero_and_maximum() {
        assert_eq!(parse_wait("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_wait(DEFAULT_WAIT).unwrap(), Duration::from_secs(10));
        assert_eq!(parse_wait("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_wait("10m").unwrap(), WAIT_MAX);
    }

    #[test]
    fn trust_period_must_exceed_clock_drift() {
        assert_eq!(parse_trust_period("14d").unwrap(), Duration::from_secs(14 * 24 * 60 * 60));
        assert_eq!(parse_trust_period("11s").unwrap(), Duration::from_secs(11));
        for text in ["10s", "1s", "0"] {
            let error = parse_trust_period(text).unwrap_err();
            assert!(error.contains("not longer than the allowed clock drift of 10s"), "{text:?}: {error}");
        }
        let error = parse_trust_period("two weeks").unwrap_err();
        assert!(error.contains("write a duration such as 14d"), "{error}");
    }

    #[test]
    fn wait_rejects_past_maximum_and_garbage() {
        let error = parse_wait("601s").unwrap_err();
        assert!(error.contains("longer than the maximum of 10m"), "{error}");
        for text in ["", "ten", "-1s", "5"] {
            let error = parse_wait(text).unwrap_err();
            assert!(error.contains("write a duration such as 10s"), "{text:?}: {error}");
        }
    }
}
