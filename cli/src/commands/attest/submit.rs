//! Submitting a signed envelope to a node as an attestation transaction, then printing
//! the image's new status.

use serde::Serialize;
use vouch_protocol::api::ImageStatusResponse;
use vouch_protocol::digest::Digest;
use vouch_protocol::dsse::Envelope;
use vouch_protocol::ledger::LedgerTx;

use crate::client::NodeClient;
use crate::commands::{account, status};
use crate::output::{self, OutputFormat};

/// The result that `--output json` prints.
#[derive(Serialize)]
struct AttestOutput {
    tx_hash: String,
    envelope_hash: String,
    height: Option<u64>,
    status: ImageStatusResponse,
}

/// Submits `envelope` (its JSON bytes, exactly as signed) and waits for the commit,
/// then prints the transaction and the status of `image` under `repository`, or under
/// every name when there is none.
pub fn run(
    client: &NodeClient,
    format: OutputFormat,
    envelope: &Envelope,
    image: &Digest,
    repository: Option<&str>,
) -> anyhow::Result<()> {
    let envelope = envelope.to_json().into_bytes();
    let envelope_hash = hex::encode(blake3::hash(&envelope).as_bytes());
    let tx = LedgerTx::Attest { envelope };
    let response = account::submit_tx(client, &tx)?;
    let image_status = client.image(image, repository, false)?;

    if format == OutputFormat::Json {
        return output::print_json(&AttestOutput {
            tx_hash: response.tx_hash,
            envelope_hash,
            height: response.height,
            status: image_status,
        });
    }
    let height = response.height.map_or_else(|| "?".to_owned(), |height| height.to_string());
    output::print_table(&[
        vec!["TX".to_owned(), response.tx_hash],
        vec!["ENVELOPE".to_owned(), envelope_hash],
        vec!["COMMITTED".to_owned(), height],
    ])?;
    output::print_stdout("")?;
    status::print_text(&image_status)
}
