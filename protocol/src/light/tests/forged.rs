//! Forged and malformed blocks: outsider signatures, signatures over other blocks or
//! heights, power one unit short of each threshold, wrong sets from the provider, and
//! headers that break the chain id, height, time or hash links.

use super::generator::{Members, TestChain, numbers, sign_at_indexes, sign_commit, time_of, validator_set};
use super::skipping::forged_block;
use crate::chain::{BlockHash, Header, Height};
use crate::light::{
    LightBlock, LightError, MemoryProvider, Provider, ProviderError, SignedHeader, TrustOptions, ValidatorSet,
};
use crate::signing::ChainId;

fn four_equal() -> Members {
    vec![(1, 10), (2, 10), (3, 10), (4, 10)]
}

/// Edits the header at `height` of a chain of eight blocks with four equal validators,
/// re-signs it by all four, and verifies it from the header at `trusted_height`.
fn verify_edited(trusted_height: u64, height: u64, edit: impl FnOnce(&mut Header)) -> LightError {
    let chain = TestChain::fixed(&four_equal(), 8);
    let mut header = chain.header(height).clone();
    edit(&mut header);
    let commit = sign_commit(&header, &four_equal(), &numbers(&four_equal()));
    let block = LightBlock { signed_header: SignedHeader { header, commit }, validators: validator_set(&four_equal()) };

    let mut verifier = match trusted_height {
        0 => chain.verifier(TrustOptions::default()),
        _ => chain.verifier_at(trusted_height, TrustOptions::default()),
    };
    verifier.verify_block(block, &mut chain.provider(), chain.now()).expect_err("the edited header verified")
}

fn no_bisection() -> TrustOptions {
    TrustOptions { bisection_steps_max: 0, ..TrustOptions::default() }
}

#[test]
fn outsider_set_cannot_skip() {
    let chain = TestChain::fixed(&four_equal(), 10);
    let fork = forged_block(&chain, 10, &vec![(20, 10), (21, 10), (22, 10)]);

    let mut direct = chain.verifier(no_bisection());
    let error = direct.verify_block(fork.clone(), &mut chain.provider(), chain.now()).unwrap_err();
    assert!(matches!(error, LightError::BisectionLimit { target: Height(10), .. }), "{error}");

    let mut bisecting = chain.verifier(TrustOptions::default());
    let error = bisecting.verify_block(fork, &mut chain.provider(), chain.now()).unwrap_err();
    assert!(
        matches!(error, LightError::ValidatorsNotLinked { height: Height(10), trusted_height: Height(9), .. }),
        "{error}"
    );
}

#[test]
fn outsider_key_at_member_index_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let mut block = chain.light_block(5);
    block.signed_header.commit = sign_at_indexes(chain.header(5), &[(0, 1), (1, 99), (2, 3), (3, 4)]);

    let error = chain.verifier(TrustOptions::default()).verify_block(block, &mut chain.provider(), chain.now());
    let error = error.unwrap_err();
    assert!(matches!(error, LightError::InvalidSignature { height: Height(5), index: 1, .. }), "{error}");
}

#[test]
fn signature_over_other_block_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let mut other = chain.header(5).clone();
    other.app_hash = crate::state::StateRoot([9; 32]);
    let mut block = chain.light_block(5);
    block.signed_header.commit.signatures[1] = sign_at_indexes(&other, &[(1, 2)]).signatures[0];

    let error = chain.verifier(TrustOptions::default()).verify_block(block, &mut chain.provider(), chain.now());
    let error = error.unwrap_err();
    assert!(matches!(error, LightError::InvalidSignature { height: Height(5), index: 1, .. }), "{error}");
}

#[test]
fn signature_reused_from_other_height_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 5);

    // One signature copied from the commit of height 4.
    let mut block = chain.light_block(5);
    block.signed_header.commit.signatures[2] = chain.signed_header(4).commit.signatures[2];
    let error = chain.verifier(TrustOptions::default()).verify_block(block, &mut chain.provider(), chain.now());
    assert!(matches!(error.unwrap_err(), LightError::InvalidSignature { height: Height(5), index: 2, .. }));

    // The whole commit of height 4, as is and relabelled for height 5.
    let mut block = chain.light_block(5);
    block.signed_header.commit = chain.signed_header(4).commit.clone();
    let error = chain.verifier(TrustOptions::default()).verify_block(block.clone(), &mut chain.provider(), chain.now());
    assert!(matches!(error.unwrap_err(), LightError::WrongCommitHeight { header: Height(5), commit: Height(4) }));

    block.signed_header.commit.height = Height(5);
    block.signed_header.commit.block_hash = chain.header(5).hash();
    let error = chain.verifier(TrustOptions::default()).verify_block(block, &mut chain.provider(), chain.now());
    assert!(matches!(error.unwrap_err(), LightError::InvalidSignature { height: Height(5), index: 0, .. }));
}

#[test]
fn duplicate_signer_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let mut block = chain.light_block(5);
    block.signed_header.commit = sign_at_indexes(chain.header(5), &[(0, 1), (1, 2), (1, 2)]);
    let error = chain.verifier(TrustOptions::default()).verify_block(block, &mut chain.provider(), chain.now());
    let error = error.unwrap_err();
    assert!(matches!(error, LightError::DuplicateValidator { height: Height(5), index: 1 }), "{error}");
}

#[test]
fn trust_at_exactly_one_third_is_not_enough() {
    // Only validator 1 stays, with exactly 10 of the trusted 30.
    let after = vec![(1, 10), (7, 10), (8, 10)];
    let sets = (1..=11).map(|height| if height < 5 { vec![(1, 10), (2, 10), (3, 10)] } else { after.clone() });
    let chain = TestChain::new(sets.collect());
    let error = chain.verifier(no_bisection()).verify_height(Height(10), &mut chain.provider(), chain.now());
    let error = error.unwrap_err();
    assert!(matches!(error, LightError::BisectionLimit { target: Height(10), steps_max: 0, .. }), "{error}");

    // One more unit of trusted power for validator 1: 11 of 30 is more than 1/3.
    let sets = (1..=11).map(|height| if height < 5 { vec![(1, 11), (2, 10), (3, 9)] } else { after.clone() });
    let chain = TestChain::new(sets.collect());
    let verified = chain.verifier(no_bisection()).verify_height(Height(10), &mut chain.provider(), chain.now());
    assert_eq!(verified.unwrap().intermediate_blocks, 0);
}

#[test]
fn commit_at_exactly_two_thirds_is_rejected() {
    for target in [1, 10] {
        let mut chain = TestChain::fixed(&[(5, 10), (6, 10), (7, 10)], 10);
        chain.resign(target, &[5, 6]);
        let error =
            chain.verifier(TrustOptions::default()).verify_height(Height(target), &mut chain.provider(), chain.now());
        let error = error.unwrap_err();
        assert!(
            matches!(error, LightError::InsufficientPower { signed: 20, total: 30, .. }),
            "target {target}: {error}"
        );

        // One more unit for a signer: 21 of 30 is more than 2/3.
        let mut chain = TestChain::fixed(&[(5, 11), (6, 10), (7, 9)], 10);
        chain.resign(target, &[5, 6]);
        let verified =
            chain.verifier(TrustOptions::default()).verify_height(Height(target), &mut chain.provider(), chain.now());
        assert!(verified.is_ok(), "target {target}: {verified:?}");
    }
}

#[test]
fn provider_set_not_in_header_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 10);
    let mut provider = chain.provider();
    provider.insert_validators(Height(10), validator_set(&[(1, 10), (2, 10), (3, 10), (4, 11)]));
    let error = chain.verifier(TrustOptions::default()).verify_height(Height(10), &mut provider, chain.now());
    let error = error.unwrap_err();
    assert!(
        matches!(error, LightError::ValidatorSetMismatch { height: Height(10), field: "validators_hash", .. }),
        "{error}"
    );
}

#[test]
fn provider_next_set_not_in_header_is_rejected() {
    let sets = (1..=11).map(|height| if height < 11 { four_equal() } else { vec![(5, 10)] });
    let chain = TestChain::new(sets.collect());
    let mut provider = chain.provider();
    provider.insert_validators(Height(11), validator_set(&[(6, 10)]));
    let error = chain.verifier(TrustOptions::default()).verify_height(Height(10), &mut provider, chain.now());
    let error = error.unwrap_err();
    assert!(
        matches!(error, LightError::ValidatorSetMismatch { height: Height(11), field: "next_validators_hash", .. }),
        "{error}"
    );
}

#[test]
fn wrong_chain_id_is_rejected() {
    let error = verify_edited(0, 5, |header| header.chain_id = ChainId::new("another-chain").unwrap());
    assert!(matches!(error, LightError::WrongChain { height: Height(5), .. }), "{error}");
    assert!(error.to_string().contains("another-chain"), "{error}");
}

#[test]
fn time_not_after_trusted_is_rejected() {
    let error = verify_edited(5, 7, |header| header.time_unix_ms = time_of(5));
    let expected =
        matches!(error, LightError::TimeNotAfterTrusted { height: Height(7), trusted_height: Height(5), .. });
    assert!(expected, "{error}");
}

#[test]
fn time_past_clock_drift_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let drift_ms = TrustOptions::default().clock_drift.as_millis() as u64;

    let now = time_of(5) - drift_ms;
    assert!(chain.verifier(TrustOptions::default()).verify_height(Height(5), &mut chain.provider(), now).is_ok());

    let error = chain.verifier(TrustOptions::default()).verify_height(Height(5), &mut chain.provider(), now - 1);
    let error = error.unwrap_err();
    assert!(matches!(error, LightError::TimeInFuture { height: Height(5), .. }), "{error}");
}

#[test]
fn previous_block_mismatch_is_rejected() {
    let error = verify_edited(5, 6, |header| header.previous_block_hash = Some(BlockHash([1; 32])));
    let expected =
        matches!(error, LightError::PreviousBlockMismatch { height: Height(6), trusted_height: Height(5), .. });
    assert!(expected, "{error}");
}

#[test]
fn missing_intermediate_header_names_height() {
    let sets = (0..=6u16).map(|height| vec![(100 + height, 1)]).collect();
    let chain = TestChain::new(sets);
    let mut provider = MemoryProvider::new();
    for height in [6, 1, 2] {
        provider.insert_header(chain.signed_header(height).clone());
    }
    for height in 1..=7 {
        provider.insert_validators(Height(height), validator_set(&chain.sets[height as usize - 1]));
    }
    // Genesis -> 6 fails the 1/3 rule, so the verifier requests height 3.
    let error =
        chain.verifier(TrustOptions::default()).verify_height(Height(6), &mut provider, chain.now()).unwrap_err();
    assert!(matches!(error, LightError::Provider { height: Height(3), what: "signed header", .. }), "{error}");
}

/// A provider that returns the header one height above the requested one.
struct OffByOne(MemoryProvider);

impl Provider for OffByOne {
    fn signed_header(&mut self, height: Height) -> Result<SignedHeader, ProviderError> {
        self.0.signed_header(Height(height.0 + 1))
    }

    fn validator_set(&mut self, height: Height) -> Result<ValidatorSet, ProviderError> {
        self.0.validator_set(height)
    }
}

#[test]
fn provider_header_of_other_height_is_rejected() {
    let chain = TestChain::fixed(&four_equal(), 5);
    let error =
        chain.verifier(TrustOptions::default()).verify_height(Height(3), &mut OffByOne(chain.provider()), chain.now());
    let error = error.unwrap_err();
    assert!(
        matches!(error, LightError::ProviderHeightMismatch { requested: Height(3), returned: Height(4) }),
        "{error}"
    );
}
