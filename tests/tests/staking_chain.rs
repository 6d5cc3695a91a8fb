//! A real `vouchd start --dev` process whose validator set changes: `vouch staking
//! create-validator` adds a validator, `GET /v1/validators?height=H` shows the set of
//! each height from the node's stored state, and `vouch verify` still verifies a proof
//! from the genesis across the change.

use std::time::{Duration, Instant};

use serde_json::Value;
use vouch_tests::{DevNode, NodeHttp, ok_json};

/// The loopback address of this test's node.
const API_ADDR: &str = "127.0.0.1:7431";

/// Exit code of `vouch verify` for a pending image.
const PENDING: i32 = 4;

/// Maximum wait for the chain to reach a height. The dev chain commits an empty block
/// every second, and more slowly when the new validator, which runs no node, proposes.
const HEIGHT_WAIT: Duration = Duration::from_secs(120);

/// Returns (name, stake) of the set of `height`.
fn set_at(http: &NodeHttp, height: u64) -> Vec<(String, u64)> {
    let response = http.validators_at(height).expect("the node serves the set of a known height");
    assert_eq!(response.height, height);
    response.validators.into_iter().map(|view| (view.name, view.stake)).collect()
}

fn wait_for_height(http: &NodeHttp, height: u64) {
    let started = Instant::now();
    while http.status().expect("the node answers").latest_height < height {
        assert!(started.elapsed() < HEIGHT_WAIT, "the chain did not reach height {height} within {HEIGHT_WAIT:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn created_validator_joins_and_verify_passes() {
    let node = DevNode::start_at(API_ADDR);
    let http = NodeHttp::new(&node.url);
    let dev = vec![("dev-validator".to_owned(), 100)];
    assert_eq!(set_at(&http, 1), dev);

    let generate = node.vouch(&["keys", "generate", "second", "--no-passphrase"]);
    assert!(generate.status.success(), "{}", String::from_utf8_lossy(&generate.stderr));
    let too_small =
        node.vouch(&["staking", "create-validator", "--name", "second", "--self-bond", "9", "--key", "second"]);
    assert!(!too_small.status.success(), "a self-bond under the dev minimum of 10 is rejected");
    let stderr = String::from_utf8_lossy(&too_small.stderr);
    assert!(stderr.contains("self-bond 9 is below the minimum self-bond 10"), "{stderr}");

    let created = node.vouch(&[
        "staking",
        "create-validator",
        "--name",
        "second",
        "--self-bond",
        "10",
        "--key",
        "second",
        "--output",
        "json",
    ]);
    let create = ok_json(&created, "vouch staking create-validator");
    let public_key = node.keyring_key("second").public_key().to_hex();
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(stderr.contains(&format!("validator key second has public key {public_key}")), "{stderr}");
    let height = create["height"].as_u64().expect("the committed height");
    assert!(create["outcome"].as_str().is_some_and(|outcome| outcome.starts_with("applied: create-validator")));

    assert_eq!(set_at(&http, height + 1), dev, "the block after the creation keeps the old set");
    let joined = vec![("dev-validator".to_owned(), 100), ("second".to_owned(), 10)];
    assert_eq!(set_at(&http, height + 2), joined, "the set changes two heights after the block");
    let latest = http.status().expect("the node answers").latest_height;
    assert!(http.validators_at(latest + 3).is_err(), "a set past two heights after the latest block is unknown");

    let bond =
        ok_json(&node.vouch(&["staking", "bond", "5", "--key", "second", "--output", "json"]), "vouch staking bond");
    let bonded_at = bond["height"].as_u64().expect("the committed height");
    wait_for_height(&http, bonded_at + 3);
    assert_eq!(set_at(&http, bonded_at + 2), vec![("dev-validator".to_owned(), 100), ("second".to_owned(), 15)]);
    assert_eq!(set_at(&http, height + 1), dev, "older sets stay served from the stored state");

    let image = format!("registry.example/staking/app@sha256:{}", "7".repeat(64));
    let genesis = node.home.path().join("genesis.json").display().to_string();
    let verify = node.vouch(&["verify", &image, "--genesis", &genesis, "--output", "json"]);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(verify.status.code(), Some(PENDING), "verify proves the image absent:\n{stdout}\n{stderr}");
    let verified: Value = serde_json::from_slice(&verify.stdout).expect("verify prints JSON");
    let block_height = verified["block_height"].as_u64().expect("the verified header's height");
    assert!(block_height >= bonded_at + 2, "the verified header {block_height} is signed by the changed set");
}
