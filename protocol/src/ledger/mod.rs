//! Ledger transactions and the state records they write: what accounts sign, what the
//! state tree stores under each [`crate::state::StateKey`], and the genesis file that
//! starts a chain.
//!
//! # Transactions
//! A [`LedgerTx`] is either an attestation (a DSSE envelope, which its attester already
//! signed, so it needs no account) or an account transaction ([`SignedTx`]): a body
//! with the sender's nonce, signed for [`crate::signing::SignKind::Transaction`] on one
//! chain. Every change to attesters, policies and bindings is a governance action that
//! passes by vote; revocations are account transactions signed by the attester's key.
//!
//! # Invariants
//! - Every type here has one canonical encoding ([`crate::encoding`]); the state tree
//!   stores records in that encoding, so a proof's value decodes to exactly one record.
//! - An account transaction is valid for one chain and one nonce only.

mod genesis;
mod params;
mod records;
mod scope;
mod tx;

pub use genesis::{
    GENESIS_BYTES_MAX, Genesis, GenesisAttester, GenesisBinding, GenesisBoundPolicy, GenesisError, GenesisPolicy,
    GenesisValidator, PolicyCodeSource,
};
pub use params::{ConsensusParams, GovernanceParams, PolicyLimits};
pub use records::{
    AccountRecord, AttestationRecord, AttesterRecord, BindingRecord, BoundPolicy, ImageRecord, ImageStatus,
    NameBinding, PolicyRecord, ProposalRecord, ProposalStatus, ValidatorRecord, Verdict, VerdictRecord, Vote,
};
pub use scope::{SCOPE_BYTES_MAX, Scope, ScopeError};
pub use tx::{
    Action, AdminMessage, DESCRIPTION_BYTES_MAX, GovAction, LedgerTx, NAME_BYTES_MAX, SignedTx, TX_BYTES_MAX, TxBody,
    TxError,
};

#[cfg(test)]
mod tests;
