//! DDL in the middle of the stream, end to end into MariaDB (real pump, real drainer, TiDB's
//! row encoding from the test kit's stand-ins), each DDL followed by rows needing the new
//! shape: `shop.evolving` through ADD COLUMN with a default (a transaction of the old schema
//! version committing after it, then rows carrying it, and an update whose old image holds the
//! default), DROP COLUMN, MODIFY COLUMN, ADD INDEX, DROP INDEX, RENAME TABLE and TRUNCATE TABLE
//! (rows after it under the new table ID); and a database created, used and dropped.

use std::time::Duration;

use binlog_testkit::mysql_pipeline::{DrainerToml, Expected, MysqlPipeline};
use binlog_testkit::tidb_jobs::{
    add_column, add_index, column_flag, column_info, create_schema, create_table, drop_column,
    drop_index, drop_schema, index_info, modify_column, mysql_type, rename_table, table_info,
    truncate_table, with_default, with_indexes, with_length, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{delete_row, insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};
use serde_json::Value;

/// Database ID of `shop`.
const SHOP: i64 = 1;
/// Database ID of `scratch` (created, used, dropped).
const SCRATCH: i64 = 2;
/// Table ID of `shop.evolving`.
const EVOLVING: i64 = 20;
/// `evolving`'s ID after TRUNCATE TABLE.
const EVOLVING_TRUNCATED: i64 = 21;
/// Table ID of `scratch.t`.
const SCRATCH_T: i64 = 30;

/// How long MariaDB may take to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);

/// `evolving`'s columns, each `(ID, ColumnInfo without offset)`; the table after a DDL is
/// built from the columns it has then.
struct Evolving {
    /// Columns now: ID, name, type, flag, length; `c` with its default.
    columns: Vec<(i64, &'static str, u8, u32)>,
    indexes: Vec<Value>,
    id: i64,
    name: &'static str,
}

impl Evolving {
    fn info(&self) -> Value {
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(offset, &(id, name, tp, flag))| {
                let column = column_info(id, name, offset, tp, flag);
                match name {
                    "a" => with_length(column, 32, 0),
                    "c" => with_default(column, "7"),
                    _ => column,
                }
            })
            .collect();
        with_indexes(
            table_info(self.id, self.name, columns),
            self.indexes.clone(),
        )
    }

    /// Column IDs in offset order.
    fn ids(&self) -> Vec<i64> {
        self.columns.iter().map(|column| column.0).collect()
    }
}

/// `evolving` created, then ADD COLUMN, DROP COLUMN, MODIFY COLUMN, ADD INDEX, DROP INDEX and
/// RENAME TABLE, each followed by rows needing the new shape; returns the expected `renamed`.
async fn evolve(tidb: &mut TidbWriter) -> Expected {
    use mysql_type::{LONG, LONGLONG, VARCHAR};
    let mut table = Evolving {
        columns: vec![
            (1, "id", LONGLONG, PK_FLAGS),
            (2, "a", VARCHAR, 0),
            (3, "b", LONG, 0),
            (4, "qty", LONG, 0),
        ],
        indexes: Vec::new(),
        id: EVOLVING,
        name: "evolving",
    };
    let info = table.info();
    tidb.run_ddl(
        "CREATE TABLE `evolving` (`id` BIGINT PRIMARY KEY, `a` VARCHAR(32), `b` INT, `qty` INT)",
        |job, version| create_table(job, version, SHOP, "shop", info),
    )
    .await;
    let row = |id: i64, values: &[TidbDatum]| {
        let pairs: Vec<(i64, TidbDatum)> = (2..).zip(values.iter().cloned()).collect();
        insert_row(&Handle::Int(id), &pairs)
    };
    let (a, int) = (TidbDatum::bytes, TidbDatum::Int);
    tidb.dml(vec![Mutation::new(EVOLVING)
        .insert(row(1, &[a("one"), int(10), int(1)]))
        .insert(row(2, &[a("two"), int(20), int(2)]))])
        .await;
    let before_add = tidb.schema_version();

    // ADD COLUMN c INT NOT NULL DEFAULT 7.
    table.columns.push((5, "c", LONG, column_flag::NOT_NULL));
    let info = table.info();
    tidb.run_ddl(
        "ALTER TABLE `evolving` ADD COLUMN `c` INT NOT NULL DEFAULT 7",
        |job, version| add_column(job, version, SHOP, "shop", info),
    )
    .await;
    // A transaction of the old shape commits after the DDL: its row has no `c`.
    tidb.dml_at(
        before_add,
        vec![Mutation::new(EVOLVING).insert(row(3, &[a("three"), int(30), int(3)]))],
    )
    .await;
    // Row 1 read back for an update carries `c`'s origin default.
    tidb.dml(vec![Mutation::new(EVOLVING)
        .insert(row(4, &[a("four"), int(40), int(4), int(8)]))
        .update(update_row(
            &table.ids(),
            &[int(1), a("one"), int(10), int(1), int(7)],
            &[int(1), a("one"), int(10), int(11), int(9)],
            None,
        ))])
    .await;

    // DROP COLUMN b.
    table.columns.retain(|column| column.1 != "b");
    let info = table.info();
    tidb.run_ddl("ALTER TABLE `evolving` DROP COLUMN `b`", |job, version| {
        drop_column(job, version, SHOP, "shop", info)
    })
    .await;
    let row = |id: i64, a: &str, qty: i64, c: i64| {
        insert_row(
            &Handle::Int(id),
            &[(2, TidbDatum::bytes(a)), (4, int(qty)), (5, int(c))],
        )
    };
    tidb.dml(vec![Mutation::new(EVOLVING).insert(row(5, "five", 5, 7))])
        .await;

    // MODIFY COLUMN qty BIGINT (no reorganisation: same column ID), then a value only BIGINT
    // holds.
    table.columns[2].2 = LONGLONG;
    let info = table.info();
    tidb.run_ddl(
        "ALTER TABLE `evolving` MODIFY COLUMN `qty` BIGINT",
        |job, version| modify_column(job, version, SHOP, "shop", info),
    )
    .await;
    tidb.dml(vec![Mutation::new(EVOLVING).insert(row(
        6,
        "six",
        5_000_000_000,
        6,
    ))])
    .await;

    // ADD INDEX idx_a (a), then DROP INDEX idx_a.
    table.columns[1].3 = column_flag::MULTIPLE_KEY;
    table.indexes = vec![index_info(1, "idx_a", &[("a", 1)], false, false)];
    let info = table.info();
    tidb.run_ddl(
        "ALTER TABLE `evolving` ADD INDEX `idx_a` (`a`)",
        |job, version| add_index(job, version, SHOP, "shop", info),
    )
    .await;
    tidb.dml(vec![Mutation::new(EVOLVING).insert(row(7, "seven", 7, 7))])
        .await;
    table.columns[1].3 = 0;
    table.indexes.clear();
    let info = table.info();
    tidb.run_ddl(
        "ALTER TABLE `evolving` DROP INDEX `idx_a`",
        |job, version| drop_index(job, version, SHOP, "shop", info),
    )
    .await;
    tidb.dml(vec![Mutation::new(EVOLVING).update(update_row(
        &table.ids(),
        &[int(7), a("seven"), int(7), int(7)],
        &[int(7), a("SEVEN"), int(77), int(7)],
        None,
    ))])
    .await;

    // RENAME TABLE evolving TO renamed: the same table ID, a new name.
    table.name = "renamed";
    let info = table.info();
    tidb.run_ddl("RENAME TABLE `evolving` TO `renamed`", |job, version| {
        rename_table(job, version, SHOP, "shop", info)
    })
    .await;
    tidb.dml(vec![Mutation::new(EVOLVING)
        .insert(row(8, "eight", 8, 8))
        .delete(delete_row(
            &[(1, int(2)), (2, a("two")), (4, int(2)), (5, int(7))],
            None,
        ))])
    .await;

    Expected::exact(
        "SELECT id, a, qty, c FROM shop.renamed ORDER BY id",
        "1\tone\t11\t9\n3\tthree\t3\t7\n4\tfour\t4\t8\n5\tfive\t5\t7\n\
         6\tsix\t5000000000\t6\n7\tSEVEN\t77\t7\n8\teight\t8\t8\n",
    )
}

/// TRUNCATE TABLE renamed (a new table ID), then a row under the new ID.
async fn truncate_renamed(tidb: &mut TidbWriter) -> Expected {
    let columns = vec![
        column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS),
        with_length(column_info(2, "a", 1, mysql_type::VARCHAR, 0), 32, 0),
        column_info(4, "qty", 2, mysql_type::LONGLONG, 0),
        with_default(
            column_info(5, "c", 3, mysql_type::LONG, column_flag::NOT_NULL),
            "7",
        ),
    ];
    let info = table_info(EVOLVING_TRUNCATED, "renamed", columns);
    tidb.run_ddl("TRUNCATE TABLE `renamed`", |job, version| {
        truncate_table(job, version, SHOP, "shop", EVOLVING, info)
    })
    .await;
    tidb.dml(vec![Mutation::new(EVOLVING_TRUNCATED).insert(insert_row(
        &Handle::Int(100),
        &[
            (2, TidbDatum::bytes("after truncate")),
            (4, TidbDatum::Int(1)),
            (5, TidbDatum::Int(2)),
        ],
    ))])
    .await;
    Expected::exact(
        "SELECT id, a, qty, c FROM shop.renamed ORDER BY id",
        "100\tafter truncate\t1\t2\n",
    )
}

/// CREATE DATABASE scratch with a table and rows.
async fn create_scratch(tidb: &mut TidbWriter) -> Expected {
    tidb.run_ddl("CREATE DATABASE `scratch`", |job, version| {
        create_schema(job, version, SCRATCH, "scratch")
    })
    .await;
    let table = table_info(
        SCRATCH_T,
        "t",
        vec![column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS)],
    );
    tidb.run_ddl(
        "CREATE TABLE `t` (`id` BIGINT PRIMARY KEY)",
        |job, version| create_table(job, version, SCRATCH, "scratch", table),
    )
    .await;
    tidb.dml(vec![Mutation::new(SCRATCH_T)
        .insert(insert_row(&Handle::Int(1), &[]))
        .insert(insert_row(&Handle::Int(2), &[]))])
        .await;
    Expected::exact("SELECT id FROM scratch.t ORDER BY id", "1\n2\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ddl_mid_stream_reshapes_the_rows_after_it() {
    let mut pipeline = MysqlPipeline::start().await;
    let drainer = pipeline.start_drainer(DrainerToml::default());
    let tidb = &mut pipeline.tidb;
    tidb.run_ddl("CREATE DATABASE `shop`", |job, version| {
        create_schema(job, version, SHOP, "shop")
    })
    .await;
    let renamed = evolve(tidb).await;
    let scratch = create_scratch(tidb).await;
    let gone = Expected::exact("SHOW TABLES FROM shop LIKE 'evolving'", "");
    // Before TRUNCATE TABLE wipes `renamed`, which holds what every other DDL did.
    pipeline.wait_identical(&drainer, &[renamed, scratch, gone], CATCH_UP);

    let tidb = &mut pipeline.tidb;
    let truncated = truncate_renamed(tidb).await;
    tidb.run_ddl("DROP DATABASE `scratch`", |job, version| {
        drop_schema(job, version, SCRATCH, "scratch")
    })
    .await;
    let dropped = Expected::exact("SHOW DATABASES LIKE 'scratch'", "");
    pipeline.wait_identical(&drainer, &[truncated, dropped], CATCH_UP);
    let log = drainer.log();
    assert!(!log.contains("panicked"), "the drainer panicked:\n{log}");
}
