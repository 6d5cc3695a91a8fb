//! An in-memory chain generator for light-client tests: real ed25519 keys, headers
//! linked by hash and validator set hashes, and commits signed by chosen validators.

use crate::chain::{BlockHash, Commit, CommitSignature, Header, Height, Precommit};
use crate::keys::SigningKey;
use crate::ledger::{Genesis, GenesisValidator};
use crate::light::{
    LightBlock, LightValidator, MemoryProvider, SignedHeader, TrustOptions, TrustedState, ValidatorSet, Verifier,
};
use crate::signing::ChainId;
use crate::state::StateRoot;

pub const CHAIN_ID: &str = "vouch-light-chain";
pub const GENESIS_TIME_UNIX_MS: u64 = 1_700_000_000_000;
pub const BLOCK_INTERVAL_MS: u64 = 1_000;

/// A validator set as (key number, voting power) pairs in index order.
pub type Members = Vec<(u16, u64)>;

/// Returns the signing key of key number `number`.
pub fn key(number: u16) -> SigningKey {
    let mut seed = [0xa5; 32];
    seed[..2].copy_from_slice(&number.to_le_bytes());
    SigningKey::from_seed(&seed)
}

/// Builds the light-client set of `members`.
pub fn validator_set(members: &[(u16, u64)]) -> ValidatorSet {
    let validators = members
        .iter()
        .map(|(number, power)| LightValidator { public_key: key(*number).public_key(), power: *power })
        .collect();
    ValidatorSet::new(Height(1), validators).expect("test sets are valid")
}

/// Returns the block time of `height`.
pub fn time_of(height: u64) -> u64 {
    GENESIS_TIME_UNIX_MS + height * BLOCK_INTERVAL_MS
}

/// Signs a commit of `header` by the members of `members` whose key numbers are in
/// `signers`, at their index in `members`.
pub fn sign_commit(header: &Header, members: &[(u16, u64)], signers: &[u16]) -> Commit {
    let signed: Vec<(u32, u16)> = members
        .iter()
        .enumerate()
        .filter(|(_, (number, _))| signers.contains(number))
        .map(|(index, (number, _))| (index as u32, *number))
        .collect();
    sign_at_indexes(header, &signed)
}

/// Signs a commit of `header` with each (validator index, key number) pair, in the
/// order given.
pub fn sign_at_indexes(header: &Header, signed: &[(u32, u16)]) -> Commit {
    let time_unix_ms = header.time_unix_ms + BLOCK_INTERVAL_MS / 2;
    let precommit = Precommit { height: header.height, round: 0, block_hash: Some(header.hash()), time_unix_ms };
    let signatures = signed
        .iter()
        .map(|(index, number)| CommitSignature {
            validator_index: *index,
            time_unix_ms,
            signature: precommit.sign(&key(*number), &header.chain_id),
        })
        .collect();
    Commit { height: header.height, round: 0, block_hash: header.hash(), signatures }
}

/// Returns the key numbers of `members`.
pub fn numbers(members: &[(u16, u64)]) -> Vec<u16> {
    members.iter().map(|(number, _)| *number).collect()
}

/// A generated chain: `sets[h - 1]` signs height `h`, for every block and one height
/// past the last, and every commit is signed by its whole set.
pub struct TestChain {
    pub genesis: Genesis,
    pub sets: Vec<Members>,
    pub blocks: Vec<SignedHeader>,
}

impl TestChain {
    /// Builds a chain of `sets.len() - 1` blocks.
    pub fn new(sets: Vec<Members>) -> TestChain {
        assert!(sets.len() >= 2, "a chain needs the sets of at least one block and the height after it");
        let genesis = genesis(&sets[0]);
        let mut blocks: Vec<SignedHeader> = Vec::new();
        for height in 1..sets.len() as u64 {
            let previous_block_hash = blocks.last().map(|block| block.header.hash());
            let header = build_header(height, previous_block_hash, &sets);
            let commit = sign_commit(&header, &sets[height as usize - 1], &numbers(&sets[height as usize - 1]));
            blocks.push(SignedHeader { header, commit });
        }
        TestChain { genesis, sets, blocks }
    }

    /// Builds a chain of `heights` blocks that all have the set `members`.
    pub fn fixed(members: &[(u16, u64)], heights: usize) -> TestChain {
        TestChain::new(vec![members.to_vec(); heights + 1])
    }

    /// Returns the number of blocks.
    pub fn last_height(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// Returns the members of the set of `height`.
    pub fn members(&self, height: u64) -> &Members {
        &self.sets[height as usize - 1]
    }

    /// Returns the signed header at `height`.
    pub fn signed_header(&self, height: u64) -> &SignedHeader {
        &self.blocks[height as usize - 1]
    }

    /// Returns the header at `height`.
    pub fn header(&self, height: u64) -> &Header {
        &self.signed_header(height).header
    }

    /// Returns the light block at `height`.
    pub fn light_block(&self, height: u64) -> LightBlock {
        LightBlock {
            signed_header: self.signed_header(height).clone(),
            validators: validator_set(self.members(height)),
        }
    }

    /// Re-signs the commit at `height` by the members in `signers` only.
    pub fn resign(&mut self, height: u64, signers: &[u16]) {
        let commit = sign_commit(self.header(height), self.members(height), signers);
        self.blocks[height as usize - 1].commit = commit;
    }

    /// Returns a provider with every header and set of the chain.
    pub fn provider(&self) -> MemoryProvider {
        let mut provider = MemoryProvider::new();
        for block in &self.blocks {
            provider.insert_header(block.clone());
        }
        for (index, members) in self.sets.iter().enumerate() {
            provider.insert_validators(Height(index as u64 + 1), validator_set(members));
        }
        provider
    }

    /// Returns a verifier that trusts the genesis, with `options`.
    pub fn verifier(&self, options: TrustOptions) -> Verifier {
        Verifier::new(TrustedState::from_genesis(&self.genesis).unwrap(), options).unwrap()
    }

    /// Returns a verifier that trusts the header at `height`.
    pub fn verifier_at(&self, height: u64, options: TrustOptions) -> Verifier {
        let next_validators = validator_set(&self.sets[height as usize]);
        Verifier::new(TrustedState::from_header(self.header(height), next_validators).unwrap(), options).unwrap()
    }

    /// Returns a clock reading one second after the last block.
    pub fn now(&self) -> u64 {
        time_of(self.last_height()) + 1_000
    }
}

/// Builds the header of `height`, naming `sets[height - 1]` and `sets[height]`.
fn build_header(height: u64, previous_block_hash: Option<BlockHash>, sets: &[Members]) -> Header {
    let members = &sets[height as usize - 1];
    Header {
        chain_id: ChainId::new(CHAIN_ID).unwrap(),
        height: Height(height),
        time_unix_ms: time_of(height),
        previous_block_hash,
        txs_root: [0; 32],
        app_hash: StateRoot::EMPTY,
        validators_hash: validator_set(members).hash(),
        next_validators_hash: validator_set(&sets[height as usize]).hash(),
        proposer: key(members[0].0).public_key(),
    }
}

/// Builds a genesis whose validators are `members`.
pub fn genesis(members: &[(u16, u64)]) -> Genesis {
    let validators = members
        .iter()
        .map(|(number, power)| GenesisValidator {
            name: format!("validator-{number}"),
            public_key: key(*number).public_key(),
            stake: *power,
        })
        .collect();
    Genesis::with_validators(ChainId::new(CHAIN_ID).unwrap(), GENESIS_TIME_UNIX_MS, validators)
}
