//! The node's home folder: `vouchd init` writes it, `vouchd start` reads it.
//!
//! ```text
//! HOME/
//!   config.toml     node-local settings (daemon::config)
//!   genesis.json    the chain's genesis, identical on every node
//!   node_key.json   the validator's ed25519 seed, mode 0600
//!   vouchd.lock     the lock of a running vouchd, with its pid
//!   ledger.json     the chain id and genesis hash of the ledger (daemon::open)
//!   data/           the ledger database (storage.data_dir)
//! ```

mod genesis;

use std::fs;
use std::path::{Path, PathBuf};

use vouch_protocol::keys::SigningKey;
use vouch_protocol::ledger::{Genesis, GenesisAttester, GenesisError};
use vouch_protocol::signing::ChainId;

pub use genesis::{build_genesis, standard_policies};

use crate::daemon::config::{Config, ConfigError};
use crate::daemon::lock::LOCK_FILE_NAME;
use crate::daemon::node_key::{self, NodeKeyError};

/// Name of the configuration file in a home.
pub const CONFIG_FILE: &str = "config.toml";
/// Files an init that was stopped before writing `config.toml` may leave in a home:
/// the genesis, the node key and the lock of the `vouchd start --dev` that ran it.
const INIT_LEFTOVERS: [&str; 3] = [GENESIS_FILE, NODE_KEY_FILE, LOCK_FILE_NAME];

/// Name of the genesis file in a home.
pub const GENESIS_FILE: &str = "genesis.json";
/// Name of the node key file in a home.
pub const NODE_KEY_FILE: &str = "node_key.json";

/// Mode of a new home folder.
#[cfg(unix)]
const HOME_MODE: u32 = 0o700;

/// Maximum number of entries that the "home is not empty" error lists.
const LISTED_ENTRIES_MAX: usize = 5;

/// Errors from creating or reading a home.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("home {home} is not empty (it holds {entries}); give `vouchd init` a new or empty folder")]
    NotEmpty { home: PathBuf, entries: String },
    #[error("home {home} exists and is not a folder; choose another path")]
    NotAFolder { home: PathBuf },
    #[error("{path} is {kind}, not a regular file; replace it with the file that `vouchd init` wrote")]
    NotARegularFile { path: PathBuf, kind: &'static str },
    #[error("home {home} has no {file}; run `vouchd init --home {home}` first")]
    NotInitialized { home: PathBuf, file: &'static str },
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: std::io::Error },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error(transparent)]
    NodeKey(#[from] NodeKeyError),
    #[error(
        "{genesis} does not list the key of {node_key} ({public_key}) among its validators, so this node cannot vote; it lists {listed}. Use the node key of one of those validators, or the genesis of this validator's chain"
    )]
    NotTheValidator { genesis: PathBuf, node_key: PathBuf, public_key: String, listed: String },
    #[error(
        "`blocks.txs_max` in {config} is {configured}, over the genesis consensus.block_txs_max of {chain}; lower it to at most {chain}"
    )]
    BlockTxsOverChain { config: PathBuf, configured: u32, chain: u32 },
}

/// What `vouchd init` puts in a new home.
#[derive(Debug)]
pub struct InitOptions {
    /// The chain id.
    pub chain_id: ChainId,
    /// The validator's name in the genesis.
    pub validator_name: String,
    /// The validator's bonded stake.
    pub stake: u64,
    /// Time of the genesis state, Unix milliseconds.
    pub genesis_time_unix_ms: u64,
    /// Attesters registered at genesis.
    pub attesters: Vec<GenesisAttester>,
    /// The node key to use; a new one is generated when `None`.
    pub node_key: Option<SigningKey>,
    /// The configuration to write.
    pub config: Config,
}

/// A home folder's paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    dir: PathBuf,
}

/// The files of a home, read and checked for `vouchd start`.
#[derive(Debug)]
pub struct LoadedHome {
    /// The validated configuration.
    pub config: Config,
    /// The genesis.
    pub genesis: Genesis,
    /// The node's validator key.
    pub node_key: SigningKey,
}

impl Home {
    /// Names the home at `dir`; nothing is read or created.
    pub fn new(dir: impl Into<PathBuf>) -> Home {
        Home { dir: dir.into() }
    }

    /// Returns the home folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the path of `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// Returns the path of `genesis.json`.
    pub fn genesis_path(&self) -> PathBuf {
        self.dir.join(GENESIS_FILE)
    }

    /// Returns the path of `node_key.json`.
    pub fn node_key_path(&self) -> PathBuf {
        self.dir.join(NODE_KEY_FILE)
    }

    /// Returns whether the home has a `config.toml` entry, as an initialized one does;
    /// [`Home::load`] checks that it is a regular file.
    pub fn is_initialized(&self) -> bool {
        fs::symlink_metadata(self.config_path()).is_ok()
    }

    /// Creates the home with its configuration, genesis and node key, refusing a folder
    /// that holds anything. Returns the genesis written.
    pub fn init(&self, options: InitOptions) -> Result<Genesis, HomeError> {
        self.create_empty()?;
        let node_key = match options.node_key {
            Some(key) => key,
            None => node_key::generate()?,
        };
        let genesis = build_genesis(
            options.chain_id,
            &options.validator_name,
            options.stake,
            &node_key,
            options.genesis_time_unix_ms,
            options.attesters,
        );
        genesis.check(&self.genesis_path().display().to_string())?;

        // config.toml goes last: it marks a finished init, so a kill before it leaves
        // leftovers that the next init replaces.
        self.write_new(&self.genesis_path(), genesis.to_json().as_bytes())?;
        node_key::write(&self.node_key_path(), &node_key)?;
        self.write_new(&self.config_path(), options.config.to_toml().as_bytes())?;
        tracing::info!(home = %self.dir.display(), chain_id = %genesis.chain_id, validator = %node_key.public_key(), "initialized home");
        Ok(genesis)
    }

    /// Reads and checks the configuration, genesis and node key.
    pub fn load(&self) -> Result<LoadedHome, HomeError> {
        for file in [CONFIG_FILE, GENESIS_FILE, NODE_KEY_FILE] {
            let path = self.dir.join(file);
            if fs::symlink_metadata(&path).is_err() {
                return Err(HomeError::NotInitialized { home: self.dir.clone(), file });
            }
            // Reading a FIFO would block forever and a device may never end, so only
            // regular files (or links to them) are read.
            check_regular_file(&path)?;
        }
        let config = Config::read(&self.config_path())?;
        let genesis = Genesis::read(&self.genesis_path())?;
        let node_key = node_key::read(&self.node_key_path())?;
        self.check_validator(&genesis, &node_key)?;

        let chain = genesis.consensus.block_txs_max;
        if config.blocks.txs_max > chain {
            let config_path = self.config_path();
            return Err(HomeError::BlockTxsOverChain { config: config_path, configured: config.blocks.txs_max, chain });
        }
        Ok(LoadedHome { config, genesis, node_key })
    }

    fn check_validator(&self, genesis: &Genesis, node_key: &SigningKey) -> Result<(), HomeError> {
        let public_key = node_key.public_key();
        if genesis.validators.iter().any(|validator| validator.public_key == public_key) {
            return Ok(());
        }
        let listed: Vec<String> = genesis
            .validators
            .iter()
            .map(|validator| format!("{} ({})", validator.name, validator.public_key))
            .collect();
        Err(HomeError::NotTheValidator {
            genesis: self.genesis_path(),
            node_key: self.node_key_path(),
            public_key: public_key.to_hex(),
            listed: if listed.is_empty() { "none".to_owned() } else { listed.join(", ") },
        })
    }

    /// Creates the folder, or accepts an existing empty one or one that an interrupted
    /// init left (see [`INIT_LEFTOVERS`]), whose leftovers it removes.
    fn create_empty(&self) -> Result<(), HomeError> {
        match fs::read_dir(&self.dir) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect();
                if names.iter().all(|name| INIT_LEFTOVERS.contains(&name.as_str())) {
                    return self.remove_leftovers(&names);
                }
                names.sort();
                let more = names.len().saturating_sub(LISTED_ENTRIES_MAX);
                names.truncate(LISTED_ENTRIES_MAX);
                let mut entries = names.join(", ");
                if more > 0 {
                    entries.push_str(&format!(" and {more} more"));
                }
                Err(HomeError::NotEmpty { home: self.dir.clone(), entries })
            }
            Err(_) if self.dir.exists() => Err(HomeError::NotAFolder { home: self.dir.clone() }),
            Err(_) => self.create_dir(),
        }
    }

    /// Removes the genesis and node key of an init that stopped before `config.toml`;
    /// that key never signed anything, because `vouchd start` needs `config.toml`.
    fn remove_leftovers(&self, names: &[String]) -> Result<(), HomeError> {
        for name in names.iter().filter(|name| name.as_str() != LOCK_FILE_NAME) {
            let path = self.dir.join(name);
            tracing::warn!(path = %path.display(), "removing a file left by an interrupted init");
            fs::remove_file(&path).map_err(|error| HomeError::Write { path, error })?;
        }
        Ok(())
    }

    fn create_dir(&self) -> Result<(), HomeError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, HOME_MODE);
        builder.create(&self.dir).map_err(|error| HomeError::Write { path: self.dir.clone(), error })
    }

    fn write_new(&self, path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = fs::OpenOptions::new().write(true).create_new(true).open(path)?;
            file.write_all(bytes)?;
            file.sync_all()
        };
        write().map_err(|error| HomeError::Write { path: path.to_owned(), error })
    }
}

/// Returns an error naming the kind of entry at `path` unless it is a regular file,
/// following symbolic links.
pub fn check_regular_file(path: &Path) -> Result<(), HomeError> {
    let kind = match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => return Ok(()),
        Ok(metadata) => file_kind(&metadata.file_type()),
        Err(_) => "a broken symbolic link or unreadable",
    };
    Err(HomeError::NotARegularFile { path: path.to_owned(), kind })
}

fn file_kind(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() { "a folder" } else { "not a regular file" }
}

#[cfg(test)]
mod tests;
