//! The development chain of `vouchd start --dev`: one validator, the standard policies
//! bound to every image, and two pre-registered attesters whose keys go into the CLI's
//! keyring.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use vouch_keyring::{KeyKind, KeyName, Keyring, KeyringError};
use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::GenesisAttester;
use vouch_protocol::signing::ChainId;

use crate::daemon::config::Config;
use crate::daemon::home::InitOptions;
use crate::daemon::node_key::{self, NodeKeyError};

/// The chain id of every dev chain.
pub const DEV_CHAIN_ID: &str = "vouch-dev";

/// The name of the dev validator, in the genesis and in the keyring.
pub const DEV_VALIDATOR: &str = "dev-validator";

/// The dev validator's stake.
pub const DEV_STAKE: u64 = 100;

/// The scanner attester's name, in the genesis and in the keyring.
pub const DEV_SCANNER: &str = "dev";

/// The reviewer attester's name, in the genesis and in the keyring.
pub const DEV_REVIEWER: &str = "dev-reviewer";

/// Errors from taking the dev keys from the keyring or storing them there.
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("dev key `{name}` in keyring {dir}: {source}")]
    Keyring {
        name: &'static str,
        dir: PathBuf,
        #[source]
        source: Box<KeyringError>,
    },
    #[error(
        "key `{name}` in keyring {dir} is {kind}, but a dev chain signs with it unattended; delete it with `vouch keys delete {name}` or set VOUCH_KEYRING to another folder"
    )]
    NotUsable { name: &'static str, dir: PathBuf, kind: &'static str },
    #[error(transparent)]
    Generate(#[from] NodeKeyError),
}

/// The keys of a dev chain.
#[derive(Debug)]
pub struct DevKeys {
    /// The validator's key, which is also the node key.
    pub validator: SigningKey,
    /// The attester `dev`, role `scanner`.
    pub scanner: SigningKey,
    /// The attester `dev-reviewer`, role `reviewer`.
    pub reviewer: SigningKey,
}

impl DevKeys {
    /// Generates three new keys.
    pub fn generate() -> Result<DevKeys, NodeKeyError> {
        Ok(DevKeys {
            validator: node_key::generate()?,
            scanner: node_key::generate()?,
            reviewer: node_key::generate()?,
        })
    }

    /// Takes the keys named `dev-validator`, `dev` and `dev-reviewer` from `keyring`, and
    /// generates and stores unencrypted the ones that are missing, so that every dev
    /// chain of one keyring has the same validator and attesters.
    pub fn from_keyring(keyring: &Keyring) -> Result<DevKeys, DevKeyError> {
        Ok(DevKeys {
            validator: take_or_store(keyring, DEV_VALIDATOR)?,
            scanner: take_or_store(keyring, DEV_SCANNER)?,
            reviewer: take_or_store(keyring, DEV_REVIEWER)?,
        })
    }

    /// Returns the keyring names and keys, validator first.
    pub fn named(&self) -> [(&'static str, &SigningKey); 3] {
        [(DEV_VALIDATOR, &self.validator), (DEV_SCANNER, &self.scanner), (DEV_REVIEWER, &self.reviewer)]
    }
}

/// Returns the unencrypted key `name` of `keyring`, storing a new one when it has none.
fn take_or_store(keyring: &Keyring, name: &'static str) -> Result<SigningKey, DevKeyError> {
    let dir = keyring.dir().to_owned();
    let keyring_error = |source| DevKeyError::Keyring { name, dir: dir.clone(), source: Box::new(source) };
    let key_name = KeyName::parse(name).map_err(keyring_error)?;

    match keyring.load(&key_name) {
        Ok(file) => match file.kind() {
            KeyKind::Unencrypted => file.unlock(None).map_err(keyring_error),
            KeyKind::Encrypted => Err(DevKeyError::NotUsable { name, dir, kind: "encrypted" }),
            KeyKind::PublicOnly => Err(DevKeyError::NotUsable { name, dir, kind: "a public key only" }),
        },
        Err(KeyringError::NotFound { .. }) => {
            let key = node_key::generate()?;
            keyring.store_unencrypted(&key_name, &key).map_err(keyring_error)?;
            tracing::info!(key = name, keyring = %dir.display(), public_key = %key.public_key(), "stored a new dev key");
            Ok(key)
        }
        Err(source) => Err(keyring_error(source)),
    }
}

/// Returns the options of a dev home: chain `vouch-dev`, the dev validator, the two
/// attesters, and a configuration without a rate for loopback clients.
pub fn init_options(keys: DevKeys, genesis_time_unix_ms: u64) -> InitOptions {
    let attesters = vec![
        GenesisAttester {
            name: DEV_SCANNER.to_owned(),
            role: "scanner".to_owned(),
            public_key: keys.scanner.public_key(),
        },
        GenesisAttester {
            name: DEV_REVIEWER.to_owned(),
            role: "reviewer".to_owned(),
            public_key: keys.reviewer.public_key(),
        },
    ];
    let mut config = Config::default();
    config.api.rate_exempt =
        [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)].iter().map(ToString::to_string).collect();
    InitOptions {
        chain_id: ChainId::new(DEV_CHAIN_ID).expect("the dev chain id is valid"),
        validator_name: DEV_VALIDATOR.to_owned(),
        stake: DEV_STAKE,
        genesis_time_unix_ms,
        attesters,
        node_key: Some(keys.validator),
        config,
    }
}

/// Returns the text that `vouchd start --dev` prints: where the API and the files are,
/// and the next commands to try.
pub fn banner(address: SocketAddr, home: &Path, keyring: &Path, throwaway: bool, height: u64) -> String {
    let url = format!("http://{address}");
    let genesis = home.join(crate::daemon::home::GENESIS_FILE);
    let image = "registry.example/team/app@sha256:5555555555555555555555555555555555555555555555555555555555555555";
    let mut text = String::new();
    let _ = writeln!(text, "vouchd: dev chain {DEV_CHAIN_ID} at height {height}");
    let _ = writeln!(text, "  API      {url}");
    let removal = if throwaway { " (removed on exit)" } else { "" };
    let _ = writeln!(text, "  home     {}{removal}", home.display());
    let _ = writeln!(text, "  genesis  {}", genesis.display());
    let _ = writeln!(text, "  keyring  {}", keyring.display());
    let _ =
        writeln!(text, "  keys     {DEV_SCANNER} (scanner), {DEV_REVIEWER} (reviewer), {DEV_VALIDATOR} (validator)");
    let _ = writeln!(text);
    let _ = writeln!(text, "Try, in another terminal:");
    let _ = writeln!(text, "  trivy image --format json --output TRIVY_REPORT.json IMAGE   # or a report you have");
    let _ = writeln!(text, "  vouch attest {image} --trivy TRIVY_REPORT.json --key {DEV_SCANNER} --node {url}");
    let _ = writeln!(text, "  vouch status {image} --node {url}");
    let _ = writeln!(text, "  vouch verify {image} --node {url} --genesis {}", genesis.display());
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::home::Home;

    #[test]
    fn dev_home_registers_both_attesters() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let keys = DevKeys::generate().expect("keys");
        let scanner = keys.scanner.public_key();
        let reviewer = keys.reviewer.public_key();
        let validator = keys.validator.public_key();
        let home = Home::new(dir.path());
        home.init(init_options(keys, 1_750_000_000_000)).expect("init");

        let loaded = home.load().expect("load");
        assert_eq!(loaded.genesis.chain_id.as_str(), "vouch-dev");
        assert_eq!(loaded.node_key.public_key(), validator);
        let attesters: Vec<(&str, &str, _)> = loaded
            .genesis
            .attesters
            .iter()
            .map(|attester| (attester.name.as_str(), attester.role.as_str(), attester.public_key))
            .collect();
        assert_eq!(attesters, [("dev", "scanner", scanner), ("dev-reviewer", "reviewer", reviewer)]);
        assert_eq!(loaded.config.api.rate_exempt, ["127.0.0.1", "::1"]);
    }

    #[test]
    fn keyring_keys_are_stored_then_reused() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let keyring = Keyring::new(dir.path().join("keyring"));
        let first = DevKeys::from_keyring(&keyring).expect("new keys");
        for name in [DEV_VALIDATOR, DEV_SCANNER, DEV_REVIEWER] {
            let file = keyring.load(&KeyName::parse(name).expect("name")).expect("stored");
            assert_eq!(file.kind(), KeyKind::Unencrypted, "{name}");
        }
        let second = DevKeys::from_keyring(&keyring).expect("the same keys");
        for ((name, a), (_, b)) in first.named().into_iter().zip(second.named()) {
            assert_eq!(a.public_key(), b.public_key(), "{name}");
        }
        assert_ne!(first.scanner.public_key(), first.reviewer.public_key());
    }

    #[test]
    fn public_only_keyring_key_is_rejected() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let keyring = Keyring::new(dir.path().to_owned());
        let name = KeyName::parse(DEV_SCANNER).expect("name");
        let public = *SigningKey::from_seed(&[4; 32]).public_key().as_bytes();
        let file = vouch_keyring::KeyFile::new_public(name, public, None, std::time::SystemTime::now());
        keyring.save(&file, false).expect("save");
        let error = DevKeys::from_keyring(&keyring).expect_err("a public key cannot sign");
        assert!(matches!(error, DevKeyError::NotUsable { name: "dev", .. }), "{error}");
        assert!(error.to_string().contains("vouch keys delete dev"), "{error}");
    }

    #[test]
    fn banner_names_address_and_commands() {
        let address = "127.0.0.1:7070".parse().expect("address");
        let text = banner(address, Path::new("/tmp/dev-home"), Path::new("/tmp/keys"), true, 3);
        assert!(text.contains("keyring  /tmp/keys\n"), "{text}");
        assert!(text.contains("API      http://127.0.0.1:7070\n"), "{text}");
        assert!(text.contains("(removed on exit)"), "{text}");
        assert!(text.contains("--key dev --node http://127.0.0.1:7070"), "{text}");
        assert!(text.contains("vouch verify"), "{text}");
        assert!(text.contains("--genesis /tmp/dev-home/genesis.json"), "{text}");
    }
}
