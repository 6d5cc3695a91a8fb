//! The node's `config.toml`: API limits, mempool and block sizes, storage and logging,
//! with every default in one [`Default`] impl and one [`Config::validate`] at start.
//!
//! Values that change what the ledger decides are not here: they are consensus
//! parameters in `genesis.json`. Durations are whole milliseconds in the file (keys end
//! in `_ms`) and [`Duration`]s in code.

mod render;
mod validate;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vouch_protocol::input::{self, InputError};

use crate::app::{COMMITTED_READS_BYTES_MAX, PENDING_READS_BYTES_MAX, ReadCacheLimits};
use crate::policy::RuntimeConfig;
use crate::store::NODE_CACHE_BYTES_DEFAULT;

/// Maximum size of a configuration file in bytes.
pub const CONFIG_BYTES_MAX: u64 = 1024 * 1024;

/// Errors from reading or checking a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Read(#[from] InputError),
    #[error("{path} is not valid UTF-8 at byte {offset}; save it as UTF-8 text")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid configuration: `{field}` is {value}: {rule}")]
    Invalid { field: &'static str, value: String, rule: String },
}

/// The whole configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP API.
    pub api: ApiConfig,
    /// The queue of transactions waiting for a block.
    pub mempool: MempoolConfig,
    /// Block production.
    pub blocks: BlocksConfig,
    /// The ledger database.
    pub storage: StorageConfig,
    /// The policy runtime's node-local sizes.
    pub policy: PolicyConfig,
    /// Logging.
    pub log: LogConfig,
}

/// The HTTP API's address and bounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// The address the API listens on, `IP:PORT`.
    pub address: String,
    /// Maximum size of a request body in bytes.
    pub body_bytes_max: u64,
    /// Longest time a client may take to send a request head; an idle keep-alive
    /// connection is closed after it too.
    #[serde(rename = "header_read_timeout_ms", with = "millis")]
    pub header_read_timeout: Duration,
    /// Longest time a client may take to send a request body.
    #[serde(rename = "body_read_timeout_ms", with = "millis")]
    pub body_read_timeout: Duration,
    /// Maximum number of open connections; keep it below the process's open-file
    /// limit (`ulimit -n`).
    pub connections_max: u32,
    /// Maximum number of open connections from one client IP.
    pub connections_per_ip_max: u32,
    /// Maximum number of requests handled at one time; more are answered `overloaded`.
    pub concurrency_max: u32,
    /// Requests per second that one client IP may make on average.
    pub rate_per_second: u32,
    /// Requests that one client IP may make at once above the average rate.
    pub rate_burst: u32,
    /// Client IPs that the per-client rate and connection cap do not apply to.
    pub rate_exempt: Vec<String>,
    /// How long `POST /v1/txs` with `"wait": true` waits for the commit.
    #[serde(rename = "commit_wait_timeout_ms", with = "millis")]
    pub commit_wait_timeout: Duration,
    /// Maximum number of submissions waiting for their commit at one time.
    pub commit_waiters_max: u32,
}

/// Bounds of the mempool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// Maximum number of transactions waiting.
    pub txs_max: u32,
    /// Maximum total size of the waiting transactions in bytes.
    pub bytes_max: u64,
}

/// Block production by this node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlocksConfig {
    /// Time between two blocks while transactions wait.
    #[serde(rename = "interval_ms", with = "millis")]
    pub interval: Duration,
    /// Longest time without a block: an empty block is committed then, so that a proof
    /// of the latest state (which needs the next header) appears.
    #[serde(rename = "empty_interval_ms", with = "millis")]
    pub empty_interval: Duration,
    /// Maximum number of transactions in a block this node proposes.
    pub txs_max: u32,
    /// Maximum total size of the transactions in a block this node proposes, in bytes.
    pub bytes_max: u64,
}

/// The ledger database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The database folder, relative to the home unless absolute.
    pub data_dir: PathBuf,
    /// Size of the database's page cache in bytes.
    pub cache_bytes: u64,
    /// Size of the database's page cache after an idle release reopened it, in bytes.
    /// It lasts until 4 MiB more are written: a load's first full block, or about two
    /// hours of empty blocks. At or above `cache_bytes` the cache stays full.
    pub idle_cache_bytes: u64,
    /// Bytes of checked attestations kept for the blocks that will commit them.
    pub pending_reads_bytes: u64,
    /// Bytes of committed attestations kept for later evaluations of their images.
    pub committed_reads_bytes: u64,
    /// Bytes of internal state tree nodes kept in memory for the next blocks.
    pub tree_cache_bytes: u64,
    /// Time without a committed transaction after which the caches are emptied and
    /// free memory goes back to the system; zero never releases.
    #[serde(rename = "idle_release_ms", with = "millis")]
    pub idle_release: Duration,
    /// Key and value bytes of the batches written to the database (not the ledger log)
    /// at which an idle release closes and opens it again. That frees memory that sled
    /// keeps while open. Zero never reopens it.
    pub reopen_after_bytes: u64,
}

/// Node-local sizes of the policy runtime; the execution limits are in the genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Compiled policy modules kept in memory.
    pub cached_modules_max: u32,
    /// Policy instances that may run at one time.
    pub concurrent_instances_max: u32,
}

/// Logging.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter: a level (`error` to `trace`) or directives such as
    /// `info,vouch_node::daemon=debug`. `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            api: ApiConfig {
                address: "127.0.0.1:7070".to_owned(),
                body_bytes_max: 8 * 1024 * 1024,
                header_read_timeout: Duration::from_secs(10),
                body_read_timeout: Duration::from_secs(30),
                connections_max: 4_096,
                connections_per_ip_max: 128,
                concurrency_max: 512,
                rate_per_second: 1_000,
                rate_burst: 2_000,
                rate_exempt: Vec::new(),
                commit_wait_timeout: Duration::from_secs(10),
                commit_waiters_max: 16_384,
            },
            mempool: MempoolConfig { txs_max: 50_000, bytes_max: 64 * 1024 * 1024 },
            blocks: BlocksConfig {
                interval: Duration::from_millis(200),
                empty_interval: Duration::from_secs(1),
                txs_max: 10_000,
                bytes_max: 16 * 1024 * 1024,
            },
            storage: StorageConfig {
                data_dir: PathBuf::from("data"),
                cache_bytes: 32 * 1024 * 1024,
                idle_cache_bytes: 4 * 1024 * 1024,
                pending_reads_bytes: PENDING_READS_BYTES_MAX as u64,
                committed_reads_bytes: COMMITTED_READS_BYTES_MAX as u64,
                tree_cache_bytes: NODE_CACHE_BYTES_DEFAULT.get() as u64,
                idle_release: Duration::from_secs(10),
                reopen_after_bytes: 64 * 1024 * 1024,
            },
            policy: PolicyConfig { cached_modules_max: 32, concurrent_instances_max: 8 },
            log: LogConfig { level: "info".to_owned() },
        }
    }
}

// Each section's defaults are the section of `Config::default()`, so a section given
// in part takes the missing fields from the one place that sets them.
macro_rules! section_default {
    ($section:ident, $field:ident) => {
        impl Default for $section {
            fn default() -> $section {
                Config::default().$field
            }
        }
    };
}

section_default!(ApiConfig, api);
section_default!(MempoolConfig, mempool);
section_default!(BlocksConfig, blocks);
section_default!(StorageConfig, storage);
section_default!(PolicyConfig, policy);
section_default!(LogConfig, log);

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let bytes = input::read_file_bounded(path, CONFIG_BYTES_MAX)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|error| ConfigError::NotUtf8 { path: path.to_owned(), offset: error.valid_up_to() })?;
        let config = Config::parse(text).map_err(|message| ConfigError::Syntax { path: path.to_owned(), message })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text without validating the values; the error is the parser's
    /// message, which names the line and the key.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|error| error.to_string())
    }

    /// Returns the API address; valid after [`Config::validate`].
    pub fn api_address(&self) -> Result<SocketAddr, ConfigError> {
        validate::socket_address("api.address", &self.api.address)
    }

    /// Returns the client IPs exempt from the rate limit; valid after
    /// [`Config::validate`].
    pub fn rate_exempt(&self) -> Result<Vec<IpAddr>, ConfigError> {
        self.api.rate_exempt.iter().map(|text| validate::ip_address("api.rate_exempt", text)).collect()
    }

    /// Returns the policy runtime's node-local sizes with default execution limits;
    /// the caller sets `limits` from the genesis, whose values every validator shares.
    pub fn runtime_config(&self) -> RuntimeConfig {
        let cached_modules_max = NonZeroUsize::new(self.policy.cached_modules_max as usize)
            .unwrap_or(RuntimeConfig::default().cached_modules_max);
        RuntimeConfig {
            cached_modules_max,
            concurrent_instances_max: self.policy.concurrent_instances_max,
            ..RuntimeConfig::default()
        }
    }

    /// Returns the bounds of the attestation read cache; valid after
    /// [`Config::validate`], which keeps both at least 1 MiB.
    pub fn read_cache_limits(&self) -> ReadCacheLimits {
        ReadCacheLimits {
            pending_bytes_max: cache_size(self.storage.pending_reads_bytes),
            committed_bytes_max: cache_size(self.storage.committed_reads_bytes),
        }
    }

    /// Returns the bound of the state tree node cache; valid after
    /// [`Config::validate`], which keeps it at least 1 MiB.
    pub fn tree_cache_bytes(&self) -> NonZeroUsize {
        cache_size(self.storage.tree_cache_bytes)
    }

    /// Returns the database folder: `storage.data_dir` under `home` unless absolute.
    pub fn data_dir(&self, home: &Path) -> PathBuf {
        home.join(&self.storage.data_dir)
    }
}

/// Serializes a [`Duration`] as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let millis = u64::try_from(duration.as_millis()).map_err(serde::ser::Error::custom)?;
        serializer.serialize_u64(millis)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests;

/// Converts a configured cache size to the cache's bound, saturating on 32-bit targets.
fn cache_size(value: u64) -> NonZeroUsize {
    NonZeroUsize::new(usize::try_from(value).unwrap_or(usize::MAX)).unwrap_or(NonZeroUsize::MIN)
}
