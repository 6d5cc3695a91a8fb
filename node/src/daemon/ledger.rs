//! The daemon's seam implemented by the ledger state machine: [`App`] serves every
//! [`ChainApp`] call, and its results are mapped to the daemon's view of them.

use vouch_protocol::api::{
    AccountResponse, AttestationsResponse, AttestersResponse, BlockResponse, ImageStatusResponse, PoliciesResponse,
    ProposalsResponse, ValidatorsResponse,
};
use vouch_protocol::chain::{Block, Commit, Height, Transaction, TxHash};
use vouch_protocol::digest::Digest;
use vouch_protocol::keys::PublicKey;
use vouch_protocol::signing::ChainId;

use crate::app::{self, App};
use crate::daemon::chain::{AppError, BlockOutcome, ChainApp, ChainTip, CheckedTx, QueryError, TxRejection};
use crate::store::Backend;

impl<B: Backend + 'static> ChainApp for App<B> {
    fn chain_id(&self) -> &ChainId {
        App::chain_id(self)
    }

    fn save_for_restart(&self) -> Result<(), AppError> {
        self.store().save_newest_filters().map_err(|error| AppError::Store(error.to_string()))
    }

    fn release_caches(&self) -> usize {
        App::release_caches(self)
    }

    fn release_store_memory(&self) -> bool {
        App::release_store_memory(self)
    }

    fn tip(&self) -> ChainTip {
        let tip = App::tip(self);
        ChainTip {
            height: tip.height,
            block_hash: tip.block_hash,
            time_unix_ms: tip.time_unix_ms,
            state_root: tip.state_root,
        }
    }

    fn check_tx(&self, tx: &Transaction) -> Result<CheckedTx, TxRejection> {
        App::check_tx(self, tx)
            .map(|checked| CheckedTx { hash: checked.hash, image: checked.image })
            .map_err(|rejection| TxRejection { code: rejection.code, message: rejection.message })
    }

    fn propose_block(&self, txs: Vec<Transaction>, time_unix_ms: u64, proposer: &PublicKey) -> Result<Block, AppError> {
        App::propose_block(self, txs, time_unix_ms, proposer).map_err(app_error)
    }

    fn apply_block(&self, block: &Block, commit: &Commit) -> Result<BlockOutcome, AppError> {
        let outcome = App::apply_block(self, block, commit).map_err(app_error)?;
        Ok(BlockOutcome { tx_outcomes: outcome.tx_outcomes })
    }

    fn tx_outcome(&self, hash: &TxHash) -> Result<Option<(Height, String)>, AppError> {
        App::tx_outcome(self, hash).map_err(app_error)
    }

    fn image_status(
        &self,
        image: &Digest,
        repository: Option<&str>,
        proof: bool,
    ) -> Result<ImageStatusResponse, QueryError> {
        App::image_status(self, image, repository, proof).map_err(query_error)
    }

    fn attestations(&self, image: &Digest) -> Result<AttestationsResponse, QueryError> {
        App::attestations(self, image).map_err(query_error)
    }

    fn block(&self, height: u64) -> Result<Option<BlockResponse>, QueryError> {
        App::block(self, height).map_err(query_error)
    }

    fn validators(&self) -> ValidatorsResponse {
        App::validators(self)
    }

    fn validators_at(&self, height: u64) -> Result<ValidatorsResponse, QueryError> {
        App::validators_at(self, height).map_err(query_error)
    }

    fn consensus_set(&self, height: Height) -> Result<Option<vouch_consensus::ValidatorSet>, QueryError> {
        App::consensus_set(self, height).map_err(query_error)
    }

    fn account(&self, key: &PublicKey) -> Result<AccountResponse, QueryError> {
        App::account(self, key).map_err(query_error)
    }

    fn attesters(&self) -> Result<AttestersResponse, QueryError> {
        App::attesters(self).map_err(query_error)
    }

    fn policies(&self) -> Result<PoliciesResponse, QueryError> {
        App::policies(self).map_err(query_error)
    }

    fn proposals(&self) -> Result<ProposalsResponse, QueryError> {
        App::proposals(self).map_err(query_error)
    }
}

/// Maps the app's error: an invalid block or commit keeps its height and reason, and
/// everything else is a failure of this node's store, state or runtime.
fn app_error(error: app::AppError) -> AppError {
    match error {
        app::AppError::InvalidBlock { height, reason } => AppError::InvalidBlock { height, reason },
        app::AppError::Store(error) => AppError::Store(error.to_string()),
        other => AppError::Node(other.to_string()),
    }
}

fn query_error(error: app::QueryError) -> QueryError {
    match error {
        app::QueryError::NotFound { what } => QueryError::NotFound(format!("{what} not found")),
        app::QueryError::Unavailable { reason } => QueryError::NotReady(reason),
        app::QueryError::Internal { message } => QueryError::Internal(message),
    }
}
