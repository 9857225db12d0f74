use std::io::Write;
use std::path::Path;

use super::*;

fn load(args: &[&str], env: &[(&str, &str)]) -> std::result::Result<ReparoConfig, ConfigError> {
    let args = std::iter::once("reparo")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
    ReparoConfig::load(args, |key| {
        env.iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| (*value).to_owned())
    })
}

fn invalid(args: &[&str]) -> String {
    match load(args, &[]) {
        Err(ConfigError::Invalid(error)) => error.to_string(),
        other => panic!("{args:?}: expected an invalid configuration, got {other:?}"),
    }
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[test]
fn the_original_toml_is_read_and_flags_win() {
    let file = toml_file(
        r#"
data-dir = "/backup/data.drainer"
log-level = "warn"
start-tso = 100
stop-tso = 900
dest-type = "mysql"
txn-batch = 30
worker-count = 4
safe-mode = true
replicate-do-db = ["~^b.*", "s1"]
replicate-ignore-db = ["skip"]
[[replicate-do-table]]
db-name = "test"
tbl-name = "log"
[[replicate-ignore-table]]
db-name = "test"
tbl-name = "~^a.*"
[dest-db]
host = "10.0.0.9"
port = 3309
user = "restore"
password = "secret"
"#,
    );
    let path = file.path().to_str().unwrap();
    let config = load(&["-config", path], &[]).unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/backup/data.drainer"));
    assert_eq!(config.dest_type().unwrap(), DestType::Mysql);
    assert_eq!(
        config.ts_range().unwrap(),
        TsRange {
            start: 100,
            stop: 900
        }
    );
    let loader = config.loader_config().unwrap();
    assert_eq!(loader.connection.addr(), "10.0.0.9:3309");
    assert_eq!(loader.connection.user, "restore");
    assert_eq!(loader.connection.password, "secret");
    assert_eq!((loader.worker_count, loader.txn_batch), (4, 30));
    assert!(loader.safe_mode);
    let filter = config.filter().unwrap();
    assert!(!filter.skips("s1", "any"));
    assert!(!filter.skips("books", "any"));
    assert!(!filter.skips("test", "log"));
    assert!(filter.skips("test", "other"));
    assert!(filter.skips("skip", "t"));

    // Go-style flags override the file; the environment fills flags not on the command line.
    let config = load(
        &[
            "-config",
            path,
            "-c",
            "2",
            "--txn-batch=5",
            "-safe-mode=false",
            "-L",
            "debug",
            "-stop-tso",
            "800",
        ],
        &[("REPARO_START_TSO", "200"), ("REPARO_TXN_BATCH", "99")],
    )
    .unwrap();
    assert_eq!((config.worker_count, config.txn_batch), (2, 5));
    assert!(!config.safe_mode);
    assert_eq!(config.log_level, "debug");
    assert_eq!(
        config.ts_range().unwrap(),
        TsRange {
            start: 200,
            stop: 800
        }
    );
    assert_eq!(
        config.env_used,
        vec![("REPARO_START_TSO".to_owned(), "200".to_owned())]
    );
    assert_eq!(
        load(&["-config", path, "-log-level", "error"], &[])
            .unwrap()
            .log_level,
        "error"
    );
}

#[test]
fn defaults_are_the_originals() {
    let config = load(&["-data-dir", "d"], &[]).unwrap();
    assert_eq!(config.dest_type().unwrap(), DestType::Print);
    assert_eq!((config.txn_batch, config.worker_count), (20, 16));
    assert_eq!(config.ts_range().unwrap(), TsRange::default());
    assert!(!config.safe_mode);
    assert_eq!(config.log_level, "info");
    let filter = config.filter().unwrap();
    assert!(
        !filter.skips("mysql", "user"),
        "no schema is skipped by default"
    );
}

#[test]
fn bad_configurations_say_what_to_fix() {
    assert!(invalid(&[]).contains("data-dir is empty"));
    assert!(invalid(&["-data-dir", "d", "-dest-type", "memory"]).contains("\"print\" or \"mysql\""));
    assert!(invalid(&["-data-dir", "d", "-dest-type", "mysql"]).contains("[dest-db]"));
    assert!(invalid(&["-data-dir", "d", "-c", "0"]).contains("worker-count 0"));
    assert!(invalid(&["-data-dir", "d", "-txn-batch", "-1"]).contains("txn-batch -1"));
    assert!(invalid(&["-data-dir", "d", "-L", "loud"]).contains("\"loud\""));
    assert!(invalid(&["-data-dir", "d", "-start-tso", "-5"]).contains("start-tso -5"));
    assert!(
        invalid(&["-data-dir", "d", "-start-tso", "9", "-stop-tso", "3"])
            .contains("after the stop")
    );
    assert!(
        invalid(&["-data-dir", "d", "-stop-datetime", "2024-13-01 00:00:00"])
            .contains("stop-datetime")
    );
    assert!(invalid(&["-data-dir", "d", "stray"]).contains("stray"));

    let file = toml_file("data-dir = \"d\"\nlog-rotate = \"hour\"\n[dest-db]\nport = 70000\n");
    let error = invalid(&["-config", file.path().to_str().unwrap()]);
    assert!(
        error.contains("unknown configuration options: log-rotate"),
        "{error}"
    );
    let file = toml_file("data-dir = \"d\"\ndest-type = \"mysql\"\n[dest-db]\nport = 70000\n");
    let error = invalid(&["-config", file.path().to_str().unwrap()]);
    assert!(error.contains("port 70000"), "{error}");
    let file = toml_file("data-dir = \"d\"\nreplicate-do-db = [\"~(\"]\n");
    let error = invalid(&["-config", file.path().to_str().unwrap()]);
    assert!(error.starts_with("replicate-do-db: \"~(\""), "{error}");
}

#[test]
fn help_and_version_are_printed() {
    for args in [&["--help"][..], &["-h"]] {
        match load(args, &[]) {
            Err(ConfigError::Print(text)) => {
                for flag in [
                    "--data-dir",
                    "--start-datetime",
                    "--stop-tso",
                    "-c",
                    "--dest-type",
                    "--safe-mode",
                    "-L",
                    "--config",
                    "pb_binlog",
                ] {
                    assert!(text.contains(flag), "{flag} missing from:\n{text}");
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(load(&["-V"], &[]), Err(ConfigError::Print(text)) if text.contains("Release Version"))
    );
}

#[test]
fn datetimes_are_local_times_as_tsos() {
    let utc = TimeZone::UTC;
    // 2018-02-28 12:12:12 UTC is 1519819932 s.
    assert_eq!(
        datetime_to_tso("2018-02-28 12:12:12", &utc).unwrap(),
        1_519_819_932_000 << 18
    );
    let shanghai = TimeZone::fixed(jiff::tz::offset(8));
    assert_eq!(
        datetime_to_tso("2018-02-28 20:12:12", &shanghai).unwrap(),
        1_519_819_932_000 << 18
    );
    assert!(datetime_to_tso("2018-02-28T12:12:12", &utc).is_err());
    assert!(datetime_to_tso("1969-12-31 23:59:59", &utc).is_err());

    // The datetime wins over the TSO of the same end.
    let config = load(
        &[
            "-data-dir",
            "d",
            "-start-tso",
            "5",
            "-start-datetime",
            "2018-02-28 12:12:12",
        ],
        &[],
    )
    .unwrap();
    let expected = datetime_to_tso("2018-02-28 12:12:12", &TimeZone::system()).unwrap();
    assert_eq!(config.ts_range().unwrap().start, expected);
}

#[test]
fn the_range_is_inclusive_and_zero_stop_is_open() {
    let range = TsRange {
        start: 10,
        stop: 20,
    };
    assert!(!range.contains(9));
    assert!(range.contains(10) && range.contains(20));
    assert!(!range.contains(21) && range.is_past(21) && !range.is_past(20));
    let open = TsRange { start: 0, stop: 0 };
    assert!(open.contains(u64::MAX) && !open.is_past(u64::MAX));
}

#[test]
fn the_example_config_file_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/reparo.toml");
    let config = load(&["-config", path], &[]).unwrap();
    assert_eq!(config.dest_type().unwrap(), DestType::Mysql);
    assert_eq!(
        config.loader_config().unwrap().connection.addr(),
        "127.0.0.1:3306"
    );
}

#[test]
fn dest_db_security_is_tls_to_the_database_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let ca = binlog_testkit::certs::TestCa::new(dir.path(), "ca");
    let client = ca.issue("reparo", "reparo");
    let section = |ca: &Path| {
        format!(
            "dest-type = \"mysql\"\ndata-dir = \"/backup\"\n[dest-db]\nhost = \"db\"\n\
             [dest-db.security]\nssl-ca = {:?}\nssl-cert = {:?}\nssl-key = {:?}\n",
            ca.display().to_string(),
            client.cert.display().to_string(),
            client.key.display().to_string()
        )
    };
    let file = toml_file(&section(&ca.ca));
    let config = load(&["-config", file.path().to_str().unwrap()], &[]).unwrap();
    let tls = config
        .loader_config()
        .unwrap()
        .connection
        .tls
        .expect("TLS on");
    assert_eq!(tls.ca, ca.ca);
    assert_eq!(
        tls.identity,
        Some((client.cert.clone(), client.key.clone()))
    );

    let missing = dir.path().join("no-such-ca.pem");
    let file = toml_file(&section(&missing));
    let config = load(&["-config", file.path().to_str().unwrap()], &[]).unwrap();
    let error = config.loader_config().unwrap_err().to_string();
    assert!(error.contains("no-such-ca.pem"), "{error}");
}
