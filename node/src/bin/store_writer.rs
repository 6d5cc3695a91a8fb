//! Commits synthetic blocks to a ledger store in a loop and prints each committed
//! height, so a crash test can kill it at any moment and check what survived.
//!
//! Usage: `vouch-store-writer DIR MAX_HEIGHT TXS_PER_BLOCK`. The writer resumes after
//! the last committed height in `DIR`, stops after `MAX_HEIGHT`, and prints
//! `committed HEIGHT` on stdout only after the block's write and flush returned.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use vouch_node::store::{LedgerStore, SledBackend};
use vouch_node::synthetic::{self, SyntheticChain};
use vouch_protocol::chain::Height;

/// The validator key seed of the synthetic chain that the crash test also uses.
const VALIDATOR_SEED: u8 = 1;

fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [directory, max_height, txs_per_block] = arguments.as_slice() else {
        bail!("usage: vouch-store-writer DIR MAX_HEIGHT TXS_PER_BLOCK");
    };
    let directory = PathBuf::from(directory);
    let max_height: u64 = max_height.parse().with_context(|| format!("MAX_HEIGHT `{max_height}` is not a number"))?;
    let txs_per_block: u64 =
        txs_per_block.parse().with_context(|| format!("TXS_PER_BLOCK `{txs_per_block}` is not a number"))?;

    let store = LedgerStore::open(SledBackend::open(&directory)?)?;
    let chain = SyntheticChain::new(VALIDATOR_SEED);
    chain.init(&store)?;

    let mut stdout = std::io::stdout().lock();
    while let Some(height) = store.latest_height().and_then(Height::next).filter(|height| height.0 <= max_height) {
        let write = chain.next_block(&store, synthetic::transactions(height, txs_per_block))?;
        store.commit_block(write)?;
        writeln!(stdout, "committed {height}")?;
        stdout.flush()?;
    }
    Ok(())
}
