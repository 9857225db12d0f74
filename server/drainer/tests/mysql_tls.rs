//! The `mysql` destination with every link on TLS (real etcd, pump, drainer and MariaDB;
//! certificates from the test kit's CA): etcd as registry and TSO over `https://` with client
//! certificates required, the drainer pulling from the pump over TLS, reading TiDB's status
//! port over HTTPS, and applying to MariaDB as a user MariaDB only lets in over TLS with a
//! client certificate (`REQUIRE X509`), its `[syncer.to.security]` presenting one.

use std::time::Duration;

use binlog_testkit::mariadb::{ROOT_PASSWORD, TLS_USER};
use binlog_testkit::mysql_pipeline::{DrainerToml, Expected, MysqlPipeline};
use binlog_testkit::tidb_jobs::{
    column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::Mutation;

/// How long MariaDB may take to catch up.
const CATCH_UP: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_reach_mariadb_requiring_tls_with_every_link_on_tls() {
    let mut pipeline = MysqlPipeline::start_tls().await;

    // MariaDB refuses the drainer's user without TLS: only a TLS session can apply the rows.
    let plain = pipeline
        .mariadb
        .client()
        .arg(format!("--user={TLS_USER}"))
        .arg(format!("--password={ROOT_PASSWORD}"))
        .arg("--skip-ssl")
        .args(["-e", "SELECT 1"])
        .output()
        .expect("run the mariadb client");
    let refusal = String::from_utf8_lossy(&plain.stderr);
    assert!(
        !plain.status.success() && refusal.contains("Access denied"),
        "MariaDB let {TLS_USER} in without TLS: {refusal}"
    );

    let drainer = pipeline.start_drainer(DrainerToml::default());
    let tidb = &mut pipeline.tidb;
    tidb.run_ddl("CREATE DATABASE `secure`", |job, version| {
        create_schema(job, version, 1, "secure")
    })
    .await;
    let columns = vec![
        column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS),
        column_info(2, "v", 1, mysql_type::VARCHAR, 0),
    ];
    tidb.run_ddl(
        "CREATE TABLE `t` (`id` BIGINT PRIMARY KEY, `v` VARCHAR(64))",
        |job, version| create_table(job, version, 1, "secure", table_info(2, "t", columns)),
    )
    .await;
    let row = |id: i64, v: &str| {
        Mutation::new(2).insert(insert_row(&Handle::Int(id), &[(2, TidbDatum::bytes(v))]))
    };
    for id in 1..=20 {
        tidb.dml(vec![row(id, "plain")]).await;
    }
    let image = |v: &str| [TidbDatum::Int(7), TidbDatum::bytes(v)];
    let changed =
        Mutation::new(2).update(update_row(&[1, 2], &image("plain"), &image("secret"), None));
    tidb.dml(vec![changed]).await;

    let expected_rows: String = (1..=20)
        .map(|id| format!("{id}\t{}\n", if id == 7 { "secret" } else { "plain" }))
        .collect();
    pipeline.wait_identical(
        &drainer,
        &[Expected::exact(
            "SELECT id, v FROM secure.t ORDER BY id",
            expected_rows,
        )],
        CATCH_UP,
    );
    // The drainer's sessions are TLS ones of its user (MariaDB counts TLS handshakes).
    let sessions = pipeline.mariadb.query(&format!(
        "SELECT COUNT(*) FROM information_schema.processlist WHERE user = '{TLS_USER}'"
    ));
    assert_ne!(sessions.trim(), "0", "no session of {TLS_USER}");
    let handshakes = pipeline
        .mariadb
        .query("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'");
    let accepted: u64 = handshakes
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(accepted > 0, "no TLS handshake in MariaDB: {handshakes}");
}
