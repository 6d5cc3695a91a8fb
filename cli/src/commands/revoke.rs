//! `vouch revoke` and `vouch attestations`: list an image's committed attestations and
//! withdraw one of them with the key that signed it.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::Serialize;
use vouch_keyring::Keyring;
use vouch_protocol::api::ImageStatusResponse;
use vouch_protocol::input::read_file_bounded;
use vouch_protocol::ledger::{Action, DESCRIPTION_BYTES_MAX};

use crate::client::NodeArgs;
use crate::commands::account::{self, SignerArgs, TxResult};
use crate::commands::{image_arg, status};
use crate::output::{self, OutputFormat};

/// Maximum size of an envelope file whose hash `--envelope` computes, in bytes.
const ENVELOPE_FILE_BYTES_MAX: u64 = 32 * 1024 * 1024;

/// Options of `vouch revoke`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["envelope_hash", "envelope"])))]
pub struct RevokeArgs {
    /// The image: `sha256:<hex>` or `name@sha256:<hex>`.
    pub image: String,
    /// The attestation's envelope hash, as `vouch attest` and `vouch attestations` print it.
    #[arg(long, value_name = "HEX")]
    pub envelope_hash: Option<String>,
    /// The envelope file exactly as it was submitted (for example from `vouch attest
    /// --dry-run`); its BLAKE3 hash names the attestation.
    #[arg(long, value_name = "FILE")]
    pub envelope: Option<PathBuf>,
    /// The reason for withdrawing the attestation (at most 4096 bytes).
    #[arg(long, default_value = "")]
    pub reason: String,
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Options of `vouch attestations`.
#[derive(clap::Args, Debug)]
pub struct AttestationsArgs {
    /// The image: `sha256:<hex>` or `name@sha256:<hex>`.
    pub image: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// The output of `vouch revoke --output json`: the transaction and the image's new status.
#[derive(Serialize)]
struct RevokeOutput<'a> {
    #[serde(flatten)]
    tx: TxResult<'a>,
    status: ImageStatusResponse,
}

/// Signs and submits the revocation, then prints the result and the image's new status
/// under the reference's repository, as `vouch attest` does.
pub fn revoke(args: RevokeArgs, keyring: &Keyring) -> anyhow::Result<()> {
    let query = image_arg::parse(&args.image, None)?;
    let image = query.digest.clone();
    if args.reason.len() > DESCRIPTION_BYTES_MAX {
        bail!("--reason is {} bytes, over the limit of {DESCRIPTION_BYTES_MAX} bytes", args.reason.len());
    }
    let envelope_hash = match (&args.envelope_hash, &args.envelope) {
        (Some(text), _) => parse_hash(text)?,
        (None, Some(path)) => *blake3::hash(&read_file_bounded(path, ENVELOPE_FILE_BYTES_MAX)?).as_bytes(),
        (None, None) => bail!("give --envelope-hash HEX or --envelope FILE"),
    };
    let action = Action::Revoke { image, envelope_hash, reason: args.reason.clone() };
    let (client, _, response) = account::submit_action(&args.signer, keyring, action)?;
    let result = TxResult {
        tx_hash: &response.tx_hash,
        height: response.height,
        outcome: response.outcome.as_deref(),
        proposal: None,
    };
    let image_status = client.image(&query.digest, query.repository.as_deref(), false)?;
    if args.signer.output == OutputFormat::Json {
        return output::print_json(&RevokeOutput { tx: result, status: image_status });
    }
    account::print_result(OutputFormat::Text, &result)?;
    output::print_stdout("")?;
    status::print_text(&image_status)
}

fn parse_hash(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(text).ok().filter(|bytes| bytes.len() == 32).with_context(|| {
        format!("--envelope-hash {text:?} is not 64 hex characters; copy it from `vouch attestations IMAGE`")
    })?;
    let mut hash = [0; 32];
    hash.copy_from_slice(&bytes);
    Ok(hash)
}

/// Prints the committed attestations of an image.
pub fn list(args: AttestationsArgs) -> anyhow::Result<()> {
    let image = image_arg::parse(&args.image, None)?.digest;
    let response = args.node.client()?.attestations(&image)?;
    if args.output == OutputFormat::Json {
        return output::print_json(&response);
    }
    if response.attestations.is_empty() {
        eprintln!("no attestations about {image}");
        return Ok(());
    }
    let header = ["ENVELOPE HASH", "ATTESTER", "ROLE", "PREDICATE TYPE", "HEIGHT"].map(str::to_owned).to_vec();
    let rows = response.attestations.iter().map(|attestation| {
        vec![
            attestation.envelope_hash.clone(),
            attestation.attester_name.clone().unwrap_or_else(|| attestation.attester.clone()),
            attestation.role.clone().unwrap_or_default(),
            attestation.predicate_type.clone(),
            attestation.height.to_string(),
        ]
    });
    output::print_table(&std::iter::once(header).chain(rows).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_hash_must_be_32_hex_bytes() {
        assert_eq!(parse_hash(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        for bad in ["ab", &"ab".repeat(33), &"zz".repeat(32)] {
            let message = parse_hash(bad).unwrap_err().to_string();
            assert!(message.contains("not 64 hex characters"), "{bad}: {message}");
        }
    }
}
