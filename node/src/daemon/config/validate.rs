//! The rules of each configuration field, checked once at start.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use vouch_protocol::chain::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX};
use vouch_protocol::ledger::TX_BYTES_MAX;

use super::{Config, ConfigError};

/// Accepted request body limits: at least 1 KiB, and at most room for the base64 of a
/// transaction of [`TX_BYTES_MAX`] (8 MiB, so about 10.7 MiB of base64) and the JSON
/// around it; a larger body could never hold a valid transaction.
pub const BODY_BYTES_RANGE: RangeInclusive<u64> = 1024..=16 * 1024 * 1024;

/// Accepted values of `api.concurrency_max`.
pub const CONCURRENCY_RANGE: RangeInclusive<u32> = 1..=65_536;

/// Longest accepted `api.header_read_timeout_ms` and `api.body_read_timeout_ms`.
pub const READ_TIMEOUT_MAX: Duration = Duration::from_secs(600);

/// Accepted values of `api.connections_max`; `api.connections_per_ip_max` is at most
/// `api.connections_max`.
pub const CONNECTIONS_RANGE: RangeInclusive<u32> = 1..=1_000_000;

/// Accepted values of `api.commit_waiters_max`.
pub const COMMIT_WAITERS_RANGE: RangeInclusive<u32> = 1..=1_000_000;

/// Longest accepted `api.commit_wait_timeout_ms`.
pub const COMMIT_WAIT_TIMEOUT_MAX: Duration = Duration::from_secs(600);

/// Longest accepted `blocks.empty_interval_ms`.
pub const EMPTY_INTERVAL_MAX: Duration = Duration::from_secs(3600);

/// Room left in a block for its header and length prefixes when checking
/// `blocks.bytes_max` against [`BLOCK_BYTES_MAX`].
pub const BLOCK_HEADER_ROOM_BYTES: u64 = 64 * 1024;

/// Accepted values of `mempool.txs_max`.
pub const MEMPOOL_TXS_RANGE: RangeInclusive<u32> = 1..=10_000_000;

/// Smallest accepted `storage.cache_bytes`, `storage.idle_cache_bytes`,
/// `storage.pending_reads_bytes`, `storage.committed_reads_bytes` and
/// `storage.tree_cache_bytes`.
pub const CACHE_BYTES_MIN: u64 = 1024 * 1024;

/// Longest accepted `storage.idle_release_ms`.
pub const IDLE_RELEASE_MAX: Duration = Duration::from_secs(24 * 3600);

/// Accepted values of `policy.concurrent_instances_max` and `policy.cached_modules_max`.
pub const POLICY_SLOTS_RANGE: RangeInclusive<u32> = 1..=1_024;

impl Config {
    /// Checks every field, naming the first one that breaks its rule and the fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_api()?;
        self.validate_mempool()?;
        self.validate_blocks()?;
        self.validate_storage()?;
        self.validate_policy()?;
        log_filter("log.level", &self.log.level)
    }

    fn validate_api(&self) -> Result<(), ConfigError> {
        let api = &self.api;
        socket_address("api.address", &api.address)?;
        in_range("api.body_bytes_max", api.body_bytes_max, &BODY_BYTES_RANGE)?;
        duration_in("api.header_read_timeout_ms", api.header_read_timeout, READ_TIMEOUT_MAX)?;
        duration_in("api.body_read_timeout_ms", api.body_read_timeout, READ_TIMEOUT_MAX)?;
        in_range("api.connections_max", api.connections_max, &CONNECTIONS_RANGE)?;
        in_range("api.connections_per_ip_max", api.connections_per_ip_max, &(1..=api.connections_max))?;
        in_range("api.concurrency_max", api.concurrency_max, &CONCURRENCY_RANGE)?;
        at_least("api.rate_per_second", api.rate_per_second, 1)?;
        at_least("api.rate_burst", api.rate_burst, 1)?;
        for text in &api.rate_exempt {
            ip_address("api.rate_exempt", text)?;
        }
        duration_in("api.commit_wait_timeout_ms", api.commit_wait_timeout, COMMIT_WAIT_TIMEOUT_MAX)?;
        in_range("api.commit_waiters_max", api.commit_waiters_max, &COMMIT_WAITERS_RANGE)
    }

    fn validate_mempool(&self) -> Result<(), ConfigError> {
        in_range("mempool.txs_max", self.mempool.txs_max, &MEMPOOL_TXS_RANGE)?;
        at_least("mempool.bytes_max", self.mempool.bytes_max, TX_BYTES_MAX as u64)
    }

    fn validate_blocks(&self) -> Result<(), ConfigError> {
        let blocks = &self.blocks;
        duration_in("blocks.empty_interval_ms", blocks.empty_interval, EMPTY_INTERVAL_MAX)?;
        if blocks.interval > blocks.empty_interval {
            let rule = format!("set it to at most blocks.empty_interval_ms ({})", blocks.empty_interval.as_millis());
            return Err(invalid("blocks.interval_ms", blocks.interval.as_millis(), rule));
        }
        duration_in("blocks.interval_ms", blocks.interval, blocks.empty_interval)?;
        in_range("blocks.txs_max", blocks.txs_max, &(1..=BLOCK_TXS_MAX as u32))?;

        // One transaction of the largest size must fit, or it would block the mempool's
        // head forever.
        let bytes_range = TX_BYTES_MAX as u64 + 8..=BLOCK_BYTES_MAX as u64 - BLOCK_HEADER_ROOM_BYTES;
        in_range("blocks.bytes_max", blocks.bytes_max, &bytes_range)
    }

    fn validate_storage(&self) -> Result<(), ConfigError> {
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(invalid("storage.data_dir", "empty", "give a folder, such as \"data\""));
        }
        at_least("storage.cache_bytes", self.storage.cache_bytes, CACHE_BYTES_MIN)?;
        at_least("storage.idle_cache_bytes", self.storage.idle_cache_bytes, CACHE_BYTES_MIN)?;
        at_least("storage.pending_reads_bytes", self.storage.pending_reads_bytes, CACHE_BYTES_MIN)?;
        at_least("storage.committed_reads_bytes", self.storage.committed_reads_bytes, CACHE_BYTES_MIN)?;
        at_least("storage.tree_cache_bytes", self.storage.tree_cache_bytes, CACHE_BYTES_MIN)?;
        if self.storage.idle_release > IDLE_RELEASE_MAX {
            let rule = format!("set it between 0 (never) and {} milliseconds", IDLE_RELEASE_MAX.as_millis());
            return Err(invalid("storage.idle_release_ms", self.storage.idle_release.as_millis(), rule));
        }
        Ok(())
    }

    fn validate_policy(&self) -> Result<(), ConfigError> {
        in_range("policy.cached_modules_max", self.policy.cached_modules_max, &POLICY_SLOTS_RANGE)?;
        in_range("policy.concurrent_instances_max", self.policy.concurrent_instances_max, &POLICY_SLOTS_RANGE)
    }
}

fn invalid(field: &'static str, value: impl ToString, rule: impl ToString) -> ConfigError {
    ConfigError::Invalid { field, value: value.to_string(), rule: rule.to_string() }
}

fn in_range<T>(field: &'static str, value: T, range: &RangeInclusive<T>) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        return Ok(());
    }
    Err(invalid(field, &value, format!("set it between {} and {}", range.start(), range.end())))
}

fn at_least<T: PartialOrd + std::fmt::Display>(field: &'static str, value: T, min: T) -> Result<(), ConfigError> {
    if value >= min {
        return Ok(());
    }
    Err(invalid(field, &value, format!("set it to at least {min}")))
}

fn duration_in(field: &'static str, value: Duration, max: Duration) -> Result<(), ConfigError> {
    let millis = value.as_millis();
    if millis >= 1 && value <= max {
        return Ok(());
    }
    Err(invalid(field, millis, format!("set it between 1 and {} milliseconds", max.as_millis())))
}

/// Parses an `IP:PORT` address.
pub fn socket_address(field: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        invalid(field, format!("{text:?}"), "write IP:PORT, such as 127.0.0.1:7070 or [::1]:7070 (no host names)")
    })
}

/// Parses an IP address.
pub fn ip_address(field: &'static str, text: &str) -> Result<IpAddr, ConfigError> {
    text.parse().map_err(|_| invalid(field, format!("{text:?}"), "list IP addresses, such as \"127.0.0.1\" or \"::1\""))
}

/// The level names a `log.level` directive may use.
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Checks a `tracing` filter of comma-separated directives, each a level or
/// `target=level` with a module path as target. `tracing-subscriber` would also take
/// a bare word as a target at level trace, so a misspelt level such as "verbose"
/// silently turned most logs off; that form is rejected here.
fn log_filter(field: &'static str, text: &str) -> Result<(), ConfigError> {
    let rule = |problem: String| {
        let fix = "use a level (off, error, warn, info, debug, trace) or directives such as \"info,vouch_node=debug\"";
        invalid(field, format!("{text:?}"), format!("{problem}; {fix}"))
    };
    if text.trim().is_empty() {
        return Err(rule("it is empty".to_owned()));
    }
    for directive in text.split(',').map(str::trim) {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target), level),
            None => (None, directive),
        };
        if !LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(rule(format!("directive {directive:?} has no valid level")));
        }
        if let Some(target) = target
            && !is_module_path(target)
        {
            return Err(rule(format!("directive {directive:?} has an invalid target {target:?}")));
        }
    }
    tracing_subscriber::EnvFilter::builder().parse(text).map(|_| ()).map_err(|error| rule(error.to_string()))
}

/// Returns whether `text` is a Rust module path such as `vouch_node::daemon`.
fn is_module_path(text: &str) -> bool {
    !text.is_empty()
        && text.split("::").all(|part| {
            !part.is_empty() && part.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
        })
}
