use vouch_protocol::ledger::GenesisAttester;

use super::*;
use crate::policy::standard;

fn options() -> InitOptions {
    InitOptions {
        chain_id: ChainId::new("test-chain").expect("valid chain id"),
        validator_name: "validator-a".to_owned(),
        stake: 250,
        genesis_time_unix_ms: 1_750_000_000_000,
        attesters: Vec::new(),
        node_key: None,
        config: Config::default(),
    }
}

#[test]
fn init_writes_the_layout() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path().join("node"));
    home.init(options()).expect("init");

    let mut names: Vec<String> = fs::read_dir(home.dir())
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["config.toml", "genesis.json", "node_key.json"]);
    assert!(home.is_initialized());
}

#[cfg(unix)]
#[test]
fn init_sets_owner_only_modes() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path().join("node"));
    home.init(options()).expect("init");
    let mode = |path: &Path| fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(home.dir()), 0o700);
    assert_eq!(mode(&home.node_key_path()), 0o600);
}

#[test]
fn init_accepts_an_empty_folder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    Home::new(dir.path()).init(options()).expect("an existing empty folder is fine");
}

#[test]
fn init_refuses_a_non_empty_folder() {
    let dir = tempfile::tempdir().expect("temporary folder");
    fs::write(dir.path().join("notes.txt"), "keep me").expect("write");
    let error = Home::new(dir.path()).init(options()).expect_err("the folder holds a file");
    let message = error.to_string();
    assert!(message.contains(&dir.path().display().to_string()), "{message}");
    assert!(message.contains("notes.txt"), "{message}");
    assert_eq!(fs::read_to_string(dir.path().join("notes.txt")).expect("read"), "keep me");
}

#[test]
fn init_lists_at_most_five_entries() {
    let dir = tempfile::tempdir().expect("temporary folder");
    for index in 0..7 {
        fs::write(dir.path().join(format!("file-{index}")), "").expect("write");
    }
    let message = Home::new(dir.path()).init(options()).expect_err("not empty").to_string();
    assert!(message.contains("file-4"), "{message}");
    assert!(!message.contains("file-5"), "{message}");
    assert!(message.contains("and 2 more"), "{message}");
}

#[test]
fn init_refuses_a_file_as_home() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("plain-file");
    fs::write(&path, "").expect("write");
    assert!(matches!(Home::new(&path).init(options()), Err(HomeError::NotAFolder { .. })));
}

#[test]
fn initialized_home_loads() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path());
    let written = home.init(options()).expect("init");
    let loaded = home.load().expect("load");
    assert_eq!(loaded.config, Config::default());
    assert_eq!(loaded.genesis, written);
    assert_eq!(loaded.genesis.validators[0].public_key, loaded.node_key.public_key());
}

#[test]
fn genesis_file_holds_validator_policies_and_binding() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path());
    let mut init = options();
    let attester = SigningKey::from_seed(&[3; 32]).public_key();
    init.attesters =
        vec![GenesisAttester { name: "scanner-a".to_owned(), role: "scanner".to_owned(), public_key: attester }];
    home.init(init).expect("init");

    // Read the file as plain JSON, independently of the Genesis type.
    let text = fs::read_to_string(home.genesis_path()).expect("read");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(json["chain_id"], "test-chain");
    assert_eq!(json["validators"][0]["name"], "validator-a");
    assert_eq!(json["validators"][0]["stake"], 250);
    assert_eq!(json["attesters"][0]["public_key"], attester.to_hex());

    let policies = json["policies"].as_array().expect("policies");
    assert_eq!(policies.len(), standard::ALL.len());
    for policy in policies {
        let name = policy["name"].as_str().expect("name");
        let wasm = standard::by_name(name).expect("a standard policy").wasm;
        assert_eq!(policy["code_hash"], blake3::hash(wasm).to_hex().as_str(), "{name}");
        assert_eq!(policy["code"]["standard"], name);
    }
    assert_eq!(json["bindings"][0]["scope"], "*");
    assert_eq!(json["bindings"][0]["policies"][0]["policy"], "vulnerability-threshold");
    assert_eq!(json["bindings"][0]["policies"][1]["policy"], "required-attesters");
    assert_eq!(json["bindings"][0]["policies"][1]["parameters"]["threshold"], 1);
}

#[test]
fn given_node_key_is_kept() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path());
    let key = SigningKey::from_seed(&[5; 32]);
    let mut init = options();
    init.node_key = Some(SigningKey::from_seed(&[5; 32]));
    home.init(init).expect("init");
    assert_eq!(home.load().expect("load").node_key.public_key(), key.public_key());
}

#[test]
fn load_names_the_missing_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path());
    home.init(options()).expect("init");
    fs::remove_file(home.genesis_path()).expect("remove");
    let message = home.load().expect_err("no genesis").to_string();
    assert!(message.contains("genesis.json"), "{message}");
    assert!(message.contains("vouchd init"), "{message}");
}

#[test]
fn load_rejects_a_node_key_outside_the_genesis() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path());
    home.init(options()).expect("init");
    fs::remove_file(home.node_key_path()).expect("remove");
    node_key::write(&home.node_key_path(), &SigningKey::from_seed(&[8; 32])).expect("write another key");
    let error = home.load().expect_err("the key is not the validator's");
    assert!(matches!(error, HomeError::NotTheValidator { .. }), "{error}");
    assert!(error.to_string().contains("validator-a"), "{error}");
}

#[test]
fn load_rejects_block_txs_over_the_chain() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path());
    let genesis = home.init(options()).expect("init");
    let chain = genesis.consensus.block_txs_max;

    let mut config = Config::default();
    config.blocks.txs_max = chain + 1;
    fs::write(home.config_path(), config.to_toml()).expect("write");
    let error = home.load().expect_err("over the chain's limit");
    assert!(matches!(error, HomeError::BlockTxsOverChain { configured, .. } if configured == chain + 1), "{error}");

    config.blocks.txs_max = chain;
    fs::write(home.config_path(), config.to_toml()).expect("write");
    home.load().expect("at the chain's limit");
}

#[test]
fn load_names_an_invalid_config_field() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let home = Home::new(dir.path());
    home.init(options()).expect("init");
    fs::write(home.config_path(), "[api]\nrate_burst = 0\n").expect("write");
    let message = home.load().expect_err("invalid").to_string();
    assert!(message.contains("api.rate_burst"), "{message}");
}
