//! Account transactions: sign an action with a keyring key for the node's chain and
//! next nonce, submit it, wait for its block and print the outcome.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use vouch_keyring::passphrase::Prompt;
use vouch_keyring::{KeyKind, KeyName, Keyring};
use vouch_protocol::api::{SubmitTxRequest, SubmitTxResponse, TxState};
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{Action, LedgerTx, SignedTx, TxBody};
use vouch_protocol::signing::ChainId;

use crate::client::{NodeArgs, NodeClient};
use crate::output::{self, OutputFormat};
use crate::passphrase::PassphraseArgs;

/// The `outcome` a committed transaction has when the block applied it; the node may
/// add details after `applied: `.
pub const OUTCOME_APPLIED: &str = "applied";

/// Returns whether a committed transaction's outcome says the block applied it.
pub fn is_applied(outcome: &str) -> bool {
    outcome == OUTCOME_APPLIED || outcome.strip_prefix(OUTCOME_APPLIED).is_some_and(|rest| rest.starts_with(": "))
}

/// Options of every command that signs an account transaction.
#[derive(clap::Args, Debug)]
pub struct SignerArgs {
    /// Keyring key that signs the transaction (a validator's key for governance).
    #[arg(long, value_name = "NAME")]
    pub key: String,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Output format of the result.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Loads and unlocks a keyring key that can sign, reading a passphrase only for an
/// encrypted key.
pub fn unlock_key(keyring: &Keyring, name: &str, passphrase: &PassphraseArgs) -> anyhow::Result<SigningKey> {
    let name = KeyName::parse(name)?;
    let key = keyring.load(&name)?;
    let passphrase = match key.kind() {
        KeyKind::Encrypted => Some(passphrase.read(&name, Prompt::Unlock)?),
        KeyKind::Unencrypted | KeyKind::PublicOnly => None,
    };
    Ok(key.unlock(passphrase.as_deref().map(Vec::as_slice))?)
}

/// Signs `action` with the signer's key for the node's chain id and the account's next
/// nonce, submits it and waits for its block. Fails when the node does not commit it
/// within its wait or the block did not apply it.
pub fn submit_action(
    args: &SignerArgs,
    keyring: &Keyring,
    action: Action,
) -> anyhow::Result<(NodeClient, SigningKey, SubmitTxResponse)> {
    let client = args.node.client()?;
    let key = unlock_key(keyring, &args.key, &args.passphrase)?;

    let status = client.status()?;
    let chain_id = ChainId::new(&status.chain_id)
        .with_context(|| format!("{}: the node reports an invalid chain id", client.base_url()))?;
    let public_key = key.public_key().to_hex();
    let nonce = client.account(&public_key)?.nonce;
    tracing::debug!(chain_id = chain_id.as_str(), nonce, signer = public_key, "signing an account transaction");

    let signed = SignedTx::sign(&TxBody { nonce, action }, &key, &chain_id);
    let response = submit_tx(&client, &LedgerTx::Account(Box::new(signed)))?;
    Ok((client, key, response))
}

/// Submits `tx` with `wait: true` and checks that it was committed and applied.
pub fn submit_tx(client: &NodeClient, tx: &LedgerTx) -> anyhow::Result<SubmitTxResponse> {
    let request = SubmitTxRequest { tx: STANDARD.encode(tx.to_transaction().bytes()), wait: true };
    let response = client.submit(&request)?;
    check_committed(&response)?;
    Ok(response)
}

/// Fails unless the transaction was committed with the outcome `applied`.
fn check_committed(response: &SubmitTxResponse) -> anyhow::Result<()> {
    if response.state != TxState::Committed {
        bail!(
            "transaction {} was accepted but not committed before the node stopped waiting; \
             it may still be committed, so check the result before sending it again",
            response.tx_hash
        );
    }
    match response.outcome.as_deref() {
        None => Ok(()),
        Some(outcome) if is_applied(outcome) => Ok(()),
        Some(outcome) => bail!(
            "transaction {} was committed at height {} but had no effect: {outcome}",
            response.tx_hash,
            response.height.map_or_else(|| "?".to_owned(), |height| height.to_string())
        ),
    }
}

/// The result of an account transaction, as `--output json` prints it.
#[derive(Serialize)]
pub struct TxResult<'a> {
    /// The transaction hash, hex.
    pub tx_hash: &'a str,
    /// The height that committed it.
    pub height: Option<u64>,
    /// `applied`.
    pub outcome: Option<&'a str>,
    /// The proposal a governance transaction opened, if it could be found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<u64>,
}

/// Prints the committed transaction.
pub fn print_result(format: OutputFormat, result: &TxResult<'_>) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        return output::print_json(result);
    }
    let height = result.height.map_or_else(|| "?".to_owned(), |height| height.to_string());
    let mut rows = vec![
        vec!["TX".to_owned(), result.tx_hash.to_owned()],
        vec!["HEIGHT".to_owned(), height],
        vec!["OUTCOME".to_owned(), result.outcome.unwrap_or(OUTCOME_APPLIED).to_owned()],
    ];
    if let Some(id) = result.proposal {
        rows.push(vec!["PROPOSAL".to_owned(), id.to_string()]);
    }
    output::print_table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applied_outcome_may_carry_details() {
        assert!(is_applied("applied"));
        assert!(is_applied("applied: proposal 1 opened, passed"));
        assert!(!is_applied("appliedx"));
        assert!(!is_applied("rejected: nonce_mismatch"));
    }

    fn response(state: TxState, outcome: Option<&str>) -> SubmitTxResponse {
        SubmitTxResponse {
            tx_hash: "ab".repeat(32),
            state,
            height: Some(5),
            image: None,
            outcome: outcome.map(str::to_owned),
        }
    }

    #[test]
    fn applied_commit_passes() {
        assert!(check_committed(&response(TxState::Committed, Some("applied"))).is_ok());
    }

    #[test]
    fn accepted_only_fails_with_hash() {
        let error = check_committed(&response(TxState::Accepted, None)).unwrap_err();
        assert!(error.to_string().contains(&"ab".repeat(32)), "{error}");
        assert!(error.to_string().contains("not committed"), "{error}");
    }

    #[test]
    fn other_outcome_fails_with_reason() {
        let error = check_committed(&response(TxState::Committed, Some("nonce 3 expected 4"))).unwrap_err();
        assert!(error.to_string().contains("height 5 but had no effect: nonce 3 expected 4"), "{error}");
    }
}
