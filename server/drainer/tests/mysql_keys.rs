//! Every kind of table key, end to end into MariaDB (real pump, real drainer, TiDB's row
//! encoding from the test kit's stand-ins): `shop.uniq` (a unique key, no primary key:
//! `_tidb_rowid` is the handle), `shop.events` (no key, repeated rows), `shop.parted` (hash
//! partitioned: rows written under the partitions' IDs, which the schema history maps to the
//! table), `shop.clustered` (a clustered `VARCHAR` primary key: a common handle). Each gets
//! inserts, updates and deletes; MariaDB is compared ordered by key, or counted for the keyless
//! table.

use std::time::Duration;

use binlog_testkit::mysql_pipeline::{DrainerToml, Expected, MysqlPipeline};
use binlog_testkit::tidb_jobs::{
    clustered, column_flag, column_info, create_schema, create_table, index_info, mysql_type,
    table_info, with_indexes, with_length, with_partitions, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{delete_row, insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};
use serde_json::Value;

/// Database ID of `shop`.
const SHOP: i64 = 1;
/// Table IDs.
const UNIQ: i64 = 11;
const EVENTS: i64 = 12;
const PARTED: i64 = 13;
/// `parted`'s partitions `p0`..`p3` (a row of `id` lives in `PARTITIONS[id % 4]`).
const PARTITIONS: [i64; 4] = [14, 15, 16, 17];
const CLUSTERED: i64 = 18;

/// How long MariaDB may take to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);

fn varchar(id: i64, name: &str, offset: usize, flag: u32) -> Value {
    with_length(
        column_info(id, name, offset, mysql_type::VARCHAR, flag),
        32,
        0,
    )
}

fn int_column(id: i64, name: &str, offset: usize) -> Value {
    column_info(id, name, offset, mysql_type::LONG, 0)
}

/// `uniq`: a unique key and no primary key (`_tidb_rowid` is the handle): inserts, an update
/// of a plain column, one of the key, a delete, the key inserted again.
async fn write_uniq(tidb: &mut TidbWriter) -> Expected {
    let flags = column_flag::NOT_NULL | column_flag::UNIQUE_KEY;
    let table = with_indexes(
        table_info(
            UNIQ,
            "uniq",
            vec![varchar(1, "code", 0, flags), int_column(2, "qty", 1)],
        ),
        vec![index_info(1, "uk_code", &[("code", 0)], true, false)],
    );
    tidb.run_ddl(
        "CREATE TABLE `uniq` (`code` VARCHAR(32) NOT NULL, `qty` INT, UNIQUE KEY `uk_code` (`code`))",
        |job, version| create_table(job, version, SHOP, "shop", table),
    )
    .await;
    let row = |code: &str, qty: i64| vec![TidbDatum::bytes(code), TidbDatum::Int(qty)];
    let pairs = |code: &str, qty: i64| vec![(1, TidbDatum::bytes(code)), (2, TidbDatum::Int(qty))];
    let mut inserts = Mutation::new(UNIQ);
    for (row_id, code, qty) in [(1, "a", 1), (2, "b", 2), (3, "c", 3)] {
        inserts = inserts.insert(insert_row(&Handle::Int(row_id), &pairs(code, qty)));
    }
    tidb.dml(vec![inserts]).await;
    tidb.dml(vec![Mutation::new(UNIQ)
        .update(update_row(&[1, 2], &row("b", 2), &row("b", 20), Some(2)))
        .update(update_row(&[1, 2], &row("c", 3), &row("d", 3), Some(3)))
        .delete(delete_row(&pairs("a", 1), Some(1)))
        .insert(insert_row(&Handle::Int(4), &pairs("a", 5)))])
        .await;
    Expected::exact(
        "SELECT code, qty FROM shop.uniq ORDER BY code",
        "a\t5\nb\t20\nd\t3\n",
    )
}

/// `events`: no key at all, identical rows: one of three copies deleted, one of two updated.
async fn write_events(tidb: &mut TidbWriter) -> Expected {
    let table = table_info(
        EVENTS,
        "events",
        vec![varchar(1, "msg", 0, 0), int_column(2, "n", 1)],
    );
    tidb.run_ddl(
        "CREATE TABLE `events` (`msg` VARCHAR(32), `n` INT)",
        |job, version| create_table(job, version, SHOP, "shop", table),
    )
    .await;
    let pairs = |msg: &str, n: i64| vec![(1, TidbDatum::bytes(msg)), (2, TidbDatum::Int(n))];
    let row = |msg: &str, n: i64| vec![TidbDatum::bytes(msg), TidbDatum::Int(n)];
    let mut inserts = Mutation::new(EVENTS);
    for (row_id, msg, n) in [
        (1, "x", 1),
        (2, "x", 1),
        (3, "x", 1),
        (4, "y", 2),
        (5, "y", 2),
    ] {
        inserts = inserts.insert(insert_row(&Handle::Int(row_id), &pairs(msg, n)));
    }
    tidb.dml(vec![inserts]).await;
    tidb.dml(vec![Mutation::new(EVENTS)
        .delete(delete_row(&pairs("x", 1), Some(2)))
        .update(update_row(
            &[1, 2],
            &row("y", 2),
            &row("z", 3),
            Some(4),
        ))])
    .await;
    Expected::exact(
        "SELECT msg, n, COUNT(*) FROM shop.events GROUP BY msg, n ORDER BY msg, n",
        "x\t1\t2\ny\t2\t1\nz\t3\t1\n",
    )
}

/// `parted`: hash partitioned on `id`, rows written under their partition's ID.
async fn write_parted(tidb: &mut TidbWriter) -> Expected {
    let table = with_partitions(
        table_info(
            PARTED,
            "parted",
            vec![
                column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS),
                varchar(2, "v", 1, 0),
            ],
        ),
        &[
            (PARTITIONS[0], "p0"),
            (PARTITIONS[1], "p1"),
            (PARTITIONS[2], "p2"),
            (PARTITIONS[3], "p3"),
        ],
    );
    tidb.run_ddl(
        "CREATE TABLE `parted` (`id` BIGINT PRIMARY KEY, `v` VARCHAR(32)) \
         PARTITION BY HASH (`id`) PARTITIONS 4",
        |job, version| create_table(job, version, SHOP, "shop", table),
    )
    .await;
    let partition = |id: i64| PARTITIONS[id as usize % 4];
    let inserts = (1..=8)
        .map(|id| {
            Mutation::new(partition(id)).insert(insert_row(
                &Handle::Int(id),
                &[(2, TidbDatum::bytes(format!("v{id}")))],
            ))
        })
        .collect();
    tidb.dml(inserts).await;
    let image = |id: i64, v: &str| vec![TidbDatum::Int(id), TidbDatum::bytes(v)];
    tidb.dml(vec![
        Mutation::new(partition(5)).update(update_row(
            &[1, 2],
            &image(5, "v5"),
            &image(5, "five"),
            None,
        )),
        Mutation::new(partition(6)).delete(delete_row(
            &[(1, TidbDatum::Int(6)), (2, TidbDatum::bytes("v6"))],
            None,
        )),
    ])
    .await;
    Expected::exact(
        "SELECT id, v FROM shop.parted ORDER BY id",
        "1\tv1\n2\tv2\n3\tv3\n4\tv4\n5\tfive\n7\tv7\n8\tv8\n",
    )
}

/// `clustered`: a clustered `VARCHAR` primary key (a common handle).
async fn write_clustered(tidb: &mut TidbWriter) -> Expected {
    let key_flags = column_flag::NOT_NULL | column_flag::PRI_KEY;
    let table = clustered(
        table_info(
            CLUSTERED,
            "clustered",
            vec![varchar(1, "k", 0, key_flags), int_column(2, "v", 1)],
        ),
        &[("k", 0)],
    );
    tidb.run_ddl(
        "CREATE TABLE `clustered` (`k` VARCHAR(32) NOT NULL PRIMARY KEY, `v` INT) \
         DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
        |job, version| create_table(job, version, SHOP, "shop", table),
    )
    .await;
    let handle = |k: &str| Handle::Common(vec![TidbDatum::bytes(k)]);
    let mut inserts = Mutation::new(CLUSTERED);
    for (k, v) in [("ключ", 1), ("key", 2), ("鍵", 3)] {
        // The common handle's columns are in the handle, not in the row.
        inserts = inserts.insert(insert_row(&handle(k), &[(2, TidbDatum::Int(v))]));
    }
    tidb.dml(vec![inserts]).await;
    let image = |k: &str, v: i64| vec![TidbDatum::bytes(k), TidbDatum::Int(v)];
    tidb.dml(vec![Mutation::new(CLUSTERED)
        .update(update_row(
            &[1, 2],
            &image("key", 2),
            &image("key", 20),
            None,
        ))
        .delete(delete_row(
            &[(1, TidbDatum::bytes("鍵")), (2, TidbDatum::Int(3))],
            None,
        ))])
    .await;
    Expected::exact(
        "SELECT k, v FROM shop.clustered ORDER BY k",
        "key\t20\nключ\t1\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kind_of_key_reaches_mariadb_as_tidb_committed_it() {
    let mut pipeline = MysqlPipeline::start().await;
    let drainer = pipeline.start_drainer(DrainerToml::default());
    let tidb = &mut pipeline.tidb;
    tidb.run_ddl("CREATE DATABASE `shop`", |job, version| {
        create_schema(job, version, SHOP, "shop")
    })
    .await;
    let expected = [
        write_uniq(tidb).await,
        write_events(tidb).await,
        write_parted(tidb).await,
        write_clustered(tidb).await,
    ];
    pipeline.wait_identical(&drainer, &expected, CATCH_UP);
    let log = drainer.log();
    assert!(!log.contains("panicked"), "the drainer panicked:\n{log}");
}
