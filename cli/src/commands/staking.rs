//! `vouch staking`: create a validator, bond, unbond and unjail. Each is an account
//! transaction signed by the validator's consensus key, so the keyring key named by
//! `--key` is the validator.

use vouch_keyring::Keyring;
use vouch_protocol::ledger::{Action, NAME_BYTES_MAX};

use crate::commands::account::{self, SignerArgs, TxResult};

/// The `vouch staking` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum StakingCommand {
    /// Create a validator whose consensus key is `--key`, with a first self-bond.
    CreateValidator(CreateArgs),
    /// Add stake to the validator of `--key`.
    Bond(AmountArgs),
    /// Start unbonding stake of the validator of `--key`; it is released after the
    /// chain's unbonding period.
    Unbond(AmountArgs),
    /// End the jail of the validator of `--key` once its period has passed.
    Unjail(UnjailArgs),
}

/// Options of `vouch staking create-validator`.
#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The validator's name, shown by `GET /v1/validators` (1 to 128 bytes).
    #[arg(long)]
    pub name: String,
    /// The stake to bond at creation; at least the chain's `min_self_bond`.
    #[arg(long, value_name = "AMOUNT")]
    pub self_bond: u64,
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Options of `vouch staking bond` and `vouch staking unbond`.
#[derive(clap::Args, Debug)]
pub struct AmountArgs {
    /// The stake to move, a positive whole number.
    pub amount: u64,
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Options of `vouch staking unjail`.
#[derive(clap::Args, Debug)]
pub struct UnjailArgs {
    #[command(flatten)]
    pub signer: SignerArgs,
}

/// Runs one `vouch staking` subcommand: signs the action, waits for its block and
/// prints the outcome.
pub fn run(command: StakingCommand, keyring: &Keyring) -> anyhow::Result<()> {
    let (signer, action) = match command {
        StakingCommand::CreateValidator(args) => {
            check_name(&args.name)?;
            (args.signer, Action::CreateValidator { name: args.name, self_bond: args.self_bond })
        }
        StakingCommand::Bond(args) => (args.signer, Action::Bond { amount: positive("bond", args.amount)? }),
        StakingCommand::Unbond(args) => (args.signer, Action::Unbond { amount: positive("unbond", args.amount)? }),
        StakingCommand::Unjail(args) => (args.signer, Action::Unjail),
    };
    let (_, key, response) = account::submit_action(&signer, keyring, action)?;
    let result = TxResult {
        tx_hash: &response.tx_hash,
        height: response.height,
        outcome: response.outcome.as_deref(),
        proposal: None,
    };
    account::print_result(signer.output, &result)?;
    if let Some(height) = response.height {
        eprintln!(
            "validator key {} has public key {}; the validator set changes, if it does, at height {}, and GET /v1/validators?height={} shows it",
            signer.key,
            key.public_key().to_hex(),
            height + 2,
            height + 2
        );
    }
    Ok(())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !name.is_empty() && name.len() <= NAME_BYTES_MAX,
        "--name is {} bytes; give a validator name of 1 to {NAME_BYTES_MAX} bytes",
        name.len()
    );
    Ok(())
}

fn positive(operation: &str, amount: u64) -> anyhow::Result<u64> {
    anyhow::ensure!(amount > 0, "{operation} of amount 0 does nothing; give a positive amount");
    Ok(amount)
}
