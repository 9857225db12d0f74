//! The drainer configuration's tests.

use std::path::Path;
use std::time::Duration;

use binlog_node::config::ConfigError;

use super::*;
use binlog_testkit::config::load_config;

fn load(args: &[&str], env: &[(&str, &str)]) -> Result<DrainerConfig, ConfigError> {
    load_config(args, env)
}

fn invalid(args: &[&str]) -> String {
    match load(args, &[]) {
        Err(ConfigError::Invalid(error)) => error.to_string(),
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let config = load(&["-addr", "127.0.0.1:8249"], &[]).unwrap();
    assert_eq!(config.data_dir, Path::new("data.drainer"));
    assert_eq!(config.detect_interval, Duration::from_secs(5));
    assert_eq!(config.initial_commit_ts, -1);
    assert_eq!(config.destination().unwrap(), DestinationKind::File);
    assert!(config.tidb_status_addr.is_empty());
    assert_eq!(config.destination_dir(), Path::new("data.drainer"));
    assert_eq!(config.advertise_host(), "127.0.0.1:8249");
    assert_eq!(config.retention(), None);
    assert_eq!(config.syncer.worker_count, 16);
    assert_eq!(config.syncer.txn_batch, 20);
}

#[test]
fn original_config_file_loads_and_flags_and_environment_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drainer.toml");
    std::fs::write(
        &path,
        r#"
addr = "127.0.0.1:8249"
detect-interval = 10
data-dir = "/tmp/d"
initial-commit-ts = 7
compressor = "gzip"
tidb-status-addr = "127.0.0.1:10080"

[syncer]
db-type = "mysql"
txn-batch = 20
worker-count = 16
ignore-schemas = "INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql"
safe-mode = false
disable-dispatch = false
replicate-do-db = ["~^b.*", "s1"]

[[syncer.replicate-do-table]]
db-name = "test"
tbl-name = "log"

[[syncer.ignore-table]]
db-name = "test"
tbl-name = "~^a.*"

[syncer.to]
dir = "/tmp/out"
retention-time = 3
host = "127.0.0.1"
port = 3306

[syncer.to.checkpoint]
type = "mysql"
schema = "tidb_binlog"
"#,
    )
    .unwrap();
    let config_flag = path.to_str().unwrap();
    let config = load(
        &["-config", config_flag, "-detect-interval", "2"],
        &[
            ("BINLOG_SERVER_DATA_DIR", "/tmp/env"),
            ("BINLOG_SERVER_DETECT_INTERVAL", "9"),
        ],
    )
    .unwrap();
    assert_eq!(config.detect_interval, Duration::from_secs(2));
    assert_eq!(config.data_dir, Path::new("/tmp/env"));
    assert_eq!(config.initial_commit_ts, 7);
    assert_eq!(config.compressor, "gzip");
    assert_eq!(config.destination().unwrap(), DestinationKind::Sql);
    assert_eq!(config.tidb_status_addr, ["127.0.0.1:10080"]);
    assert_eq!(config.destination_dir(), Path::new("/tmp/out"));
    assert_eq!(config.retention(), Some(Duration::from_secs(3 * 24 * 3600)));
    assert_eq!(config.syncer.replicate_do_table[0].tbl_name, "log");
    assert_eq!(
        config.env_used,
        [("BINLOG_SERVER_DATA_DIR".to_owned(), "/tmp/env".to_owned())]
    );

    // Filters need table names, which binlogs as TiDB sent them do not have; `pb` (with
    // tidb-status-addr, pb_binlog payloads) has them.
    let error = match load(&["-config", config_flag, "-dest-db-type", "print"], &[]) {
        Err(error) => error.to_string(),
        Ok(config) => panic!("filters accepted for print: {config:?}"),
    };
    assert!(error.contains("apply only to \"mysql\""), "{error}");
    let config = load(&["-config", config_flag, "-dest-db-type", "pb"], &[]).unwrap();
    assert_eq!(config.file_payload().unwrap(), FilePayload::PbBinlog);

    std::fs::write(&path, "[syncer]\ndb-type = \"file\"\nnope = 1\n").unwrap();
    let error = match load(&["-config", config_flag], &[]) {
        Err(error) => error.to_string(),
        Ok(config) => panic!("unknown key accepted: {config:?}"),
    };
    assert!(error.contains("syncer.nope"), "{error}");
}

#[test]
fn unsupported_destinations_and_bad_values_are_clear_errors() {
    let base = ["-addr", "127.0.0.1:8249"];
    let with = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        invalid(&args)
    };
    let error = with(&["-dest-db-type", "oracle"]);
    assert!(error.contains("not supported by this build"), "{error}");
    for db_type in ["mysql", "tidb", "kafka"] {
        let error = with(&["-dest-db-type", db_type]);
        assert!(error.contains("needs tidb-status-addr"), "{error}");
    }
    let sql = [
        "-dest-db-type",
        "mysql",
        "-tidb-status-addr",
        "127.0.0.1:10080",
    ];
    let with_sql = |extra: &[&str]| {
        let args: Vec<&str> = sql.iter().chain(extra).copied().collect();
        with(&args)
    };
    assert!(with_sql(&["-ignore-schemas", "~("]).contains("ignore-schemas"));
    assert_eq!(
        with(&["-dest-db-type", "flash"]),
        "the flash DestDBType is no longer supported"
    );
    assert!(with(&["-dest-db-type", "x"]).contains("unknown [syncer] db-type"));
    assert!(with(&["-compressor", "lz4"]).contains("compressor"));
    assert!(with(&["-initial-commit-ts", "-2"]).contains("initial-commit-ts"));
    assert!(with(&["-detect-interval", "0"]).contains("detect-interval"));
    assert!(with(&["-c", "0"]).contains("worker-count"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drainer.toml");
    std::fs::write(
        &path,
        "tidb-status-addr = \"127.0.0.1:10080\"\n[syncer]\ndb-type = \"kafka\"\n\
         [syncer.to]\nzookeeper-addrs = \"127.0.0.1:2181\"\n",
    )
    .unwrap();
    let error = with(&["-config", path.to_str().unwrap()]);
    assert!(
        error.contains("zookeeper-addrs is not supported"),
        "{error}"
    );
    assert_eq!(
        load(&["-dest-db-type", "print", "-addr", "127.0.0.1:1"], &[])
            .unwrap()
            .destination()
            .unwrap(),
        DestinationKind::Print
    );
}

#[test]
fn the_file_payload_follows_the_schemas_unless_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drainer.toml");
    let with_payload = |payload: Option<&str>, status: bool| {
        let mut text = String::new();
        if status {
            text.push_str("tidb-status-addr = \"127.0.0.1:10080\"\n");
        }
        text.push_str("[syncer]\ndb-type = \"file\"\n[syncer.to]\n");
        if let Some(payload) = payload {
            text.push_str(&format!("file-payload = \"{payload}\"\n"));
        }
        std::fs::write(&path, text).unwrap();
        load(
            &["-config", path.to_str().unwrap(), "-addr", "127.0.0.1:1"],
            &[],
        )
    };
    let payload = |payload, status| {
        let config = with_payload(payload, status).unwrap();
        (
            config.file_payload().unwrap(),
            config.translates_rows().unwrap(),
        )
    };
    assert_eq!(payload(None, false), (FilePayload::Tipb, false));
    assert_eq!(payload(None, true), (FilePayload::PbBinlog, true));
    assert_eq!(payload(Some("tipb"), true), (FilePayload::Tipb, false));
    assert_eq!(payload(Some("pb"), true), (FilePayload::PbBinlog, true));
    let error = with_payload(Some("pb"), false).unwrap_err().to_string();
    assert!(
        error.contains("file-payload \"pb\" needs tidb-status-addr"),
        "{error}"
    );
    let error = with_payload(Some("json"), true).unwrap_err().to_string();
    assert!(error.contains("file-payload \"json\""), "{error}");
    let error = invalid(&[
        "-addr",
        "127.0.0.1:1",
        "-dest-db-type",
        "print",
        "-config",
        {
            std::fs::write(&path, "[syncer.to]\nfile-payload = \"pb\"\n").unwrap();
            path.to_str().unwrap()
        },
    ]);
    assert!(
        error.contains("applies only to db-type \"file\""),
        "{error}"
    );
}

#[test]
fn syncer_to_security_is_the_destination_tls_and_only_for_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ca = binlog_testkit::certs::TestCa::new(dir.path(), "ca");
    let client = ca.issue("drainer", "drainer");
    let write = |db_type: &str, ssl_ca: &Path| {
        let path = dir.path().join(format!("{db_type}.toml"));
        std::fs::write(
            &path,
            format!(
                "tidb-status-addr = \"127.0.0.1:10080\"\n[syncer]\ndb-type = \"{db_type}\"\n\
                 [syncer.to.security]\nssl-ca = {:?}\nssl-cert = {:?}\nssl-key = {:?}\n",
                ssl_ca.display().to_string(),
                client.cert.display().to_string(),
                client.key.display().to_string()
            ),
        )
        .unwrap();
        path
    };
    let path = write("mysql", &ca.ca);
    let config = load(&["-config", path.to_str().unwrap()], &[]).unwrap();
    let tls = config
        .syncer
        .to
        .tls()
        .unwrap()
        .expect("TLS to the destination");
    assert_eq!(tls.ca, ca.ca);
    assert_eq!(
        tls.identity,
        Some((client.cert.clone(), client.key.clone()))
    );

    let missing = dir.path().join("no-such-ca.pem");
    let path = write("mysql", &missing);
    let error = invalid(&["-config", path.to_str().unwrap()]);
    assert!(error.contains("no-such-ca.pem"), "{error}");

    let path = write("print", &ca.ca);
    let error = invalid(&["-config", path.to_str().unwrap()]);
    assert!(
        error.contains("[syncer.to.security]") && error.contains("no connection to secure"),
        "{error}"
    );
}

#[test]
fn operator_actions_come_only_from_flags_and_a_skip_needs_a_reason() {
    let addr = ["-addr", "127.0.0.1:8249"];
    let config = load(&[&addr[..], &["-set-checkpoint-ts", "42"]].concat(), &[]).unwrap();
    assert_eq!(
        config.operator_action,
        Some(OperatorAction::SetCheckpoint(42))
    );
    let config = load(
        &[
            &addr[..],
            &["-skip-commit-ts", "7", "-skip-reason", "DDL rejected"],
        ]
        .concat(),
        &[],
    )
    .unwrap();
    assert_eq!(
        config.operator_action,
        Some(OperatorAction::Skip {
            commit_ts: 7,
            reason: "DDL rejected".into()
        })
    );
    // A variable left set must not repeat a one-shot action on every start.
    let config = load(
        &addr,
        &[
            ("BINLOG_SERVER_SET_CHECKPOINT_TS", "42"),
            ("BINLOG_SERVER_STOP_AT_COMMIT_TS", "9"),
        ],
    )
    .unwrap();
    assert_eq!(config.operator_action, None);
    assert_eq!(config.stop_at_commit_ts, 9);
    for bad in [
        &["-skip-commit-ts", "7"][..],
        &["-skip-reason", "why"][..],
        &[
            "-set-checkpoint-ts",
            "1",
            "-skip-commit-ts",
            "7",
            "-skip-reason",
            "x",
        ][..],
    ] {
        assert!(
            matches!(
                load(&[&addr[..], bad].concat(), &[]),
                Err(ConfigError::Invalid(_))
            ),
            "{bad:?} accepted"
        );
    }
    let error = invalid(&[&addr[..], &["-skip-commit-ts", "7", "-skip-reason", " "]].concat());
    assert!(error.contains("-skip-reason is empty"), "{error}");
}
