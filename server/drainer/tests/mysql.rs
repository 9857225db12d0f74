//! The `mysql` destination end to end, on real processes: binlogs written TiDB-style to a real
//! pump (rows in TiDB's encoding, DDL served by the status stand-in: TiDB itself cannot be
//! built here, see `scripts/testbed.sh`), pulled by the real drainer and applied to a real
//! MariaDB; then every table compared with a model of what TiDB committed.

use std::collections::BTreeMap;
use std::time::Duration;

use binlog_testkit::killer::Killer;
use binlog_testkit::mysql_pipeline::{DrainerToml, Expected, MysqlPipeline};
use binlog_testkit::rng::Rng;
use binlog_testkit::tidb_jobs::{
    add_column, column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{delete_row, insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};

/// Database ID of `shop`.
const SHOP: i64 = 1;
/// Table ID of `shop.items` (int primary key as the handle).
const ITEMS: i64 = 10;
/// Table ID of `shop.log` (no key: rows repeat, `_tidb_rowid` is the handle).
const LOG: i64 = 11;
/// Table ID of `shop.extra`, created at the end.
const EXTRA: i64 = 12;

/// What TiDB committed, to compare the downstream with.
#[derive(Default)]
struct Model {
    /// `items`: id → (name, qty, note).
    items: BTreeMap<i64, (String, i64, Option<String>)>,
    /// `log`: row ID → (msg, n).
    log: BTreeMap<i64, (String, i64)>,
    next_row_id: i64,
    /// Whether `items.note` exists yet.
    has_note: bool,
}

fn text(value: &str) -> TidbDatum {
    TidbDatum::bytes(value)
}

impl Model {
    /// The `items` columns TiDB writes for a row, the handle column left out of inserts.
    fn item_columns(&self, row: &(String, i64, Option<String>)) -> Vec<(i64, TidbDatum)> {
        let mut columns = vec![(2, text(&row.0)), (3, TidbDatum::Int(row.1))];
        if self.has_note {
            let note = row.2.as_deref().map_or(TidbDatum::Null, text);
            columns.push((4, note));
        }
        columns
    }

    /// One random row change, applied to the model, as TiDB would write it.
    fn change(&mut self, rng: &mut Rng, round: u64) -> Mutation {
        match rng.below(6) {
            0 | 1 => {
                let id = rng.below(40) as i64 + 1;
                match self.items.get(&id).cloned() {
                    None => {
                        let row = (format!("item-{id}"), round as i64, None);
                        let bytes = insert_row(&Handle::Int(id), &self.item_columns(&row));
                        self.items.insert(id, row);
                        Mutation::new(ITEMS).insert(bytes)
                    }
                    Some(old) => {
                        let new = (
                            old.0.clone(),
                            old.1 + 1,
                            self.has_note.then(|| format!("r{round}")),
                        );
                        let ids: Vec<i64> = [1, 2, 3, 4][..3 + usize::from(self.has_note)].to_vec();
                        let image = |row: &(String, i64, Option<String>)| {
                            let mut values = vec![TidbDatum::Int(id)];
                            values.extend(self.item_columns(row).into_iter().map(|(_, v)| v));
                            values
                        };
                        let bytes = update_row(&ids, &image(&old), &image(&new), None);
                        self.items.insert(id, new);
                        Mutation::new(ITEMS).update(bytes)
                    }
                }
            }
            2 => {
                let Some((&id, row)) = self
                    .items
                    .iter()
                    .nth(rng.below(40) as usize % self.items.len().max(1))
                else {
                    return self.change(rng, round);
                };
                let mut columns = vec![(1, TidbDatum::Int(id))];
                columns.extend(self.item_columns(row));
                self.items.remove(&id);
                Mutation::new(ITEMS).delete(delete_row(&columns, None))
            }
            3 | 4 => {
                // Few distinct values, so identical rows repeat.
                let row = (format!("event-{}", rng.below(3)), rng.below(2) as i64);
                self.next_row_id += 1;
                let bytes = insert_row(
                    &Handle::Int(self.next_row_id),
                    &[(1, text(&row.0)), (2, TidbDatum::Int(row.1))],
                );
                self.log.insert(self.next_row_id, row);
                Mutation::new(LOG).insert(bytes)
            }
            _ => {
                let Some((&row_id, row)) = self.log.iter().next() else {
                    return self.change(rng, round);
                };
                let bytes = delete_row(
                    &[(1, text(&row.0)), (2, TidbDatum::Int(row.1))],
                    Some(row_id),
                );
                self.log.remove(&row_id);
                Mutation::new(LOG).delete(bytes)
            }
        }
    }

    /// `items` as the `mariadb` client prints `SELECT id, name, qty, note ORDER BY id`.
    fn items_text(&self) -> String {
        self.items
            .iter()
            .map(|(id, (name, qty, note))| {
                let note = note.as_deref().unwrap_or("NULL");
                if self.has_note {
                    format!("{id}\t{name}\t{qty}\t{note}\n")
                } else {
                    format!("{id}\t{name}\t{qty}\n")
                }
            })
            .collect()
    }

    /// `log` as `SELECT msg, n, COUNT(*) GROUP BY msg, n ORDER BY msg, n` prints it.
    fn log_text(&self) -> String {
        let mut counts: BTreeMap<(String, i64), usize> = BTreeMap::new();
        self.log
            .values()
            .for_each(|row| *counts.entry(row.clone()).or_default() += 1);
        counts
            .iter()
            .map(|((msg, n), count)| format!("{msg}\t{n}\t{count}\n"))
            .collect()
    }
}

fn items_columns(with_note: bool) -> Vec<serde_json::Value> {
    let mut columns = vec![
        column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS),
        column_info(2, "name", 1, mysql_type::VARCHAR, 0),
        column_info(3, "qty", 2, mysql_type::LONG, 0),
    ];
    if with_note {
        columns.push(column_info(4, "note", 3, mysql_type::VARCHAR, 0));
    }
    columns
}

/// Creates `shop`, `shop.items` and `shop.log` through DDL binlogs.
async fn create_tables(tidb: &mut TidbWriter) {
    let (job, version) = tidb.next_job();
    tidb.ddl(
        create_schema(job, version, SHOP, "shop"),
        "CREATE DATABASE `shop`",
    )
    .await;
    let (job, version) = tidb.next_job();
    let items = table_info(ITEMS, "items", items_columns(false));
    tidb.ddl(
        create_table(job, version, SHOP, "shop", items),
        "CREATE TABLE `items` (`id` BIGINT PRIMARY KEY, `name` VARCHAR(64), `qty` INT)",
    )
    .await;
    let (job, version) = tidb.next_job();
    let log = table_info(
        LOG,
        "log",
        vec![
            column_info(1, "msg", 0, mysql_type::VARCHAR, 0),
            column_info(2, "n", 1, mysql_type::LONG, 0),
        ],
    );
    tidb.ddl(
        create_table(job, version, SHOP, "shop", log),
        "CREATE TABLE `log` (`msg` VARCHAR(64), `n` INT)",
    )
    .await;
}

/// The queries comparing `shop` with the model.
fn expected(model: &Model) -> Vec<Expected> {
    let columns = if model.has_note {
        "id, name, qty, note"
    } else {
        "id, name, qty"
    };
    vec![
        Expected::exact(
            format!("SELECT {columns} FROM shop.items ORDER BY id"),
            model.items_text(),
        ),
        Expected::exact(
            "SELECT msg, n, COUNT(*) FROM shop.log GROUP BY msg, n ORDER BY msg, n",
            model.log_text(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_and_ddl_reach_mariadb_exactly_once_across_drainer_and_pump_kills() {
    let mut pipeline = MysqlPipeline::start().await;
    let drainer = pipeline.start_drainer(DrainerToml::default());

    create_tables(&mut pipeline.tidb).await;
    let mut model = Model::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // The drainer is SIGKILLed and restarted every 700 ms while TiDB writes.
    let killer = Killer::start(drainer, Duration::from_millis(700), 10);
    for round in 0..400u64 {
        if round == 200 {
            let (job, version) = pipeline.tidb.next_job();
            pipeline
                .tidb
                .ddl(
                    add_column(
                        job,
                        version,
                        SHOP,
                        "shop",
                        table_info(ITEMS, "items", items_columns(true)),
                    ),
                    "ALTER TABLE `items` ADD COLUMN `note` VARCHAR(64)",
                )
                .await;
            model.has_note = true;
        }
        if round % 100 == 50 {
            pipeline.pump.kill_and_restart(Duration::from_millis(100));
        }
        let changes = (0..rng.below(4) + 1)
            .map(|_| model.change(&mut rng, round))
            .collect();
        pipeline.tidb.dml(changes).await;
    }
    let (drainer, kills) = tokio::task::spawn_blocking(move || killer.stop())
        .await
        .unwrap();
    assert!(kills >= 10, "the drainer was killed {kills} times");

    tokio::task::block_in_place(|| {
        pipeline.wait_identical(&drainer, &expected(&model), Duration::from_secs(90))
    });
    let log = drainer.log();
    assert!(!log.contains("panicked"), "the drainer panicked:\n{log}");

    // One more DDL and transaction for the last drainer process, whose metrics then count them
    // under the original's names.
    pipeline
        .tidb
        .run_ddl(
            "CREATE TABLE `extra` (`id` BIGINT PRIMARY KEY)",
            |job, version| {
                let columns = vec![column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS)];
                create_table(
                    job,
                    version,
                    SHOP,
                    "shop",
                    table_info(EXTRA, "extra", columns),
                )
            },
        )
        .await;
    let changes = vec![model.change(&mut rng, 400)];
    pipeline.tidb.dml(changes).await;
    tokio::task::block_in_place(|| {
        pipeline.wait_identical(&drainer, &expected(&model), Duration::from_secs(30))
    });
    let metrics = drainer.get("/metrics");
    for series in [
        "binlog_drainer_query_duration_time_count{type=\"exec\"}",
        "binlog_drainer_query_duration_time_count{type=\"commit\"}",
        "binlog_drainer_ddl_jobs_total",
    ] {
        let count = metrics
            .lines()
            .find_map(|line| line.strip_prefix(series))
            .and_then(|value| value.trim().parse::<f64>().ok());
        assert!(
            count.is_some_and(|count| count > 0.0),
            "{series} missing or 0:\n{metrics}"
        );
    }
}
