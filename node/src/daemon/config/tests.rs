use std::time::Duration;

use vouch_protocol::chain::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX};
use vouch_protocol::ledger::TX_BYTES_MAX;

use super::render::FIELDS;
use super::validate::{
    BODY_BYTES_RANGE, CACHE_BYTES_MIN, CONCURRENCY_RANGE, CONNECTIONS_RANGE, IDLE_RELEASE_MAX, READ_TIMEOUT_MAX,
};
use super::*;

fn invalid_field(change: impl FnOnce(&mut Config)) -> Option<&'static str> {
    let mut config = Config::default();
    change(&mut config);
    match config.validate() {
        Ok(()) => None,
        Err(ConfigError::Invalid { field, .. }) => Some(field),
        Err(other) => panic!("expected an Invalid error, got {other}"),
    }
}

#[test]
fn default_is_valid() {
    assert!(Config::default().validate().is_ok());
}

#[test]
fn rendered_default_parses_back() {
    let text = Config::default().to_toml();
    assert_eq!(Config::parse(&text).expect("the rendered text parses"), Config::default());
}

#[test]
fn rendered_custom_values_parse_back() {
    let mut config = Config::default();
    config.api.address = "[::1]:9000".to_owned();
    config.api.rate_exempt = vec!["127.0.0.1".to_owned(), "::1".to_owned()];
    config.blocks.interval = Duration::from_millis(7);
    config.storage.data_dir = PathBuf::from("/var/lib/vouch data");
    config.log.level = "info,vouch_node=debug".to_owned();
    assert_eq!(Config::parse(&config.to_toml()).expect("the rendered text parses"), config);
}

#[test]
fn every_field_has_a_comment() {
    let table = toml::Table::try_from(Config::default()).expect("the default is TOML");
    let mut fields: Vec<(String, String)> = Vec::new();
    for (section, values) in &table {
        let values = values.as_table().expect("every top-level entry is a section");
        fields.extend(values.keys().map(|key| (section.clone(), key.clone())));
    }
    let documented: Vec<(String, String)> =
        FIELDS.iter().map(|field| (field.section.to_owned(), field.key.to_owned())).collect();
    for field in &fields {
        assert!(documented.contains(field), "{}.{} has no comment in render::FIELDS", field.0, field.1);
    }
    for field in &documented {
        assert!(fields.contains(field), "render::FIELDS documents {}.{}, which Config lacks", field.0, field.1);
    }

    let text = Config::default().to_toml();
    let lines: Vec<&str> = text.lines().collect();
    for field in FIELDS {
        let at = lines.iter().position(|line| line.starts_with(&format!("{} = ", field.key)));
        let at = at.unwrap_or_else(|| panic!("{} is missing from the rendered file", field.key));
        assert!(lines[at - 1].starts_with("# "), "{} has no comment line above it", field.key);
    }
}

#[test]
fn missing_fields_take_defaults() {
    let config = Config::parse("[api]\nconcurrency_max = 3\n").expect("a partial file parses");
    let mut expected = Config::default();
    expected.api.concurrency_max = 3;
    assert_eq!(config, expected);
    assert_eq!(Config::parse("").expect("an empty file parses"), Config::default());
}

#[test]
fn unknown_fields_are_rejected() {
    let error = Config::parse("[api]\nconcurency_max = 3\n").expect_err("a misspelt key is an error");
    assert!(error.contains("concurency_max"), "{error}");
    let error = Config::parse("[apii]\n").expect_err("an unknown section is an error");
    assert!(error.contains("apii"), "{error}");
}

#[test]
fn wrong_types_name_the_key() {
    let error = Config::parse("[blocks]\ninterval_ms = \"fast\"\n").expect_err("a string is not milliseconds");
    assert!(error.contains("interval_ms"), "{error}");
}

#[test]
fn each_field_names_itself_when_invalid() {
    type Change = fn(&mut Config);
    let cases: &[(&str, Change)] = &[
        ("api.address", |c| c.api.address = "localhost:7070".to_owned()),
        ("api.body_bytes_max", |c| c.api.body_bytes_max = 0),
        ("api.header_read_timeout_ms", |c| c.api.header_read_timeout = Duration::ZERO),
        ("api.body_read_timeout_ms", |c| c.api.body_read_timeout = Duration::ZERO),
        ("api.connections_max", |c| c.api.connections_max = 0),
        ("api.connections_per_ip_max", |c| c.api.connections_per_ip_max = 0),
        ("api.concurrency_max", |c| c.api.concurrency_max = 0),
        ("api.rate_per_second", |c| c.api.rate_per_second = 0),
        ("api.rate_burst", |c| c.api.rate_burst = 0),
        ("api.rate_exempt", |c| c.api.rate_exempt = vec!["127.0.0.1".to_owned(), "my-laptop".to_owned()]),
        ("api.commit_wait_timeout_ms", |c| c.api.commit_wait_timeout = Duration::ZERO),
        ("api.commit_waiters_max", |c| c.api.commit_waiters_max = 0),
        ("mempool.txs_max", |c| c.mempool.txs_max = 0),
        ("mempool.bytes_max", |c| c.mempool.bytes_max = 1024),
        ("blocks.interval_ms", |c| c.blocks.interval = Duration::ZERO),
        ("blocks.empty_interval_ms", |c| c.blocks.empty_interval = Duration::ZERO),
        ("blocks.txs_max", |c| c.blocks.txs_max = 0),
        ("blocks.bytes_max", |c| c.blocks.bytes_max = 1024),
        ("storage.data_dir", |c| c.storage.data_dir = PathBuf::new()),
        ("storage.cache_bytes", |c| c.storage.cache_bytes = 4096),
        ("storage.idle_cache_bytes", |c| c.storage.idle_cache_bytes = CACHE_BYTES_MIN - 1),
        ("storage.pending_reads_bytes", |c| c.storage.pending_reads_bytes = CACHE_BYTES_MIN - 1),
        ("storage.committed_reads_bytes", |c| c.storage.committed_reads_bytes = 0),
        ("storage.tree_cache_bytes", |c| c.storage.tree_cache_bytes = 0),
        ("storage.idle_release_ms", |c| c.storage.idle_release = IDLE_RELEASE_MAX + Duration::from_millis(1)),
        ("policy.cached_modules_max", |c| c.policy.cached_modules_max = 0),
        ("policy.concurrent_instances_max", |c| c.policy.concurrent_instances_max = 0),
        ("log.level", |c| c.log.level = "info,vouch_node=loud".to_owned()),
    ];
    for (field, change) in cases {
        assert_eq!(invalid_field(*change), Some(*field), "changing {field}");
    }
    // Fields that take every value of their type; their own tests cover the edges.
    let unbounded = ["storage.reopen_after_bytes"];
    assert_eq!(cases.len() + unbounded.len(), FIELDS.len(), "every documented field has an invalid case");
}

#[test]
fn error_message_names_field_value_and_fix() {
    let mut config = Config::default();
    config.api.concurrency_max = 0;
    let message = config.validate().expect_err("0 is invalid").to_string();
    assert!(message.contains("`api.concurrency_max` is 0"), "{message}");
    assert!(message.contains("set it between 1 and 65536"), "{message}");
}

#[test]
fn range_limits_hold_at_the_edge() {
    type Set = fn(&mut Config, u64);
    let edges: &[(&str, u64, u64, Set)] = &[
        ("api.body_bytes_max", *BODY_BYTES_RANGE.start(), *BODY_BYTES_RANGE.end(), |c, v| c.api.body_bytes_max = v),
        ("api.concurrency_max", u64::from(*CONCURRENCY_RANGE.start()), u64::from(*CONCURRENCY_RANGE.end()), |c, v| {
            c.api.concurrency_max = v as u32
        }),
        ("api.header_read_timeout_ms", 1, READ_TIMEOUT_MAX.as_millis() as u64, |c, v| {
            c.api.header_read_timeout = Duration::from_millis(v)
        }),
        ("api.body_read_timeout_ms", 1, READ_TIMEOUT_MAX.as_millis() as u64, |c, v| {
            c.api.body_read_timeout = Duration::from_millis(v)
        }),
        ("api.connections_max", u64::from(*CONNECTIONS_RANGE.start()), u64::from(*CONNECTIONS_RANGE.end()), |c, v| {
            c.api.connections_max = v as u32;
            c.api.connections_per_ip_max = 1;
        }),
        ("blocks.txs_max", 1, BLOCK_TXS_MAX as u64, |c, v| c.blocks.txs_max = v as u32),
        ("blocks.bytes_max", TX_BYTES_MAX as u64 + 8, BLOCK_BYTES_MAX as u64 - 64 * 1024, |c, v| {
            c.blocks.bytes_max = v
        }),
    ];
    for (field, min, max, set) in edges {
        assert_eq!(invalid_field(|c| set(c, *min)), None, "{field} at its minimum {min}");
        assert_eq!(invalid_field(|c| set(c, *max)), None, "{field} at its maximum {max}");
        assert_eq!(invalid_field(|c| set(c, min - 1)), Some(*field), "{field} below its minimum");
        assert_eq!(invalid_field(|c| set(c, max + 1)), Some(*field), "{field} above its maximum");
    }
}

#[test]
fn cache_sizes_hold_at_their_minimum() {
    type Set = fn(&mut Config, u64);
    let fields: &[(&str, Set)] = &[
        ("storage.cache_bytes", |c, v| c.storage.cache_bytes = v),
        ("storage.pending_reads_bytes", |c, v| c.storage.pending_reads_bytes = v),
        ("storage.committed_reads_bytes", |c, v| c.storage.committed_reads_bytes = v),
        ("storage.tree_cache_bytes", |c, v| c.storage.tree_cache_bytes = v),
    ];
    for (field, set) in fields {
        assert_eq!(invalid_field(|c| set(c, CACHE_BYTES_MIN)), None, "{field} at its minimum");
        assert_eq!(invalid_field(|c| set(c, CACHE_BYTES_MIN - 1)), Some(*field), "{field} below its minimum");
        assert_eq!(invalid_field(|c| set(c, u64::MAX)), None, "{field} has no maximum");
    }
    let mut config = Config::default();
    config.storage.pending_reads_bytes = CACHE_BYTES_MIN;
    config.storage.committed_reads_bytes = u64::MAX;
    let limits = config.read_cache_limits();
    assert_eq!(limits.pending_bytes_max.get(), CACHE_BYTES_MIN as usize);
    assert_eq!(limits.committed_bytes_max.get(), usize::MAX);
}

#[test]
fn idle_release_holds_at_its_edges() {
    let set = |millis: u64| move |c: &mut Config| c.storage.idle_release = Duration::from_millis(millis);
    assert_eq!(invalid_field(set(0)), None, "zero turns the release off");
    let max = IDLE_RELEASE_MAX.as_millis() as u64;
    assert_eq!(invalid_field(set(max)), None, "at its maximum");
    assert_eq!(invalid_field(set(max + 1)), Some("storage.idle_release_ms"), "above its maximum");
    let parsed = Config::parse("[storage]\nidle_release_ms = 0\n").expect("zero parses");
    assert_eq!(parsed.storage.idle_release, Duration::ZERO);
}

#[test]
fn reopen_threshold_takes_any_size() {
    let set = |bytes: u64| move |c: &mut Config| c.storage.reopen_after_bytes = bytes;
    for bytes in [0, 1, u64::MAX] {
        assert_eq!(invalid_field(set(bytes)), None, "{bytes} bytes");
    }
    let parsed = Config::parse("[storage]\nreopen_after_bytes = 0\n").expect("zero parses");
    assert_eq!(parsed.storage.reopen_after_bytes, 0, "zero never reopens");
    let error = Config::parse("[storage]\nreopen_after_bytes = -1\n").expect_err("a negative size is refused");
    assert!(error.to_string().contains("reopen_after_bytes"), "{error}");
}

#[test]
fn per_ip_connections_at_most_total() {
    let set = |total: u32, per_ip: u32| {
        move |c: &mut Config| {
            c.api.connections_max = total;
            c.api.connections_per_ip_max = per_ip;
        }
    };
    assert_eq!(invalid_field(set(10, 10)), None, "per-IP cap equal to the total");
    assert_eq!(invalid_field(set(10, 11)), Some("api.connections_per_ip_max"), "per-IP cap over the total");
    assert_eq!(invalid_field(set(10, 1)), None, "per-IP cap of one");
}

#[test]
fn body_limit_fits_largest_transaction() {
    let base64_len = (TX_BYTES_MAX as u64).div_ceil(3) * 4;
    assert!(base64_len + 1024 <= *BODY_BYTES_RANGE.end());
}

#[test]
fn interval_must_not_exceed_empty_interval() {
    let field = invalid_field(|c| {
        c.blocks.interval = Duration::from_millis(1001);
        c.blocks.empty_interval = Duration::from_millis(1000);
    });
    assert_eq!(field, Some("blocks.interval_ms"));
    let field = invalid_field(|c| {
        c.blocks.interval = Duration::from_millis(1000);
        c.blocks.empty_interval = Duration::from_millis(1000);
    });
    assert_eq!(field, None);
}

#[test]
fn read_names_the_file_and_line() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[api]\naddress = \"127.0.0.1:7070\"\nconcurrency_max = \n").expect("write");
    let message = Config::read(&path).expect_err("a value is missing").to_string();
    assert!(message.contains("config.toml"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn read_rejects_invalid_utf8() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, b"[api]\n# caf\xe9\n").expect("write");
    let error = Config::read(&path).expect_err("Latin-1 text is rejected");
    assert!(matches!(error, ConfigError::NotUtf8 { offset: 11, .. }), "{error}");
}

#[test]
fn read_validates_values() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[mempool]\ntxs_max = 0\n").expect("write");
    let error = Config::read(&path).expect_err("0 transactions is invalid");
    assert!(matches!(error, ConfigError::Invalid { field: "mempool.txs_max", .. }), "{error}");
}

#[test]
fn typed_accessors_parse_validated_values() {
    let mut config = Config::default();
    config.api.rate_exempt = vec!["::1".to_owned()];
    assert_eq!(config.api_address().expect("valid").port(), 7070);
    assert_eq!(config.rate_exempt().expect("valid"), vec!["::1".parse::<IpAddr>().expect("an IP")]);
    assert_eq!(config.data_dir(Path::new("/home/v")), PathBuf::from("/home/v/data"));
    config.storage.data_dir = PathBuf::from("/srv/ledger");
    assert_eq!(config.data_dir(Path::new("/home/v")), PathBuf::from("/srv/ledger"));
}

#[test]
fn log_level_rejects_bare_words() {
    for bad in ["verbose!!", "verbose", "", " , ", "info,loud", "vouch node=debug", "vouch_node=", "=debug", "a::=info"]
    {
        let mut config = Config::default();
        config.log.level = bad.to_owned();
        let error = config.validate().expect_err(bad).to_string();
        assert!(error.contains("`log.level`"), "{bad:?}: {error}");
        assert!(error.contains("use a level (off, error"), "{bad:?}: {error}");
    }
}

#[test]
fn log_level_accepts_levels_and_directives() {
    for good in ["info", "DEBUG", "off", "warn,vouch_node::daemon=trace", "hyper=warn"] {
        let mut config = Config::default();
        config.log.level = good.to_owned();
        assert!(config.validate().is_ok(), "{good:?}");
    }
}
