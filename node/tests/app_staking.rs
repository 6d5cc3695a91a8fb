//! Staking and evidence in the ledger: operations signed by validators change the set
//! two heights later, the rule against a dominant validator rejects with its reason,
//! evidence slashes and jails, old evidence and replays are rejected, and the state
//! survives a restart.

mod app_support;

use app_support::{TestChain, account_tx, genesis, key};
use serde_json::{Value, json};
use vouch_consensus::{Equivocation, Vote, VoteKind};
use vouch_protocol::chain::{BlockHash, Height, Transaction};
use vouch_protocol::encoding;
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{Action, LedgerTx};

/// Stakes of the test validators (keys of seeds 1 to 4), in set order: distinct and
/// falling, so validator index i is the key of seed i + 1, and no one holds 1/3.
const STAKES: [u64; 4] = [30, 26, 24, 20];

/// Staking parameters with a minimum self-bond of 10, a 5% slash and short evidence
/// ages (2 heights and 1.5 s) so a test chain can outlive them.
fn staking() -> Value {
    json!({
        "min_self_bond": 10,
        "evidence_max_age_heights": 2,
        "evidence_max_age_ms": 1_500,
        "unbonding_heights": 3,
        "unbonding_time_ms": 1_501,
    })
}

fn chain() -> TestChain {
    let mut genesis = genesis(&STAKES);
    genesis.staking = Some(staking());
    TestChain::start(genesis)
}

/// Returns (public key hex, power) of the set that signs block `height`.
fn set_at(chain: &TestChain, height: u64) -> Vec<(String, u64)> {
    let response = chain.app.validators_at(height).expect("a known height");
    assert_eq!(response.height, height);
    response.validators.into_iter().map(|view| (view.public_key, view.stake)).collect()
}

fn member(seed: u8, power: u64) -> (String, u64) {
    (key(seed).public_key().to_hex(), power)
}

fn genesis_set() -> Vec<(String, u64)> {
    (1..=4).zip(STAKES).map(|(seed, power)| member(seed, power)).collect()
}

/// Commits a block with `tx` and returns its outcome text.
fn commit_one(chain: &TestChain, tx: Transaction) -> String {
    let outcome = chain.commit(vec![tx.clone()]);
    let (hash, text) = outcome.tx_outcomes.first().expect("the block holds the transaction");
    assert_eq!(*hash, tx.hash());
    text.clone()
}

/// Two prevotes of validator `index` (key seed `index + 1`) at `height` for different
/// blocks.
fn double_vote(chain: &TestChain, index: u32, height: u64) -> Transaction {
    let signer = key(index as u8 + 1);
    let vote = |byte: u8| {
        Vote {
            kind: VoteKind::Prevote,
            height: Height(height),
            round: 0,
            block_hash: Some(BlockHash([byte; 32])),
            time_unix_ms: 1,
            validator_index: index,
        }
        .sign(&signer, &chain.genesis.chain_id)
    };
    let equivocation = Equivocation { first: vote(1), second: vote(2) };
    LedgerTx::Evidence { equivocation: encoding::encode(&equivocation) }.to_transaction()
}

fn bonded(chain: &TestChain, signer: &SigningKey) -> u64 {
    chain.app.account(&signer.public_key()).expect("an account query").stake
}

#[test]
fn bond_changes_power_two_heights_later() {
    let chain = chain();
    assert_eq!(set_at(&chain, 1), genesis_set());
    assert_eq!(set_at(&chain, 2), genesis_set());

    let outcome = commit_one(&chain, chain.account_tx(&key(1), Action::Bond { amount: 2 }));
    assert!(outcome.starts_with("applied: bond"), "{outcome}");
    assert_eq!(bonded(&chain, &key(1)), 32);

    let mut changed = genesis_set();
    changed[0].1 = 32;
    assert_eq!(set_at(&chain, 2), genesis_set(), "the block after the bond keeps the old set");
    assert_eq!(set_at(&chain, 3), changed, "the set of height 1 + 2 has the new power");

    let block2 = chain.app.propose_block(vec![], chain.app.tip().time_unix_ms + 1000, &key(1).public_key()).unwrap();
    chain.apply(&block2).expect("block 2 applies");
    let block3 = chain.app.propose_block(vec![], chain.app.tip().time_unix_ms + 1000, &key(1).public_key()).unwrap();
    assert_ne!(block2.header.validators_hash, block2.header.next_validators_hash, "block 2 announces the change");
    assert_eq!(block3.header.validators_hash, block2.header.next_validators_hash, "block 3 is signed by the new set");
    chain.apply(&block3).expect("the new set signs block 3");
    assert_eq!(chain.app.validators().validators[0].stake, 32);
}

#[test]
fn unbond_takes_stake_out_and_keeps_the_minimum() {
    let chain = chain();
    let outcome = commit_one(&chain, chain.account_tx(&key(4), Action::Unbond { amount: 5 }));
    assert!(outcome.starts_with("applied: unbond"), "{outcome}");
    assert_eq!(bonded(&chain, &key(4)), 15);
    assert_eq!(set_at(&chain, 3)[3], member(4, 15));

    let too_much = chain.account_tx(&key(4), Action::Unbond { amount: 6 });
    let rejection = chain.app.check_tx(&too_much).unwrap_err();
    assert_eq!(rejection.code, "staking_rejected");
    assert!(rejection.message.contains("leaves 9, below the minimum self-bond 10"), "{}", rejection.message);
    assert!(rejection.message.contains("unbond all 15 or at most 5"), "{}", rejection.message);

    let zero = chain.app.check_tx(&chain.account_tx(&key(4), Action::Unbond { amount: 0 })).unwrap_err();
    assert!(zero.message.contains("amount 0"), "{}", zero.message);
    assert_eq!(bonded(&chain, &key(4)), 15, "rejected operations change nothing");
}

#[test]
fn dominant_validator_is_rejected_with_the_reason() {
    let chain = chain();
    // 34 of 104 is still below 1/3 (3 × 34 < 104); 35 of 105 is exactly 1/3.
    let edge = chain.app.check_tx(&chain.account_tx(&key(1), Action::Bond { amount: 5 })).unwrap_err();
    assert_eq!(edge.code, "dominant_validator");
    assert!(edge.message.contains("35 of 105 voting power, 1/3 or more"), "{}", edge.message);
    chain.app.check_tx(&chain.account_tx(&key(1), Action::Bond { amount: 4 })).expect("below 1/3 is accepted");

    // In a committed block the rejected operation is a no-op that consumes the nonce.
    let tx = chain.account_tx(&key(1), Action::Bond { amount: 30 });
    let block = chain.raw_block(vec![tx.clone()]);
    let outcome = chain.apply(&block).expect("the block applies");
    assert!(outcome.tx_outcomes[0].1.starts_with("rejected: dominant_validator"), "{:?}", outcome.tx_outcomes);
    assert_eq!(bonded(&chain, &key(1)), 30);
    assert_eq!(chain.nonce(&key(1)), 1);
    assert_eq!(set_at(&chain, 3), genesis_set());
}

#[test]
fn new_validator_joins_two_heights_later() {
    let chain = chain();
    let create = Action::CreateValidator { name: "newcomer".into(), self_bond: 10 };
    let outcome = commit_one(&chain, chain.account_tx(&key(9), create));
    assert!(outcome.starts_with("applied: create-validator"), "{outcome}");
    assert_eq!(set_at(&chain, 2).len(), 4);
    let after = chain.app.validators_at(3).unwrap();
    assert_eq!(after.validators.len(), 5);
    assert_eq!(after.validators[4].name, "newcomer");
    assert_eq!(after.validators[4].public_key, key(9).public_key().to_hex());

    let small = Action::CreateValidator { name: "small".into(), self_bond: 9 };
    let rejection = chain.app.check_tx(&chain.account_tx(&key(10), small)).unwrap_err();
    assert!(rejection.message.contains("self-bond 9 is below the minimum self-bond 10"), "{}", rejection.message);
    let again = Action::CreateValidator { name: "again".into(), self_bond: 10 };
    let exists = chain.app.check_tx(&chain.account_tx(&key(9), again)).unwrap_err();
    assert_eq!(exists.code, "validator_exists");
}

#[test]
fn evidence_slashes_jails_and_the_validator_leaves_the_set() {
    let chain = chain();
    chain.commit(vec![]);
    let evidence = double_vote(&chain, 3, 1);
    let outcome = commit_one(&chain, evidence.clone());
    assert!(outcome.starts_with("applied: evidence"), "{outcome}");
    assert!(outcome.contains("slashed 1 bonded"), "5% of 20 rounds down to 1: {outcome}");
    assert!(outcome.contains("jailed until height"), "{outcome}");
    assert_eq!(bonded(&chain, &key(4)), 19);

    assert_eq!(set_at(&chain, 3), genesis_set(), "the offender signs until two heights after block 2");
    let without: Vec<_> = genesis_set().into_iter().take(3).collect();
    assert_eq!(set_at(&chain, 4), without, "the jailed validator leaves the set of height 4");

    // The same offence again, even in another transaction, is rejected.
    let replay = double_vote(&chain, 3, 1);
    let rejection = chain.app.check_tx(&replay).unwrap_err();
    assert!(rejection.code == "duplicate" || rejection.code == "evidence_duplicate", "{rejection}");

    // Unjailing before the jail ends is rejected with the end of the jail.
    let early = chain.app.check_tx(&chain.account_tx(&key(4), Action::Unjail)).unwrap_err();
    assert_eq!(early.code, "jail");
    assert!(early.message.contains("is jailed until height"), "{}", early.message);

    chain.commit(vec![]);
    let mut signing = chain;
    signing.signers = vec![0, 1, 2];
    signing.commit(vec![]);
    assert_eq!(signing.app.tip().height, Height(4), "the remaining validators sign height 4");
}

#[test]
fn evidence_of_a_later_or_unknown_validator_is_rejected() {
    let chain = chain();
    let future = chain.app.check_tx(&double_vote(&chain, 0, 1)).unwrap_err();
    assert_eq!(future.code, "evidence_invalid");
    assert!(future.message.contains("must be of a height before the block's"), "{}", future.message);
    chain.commit(vec![]);
    let beyond = chain.app.check_tx(&double_vote(&chain, 7, 1)).unwrap_err();
    assert!(beyond.message.contains("validator index 7"), "{}", beyond.message);
}

#[test]
fn evidence_older_than_both_ages_is_rejected() {
    let chain = chain();
    chain.commit(vec![]);
    let evidence = double_vote(&chain, 3, 1);
    // Blocks are 1 s apart, and a check uses the earliest time of the next block, 1 ms
    // after the latest: for block 4 the offence is 3 heights and 2,001 ms old, past both
    // limits (2 heights and 1,500 ms); for block 3 it is 2 heights old, at the limit.
    chain.commit(vec![]);
    chain.app.check_tx(&evidence).expect("evidence at the age limit is accepted");
    chain.commit(vec![]);
    let rejection = chain.app.check_tx(&evidence).unwrap_err();
    assert_eq!(rejection.code, "evidence_expired");
    assert!(
        rejection.message.contains("is 3 heights and 2001 ms old, over both limits of 2 heights and 1500 ms"),
        "{}",
        rejection.message
    );
    let block = chain.raw_block(vec![evidence]);
    let outcome = chain.apply(&block).expect("a block with old evidence still applies");
    assert!(outcome.tx_outcomes[0].1.starts_with("rejected: evidence_expired"), "{:?}", outcome.tx_outcomes);
    assert_eq!(bonded(&chain, &key(4)), 20, "old evidence slashes nothing");
}

#[test]
fn replayed_nonce_is_rejected() {
    let chain = chain();
    let bond = chain.account_tx(&key(2), Action::Bond { amount: 1 });
    commit_one(&chain, bond.clone());
    let replay = chain.app.check_tx(&bond).unwrap_err();
    assert_eq!(replay.code, "duplicate");
    let same_nonce = account_tx(&chain.genesis.chain_id, &key(2), 0, Action::Bond { amount: 2 });
    let rejection = chain.app.check_tx(&same_nonce).unwrap_err();
    assert_eq!(rejection.code, "nonce_mismatch");
    assert!(rejection.message.contains("must use nonce 1"), "{}", rejection.message);
    assert_eq!(bonded(&chain, &key(2)), 27);
}

#[test]
fn staking_state_survives_a_restart() {
    let chain = chain();
    commit_one(&chain, chain.account_tx(&key(1), Action::Bond { amount: 2 }));
    let root = chain.app.tip().state_root;
    let chain = chain.reopen();
    assert_eq!(chain.app.tip().state_root, root);
    assert_eq!(bonded(&chain, &key(1)), 32);
    assert_eq!(set_at(&chain, 3)[0], member(1, 32));
    chain.commit(vec![]);
    chain.commit(vec![]);
    assert_eq!(chain.app.validators().validators[0].stake, 32);
}

#[test]
fn chain_without_staking_rejects_staking_transactions() {
    let chain = TestChain::start(genesis(&[10]));
    let rejection = chain.app.check_tx(&chain.account_tx(&key(1), Action::Bond { amount: 1 })).unwrap_err();
    assert_eq!(rejection.code, "staking_disabled");
    assert!(rejection.message.contains("no `staking` section"), "{}", rejection.message);
    assert_eq!(set_at(&chain, 2), vec![member(1, 10)]);
    assert!(chain.app.validators_at(3).is_err(), "height 3 is past the known sets");
}

/// Opens an app on a fresh store with `genesis` and returns the error it fails with.
fn open_error(genesis: &vouch_protocol::ledger::Genesis) -> String {
    let dir = tempfile::tempdir().unwrap();
    let backend = vouch_node::store::SledBackend::open(dir.path()).unwrap();
    let store = vouch_node::store::LedgerStore::open(backend).unwrap();
    let opened = vouch_node::app::App::open(store, genesis, vouch_node::policy::RuntimeConfig::default());
    opened.err().expect("the genesis is rejected").to_string()
}

#[test]
fn invalid_staking_section_stops_the_genesis() {
    let mut dominant = genesis(&[50, 30, 20]);
    dominant.staking = Some(json!({ "min_self_bond": 10 }));
    let error = open_error(&dominant);
    assert!(error.contains("1/3 or more"), "{error}");

    let mut typo = genesis(&STAKES);
    typo.staking = Some(json!({ "min_self_bnd": 10 }));
    let error = open_error(&typo);
    assert!(error.contains("min_self_bnd"), "{error}");

    let mut not_object = genesis(&STAKES);
    not_object.staking = Some(json!(5));
    let error = open_error(&not_object);
    assert!(error.contains("give a JSON object"), "{error}");
}
