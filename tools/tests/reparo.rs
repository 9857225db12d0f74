//! `reparo` end to end, on real processes: TiDB's binlogs (rows in TiDB's encoding, DDL from
//! the status stand-in: TiDB itself cannot be built here, see `scripts/testbed.sh`) written to
//! a real pump, pulled by the real drainer into its `file` destination (pb_binlog payloads),
//! then replayed by the real `reparo` into a real MariaDB up to a stop TS in the middle, and
//! printed. The tables are compared with a model of what TiDB had committed at that TS; a
//! replay SIGKILLed again and again and restarted must end identical, a keyless table showing
//! any row applied twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use binlog_testkit::mariadb::{MariaDb, ROOT_PASSWORD};
use binlog_testkit::mysql_pipeline::{Expected, MysqlPipeline};
use binlog_testkit::poll::wait_for;
use binlog_testkit::rng::Rng;
use binlog_testkit::tidb_jobs::{
    add_column, column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{delete_row, insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};
use binlog_tools::reparo::config::TsRange;
use binlog_tools::reparo::read::DirReader;

const SHOP: i64 = 1;
/// `shop.items`: `id` primary key.
const ITEMS: i64 = 10;
/// `shop.log`: no key, rows repeat.
const LOG: i64 = 11;

/// What TiDB committed.
#[derive(Clone, Default)]
struct Model {
    /// id → (name, qty, note).
    items: BTreeMap<i64, (String, i64, Option<String>)>,
    /// row ID → (msg, n).
    log: BTreeMap<i64, (String, i64)>,
    next_row_id: i64,
    has_note: bool,
}

impl Model {
    fn item_values(&self, id: i64, row: &(String, i64, Option<String>)) -> Vec<TidbDatum> {
        let mut values = vec![
            TidbDatum::Int(id),
            TidbDatum::bytes(&row.0),
            TidbDatum::Int(row.1),
        ];
        if self.has_note {
            values.push(row.2.as_deref().map_or(TidbDatum::Null, TidbDatum::bytes));
        }
        values
    }

    /// The values with their column IDs (1-based, in order).
    fn numbered(values: Vec<TidbDatum>) -> Vec<(i64, TidbDatum)> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, value)| (i as i64 + 1, value))
            .collect()
    }

    /// One random change, applied to the model, as TiDB writes it.
    fn change(&mut self, rng: &mut Rng, round: u64) -> Mutation {
        match rng.below(6) {
            0 | 1 => {
                let id = rng.below(30) as i64 + 1;
                match self.items.get(&id).cloned() {
                    None => self.insert_item(id, round),
                    Some(old) => {
                        let new = (
                            old.0.clone(),
                            old.1 + 1,
                            self.has_note.then(|| format!("r{round}")),
                        );
                        let old_values = self.item_values(id, &old);
                        let ids: Vec<i64> = (1..=old_values.len() as i64).collect();
                        let bytes =
                            update_row(&ids, &old_values, &self.item_values(id, &new), None);
                        self.items.insert(id, new);
                        Mutation::new(ITEMS).update(bytes)
                    }
                }
            }
            2 if !self.items.is_empty() => {
                let index = rng.below(self.items.len() as u64) as usize;
                let (&id, row) = self.items.iter().nth(index).expect("in range");
                let columns = Model::numbered(self.item_values(id, row));
                self.items.remove(&id);
                Mutation::new(ITEMS).delete(delete_row(&columns, None))
            }
            5 if !self.log.is_empty() => {
                let (&row_id, row) = self.log.iter().next().expect("not empty");
                let bytes = delete_row(
                    &[(1, TidbDatum::bytes(&row.0)), (2, TidbDatum::Int(row.1))],
                    Some(row_id),
                );
                self.log.remove(&row_id);
                Mutation::new(LOG).delete(bytes)
            }
            _ => {
                // Few distinct values, so identical rows repeat.
                let row = (format!("event-{}", rng.below(3)), rng.below(2) as i64);
                self.insert_log(row)
            }
        }
    }

    fn insert_item(&mut self, id: i64, round: u64) -> Mutation {
        let row = (format!("item-{id}"), round as i64, None);
        let columns = Model::numbered(self.item_values(id, &row));
        self.items.insert(id, row);
        Mutation::new(ITEMS).insert(insert_row(&Handle::Int(id), &columns[1..]))
    }

    fn insert_log(&mut self, row: (String, i64)) -> Mutation {
        self.next_row_id += 1;
        let bytes = insert_row(
            &Handle::Int(self.next_row_id),
            &[(1, TidbDatum::bytes(&row.0)), (2, TidbDatum::Int(row.1))],
        );
        self.log.insert(self.next_row_id, row);
        Mutation::new(LOG).insert(bytes)
    }

    /// The queries comparing `shop` with the model.
    fn expected(&self) -> Vec<Expected> {
        let items: String = self
            .items
            .iter()
            .map(|(id, (name, qty, note))| match self.has_note {
                true => format!(
                    "{id}\t{name}\t{qty}\t{}\n",
                    note.as_deref().unwrap_or("NULL")
                ),
                false => format!("{id}\t{name}\t{qty}\n"),
            })
            .collect();
        let mut counts: BTreeMap<&(String, i64), usize> = BTreeMap::new();
        self.log
            .values()
            .for_each(|row| *counts.entry(row).or_default() += 1);
        let log: String = counts
            .iter()
            .map(|((msg, n), count)| format!("{msg}\t{n}\t{count}\n"))
            .collect();
        let columns = if self.has_note {
            "id, name, qty, note"
        } else {
            "id, name, qty"
        };
        vec![
            Expected::exact(
                format!("SELECT {columns} FROM shop.items ORDER BY id"),
                items,
            ),
            Expected::exact(
                "SELECT msg, n, COUNT(*) FROM shop.log GROUP BY msg, n ORDER BY msg, n",
                log,
            ),
        ]
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

async fn create_tables(tidb: &mut TidbWriter) {
    tidb.run_ddl("CREATE DATABASE `shop`", |job, version| {
        create_schema(job, version, SHOP, "shop")
    })
    .await;
    tidb.run_ddl(
        "CREATE TABLE `items` (`id` BIGINT PRIMARY KEY, `name` VARCHAR(64), `qty` INT)",
        |job, version| {
            create_table(
                job,
                version,
                SHOP,
                "shop",
                table_info(ITEMS, "items", items_columns(false)),
            )
        },
    )
    .await;
    tidb.run_ddl(
        "CREATE TABLE `log` (`msg` VARCHAR(64), `n` INT)",
        |job, version| {
            let columns = vec![
                column_info(1, "msg", 0, mysql_type::VARCHAR, 0),
                column_info(2, "n", 1, mysql_type::LONG, 0),
            ];
            create_table(job, version, SHOP, "shop", table_info(LOG, "log", columns))
        },
    )
    .await;
}

/// The binlogs written, and the model at a stop TS in the middle.
struct Written {
    /// The file destination's directory.
    dir: PathBuf,
    first_dml_ts: u64,
    stop_ts: u64,
    at_stop: Model,
}

/// Writes DDL and rounds of row changes through pump and drainer into the file destination;
/// waits until the files hold the last one.
async fn write_binlogs(pipeline: &mut MysqlPipeline) -> (Written, binlog_testkit::NodeProcess) {
    let dir = pipeline.dir().join("binlog-files");
    let drainer = pipeline.start_drainer_toml(&format!(
        "tidb-status-addr = \"{}\"\n[syncer]\ndb-type = \"file\"\n[syncer.to]\ndir = \"{}\"\n",
        pipeline.tidb.status_addr(),
        dir.display()
    ));
    let tidb = &mut pipeline.tidb;
    create_tables(tidb).await;
    let mut model = Model::default();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (mut first_dml_ts, mut stop_ts, mut at_stop) = (0, 0, None);
    let mut last_ts = 0;
    for round in 0..600u64 {
        if round == 200 {
            tidb.run_ddl(
                "ALTER TABLE `items` ADD COLUMN `note` VARCHAR(64)",
                |job, version| {
                    add_column(
                        job,
                        version,
                        SHOP,
                        "shop",
                        table_info(ITEMS, "items", items_columns(true)),
                    )
                },
            )
            .await;
            model.has_note = true;
        }
        let changes = if round == 0 {
            // A known first transaction, for the print test.
            vec![
                model.insert_item(1, 0),
                model.insert_log(("event-0".into(), 1)),
            ]
        } else {
            (0..rng.below(3) + 1)
                .map(|_| model.change(&mut rng, round))
                .collect()
        };
        last_ts = tidb.dml(changes).await;
        if round == 0 {
            first_dml_ts = last_ts;
        }
        if round == 499 {
            (stop_ts, at_stop) = (last_ts, Some(model.clone()));
        }
    }
    wait_for(
        "the drainer to write the last binlog to its files",
        Duration::from_secs(60),
        || (last_commit_ts(&dir) == Some(last_ts)).then_some(()),
        || format!("drainer log:\n{}", drainer.log()),
    );
    let written = Written {
        dir,
        first_dml_ts,
        stop_ts,
        at_stop: at_stop.expect("round 499 ran"),
    };
    (written, drainer)
}

/// The commit TS of the last binlog in the file destination's directory.
fn last_commit_ts(dir: &Path) -> Option<u64> {
    let mut reader = DirReader::open(dir, TsRange::default()).ok()?;
    let mut last = None;
    while let Ok(Some(record)) = reader.next_record() {
        last = Some(record.commit_ts());
    }
    last
}

/// Writes reparo's TOML for MariaDB and returns a command running it with `flags`.
fn reparo(dir: &Path, work: &Path, mariadb: &MariaDb, flags: &[&str]) -> Command {
    let config = work.join("reparo.toml");
    std::fs::write(
        &config,
        format!(
            "data-dir = \"{}\"\ndest-type = \"mysql\"\nworker-count = 4\ntxn-batch = 4\n\
             [dest-db]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"root\"\npassword = \"{ROOT_PASSWORD}\"\n",
            dir.display(),
            mariadb.port()
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_reparo"));
    command
        .arg("-config")
        .arg(&config)
        .arg("-log-file")
        .arg(work.join("reparo.log"))
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` to exit and asserts it succeeded.
fn assert_succeeds(child: Child, log: &Path) {
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "reparo failed with {}: {}\nlog:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Asserts MariaDB answers each query as expected.
fn assert_identical(mariadb: &MariaDb, expected: &[Expected], log: &Path) {
    for query in expected {
        let actual = (query.normalize)(&mariadb.query(&query.sql));
        assert_eq!(
            actual,
            query.output,
            "{}\nreparo log:\n{}",
            query.sql,
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_destination_replayed_to_a_stop_ts_exactly_once_across_sigkills() {
    let mut pipeline = MysqlPipeline::start().await;
    let (written, _drainer) = write_binlogs(&mut pipeline).await;
    let work = pipeline.dir().to_path_buf();
    let log = work.join("reparo.log");
    let stop = written.stop_ts.to_string();

    // One run up to the stop TS: the tables as TiDB had them then, the later rows absent.
    let run = reparo(
        &written.dir,
        &work,
        &pipeline.mariadb,
        &["-stop-tso", &stop],
    );
    tokio::task::block_in_place(|| {
        assert_succeeds(run_child(run), &log);
        assert_identical(&pipeline.mariadb, &written.at_stop.expected(), &log);
    });
    // Run again: everything is applied already, nothing changes.
    let run = reparo(
        &written.dir,
        &work,
        &pipeline.mariadb,
        &["-stop-tso", &stop],
    );
    tokio::task::block_in_place(|| {
        assert_succeeds(run_child(run), &log);
        assert_identical(&pipeline.mariadb, &written.at_stop.expected(), &log);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("resuming after it"), "{text}");
    });

    // From scratch, SIGKILLed mid-replay again and again, then run to the end.
    pipeline
        .mariadb
        .query("DROP DATABASE shop; DROP DATABASE tidb_binlog");
    let kills = tokio::task::block_in_place(|| {
        let mut kills = 0;
        let mut delay = Duration::from_millis(60);
        loop {
            // One row per downstream transaction: slow enough to be killed mid-way.
            let mut child = run_child(reparo(
                &written.dir,
                &work,
                &pipeline.mariadb,
                &["-stop-tso", &stop, "-txn-batch", "1", "-c", "2"],
            ));
            let started = Instant::now();
            while started.elapsed() < delay {
                if child.try_wait().unwrap().is_some() {
                    assert_succeeds(child, &log);
                    return kills;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
            delay += Duration::from_millis(40);
        }
    });
    assert!(
        kills >= 3,
        "reparo was killed only {kills} times: the replay was too fast to be killed mid-way"
    );
    tokio::task::block_in_place(|| {
        assert_identical(&pipeline.mariadb, &written.at_stop.expected(), &log);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains("panicked"), "{text}");
    });
}

fn run_child(mut command: Command) -> Child {
    command.spawn().expect("spawn reparo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn print_destination_prints_ddl_and_rows_as_the_original() {
    let mut pipeline = MysqlPipeline::start().await;
    let (written, _drainer) = write_binlogs(&mut pipeline).await;
    let output = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_reparo"))
            .args(["-data-dir", written.dir.to_str().unwrap()])
            .args(["-stop-tso", &written.first_dml_ts.to_string()])
            .output()
            .unwrap()
    });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut expected = String::from(
        "DDL query: CREATE DATABASE `shop`;\n\
         DDL query: use `shop`; CREATE TABLE `items` (`id` BIGINT PRIMARY KEY, `name` VARCHAR(64), `qty` INT);\n\
         DDL query: use `shop`; CREATE TABLE `log` (`msg` VARCHAR(64), `n` INT);\n",
    );
    // The first transaction: one item, one log row.
    expected.push_str(
        "schema: shop; table: items; type: Insert\nid(bigint): 1\nname(varchar): item-1\nqty(int): 0\n\
         schema: shop; table: log; type: Insert\nmsg(varchar): event-0\nn(int): 1\n",
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed, expected);
}
