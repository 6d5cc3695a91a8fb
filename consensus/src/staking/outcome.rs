//! The outcome of applying one block to the stake: slashes, the result of each
//! operation, released stake, and the change of the validator set that it fixed.

use vouch_protocol::chain::Height;
use vouch_protocol::keys::PublicKey;

use crate::evidence::EvidenceKey;
use crate::staking::error::StakingError;
use crate::staking::ledger::BlockPosition;
use crate::validators::ValidatorSet;

/// The punishment of one committed offence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slash {
    pub offence: EvidenceKey,
    pub public_key: PublicKey,
    /// Stake removed from the bonded stake.
    pub bonded: u64,
    /// Stake removed from unbonding entries.
    pub unbonding: u64,
    /// The end of the jail, or `None` when an earlier slash already covered the offence.
    pub jailed_until: Option<BlockPosition>,
}

impl Slash {
    pub(crate) fn nothing(offence: EvidenceKey, public_key: PublicKey) -> Slash {
        Slash { offence, public_key, bonded: 0, unbonding: 0, jailed_until: None }
    }
}

/// The difference between the set a height would have had without changes and the set
/// it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetChange {
    /// The first height with the new set.
    pub height: Height,
    pub joined: Vec<PublicKey>,
    pub left: Vec<PublicKey>,
    /// Validators in both sets whose voting power changed.
    pub power_changed: Vec<PublicKey>,
}

impl SetChange {
    pub(crate) fn between(height: Height, before: &ValidatorSet, after: &ValidatorSet) -> SetChange {
        let keys =
            |set: &ValidatorSet| set.validators().iter().map(|validator| validator.public_key).collect::<Vec<_>>();
        let joined = keys(after).into_iter().filter(|key| before.index_of(key).is_none()).collect();
        let left = keys(before).into_iter().filter(|key| after.index_of(key).is_none()).collect();
        let power_changed = after
            .validators()
            .iter()
            .filter(|validator| {
                let index = before.index_of(&validator.public_key);
                index.and_then(|index| before.get(index)).is_some_and(|old| old.voting_power != validator.voting_power)
            })
            .map(|validator| validator.public_key)
            .collect();
        SetChange { height, joined, left, power_changed }
    }
}

/// The outcome of one applied block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    pub height: Height,
    /// One entry per piece of evidence, in block order.
    pub slashes: Vec<Slash>,
    /// One result per operation, in block order.
    pub operations: Vec<Result<(), StakingError>>,
    /// Stake released from matured unbonding entries, per validator.
    pub released: Vec<(PublicKey, u64)>,
    /// The change of the set of `height + 2`, if any.
    pub set_change: Option<SetChange>,
}
