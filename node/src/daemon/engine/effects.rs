//! The effects that the core returns, performed by the engine: proposals built from the
//! mempool, verdicts on proposed blocks, and decided blocks applied to the ledger.
//!
//! # Invariants
//! - A proposal carries exactly the height and BFT time that the core requested. A
//!   block from the app with another height or time stops the engine, because the core
//!   would reject it in every round.
//! - A decided block is applied with the commit built from its certificate, and the
//!   app's tip must then be that block.

use std::time::Instant;

use vouch_consensus::host::HeightStart;
use vouch_consensus::{Decision, Effect, Equivocation, Input, PreviousBlock};
use vouch_protocol::chain::{Block, Height, TxHash};
use vouch_protocol::encoding;
use vouch_protocol::ledger::LedgerTx;

use crate::daemon::engine::EngineError;
use crate::daemon::engine::driver::Engine;
use crate::daemon::engine::start;
use crate::daemon::producer::announce;

impl Engine {
    /// Performs `effects` in order and queues the inputs that they lead to.
    pub(super) fn perform(&mut self, effects: Vec<Effect<Block>>) -> Result<(), EngineError> {
        for effect in effects {
            match effect {
                Effect::PersistSigned(_) => unreachable!("the durable instance persists signatures itself"),
                // NOTE: peers plug in here. Without networking, proposals and votes stay
                // in this process, and the core counted them when it signed them.
                Effect::BroadcastProposal(signed) => {
                    let proposal = &signed.proposal;
                    tracing::debug!(height = %proposal.height, round = proposal.round, "proposal signed");
                }
                Effect::BroadcastVote(signed) => {
                    let vote = &signed.vote;
                    tracing::debug!(height = %vote.height, round = vote.round, kind = %vote.kind, "vote signed");
                }
                Effect::ScheduleTimeout { timeout, duration } => {
                    self.timers.schedule(Instant::now(), timeout, duration)
                }
                Effect::RequestValue { height, round, time_unix_ms } => self.propose(height, round, time_unix_ms)?,
                Effect::ValidateValue { height, round, value } => self.validate(height, round, value),
                Effect::Decide(decision) => self.decide(decision)?,
                Effect::Evidence(evidence) => self.queue_evidence(&evidence),
            }
        }
        Ok(())
    }

    /// Queues evidence of a double sign in the mempool as a transaction, so the next
    /// block this node proposes commits it and slashes the offender. Evidence travels
    /// as a transaction rather than a block field because the mempool already bounds,
    /// checks, orders and removes what blocks carry.
    // TODO: the mempool check rejects evidence of the height in progress, because
    // evidence must be of an earlier height. The engine keeps no pool to submit it
    // again, so it is lost unless seen again later. Without peers the engine sees only
    // its own votes, so this matters once networking exists.
    fn queue_evidence(&self, evidence: &Equivocation) {
        let vote = evidence.first.vote;
        let tx = LedgerTx::Evidence { equivocation: encoding::encode(evidence) }.to_transaction();
        tracing::warn!(height = %vote.height, round = vote.round, validator = vote.validator_index, kind = %vote.kind, tx = %tx.hash(), "validator signed two different votes; evidence queued");
        if let Err(error) = self.mempool.submit(self.app.as_ref(), tx) {
            tracing::warn!(height = %vote.height, validator = vote.validator_index, %error, "evidence not queued");
        }
    }

    /// Builds this validator's block from the oldest waiting transactions, with the
    /// block time that BFT time fixed, and queues it as the proposal value.
    fn propose(&mut self, height: Height, round: u32, time_unix_ms: u64) -> Result<(), EngineError> {
        let blocks = &self.config.blocks;
        let offered = self.mempool.peek(blocks.txs_max, blocks.bytes_max);
        let txs = offered.iter().map(|(_, tx)| tx.clone()).collect();
        let block = self
            .app
            .propose_block(txs, time_unix_ms, &self.public_key)
            .map_err(|source| EngineError::Propose { height, source })?;

        let header = &block.header;
        if header.height != height || header.time_unix_ms != time_unix_ms {
            return Err(EngineError::ProposalMismatch {
                height,
                time_unix_ms,
                proposed_height: header.height,
                proposed_time_unix_ms: header.time_unix_ms,
            });
        }
        let hashes: Vec<TxHash> = offered.iter().map(|(hash, _)| *hash).collect();
        self.offered.insert(header.hash(), hashes);
        self.inputs.push_back(Input::ProposalValue { height, round, value: block });
        Ok(())
    }

    /// Judges another validator's proposed block and queues the verdict.
    fn validate(&mut self, height: Height, round: u32, value: Block) {
        let block_hash = value.header.hash();
        let valid = match self.rebuild(height, &value) {
            Ok(()) => true,
            Err(reason) => {
                tracing::warn!(height = %height, round, block_hash = %block_hash, proposer = %value.header.proposer, %reason, "proposed block is invalid");
                false
            }
        };
        self.inputs.push_back(Input::Verdict { height, block_hash, valid });
    }

    /// Checks a proposed block by building it again from its transactions, time and
    /// proposer: the app leaves out every transaction that fails its checks and fills
    /// each header field from the committed state, so a valid block comes out the same.
    fn rebuild(&self, height: Height, value: &Block) -> Result<(), String> {
        let header = &value.header;
        if header.height != height {
            return Err(format!("it is for height {}, not {height}", header.height));
        }
        let rebuilt = self
            .app
            .propose_block(value.txs.clone(), header.time_unix_ms, &header.proposer)
            .map_err(|error| error.to_string())?;
        if rebuilt.header.hash() != header.hash() {
            return Err(format!(
                "building it again from its transactions gives block {} with {} of its {} transactions, so a transaction or a header field is invalid",
                rebuilt.header.hash(),
                rebuilt.txs.len(),
                value.txs.len()
            ));
        }
        Ok(())
    }

    /// Applies the decided block with the commit of its certificate, notifies the waiting
    /// submissions, and prepares the next height's start.
    fn decide(&mut self, decision: Decision<Block>) -> Result<(), EngineError> {
        let started = Instant::now();
        let Decision { value: block, certificate } = decision;
        let height = certificate.height;
        self.app
            .apply_block(&block, &certificate.to_commit())
            .map_err(|source| EngineError::Apply { height, source })?;
        let tip = self.app.tip().height;
        if tip != height {
            return Err(EngineError::TipNotAdvanced { applied: height, tip });
        }

        let offered = self.offered.remove(&certificate.block_hash);
        let offered = offered.unwrap_or_else(|| block.txs.iter().map(|tx| tx.hash()).collect());
        let produced = announce(&self.mempool, &self.waiters, height, &block, offered);
        tracing::info!(
            height = %height,
            round = certificate.round,
            time_unix_ms = block.header.time_unix_ms,
            txs = produced.included.len(),
            dropped = produced.dropped.len(),
            hash = %certificate.block_hash,
            ms = started.elapsed().as_millis() as u64,
            "committed block"
        );

        if let Some(idle) = self.config.idle
            && let Some(release) =
                self.idle.as_mut().and_then(|tracker| tracker.committed(Instant::now(), block.txs.len()))
        {
            self.release_idle_memory(release, idle.release_allocator);
        }

        self.timers.clear_through(height.0);
        let next = height.next().expect("a chain never reaches height u64::MAX");
        // A chain with staking stores each height's set; otherwise the set never changes.
        let validators = start::ledger_set(self.app.as_ref(), next)?.unwrap_or_else(|| self.set.for_next_height());
        let previous = PreviousBlock::Committed { certificate, validators: self.set.clone() };
        self.next = Some(HeightStart { height: next, validators, previous });
        Ok(())
    }
}
