//! Staging a block's transactions in the ledger log while the block executes.
//!
//! Writing a full block's transactions to the log takes tens of milliseconds, mostly
//! copying into the page cache. A thread started when the app begins to apply a block
//! writes them past the end of the log, and the block's commit then appends only its
//! tree nodes. The write overlaps execution, policy evaluation and the state tree,
//! which do not read the staged bytes.

use std::thread::{Scope, ScopedJoinHandle};

use vouch_protocol::chain::Block;

use crate::store::{Backend, LedgerStore, StagedTxs, StoreError};

/// A staging write in progress.
pub(crate) type Staging<'scope> = ScopedJoinHandle<'scope, Result<StagedTxs, StoreError>>;

/// Starts staging `block`'s transactions on a thread of `scope`. An empty block has
/// nothing to stage, and a thread that cannot start leaves the commit to write the
/// transactions itself.
pub(crate) fn start<'scope, 'env, B: Backend>(
    scope: &'scope Scope<'scope, 'env>,
    store: &'env LedgerStore<B>,
    block: &'env Block,
) -> Option<Staging<'scope>> {
    if block.txs.is_empty() {
        return None;
    }
    let builder = std::thread::Builder::new().name("vouchd-stage".to_string());
    match builder.spawn_scoped(scope, move || store.stage_block(block)) {
        Ok(handle) => Some(handle),
        Err(error) => {
            let height = block.header.height;
            tracing::warn!(height = height.0, %error, "cannot start the staging thread; the commit writes the transactions");
            None
        }
    }
}

/// Waits for `staging` and returns what it staged. A failed stage is logged and
/// leaves the commit to write the transactions itself, which reports the error again
/// if the disk still fails.
pub(crate) fn finish(staging: Option<Staging<'_>>, block: &Block) -> Option<StagedTxs> {
    let joined = staging?.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    match joined {
        Ok(staged) => Some(staged),
        Err(error) => {
            let height = block.header.height;
            tracing::warn!(height = height.0, %error, "staging the block's transactions failed; the commit writes them");
            None
        }
    }
}
