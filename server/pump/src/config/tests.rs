//! The pump configuration's tests: the original's `config_test.go` cases, then ours.

use std::path::{Path, PathBuf};
use std::time::Duration;

use binlog_engine::{IoBackend, Preallocate, ReadableSize};
use binlog_node::config::{ConfigError, NodeConfig, DEFAULT_REGISTRY_DIR};
use clap::CommandFactory;

use super::flags::PumpFlags;
use super::gc::DAY_SECS;
use super::*;
use binlog_testkit::config::load_config;

fn load(args: &[&str], env: &[(&str, &str)]) -> Result<PumpConfig, ConfigError> {
    load_config(args, env)
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("pump.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The original's `validateConfig`.
fn check_expected(config: &PumpConfig) {
    assert_eq!(config.addr, "http://192.168.199.100:8260");
    assert_eq!(config.advertise_addr, "http://192.168.199.100:8260");
    assert_eq!(
        config.pd_urls,
        ["http://192.168.199.110:2379", "http://hostname:2379"]
    );
    assert_eq!(config.data_dir, Path::new("/tmp/pump"));
    assert_eq!(config.heartbeat_interval, Duration::from_secs(1500));
    assert_eq!(config.log_level, "debug");
}

const FILE: &str = r#"
addr = "192.168.199.100:8260"
advertise-addr = "192.168.199.100:8260"
pd-urls = "http://192.168.199.110:2379,http://hostname:2379"
data-dir = "/tmp/pump"
heartbeat-interval = 1500
"#;

#[test]
fn advertise_host_must_be_set_and_not_unspecified() {
    let mut config = PumpConfig {
        gc: Duration::from_secs(DAY_SECS),
        addr: "http://:8250".into(),
        pd_urls: vec!["http://192.168.10.23:7777".into()],
        ..PumpConfig::default()
    };
    for bad in ["http://:8250", "http://0.0.0.0:8250"] {
        config.advertise_addr = bad.into();
        let error = config.sanitize().unwrap_err().to_string();
        assert!(error.contains("advertiseAddr"), "{error}");
    }
    for good in ["http://127.0.0.1:8250", "http://192.168.11.11:8250"] {
        config.advertise_addr = good.into();
        config.sanitize().unwrap();
    }
    assert_eq!(config.listen_addr(), "0.0.0.0:8250");
    assert_eq!(config.advertise_host(), "192.168.11.11:8250");
    // Empty means the listen address, whose host is empty here.
    config.advertise_addr = String::new();
    assert!(config
        .sanitize()
        .unwrap_err()
        .to_string()
        .contains("advertiseAddr"));
}

#[test]
fn command_line_flags() {
    let config = load(
        &[
            "--addr",
            "192.168.199.100:8260",
            "--pd-urls",
            "http://192.168.199.110:2379,http://hostname:2379",
            "--data-dir=/tmp/pump",
            "--heartbeat-interval=1500",
            "-L",
            "debug",
        ],
        &[],
    )
    .unwrap();
    check_expected(&config);
    assert_eq!(config.listen_addr(), "192.168.199.100:8260");
    assert_eq!(config.advertise_host(), "192.168.199.100:8260");
}

#[test]
fn environment_fills_flags_not_on_the_command_line() {
    let config = load(
        &[
            "--addr",
            "192.168.199.100:8260",
            "-pd-urls",
            "http://192.168.199.110:2379,http://hostname:2379",
            "-heartbeat-interval=1500",
            "-L",
            "debug",
        ],
        &[
            ("PUMP_ADDR", "192.168.199.200:9000"),
            (
                "PUMP_PD_URLS",
                "http://127.0.0.1:2379,http://localhost:2379",
            ),
            ("PUMP_DATA_DIR", "/tmp/pump"),
        ],
    )
    .unwrap();
    check_expected(&config);
    assert_eq!(
        config.env_used,
        [("PUMP_DATA_DIR".to_string(), "/tmp/pump".to_string())]
    );
}

#[test]
fn config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, FILE);
    let config = load(&["--config", &path, "-L", "debug"], &[]).unwrap();
    check_expected(&config);
    assert_eq!(config.config_file.as_deref(), Some(Path::new(&path)));
    // Flag-only values keep their defaults when a file is read.
    assert_eq!(config.metrics_interval, 15);
    assert_eq!(config.max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
    assert!(config.storage.ignored_keys().is_empty());
}

#[test]
fn environment_overrides_the_file_but_not_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, FILE);
    let env = [
        ("PUMP_ADDR", "10.0.0.1:9000"),
        ("PUMP_DATA_DIR", "/env/pump"),
        ("PUMP_GC", "2"),
    ];
    let config = load(&["-config", &path], &env).unwrap();
    assert_eq!(config.addr, "http://10.0.0.1:9000");
    assert_eq!(config.data_dir, Path::new("/env/pump"));
    assert_eq!(config.gc, Duration::from_secs(2 * DAY_SECS));
    // advertise-addr comes from the file.
    assert_eq!(config.advertise_host(), "192.168.199.100:8260");

    let config = load(&["-config", &path, "-addr", "10.0.0.2:9001"], &env).unwrap();
    assert_eq!(config.addr, "http://10.0.0.2:9001");
    assert_eq!(config.data_dir, Path::new("/env/pump"));

    // PUMP_CONFIG is read too late to matter, as in the original.
    let config = load(&[], &[("PUMP_CONFIG", path.as_str())]).unwrap();
    assert_eq!(config.config_file, None);
    assert_eq!(config.data_dir, Path::new("data.pump"));

    let error = load(&[], &[("PUMP_HEARTBEAT_INTERVAL", "often")]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.to_string().contains("PUMP_HEARTBEAT_INTERVAL"),
        "{error}"
    );
}

#[test]
fn unknown_keys_are_rejected_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &format!("{FILE}unrecognized-option-test = true\n"));
    let error = load(&["--config", &path, "-L", "debug"], &[]).unwrap_err();
    assert_eq!(error.exit_code(), 2);
    assert_eq!(
        error.to_string(),
        format!(
            "component pump's config file {path} contained unknown configuration options: \
             unrecognized-option-test"
        )
    );

    let path = write_config(
        &dir,
        "metrics-addr = \"x:1\"\n[storage]\nsync_log = true\n[storage.kv]\nblock-cache = 1\n\
         [security]\nssl-key = \"\"\nssl-crl = \"\"\n",
    );
    let error = load(&["--config", &path], &[]).unwrap_err().to_string();
    assert!(
        error.ends_with(
            "contained unknown configuration options: metrics-addr, security.ssl-crl, \
             storage.kv.block-cache, storage.sync_log"
        ),
        "{error}"
    );

    let path = write_config(&dir, "gc = 1.5\n");
    let error = load(&["--config", &path], &[]).unwrap_err().to_string();
    assert!(error.contains("expected a number of days"), "{error}");
}

#[test]
fn gc_is_days_or_a_go_duration() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &format!("{FILE}gc = 5\n"));
    let config = load(&["--config", &path, "-L", "debug"], &[]).unwrap();
    assert_eq!(config.gc, Duration::from_secs(5 * DAY_SECS));
    let config = load(&["--config", &path, "-L", "debug", "--gc", "3"], &[]).unwrap();
    assert_eq!(config.gc, Duration::from_secs(3 * DAY_SECS));

    let path = write_config(&dir, &format!("{FILE}gc = \"30m\"\n"));
    let config = load(&["--config", &path, "-L", "debug"], &[]).unwrap();
    assert_eq!(config.gc, Duration::from_secs(30 * 60));

    assert_eq!(
        load(&[], &[]).unwrap().gc,
        Duration::from_secs(7 * DAY_SECS)
    );
    assert_eq!(
        load(&["-gc", "1h30m"], &[]).unwrap().gc,
        Duration::from_secs(5400)
    );
    for bad in ["0", "7d", "-1h", "", "999999"] {
        let error = load(&["-gc", bad], &[]).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{bad}: {error}");
    }
    for bad in ["gc = -5", "gc = \"0\"", "gc = \"7d\""] {
        let path = write_config(&dir, bad);
        assert!(load(&["--config", &path], &[]).is_err(), "{bad}");
    }
}

#[test]
fn storage_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        r#"
[storage]
sync-log = false
kv_chan_cap = 100
slow_write_threshold = 0
stop-write-at-available-space = "42 MB"
io-backend = "pwrite"
segment-size = "64MiB"
preallocate = "fallocate"
recycle-segments = false
max-record-size = "8MiB"
max-group-size = "1MiB"
skip-corrupt-records = true

[storage.kv]
block-cache-capacity = 8388608
compaction-L0-trigger = 8
compaction-total-size-multiplier = 8
write-L0-slowdown-trigger = 17
"#,
    );
    let config = load(&["--config", &path, "-data-dir", "/data/pump"], &[]).unwrap();
    assert_eq!(config.storage.slow_write_threshold, 1.0);
    assert_eq!(
        config.storage.ignored_keys(),
        [
            "storage.kv_chan_cap",
            "storage.kv.block-cache-capacity",
            "storage.kv.compaction-L0-trigger",
            "storage.kv.compaction-total-size-multiplier",
            "storage.kv.write-L0-slowdown-trigger",
        ]
    );
    let engine = config.engine_config();
    assert_eq!(
        engine,
        binlog_engine::Config {
            dir: PathBuf::from("/data/pump"),
            sync_log: false,
            io_backend: IoBackend::Pwrite,
            segment_size: ReadableSize::mib(64),
            preallocate: Preallocate::Fallocate,
            recycle_segments: false,
            max_record_size: ReadableSize::mib(8),
            max_group_size: ReadableSize::mib(1),
            stop_write_at_available_space: ReadableSize(42_000_000),
            skip_corrupt_records: true,
            ..binlog_engine::Config::default()
        }
    );

    let sizes = [
        ("\"42 MB\"", 42_000_000),
        ("\"42 mib\"", 44_040_192),
        ("\"10 gib\"", 10 << 30),
        ("\"\"", 0),
        ("1024", 1024),
    ];
    for (text, bytes) in sizes {
        let path = write_config(
            &dir,
            &format!("[storage]\nstop-write-at-available-space = {text}"),
        );
        let config = load(&["--config", &path], &[]).unwrap();
        assert_eq!(
            config.storage.engine.stop_write_at_available_space.0, bytes,
            "{text}"
        );
    }
    let defaults = load(&[], &[]).unwrap();
    assert_eq!(
        defaults.storage.engine.stop_write_at_available_space,
        ReadableSize::gib(10)
    );
    assert!(defaults.storage.engine.sync_log);
    assert_eq!(defaults.engine_config().dir, Path::new("data.pump"));

    // The engine's own checks run too.
    let path = write_config(&dir, "[storage]\nsegment-size = \"1KiB\"\n");
    let error = load(&["--config", &path], &[]).unwrap_err().to_string();
    assert!(
        error.starts_with("[storage]") && error.contains("segment-size"),
        "{error}"
    );
    let path = write_config(&dir, "[storage.kv]\nblock-size = \"4KiB\"\n");
    assert!(load(&["--config", &path], &[]).is_err());
}

#[test]
fn defaults_and_adjustments() {
    let config = load(&[], &[]).unwrap();
    assert!(config.addr.starts_with("http://") && config.addr.ends_with(":8250"));
    assert_eq!(config.advertise_addr, config.addr);
    assert!(config.pd_urls.is_empty());
    assert_eq!(config.registry_dir, Path::new(DEFAULT_REGISTRY_DIR));
    assert_eq!(config.data_dir, Path::new("data.pump"));
    assert_eq!(config.heartbeat_interval, Duration::from_secs(2));
    assert_eq!(config.gen_binlog_interval, Duration::from_secs(3));
    assert_eq!(config.log_level, "info");
    assert_eq!(config.max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
    assert_eq!(config.max_message_size, (i64::MAX - (4 << 20)) as usize);
    assert_eq!(
        (config.node_id.clone(), config.log_file.clone()),
        (None, None)
    );
    assert!(!config.enable_debug && config.deprecated_flags.is_empty());
    assert!(config.tidb_status_addr.is_empty());

    let config = load(
        &[
            "-addr=",
            "-data-dir=",
            "-heartbeat-interval=0",
            "-node-id",
            "",
            "-log-file=",
            "-registry-dir=/run/binlog",
            "-fake-binlog-interval=1",
            "-max-message-size=1024",
            "-enable-debug",
            "-socket=unix:///tmp/pump.sock",
            "-tidb-status-addr=tidb-0:10080, http://tidb-1:10080",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(config.addr, "http://127.0.0.1:8250");
    assert_eq!(config.data_dir, Path::new("data.pump"));
    assert_eq!(config.heartbeat_interval, Duration::from_secs(2));
    assert_eq!(
        (config.node_id.clone(), config.log_file.clone()),
        (None, None)
    );
    assert_eq!(config.registry_dir, Path::new("/run/binlog"));
    assert_eq!(config.gen_binlog_interval, Duration::from_secs(1));
    assert_eq!(config.max_message_size, 1024);
    assert!(config.enable_debug);
    assert_eq!(config.socket.as_deref(), Some("unix:///tmp/pump.sock"));
    assert_eq!(
        config.tidb_status_addr,
        ["tidb-0:10080", "http://tidb-1:10080"]
    );

    // The scheme is accepted on input and never doubled.
    let config = load(&["-addr", "http://10.1.1.1:8250"], &[]).unwrap();
    assert_eq!(config.addr, "http://10.1.1.1:8250");
}

#[test]
fn invalid_values_name_the_problem() {
    let cases: [(&[&str], &str); 17] = [
        (&["-addr", "10.0.0.1"], "ListenAddr"),
        (&["-addr", "10.0.0.1:http"], "ListenAddr"),
        (&["-advertise-addr", "0.0.0.0:8250"], "advertiseAddr"),
        (&["-socket", "pump.sock"], "Socket"),
        (&["-pd-urls", "127.0.0.1:2379"], "scheme"),
        (&["-pd-urls", "ftp://127.0.0.1:2379"], "http or https"),
        (&["-pd-urls", "http://127.0.0.1"], "host:port"),
        (&["-pd-urls", "http://127.0.0.1:2379/pd"], "path"),
        (&["-pd-urls", "http://a:1,,http://b:2"], "scheme"),
        (&["-heartbeat-interval", "-1"], "heartbeat-interval"),
        (&["-heartbeat-interval", "9223372037"], "heartbeat-interval"),
        (&["-fake-binlog-interval", "0"], "fake-binlog-interval"),
        (&["-L", "loud"], "\"loud\""),
        (&["-max-message-size", "0"], "max-message-size"),
        (&["-metrics-addr", "10.0.0.1:9091"], "scrape"),
        (
            &["-tidb-status-addr", "tidb:10080/x"],
            "must not have a path",
        ),
        (
            &["-tidb-status-addr", "https://tidb:10080"],
            "needs [security] ssl-ca",
        ),
    ];
    for (args, needle) in cases {
        let error = load(args, &[]).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{args:?}: {error}");
        assert!(error.to_string().contains(needle), "{args:?}: {error}");
    }
    // No push without an interval, as the original.
    load(
        &["-metrics-addr", "10.0.0.1:9091", "-metrics-interval", "0"],
        &[],
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        "[security]\nssl-ca = \"/ca.pem\"\ncert-allowed-cn = [\"binlog\"]\n",
    );
    let error = load(&["-config", &path], &[]).unwrap_err().to_string();
    assert!(error.contains("set ssl-cert and ssl-key"), "{error}");
    let path = write_config(
        &dir,
        "[security]\nssl-ca = \"\"\ncert-allowed-cn = [\"binlog\"]\n",
    );
    let config = load(&["-config", &path], &[]).unwrap();
    assert_eq!(config.security.cert_allowed_cn, ["binlog"]);
    assert_eq!(config.security.ssl_ca, None);

    let missing = load(&["-config", "/nonexistent/pump.toml"], &[]).unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/pump.toml"),
        "{missing}"
    );
    for args in [&["-nope"][..], &["stray"], &["-addr"]] {
        assert_eq!(load(args, &[]).unwrap_err().exit_code(), 2, "{args:?}");
    }
}

#[test]
fn deprecated_flags_are_accepted_and_reported() {
    let config = load(
        &[
            "-binlog-file-size",
            "1024",
            "-enable-binlog-slice",
            "-binlog-slice-size=10",
            "-log-rotate",
            "day",
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        config.deprecated_flags,
        [
            "-binlog-file-size",
            "-enable-binlog-slice",
            "-binlog-slice-size",
            "-log-rotate"
        ]
    );
}

#[test]
fn help_lists_every_flag_with_its_default_and_version_prints() {
    for args in [&["--help"][..], &["-help"], &["-h"]] {
        let ConfigError::Print(text) = load(args, &[]).unwrap_err() else {
            panic!("{args:?} is not help");
        };
        for arg in PumpFlags::command().get_arguments() {
            let shown = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => format!("-{}", arg.get_short().unwrap()),
            };
            assert!(text.contains(&shown), "{args:?} lacks {shown}:\n{text}");
        }
        assert!(
            text.contains("[default: <first non-loopback IPv4>:8250]"),
            "{text}"
        );
        assert!(text.contains("[default: data.pump]"), "{text}");
        assert!(text.contains("PUMP_<FLAG>"), "{text}");
    }
    for args in [&["-V"][..], &["-V=true"], &["-V", "-addr", "x"]] {
        match load(args, &[]).unwrap_err() {
            ConfigError::Print(text) => assert!(text.starts_with("Release Version:"), "{text}"),
            other => panic!("{args:?}: {other}"),
        }
    }
    assert!(load(&["-V=false"], &[]).is_ok());
}

#[test]
fn a_loaded_config_serializes_and_loads_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        &format!(
            "{FILE}gc = \"90m\"\ntidb-status-addr = \"tidb-0:10080,tidb-1:10080\"\n\
             [storage.kv]\nblock-size = 1\n"
        ),
    );
    let config = load(&["-config", &path], &[]).unwrap();
    let text = toml::to_string(&config).unwrap();
    let again_path = write_config(&dir, &text);
    let mut again = load(&["-config", &again_path], &[]).unwrap();
    again.config_file = config.config_file.clone();
    assert_eq!(again, config, "{text}");
}

#[test]
fn every_engine_key_is_a_storage_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        &dir,
        r#"
[storage]
sync-log = false
io-backend = "pwrite"
segment-size = "64MiB"
preallocate = "fallocate"
recycle-segments = false
max-record-size = "8MiB"
max-group-size = "1MB"
gc-prewrite-margin = "1h30m"
stop-write-at-available-space = "1MB"
skip-corrupt-records = true
"#,
    );
    let config = load(&["--config", &path, "-data-dir", "/data/pump"], &[]).unwrap();
    assert_eq!(
        config.engine_config(),
        binlog_engine::Config {
            dir: PathBuf::from("/data/pump"),
            sync_log: false,
            io_backend: IoBackend::Pwrite,
            segment_size: ReadableSize::mib(64),
            preallocate: Preallocate::Fallocate,
            recycle_segments: false,
            max_record_size: ReadableSize::mib(8),
            max_group_size: ReadableSize(1_000_000),
            gc_prewrite_margin: Duration::from_secs(5400),
            stop_write_at_available_space: ReadableSize(1_000_000),
            skip_corrupt_records: true,
        }
    );
    // Every key of the engine's configuration, `dir` aside, was set above: a key added to the
    // engine must be added here too.
    let engine_keys = toml::Table::try_from(binlog_engine::Config::default()).unwrap();
    let file: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let storage_keys = file["storage"].as_table().unwrap();
    assert!(
        engine_keys.keys().eq(storage_keys.keys()),
        "{engine_keys:?}"
    );

    // Unknown keys are still refused and named, in `[storage]` and below; `dir` is `data-dir`.
    let path = write_config(
        &dir,
        "[storage]\ngc-prewrite-margin = \"10m\"\nsegment-sise = \"8MiB\"\ndir = \"/x\"\n\
         [storage.kv]\nwrite-buffer = 1\nbogus = 2\n",
    );
    let error = load(&["--config", &path], &[]).unwrap_err().to_string();
    assert!(
        error.ends_with(
            "contained unknown configuration options: storage.dir, storage.kv.bogus, \
             storage.segment-sise"
        ),
        "{error}"
    );
}

#[test]
fn sizes_mean_the_same_here_as_for_binlog_load() {
    // binlog-load's `--value-size` parses with the same grammar (see its spec tests).
    let dir = tempfile::tempdir().unwrap();
    for (text, bytes) in [("1MB", 1_000_000), ("1MiB", 1 << 20), ("1KB", 1_000)] {
        let path = write_config(
            &dir,
            &format!("[storage]\nstop-write-at-available-space = \"{text}\"\n"),
        );
        let config = load(&["--config", &path], &[]).unwrap();
        assert_eq!(
            config.storage.engine.stop_write_at_available_space,
            ReadableSize(bytes),
            "{text}"
        );
        assert_eq!(text.parse::<ReadableSize>(), Ok(ReadableSize(bytes)));
    }
}
