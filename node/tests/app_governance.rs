//! Governance on the app: proposals, stake-weighted votes at and past the 2/3 and 1/3
//! edges, expiry, and the actions a passed proposal applies.

mod app_support;

use app_support::*;
use vouch_protocol::keys::KeyId;
use vouch_protocol::ledger::{Action, BoundPolicy, GovAction};

fn register(name: &str, seed: u8) -> GovAction {
    GovAction::RegisterAttester { name: name.into(), role: "scanner".into(), key: key(seed).public_key() }
}

fn vote(chain: &TestChain, validator: usize, proposal: u64, approve: bool) -> vouch_protocol::chain::Transaction {
    chain.account_tx(&key(validator as u8 + 1), Action::Vote { proposal, approve })
}

fn status(chain: &TestChain, id: u64) -> String {
    let proposals = chain.app.proposals().unwrap().proposals;
    proposals.into_iter().find(|proposal| proposal.id == id).expect("the proposal is listed").status
}

#[test]
fn one_validator_chain_passes_a_proposal_in_one_block() {
    let chain = TestChain::start(genesis(&[10]));
    let outcome = chain.commit(vec![chain.propose(0, register("scanner-b", 50))]);
    assert!(outcome.tx_outcomes[0].1.contains("proposal 1 opened, passed"), "{:?}", outcome.tx_outcomes);
    assert_eq!(status(&chain, 1), "passed");
    let attesters = chain.app.attesters().unwrap().attesters;
    let registered = attesters.iter().find(|attester| attester.name == "scanner-b").expect("registered");
    assert_eq!(registered.key_id, KeyId::of(&key(50).public_key()).to_string());
    assert_eq!(registered.registered_at, outcome.height.0);
}

#[test]
fn four_unequal_validators_pass_only_past_two_thirds() {
    // Total stake 99: 40 + 26 = 66 is exactly 2/3, so it does not pass; 79 does.
    let chain = TestChain::start(genesis(&[40, 26, 20, 13]));
    chain.commit(vec![chain.propose(0, register("scanner-b", 50))]);
    assert_eq!(status(&chain, 1), "voting");

    chain.commit(vec![vote(&chain, 1, 1, true)]);
    let view = chain.app.proposals().unwrap().proposals.remove(0);
    assert_eq!((view.yes_stake, view.no_stake, view.total_stake), (66, 0, 99));
    assert_eq!(view.status, "voting", "exactly 2/3 of the stake is not more than 2/3");

    chain.commit(vec![vote(&chain, 3, 1, true)]);
    assert_eq!(status(&chain, 1), "passed");
    assert!(chain.app.attesters().unwrap().attesters.iter().any(|attester| attester.name == "scanner-b"));

    let closed = vote(&chain, 2, 1, true);
    assert_eq!(chain.app.check_tx(&closed).unwrap_err().code, "proposal_closed");
}

#[test]
fn four_unequal_validators_reject_at_one_third_no() {
    let chain = TestChain::start(genesis(&[40, 26, 20, 13]));
    chain.commit(vec![chain.propose(0, register("scanner-c", 51))]);
    chain.commit(vec![vote(&chain, 2, 1, false)]);
    assert_eq!(status(&chain, 1), "voting", "20 of 99 against is under 1/3");

    // A second vote replaces the first: validator 2 votes yes, then no again.
    chain.commit(vec![vote(&chain, 2, 1, true)]);
    let view = chain.app.proposals().unwrap().proposals.remove(0);
    assert_eq!((view.yes_stake, view.no_stake), (60, 0));
    chain.commit(vec![vote(&chain, 2, 1, false)]);

    chain.commit(vec![vote(&chain, 3, 1, false)]);
    assert_eq!(status(&chain, 1), "rejected", "33 of 99 against is exactly 1/3");
    assert!(!chain.app.attesters().unwrap().attesters.iter().any(|attester| attester.name == "scanner-c"));
}

#[test]
fn proposal_expires_after_its_voting_period() {
    let mut genesis = genesis(&[40, 26, 20, 13]);
    genesis.governance.voting_period_blocks = 2;
    let chain = TestChain::start(genesis);
    let opened = chain.commit(vec![chain.propose(0, register("late", 52))]);
    let view = chain.app.proposals().unwrap().proposals.remove(0);
    assert_eq!(view.voting_ends_at, opened.height.0 + 1);

    chain.commit(vec![vote(&chain, 1, 1, true)]);
    assert_eq!(status(&chain, 1), "voting");
    chain.commit(vec![]);
    assert_eq!(status(&chain, 1), "expired");
    let late = vote(&chain, 3, 1, true);
    assert_eq!(chain.app.check_tx(&late).unwrap_err().code, "proposal_closed");
}

#[test]
fn only_validators_propose_and_vote() {
    let chain = TestChain::start(genesis(&[10]));
    let by_attester =
        chain.account_tx(&key(100), Action::Propose { action: register("x", 53), description: String::new() });
    assert_eq!(chain.app.check_tx(&by_attester).unwrap_err().code, "not_a_validator");
    let vote = chain.account_tx(&key(100), Action::Vote { proposal: 1, approve: true });
    assert_eq!(chain.app.check_tx(&vote).unwrap_err().code, "not_a_validator");
}

#[test]
fn open_proposals_limit_at_and_past_the_edge() {
    let mut genesis = genesis(&[40, 26, 20, 13]);
    genesis.governance.open_proposals_max = 2;
    let chain = TestChain::start(genesis);
    chain.commit(vec![chain.propose(0, register("a", 60))]);
    chain.commit(vec![chain.propose(0, register("b", 61))]);
    let third = chain.propose(0, register("c", 62));
    assert_eq!(chain.app.check_tx(&third).unwrap_err().code, "too_many_proposals");
}

#[test]
fn failed_actions_mark_the_proposal_failed() {
    let chain = TestChain::start(genesis(&[10]));
    let taken = chain.commit(vec![chain.propose(0, register("scanner", 54))]);
    assert!(
        taken.tx_outcomes[0].1.contains("failed: the name \"scanner\" is already registered"),
        "{:?}",
        taken.tx_outcomes
    );

    let bind = GovAction::BindPolicy {
        scope: "ghcr.io/acme/*".into(),
        policies: vec![BoundPolicy { policy: "not-deployed".into(), parameters: String::new() }],
    };
    chain.commit(vec![chain.propose(0, bind)]);
    assert!(status(&chain, 2).starts_with("failed: policy \"not-deployed\" is not deployed"), "{}", status(&chain, 2));

    let forbidden = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1) (func (export "vouch_evaluate")))"#,
    )
    .unwrap();
    let deploy = GovAction::DeployPolicy { name: "bad".into(), wasm: forbidden };
    let rejected = chain.app.check_tx(&chain.propose(0, deploy)).unwrap_err();
    assert_eq!(rejected.code, "proposal_invalid");
    assert!(rejected.message.contains("wasi_snapshot_preview1"), "{}", rejected.message);
    assert!(chain.app.policies().unwrap().policies.iter().all(|policy| policy.name != "bad"));
}

#[test]
fn remove_attester_stops_its_attestations_counting() {
    let chain = TestChain::start(genesis(&[10]));
    let target = image("removed-attester");
    chain.commit(vec![scan_tx("ghcr.io/acme/api", &target, &["CRITICAL"])]);
    assert_eq!(
        chain.app.image_status(&target, None, false).unwrap().status,
        vouch_protocol::ledger::ImageStatus::Quarantined
    );

    let remove = GovAction::RemoveAttester { key_id: KeyId::of(&key(100).public_key()) };
    let outcome = chain.commit(vec![chain.propose(0, remove)]);
    assert_eq!(outcome.evaluated, vec![target.clone()], "the change re-evaluates every known image");
    let status = chain.app.image_status(&target, None, false).unwrap();
    assert_eq!(status.status, vouch_protocol::ledger::ImageStatus::Pending);
    assert!(status.verdicts[0].attestations.is_empty());
    let rejected = chain.app.check_tx(&scan_tx("ghcr.io/acme/api", &image("new"), &["LOW"])).unwrap_err();
    assert_eq!(rejected.code, "attester_unregistered");
}
