//! The `kafka` destination end to end, on real processes: binlogs written TiDB-style to a real
//! pump (rows in TiDB's encoding, DDL from the status stand-in: TiDB cannot be built here),
//! pulled by the real drainer, which is SIGKILLed over and over, and written to a real Kafka
//! broker. The topic is then read by Kafka's own console consumer and every message decoded
//! by `protoc --decode slave.binlog.Binlog` (not by this project's decoder), and compared with
//! what TiDB committed: every transaction exactly once, in commit-TS order, with its rows.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use binlog_testkit::cluster::{backend, Backend};
use binlog_testkit::drainer::{start_drainer, DrainerOptions};
use binlog_testkit::kafka::Kafka;
use binlog_testkit::killer::Killer;
use binlog_testkit::process::NodeProcess;
use binlog_testkit::pump::start_pump;
use binlog_testkit::tidb_jobs::{
    add_column, column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{delete_row, insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};

/// Database ID of `shop`.
const SHOP: i64 = 1;
/// Table ID of `shop.items`.
const ITEMS: i64 = 10;
/// Table ID of `shop.skipped`, which `ignore-table` leaves out.
const SKIPPED: i64 = 11;
/// The topic.
const TOPIC: &str = "binlog-test";
/// Marks the end of each message in the console consumer's output.
const END: &str = "\n@@end-of-message-7f3a9c@@\n";

/// One message as expected and as decoded: commit TS, then `DDL <query>` or one
/// `<Type> <row values> [<- <values before>]` line per row change.
type Message = (u64, Vec<String>);

/// `shop.items`: id → (name, qty, note).
#[derive(Default)]
struct Items {
    rows: BTreeMap<i64, (String, i64, Option<String>)>,
    has_note: bool,
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

impl Items {
    /// The values a message lists for a row (every column, as protoc prints them).
    fn values(&self, id: i64, row: &(String, i64, Option<String>)) -> String {
        let mut values = vec![id.to_string(), format!("{:?}", row.0), row.1.to_string()];
        if self.has_note {
            values.push(row.2.as_ref().map_or("NULL".into(), |n| format!("{n:?}")));
        }
        values.join(",")
    }

    /// TiDB's column datums of a row (IDs 1.., the handle included).
    fn datums(&self, id: i64, row: &(String, i64, Option<String>)) -> Vec<TidbDatum> {
        let mut datums = vec![
            TidbDatum::Int(id),
            TidbDatum::bytes(&row.0),
            TidbDatum::Int(row.1),
        ];
        if self.has_note {
            datums.push(row.2.as_deref().map_or(TidbDatum::Null, TidbDatum::bytes));
        }
        datums
    }

    fn ids(&self) -> Vec<i64> {
        (1..=3 + i64::from(self.has_note)).collect()
    }

    /// A transaction of 1-3 row changes on `items`; returns its mutation and expected lines.
    fn change(&mut self, rng: &mut Rng, round: u64) -> (Mutation, Vec<String>) {
        let mut mutation = Mutation::new(ITEMS);
        let mut lines = Vec::new();
        for _ in 0..rng.below(3) + 1 {
            let id = rng.below(30) as i64 + 1;
            match self.rows.get(&id).cloned() {
                None => {
                    let row = (format!("item-{id}"), round as i64, None);
                    let columns: Vec<(i64, TidbDatum)> = self
                        .ids()
                        .into_iter()
                        .zip(self.datums(id, &row))
                        .skip(1)
                        .collect();
                    mutation = mutation.insert(insert_row(&Handle::Int(id), &columns));
                    lines.push(format!("Insert {}", self.values(id, &row)));
                    self.rows.insert(id, row);
                }
                Some(old) if rng.below(3) > 0 => {
                    let new = (
                        old.0.clone(),
                        old.1 + 1,
                        self.has_note.then(|| format!("r{round}")),
                    );
                    let bytes = update_row(
                        &self.ids(),
                        &self.datums(id, &old),
                        &self.datums(id, &new),
                        None,
                    );
                    mutation = mutation.update(bytes);
                    lines.push(format!(
                        "Update {} <- {}",
                        self.values(id, &new),
                        self.values(id, &old)
                    ));
                    self.rows.insert(id, new);
                }
                Some(old) => {
                    let columns: Vec<(i64, TidbDatum)> =
                        self.ids().into_iter().zip(self.datums(id, &old)).collect();
                    mutation = mutation.delete(delete_row(&columns, None));
                    lines.push(format!("Delete {}", self.values(id, &old)));
                    self.rows.remove(&id);
                }
            }
        }
        (mutation, lines)
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

/// Runs a DDL binlog; returns the message it should give.
async fn ddl(
    tidb: &mut TidbWriter,
    job: impl FnOnce(i64, i64) -> serde_json::Value,
    query: &str,
) -> Message {
    let (id, version) = tidb.next_job();
    let commit_ts = tidb.ddl(job(id, version), query).await;
    (commit_ts, vec![format!("DDL {query}")])
}

fn drainer_config(dir: &Path, kafka: &Kafka, status_addr: &str) -> std::path::PathBuf {
    let path = dir.join("drainer.toml");
    std::fs::write(
        &path,
        format!(
            "tidb-status-addr = \"{status_addr}\"\n\
             [syncer]\ndb-type = \"kafka\"\n\
             [[syncer.ignore-table]]\ndb-name = \"shop\"\ntbl-name = \"skipped\"\n\
             [syncer.to]\nkafka-addrs = \"{}\"\ntopic-name = \"{TOPIC}\"\n\
             kafka-max-messages = 8\nkafka-version = \"2.8.0\"\n",
            kafka.bootstrap()
        ),
    )
    .expect("write the drainer config");
    path
}

fn start(dir: &Path, backend: &Backend, config: &Path) -> NodeProcess {
    start_drainer(&DrainerOptions {
        data_dir: &dir.join("drainer"),
        registry_dir: &dir.join("registry"),
        pd_urls: &backend.pd_urls,
        node_id: "drainer-kafka",
        extra: &["-config", config.to_str().expect("UTF-8 path")],
        stdout: None,
    })
}

/// Every message of the topic's partition 0, read by Kafka's console consumer: values as
/// ISO-8859-1 text (one char per byte), each followed by [`END`].
fn consume(kafka: &Kafka, count: usize) -> Vec<Vec<u8>> {
    let mut command = kafka.tool("org.apache.kafka.tools.consumer.ConsoleConsumer");
    command.args([
        "--bootstrap-server",
        &kafka.bootstrap(),
        "--topic",
        TOPIC,
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--timeout-ms",
        "10000",
        "--max-messages",
        &(count + 1).to_string(),
        "--property",
        "value.deserializer=org.apache.kafka.common.serialization.StringDeserializer",
        // The formatter may strip its `value.deserializer.` prefix before configuring it.
        "--property",
        "value.deserializer.encoding=ISO-8859-1",
        "--property",
        "value.deserializer.deserializer.encoding=ISO-8859-1",
        "--property",
        &format!("line.separator={END}"),
    ]);
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run the console consumer");
    let text = String::from_utf8(output.stdout).expect("the consumer prints UTF-8");
    text.split(END)
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| {
            chunk
                .chars()
                .map(|c| u8::try_from(c).expect("ISO-8859-1"))
                .collect()
        })
        .collect()
}

/// `protoc --decode slave.binlog.Binlog` of one message, as text.
fn protoc_decode(value: &[u8]) -> String {
    let proto_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("proto");
    let mut child = Command::new("protoc")
        .arg(format!("--proto_path={}", proto_dir.display()))
        .args(["--decode", "slave.binlog.Binlog", "slave_binlog.proto"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run protoc (apt-get install protobuf-compiler)");
    child.stdin.take().unwrap().write_all(value).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "protoc cannot decode a message: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A message from protoc's text format: the commit TS, then one line per DDL or row change
/// (the table must be `shop.items`, the only one replicated with rows).
fn parse(text: &str) -> Message {
    let mut commit_ts = 0;
    let mut lines = Vec::new();
    let mut stack: Vec<&str> = Vec::new();
    let (mut kind, mut row, mut before): (String, Vec<String>, Vec<String>) = Default::default();
    for line in text.lines().map(str::trim) {
        if let Some(block) = line.strip_suffix(" {") {
            stack.push(block);
            continue;
        }
        if line == "}" {
            if stack.pop() == Some("mutations") {
                let mut line = format!("{kind} {}", row.join(","));
                if !before.is_empty() {
                    line += &format!(" <- {}", before.join(","));
                }
                lines.push(line);
                (row, before) = Default::default();
            }
            continue;
        }
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        match (stack.as_slice(), key) {
            ([], "commit_ts") => commit_ts = value.parse().unwrap(),
            (["ddl_data"], "ddl_query") => lines.push(format!("DDL {}", value.trim_matches('"'))),
            (["dml_data", "tables"], "schema_name") => assert_eq!(value, "\"shop\""),
            (["dml_data", "tables"], "table_name") => assert_eq!(value, "\"items\""),
            (["dml_data", "tables", "mutations"], "type") => kind = value.into(),
            ([.., "columns"], field) => {
                let value = match field {
                    "is_null" => "NULL".to_owned(),
                    _ => value.to_owned(),
                };
                match stack[stack.len() - 2] {
                    "row" => row.push(value),
                    _ => before.push(value),
                }
            }
            _ => {}
        }
    }
    (commit_ts, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_reach_the_topic_exactly_once_in_order_across_drainer_kills() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let kafka = Kafka::start();
    eprintln!("kafka up in {:?}", started.elapsed());
    let backend = backend("file", &dir.path().join("registry")).await;
    let pump = start_pump(&dir.path().join("pump"), &dir.path().join("registry"));
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let mut tidb = TidbWriter::new(pump.client().await, backend.tso.clone(), cluster_id);
    let config = drainer_config(dir.path(), &kafka, tidb.status_addr());
    let drainer = start(dir.path(), &backend, &config);

    let mut expected: Vec<Message> = Vec::new();
    expected.push(
        ddl(
            &mut tidb,
            |id, v| create_schema(id, v, SHOP, "shop"),
            "CREATE DATABASE `shop`",
        )
        .await,
    );
    let items_ddl = "CREATE TABLE `items` (`id` BIGINT PRIMARY KEY, `name` VARCHAR(64), `qty` INT)";
    let items = table_info(ITEMS, "items", items_columns(false));
    expected.push(
        ddl(
            &mut tidb,
            |id, v| create_table(id, v, SHOP, "shop", items),
            items_ddl,
        )
        .await,
    );
    // Filtered out: neither its DDL nor its rows reach the topic.
    let skipped = table_info(SKIPPED, "skipped", items_columns(false));
    ddl(
        &mut tidb,
        |id, v| create_table(id, v, SHOP, "shop", skipped),
        "CREATE TABLE `skipped` (`id` BIGINT PRIMARY KEY, `name` VARCHAR(64), `qty` INT)",
    )
    .await;

    // The drainer is SIGKILLed and restarted every 700 ms while TiDB writes.
    let killer = Killer::start(drainer, Duration::from_millis(700), 6);
    let mut model = Items::default();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..160u64 {
        if round == 80 {
            let table = table_info(ITEMS, "items", items_columns(true));
            let query = "ALTER TABLE `items` ADD COLUMN `note` VARCHAR(64)";
            expected.push(
                ddl(
                    &mut tidb,
                    |id, v| add_column(id, v, SHOP, "shop", table),
                    query,
                )
                .await,
            );
            model.has_note = true;
        }
        let other = Mutation::new(SKIPPED).insert(insert_row(
            &Handle::Int(round as i64 + 1),
            &[(2, TidbDatum::bytes("x")), (3, TidbDatum::Int(1))],
        ));
        if round % 10 == 0 {
            // Only the filtered table: no message at all.
            tidb.dml(vec![other]).await;
            continue;
        }
        let (mutation, lines) = model.change(&mut rng, round);
        // Both tables: the message holds only `items`.
        let mutations = match round % 10 {
            1 => vec![mutation, other],
            _ => vec![mutation],
        };
        expected.push((tidb.dml(mutations).await, lines));
    }
    eprintln!("written in {:?}", started.elapsed());
    let (drainer, kills) = tokio::task::spawn_blocking(move || killer.stop())
        .await
        .unwrap();
    assert!(kills >= 6, "the drainer was killed {kills} times");

    let last_ts = expected.last().unwrap().0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let got: Vec<Message> = loop {
        let got: Vec<Message> = tokio::task::block_in_place(|| {
            consume(&kafka, expected.len())
                .iter()
                .map(|value| parse(&protoc_decode(value)))
                .collect()
        });
        if got.last().is_some_and(|m| m.0 >= last_ts) || std::time::Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    eprintln!("consumed in {:?}", started.elapsed());
    let commit_tss: Vec<u64> = got.iter().map(|m| m.0).collect();
    assert!(
        commit_tss.windows(2).all(|w| w[0] < w[1]),
        "commit TSs repeat or go back: {commit_tss:?}\ndrainer log:\n{}",
        drainer.log()
    );
    assert_eq!(got.len(), expected.len(), "drainer log:\n{}", drainer.log());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected);
    }
    let log = drainer.log();
    assert!(!log.contains("panicked"), "the drainer panicked:\n{log}");
    eprintln!(
        "{} messages ({} transactions and DDL) exactly once across {kills} drainer kills",
        got.len(),
        expected.len()
    );
}
