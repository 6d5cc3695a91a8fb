//! Writes a configuration as commented TOML, the text of a new home's `config.toml`.

use std::fmt::Write;

use super::Config;

/// The file's opening comment.
const PREAMBLE: &str = "\
# vouchd configuration. Every field is optional: a missing field takes the default
# written here. `vouchd start` checks every value and names the field it rejects.
# Durations are whole milliseconds. Values that every validator must share are in
# genesis.json, not here.
";

/// One documented field: its section, its key and the comment above it.
pub(super) struct FieldDoc {
    pub section: &'static str,
    pub key: &'static str,
    pub comment: &'static str,
}

/// Every field in file order, with its comment.
pub(super) const FIELDS: &[FieldDoc] = &[
    doc("api", "address", "Address the HTTP API listens on, IP:PORT. `vouchd start --api-addr` overrides it."),
    doc("api", "body_bytes_max", "Largest request body accepted, in bytes; larger ones get 413 body_too_large."),
    doc(
        "api",
        "header_read_timeout_ms",
        "Time a client may take to send a request head; idle connections close after it.",
    ),
    doc("api", "body_read_timeout_ms", "Time a client may take to send a request body; slower ones get 408."),
    doc("api", "connections_max", "Open connections at one time; keep it below the open-file limit (ulimit -n)."),
    doc("api", "connections_per_ip_max", "Open connections from one client IP; more are answered 503 and closed."),
    doc("api", "concurrency_max", "Requests handled at one time; more get 503 overloaded."),
    doc("api", "rate_per_second", "Requests per second that one client IP may make on average; more get 429."),
    doc("api", "rate_burst", "Requests that one client IP may make at once above its average rate."),
    doc(
        "api",
        "rate_exempt",
        "Client IPs without a per-client rate or connection cap, such as [\"127.0.0.1\"] for a local load test.",
    ),
    doc("api", "commit_wait_timeout_ms", "How long POST /v1/txs with \"wait\": true waits for the commit."),
    doc("api", "commit_waiters_max", "Submissions that may wait for their commit at one time; more get 503."),
    doc("mempool", "txs_max", "Transactions that may wait for a block; more get 503 mempool_full."),
    doc("mempool", "bytes_max", "Total size of the waiting transactions, in bytes."),
    doc("blocks", "interval_ms", "Time between two blocks while transactions wait."),
    doc("blocks", "empty_interval_ms", "Longest time without a block; proofs of the latest state need the next one."),
    doc("blocks", "txs_max", "Transactions per block, at most the genesis consensus.block_txs_max."),
    doc("blocks", "bytes_max", "Total size of the transactions of one block, in bytes."),
    doc("storage", "data_dir", "Ledger database folder, relative to the home unless absolute."),
    doc("storage", "cache_bytes", "Page cache of the ledger database, in bytes."),
    doc(
        "storage",
        "pending_reads_bytes",
        "Checked attestations kept in memory until their block, in bytes; evicted ones are checked again.",
    ),
    doc(
        "storage",
        "committed_reads_bytes",
        "Committed attestations kept in memory for later evaluations of their images, in bytes.",
    ),
    doc(
        "storage",
        "tree_cache_bytes",
        "State tree nodes and node indexes kept in memory for the next blocks, in bytes.",
    ),
    doc(
        "storage",
        "idle_release_ms",
        "After this long without a committed transaction, empty the caches and return free memory; 0 never does.",
    ),
    doc(
        "storage",
        "idle_cache_bytes",
        "Page cache of the database after an idle release reopened it, in bytes, until 4 MiB more are written (a load's first full block).",
    ),
    doc(
        "storage",
        "reopen_after_bytes",
        "Key and value bytes written to the database since it opened at which an idle release reopens it to free sled's memory; 0 never does.",
    ),
    doc("policy", "cached_modules_max", "Compiled policy modules kept in memory."),
    doc("policy", "concurrent_instances_max", "Policy instances that may run at one time."),
    doc("log", "level", "Log filter: error, warn, info, debug or trace, or directives; RUST_LOG overrides it."),
];

const fn doc(section: &'static str, key: &'static str, comment: &'static str) -> FieldDoc {
    FieldDoc { section, key, comment }
}

impl Config {
    /// Returns the configuration as TOML with a comment above every field.
    pub fn to_toml(&self) -> String {
        let table = toml::Table::try_from(self).expect("every configuration field is a TOML value");
        let mut text = PREAMBLE.to_owned();
        let mut section = "";
        for field in FIELDS {
            if field.section != section {
                section = field.section;
                let _ = write!(text, "\n[{section}]\n");
            }
            let value = table
                .get(field.section)
                .and_then(|section| section.get(field.key))
                .expect("FIELDS lists only fields of Config, as a test checks");
            let _ = write!(text, "# {}\n{} = {value}\n", field.comment, field.key);
        }
        text
    }
}
