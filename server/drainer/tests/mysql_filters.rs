//! The `[syncer]` filters of the `mysql` destination end to end (real pump, real drainer, real
//! MariaDB): what they leave out never reaches MariaDB, neither rows nor DDL, and everything
//! else does.
//! - `replicate-do-db` (plain and `~regex`) and `[[syncer.replicate-do-table]]` let only the
//!   tables they name through; `ignore-schemas` and `[[syncer.ignore-table]]` (plain and
//!   `~regex`, case-insensitive) then drop theirs, also from a transaction that writes kept
//!   tables too.
//! - `sync-ddl = false` runs no DDL downstream while rows keep flowing;
//!   `ignore-txn-commit-ts` skips exactly the transaction committed at that TS.
//!
//! An ignored table is never created in MariaDB, so a row or DDL of it reaching the loader
//! would stop the drainer; the last transaction of each test writes a kept table, so MariaDB
//! reaching the expected state shows everything before it was handled.

use std::time::Duration;

use binlog_testkit::mysql_pipeline::{DrainerToml, Expected, MysqlPipeline};
use binlog_testkit::tidb_jobs::{
    add_column, column_info, create_schema, create_table, drop_table, mysql_type, table_info,
    PK_FLAGS,
};
use binlog_testkit::tidb_rows::{insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};
use serde_json::Value;

/// How long MariaDB may take to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);

/// The columns of every table here: `id BIGINT PRIMARY KEY, v VARCHAR(64)`.
fn id_v_columns() -> Vec<Value> {
    vec![
        column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS),
        column_info(2, "v", 1, mysql_type::VARCHAR, 0),
    ]
}

const ID_V_SQL: &str = "(`id` BIGINT PRIMARY KEY, `v` VARCHAR(64))";

/// An inserted `(id, v)` row of table `table_id`.
fn insert(table_id: i64, id: i64, v: &str) -> Mutation {
    Mutation::new(table_id).insert(insert_row(&Handle::Int(id), &[(2, TidbDatum::bytes(v))]))
}

/// Upstream databases and tables, created through DDL binlogs.
struct Upstream<'a> {
    tidb: &'a mut TidbWriter,
    next_id: i64,
}

impl Upstream<'_> {
    /// `CREATE DATABASE name`; returns its ID.
    async fn database(&mut self, name: &str) -> i64 {
        self.next_id += 1;
        let db_id = self.next_id;
        let query = format!("CREATE DATABASE `{name}`");
        self.tidb
            .run_ddl(&query, |job, version| {
                create_schema(job, version, db_id, name)
            })
            .await;
        db_id
    }

    /// `CREATE TABLE db.name (id, v)` in database `db_id`; returns its ID.
    async fn table(&mut self, db_id: i64, db: &str, name: &str) -> i64 {
        self.next_id += 1;
        let table_id = self.next_id;
        let info = table_info(table_id, name, id_v_columns());
        let query = format!("CREATE TABLE `{name}` {ID_V_SQL}");
        self.tidb
            .run_ddl(&query, |job, version| {
                create_table(job, version, db_id, db, info)
            })
            .await;
        table_id
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_replicated_tables_reach_mariadb() {
    let mut pipeline = MysqlPipeline::start().await;
    // `other` is no do-db: its CREATE DATABASE is left out (as the original does), so the
    // operator creates it for `other.wanted`.
    pipeline.mariadb.query("CREATE DATABASE `other`");
    let drainer = pipeline.start_drainer(DrainerToml {
        syncer: "ignore-schemas = \"INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql,logs_private\"\n\
                 replicate-do-db = [\"app\", \"~^logs_\"]",
        syncer_tables:
            "[[syncer.replicate-do-table]]\ndb-name = \"other\"\ntbl-name = \"wanted\"\n\
                        [[syncer.ignore-table]]\ndb-name = \"app\"\ntbl-name = \"secret\"\n\
                        [[syncer.ignore-table]]\ndb-name = \"app\"\ntbl-name = \"~^tmp_\"\n",
        ..DrainerToml::default()
    });
    let mut upstream = Upstream {
        tidb: &mut pipeline.tidb,
        next_id: 0,
    };
    let app = upstream.database("app").await;
    let kept = upstream.table(app, "app", "kept").await;
    let secret = upstream.table(app, "app", "secret").await;
    let tmp_a = upstream.table(app, "app", "tmp_a").await;
    let tmp_b = upstream.table(app, "app", "Tmp_B").await;
    let temp = upstream.table(app, "app", "temp").await;
    let logs = upstream.database("logs_2024").await;
    let entries = upstream.table(logs, "logs_2024", "entries").await;
    let private = upstream.database("logs_private").await;
    let private_entries = upstream.table(private, "logs_private", "entries").await;
    let other = upstream.database("other").await;
    let wanted = upstream.table(other, "other", "wanted").await;
    let unwanted = upstream.table(other, "other", "unwanted").await;
    let outsider = upstream.database("outsider").await;
    let outsider_t = upstream.table(outsider, "outsider", "t").await;

    let tidb = &mut pipeline.tidb;
    // One transaction over kept and ignored tables: only the kept rows go.
    tidb.dml(vec![
        insert(kept, 1, "kept"),
        insert(secret, 1, "secret"),
        insert(tmp_a, 1, "tmp"),
        insert(tmp_b, 1, "tmp"),
        insert(temp, 1, "temp"),
        insert(entries, 1, "entry"),
        insert(private_entries, 1, "private"),
        insert(wanted, 1, "wanted"),
        insert(unwanted, 1, "unwanted"),
        insert(outsider_t, 1, "outsider"),
    ])
    .await;
    // Transactions only over ignored tables, and DDL on them.
    for table in [secret, tmp_b, private_entries, unwanted, outsider_t] {
        tidb.dml(vec![insert(table, 2, "ignored")]).await;
    }
    let mut secret_columns = id_v_columns();
    secret_columns.push(column_info(3, "extra", 2, mysql_type::LONG, 0));
    let secret_info = table_info(secret, "secret", secret_columns);
    tidb.run_ddl(
        "ALTER TABLE `secret` ADD COLUMN `extra` INT",
        |job, version| add_column(job, version, app, "app", secret_info),
    )
    .await;
    tidb.run_ddl("DROP TABLE `tmp_a`", |job, version| {
        drop_table(job, version, app, "app", tmp_a, "tmp_a")
    })
    .await;
    tidb.dml(vec![insert(kept, 2, "last")]).await;

    let databases = "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN \
                     ('app', 'logs_2024', 'logs_private', 'other', 'outsider') ORDER BY 1";
    let tables = "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
                  WHERE table_schema IN ('app', 'logs_2024', 'logs_private', 'other', 'outsider') \
                  ORDER BY 1";
    pipeline.wait_identical(
        &drainer,
        &[
            Expected::exact(databases, "app\nlogs_2024\nother\n"),
            Expected::exact(
                tables,
                "app.kept\napp.temp\nlogs_2024.entries\nother.wanted\n",
            ),
            Expected::exact(
                "SELECT id, v FROM app.kept ORDER BY id",
                "1\tkept\n2\tlast\n",
            ),
            Expected::exact("SELECT id, v FROM app.temp", "1\ttemp\n"),
            Expected::exact("SELECT id, v FROM logs_2024.entries", "1\tentry\n"),
            Expected::exact("SELECT id, v FROM other.wanted", "1\twanted\n"),
        ],
        CATCH_UP,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_ddl_with_sync_ddl_off_and_the_ignored_commit_ts_skipped() {
    let mut pipeline = MysqlPipeline::start().await;
    // With sync-ddl off the operator keeps the downstream schema: `t` already has the column
    // TiDB adds below (the ALTER reaching MariaDB would fail and stop the drainer).
    pipeline.mariadb.query(
        "CREATE DATABASE `shop`; \
         CREATE TABLE `shop`.`t` (`id` BIGINT PRIMARY KEY, `v` VARCHAR(64), `w` INT DEFAULT 0)",
    );
    let mut upstream = Upstream {
        tidb: &mut pipeline.tidb,
        next_id: 0,
    };
    let shop = upstream.database("shop").await;
    let t = upstream.table(shop, "shop", "t").await;
    upstream.table(shop, "shop", "extra").await;

    let tidb = &mut pipeline.tidb;
    tidb.dml(vec![insert(t, 1, "one")]).await;
    let ignored_ts = tidb.dml(vec![insert(t, 2, "ignored")]).await;
    let image = |id: i64, v: &str| [TidbDatum::Int(id), TidbDatum::bytes(v)];
    tidb.dml(vec![
        Mutation::new(t).update(update_row(
            &[1, 2],
            &image(1, "one"),
            &image(1, "uno"),
            None,
        )),
        insert(t, 3, "three"),
    ])
    .await;
    let mut columns = id_v_columns();
    columns.push(column_info(3, "w", 2, mysql_type::LONG, 0));
    let t_info = table_info(t, "t", columns);
    tidb.run_ddl(
        "ALTER TABLE `t` ADD COLUMN `w` INT DEFAULT 0",
        |job, version| add_column(job, version, shop, "shop", t_info),
    )
    .await;
    tidb.dml(vec![Mutation::new(t).insert(insert_row(
        &Handle::Int(4),
        &[(2, TidbDatum::bytes("four")), (3, TidbDatum::Int(44))],
    ))])
    .await;

    // Started after TiDB wrote, from the beginning, so that the ignored TS is known.
    let drainer = pipeline.start_drainer(DrainerToml {
        top: "initial-commit-ts = 0",
        syncer: &format!("sync-ddl = false\nignore-txn-commit-ts = [{ignored_ts}]"),
        ..DrainerToml::default()
    });
    pipeline.wait_identical(
        &drainer,
        &[
            Expected::exact("SHOW TABLES FROM shop", "t\n"),
            Expected::exact(
                "SELECT id, v, w FROM shop.t ORDER BY id",
                "1\tuno\t0\n3\tthree\t0\n4\tfour\t44\n",
            ),
        ],
        CATCH_UP,
    );
    let log = drainer.log();
    assert!(!log.contains("panicked"), "the drainer panicked:\n{log}");
}
