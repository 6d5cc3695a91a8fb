//! `vouch attest`: sign an in-toto statement about an image.

use crate::keyring::Keyring;

/// Options of `vouch attest`.
#[derive(clap::Args, Debug)]
pub struct AttestArgs {}

/// Runs `vouch attest`.
pub fn run(_args: AttestArgs, _keyring: &Keyring) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
