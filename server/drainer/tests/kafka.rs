//! The `kafka` destination end to end, on real processes: binlogs written TiDB-style to a real
//! pump (rows in TiDB's encoding, DDL from the status stand-in: TiDB cannot be built here),
//! pulled by the real drainer, which is SIGKILLed over and over, and written to a real Kafka
//! broker, which is SIGKILLed and restarted mid-stream. The topic is then read by Kafka's own
//! console consumer (values and record headers) and every message decoded by `protoc --decode
//! slave.binlog.Binlog` (not by this project's decoder), split transactions reassembled by the
//! rule the README gives, and compared with what TiDB committed: every transaction exactly
//! once, in commit-TS order, with its rows. A transaction above `kafka-max-message-size` stops
//! the drainer by default, and flows in parts with `kafka-split-large-txn`, across a SIGKILL
//! between its parts. Over a SASL_SSL listener (client certificates required, SCRAM-SHA-256 and
//! PLAIN) the same holds, and a drainer with the wrong CA, no certificate or a wrong password
//! stops at once saying which, one with an unsupported mechanism at start.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use binlog_testkit::certs::{Issued, TestCa};
use binlog_testkit::cluster::{backend, Backend};
use binlog_testkit::drainer::{start_drainer, DrainerOptions};
use binlog_testkit::kafka::{Kafka, KafkaSecurity, KafkaTls};
use binlog_testkit::killer::Killer;
use binlog_testkit::process::NodeProcess;
use binlog_testkit::pump::start_pump;
use binlog_testkit::rng::Rng;
use binlog_testkit::tidb_jobs::{
    add_column, column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{delete_row, insert_row, update_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};
use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};

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
/// Separates a message's headers from its value in the console consumer's output.
const HEADERS_END: &str = "\n@@end-of-headers-7f3a9c@@\n";
/// The split tests' `kafka-max-message-size`.
const SMALL_LIMIT: usize = 4096;
/// The SASL user of the secured broker.
const SASL_USER: &str = "alice";
/// Its password (distinctive: the drainer's log must never contain it).
const SASL_PASSWORD: &str = "s3cret-5b1e";
/// How soon a drainer whose credentials the broker refuses must stop: before the 30 s a
/// broker that is down is retried for.
const REFUSED_WITHIN: Duration = Duration::from_secs(20);

/// One message as expected and as decoded: commit TS, then `DDL <query>` or one
/// `<Type> <row values> [<- <values before>]` line per row change.
type Message = (u64, Vec<String>);

/// `shop.items`: id → (name, qty, note).
#[derive(Default)]
struct Items {
    rows: BTreeMap<i64, (String, i64, Option<String>)>,
    has_note: bool,
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

    /// Adds the insert of a new row `id` to `mutation`; returns it with the expected line.
    fn insert(&mut self, mutation: Mutation, id: i64, round: u64) -> (Mutation, String) {
        let row = (format!("item-{id}"), round as i64, None);
        let columns: Vec<(i64, TidbDatum)> = self
            .ids()
            .into_iter()
            .zip(self.datums(id, &row))
            .skip(1)
            .collect();
        let mutation = mutation.insert(insert_row(&Handle::Int(id), &columns));
        let line = format!("Insert {}", self.values(id, &row));
        self.rows.insert(id, row);
        (mutation, line)
    }

    /// One transaction inserting the new rows `ids`.
    fn insert_many(&mut self, ids: Range<i64>, round: u64) -> (Mutation, Vec<String>) {
        let mut mutation = Mutation::new(ITEMS);
        let mut lines = Vec::new();
        for id in ids {
            let line;
            (mutation, line) = self.insert(mutation, id, round);
            lines.push(line);
        }
        (mutation, lines)
    }

    /// A transaction of 1-3 row changes on `items`; returns its mutation and expected lines.
    fn change(&mut self, rng: &mut Rng, round: u64) -> (Mutation, Vec<String>) {
        let mut mutation = Mutation::new(ITEMS);
        let mut lines = Vec::new();
        for _ in 0..rng.below(3) + 1 {
            let id = rng.below(30) as i64 + 1;
            match self.rows.get(&id).cloned() {
                None => {
                    let line;
                    (mutation, line) = self.insert(mutation, id, round);
                    lines.push(line);
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

/// A drainer `name` writing to `topic`: its config (`top` before `[syncer]`, `to` in
/// `[syncer.to]`) in `dir/<name>.toml`, its data dir `dir/<name>`.
struct DrainerSetup<'a> {
    name: &'a str,
    topic: &'a str,
    top: &'a str,
    to: &'a str,
}

impl DrainerSetup<'_> {
    fn start(
        &self,
        dir: &Path,
        backend: &Backend,
        kafka: &Kafka,
        status_addr: &str,
    ) -> NodeProcess {
        let config = self.write_config(dir, kafka, status_addr);
        start_drainer(&DrainerOptions {
            data_dir: &dir.join(self.name),
            registry_dir: &dir.join("registry"),
            pd_urls: &backend.pd_urls,
            node_id: self.name,
            extra: &["-config", config.to_str().expect("UTF-8 path")],
            stdout: None,
            config: None,
        })
    }

    /// Runs a drainer that must stop before serving; returns its exit status, its standard
    /// error (the error it stopped with) and its log. Panics when it still runs after
    /// [`REFUSED_WITHIN`].
    fn run_refused(
        &self,
        dir: &Path,
        backend: &Backend,
        kafka: &Kafka,
        status_addr: &str,
    ) -> (ExitStatus, String, String) {
        let config = self.write_config(dir, kafka, status_addr);
        let log_file = dir.join(format!("{}.log", self.name));
        let mut command = Command::new(binlog_testkit::binary("drainer"));
        command
            .args(["-addr", &binlog_testkit::free_addr(), "-node-id", self.name])
            .arg("-config")
            .arg(&config)
            .arg("-data-dir")
            .arg(dir.join(self.name))
            .arg("-registry-dir")
            .arg(dir.join("registry"))
            .arg("-log-file")
            .arg(&log_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !backend.pd_urls.is_empty() {
            command.arg("-pd-urls").arg(&backend.pd_urls);
        }
        let mut child = command.spawn().expect("spawn the drainer");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll the drainer") {
                break status;
            }
            if started.elapsed() > REFUSED_WITHIN {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the drainer {} still ran after {REFUSED_WITHIN:?}; log:\n{}",
                    self.name,
                    std::fs::read_to_string(&log_file).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read the drainer's stderr");
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        (status, stderr, log)
    }

    /// Writes the drainer's config to `dir/<name>.toml`; returns its path.
    fn write_config(&self, dir: &Path, kafka: &Kafka, status_addr: &str) -> PathBuf {
        let config: PathBuf = dir.join(format!("{}.toml", self.name));
        std::fs::write(
            &config,
            format!(
                "tidb-status-addr = \"{status_addr}\"\n{}\n\
                 [syncer]\ndb-type = \"kafka\"\n\
                 [[syncer.ignore-table]]\ndb-name = \"shop\"\ntbl-name = \"skipped\"\n\
                 [syncer.to]\nkafka-addrs = \"{}\"\ntopic-name = \"{}\"\n\
                 kafka-version = \"2.8.0\"\n{}\n",
                self.top,
                kafka.bootstrap(),
                self.topic,
                self.to
            ),
        )
        .expect("write the drainer config");
        config
    }
}

/// One message as the console consumer printed it: its record headers (`None` for none), its
/// value.
struct Record {
    headers: Option<BTreeMap<String, String>>,
    value: Vec<u8>,
}

/// Every message of `topic`'s partition 0, read by Kafka's console consumer until it has seen
/// none for 5 s: headers as `key:value,…` then [`HEADERS_END`], then the value as ISO-8859-1
/// text (one char per byte), then [`END`].
fn consume(kafka: &Kafka, topic: &str) -> Vec<Record> {
    let mut command = kafka.tool("org.apache.kafka.tools.consumer.ConsoleConsumer");
    command.args([
        "--bootstrap-server",
        &kafka.bootstrap(),
        "--topic",
        topic,
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--timeout-ms",
        "5000",
        "--property",
        "print.headers=true",
        "--property",
        &format!("key.separator={HEADERS_END}"),
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
    if let Some(properties) = kafka.client_properties() {
        command.arg("--consumer.config").arg(properties);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run the console consumer");
    let text = String::from_utf8(output.stdout).expect("the consumer prints UTF-8");
    text.split(END)
        .filter(|chunk| !chunk.is_empty())
        .map(|chunk| {
            let (headers, value) = chunk.split_once(HEADERS_END).expect("headers, then value");
            let headers = (headers != "NO_HEADERS").then(|| {
                headers
                    .split(',')
                    .map(|h| h.split_once(':').expect("key:value"))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            });
            let value = value
                .chars()
                .map(|c| u8::try_from(c).expect("ISO-8859-1"))
                .collect();
            Record { headers, value }
        })
        .collect()
}

/// The transactions in `records`, in order, reassembled by the README's rule: a message
/// without a `tidb-binlog-part` header is a whole transaction; the parts `<i>/<n>` of one
/// commit TS come consecutively, `i` from 1 to `n`, and their rows in that order are the
/// transaction's. Also the number of part messages. Panics on a part out of order, repeated
/// or missing, or above [`SMALL_LIMIT`]; a transaction whose parts have not all arrived yet
/// is left out.
fn transactions(records: &[Record]) -> (Vec<Message>, usize) {
    let mut done = Vec::new();
    let mut parts_seen = 0;
    // The transaction being reassembled: commit TS, next part expected, part count, rows.
    let mut open: Option<(u64, u32, u32, Vec<String>)> = None;
    for record in records {
        let (commit_ts, lines) = parse(&protoc_decode(&record.value));
        let Some(headers) = &record.headers else {
            assert!(
                open.is_none(),
                "a whole message at {commit_ts} inside {open:?}"
            );
            done.push((commit_ts, lines));
            continue;
        };
        parts_seen += 1;
        assert!(
            record.value.len() <= SMALL_LIMIT,
            "a {}-byte part",
            record.value.len()
        );
        assert_eq!(headers["tidb-binlog-commit-ts"], commit_ts.to_string());
        let (part, parts) = headers["tidb-binlog-part"].split_once('/').expect("i/n");
        let (part, parts): (u32, u32) = (part.parse().unwrap(), parts.parse().unwrap());
        if part == 1 {
            assert!(open.is_none(), "part 1 of {commit_ts} inside {open:?}");
            open = Some((commit_ts, 1, parts, Vec::new()));
        }
        let assembling = open.as_mut().expect("a part without its part 1");
        assert_eq!(
            (assembling.0, assembling.1, assembling.2),
            (commit_ts, part, parts),
            "parts out of order, repeated or missing"
        );
        assembling.1 += 1;
        assembling.3.extend(lines);
        if part == parts {
            let (commit_ts, _, _, lines) = open.take().expect("open");
            done.push((commit_ts, lines));
        }
    }
    (done, parts_seen)
}

/// The transactions of `topic` once the one at `last_ts` is there (or after 60 s).
fn consume_until(kafka: &Kafka, topic: &str, last_ts: u64) -> (Vec<Message>, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = transactions(&consume(kafka, topic));
        if got.0.last().is_some_and(|m| m.0 >= last_ts) || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
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

/// The broker, a pump, TiDB's stand-in and the schema `shop` with `items` (and the filtered
/// `skipped`); the DDL messages expected so far.
struct Cluster {
    dir: tempfile::TempDir,
    kafka: Kafka,
    backend: Backend,
    _pump: NodeProcess,
    tidb: TidbWriter,
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::start_with(&KafkaSecurity::default()).await
    }

    /// [`Cluster::start`] with the broker's client listener secured by `security`.
    async fn start_with(security: &KafkaSecurity) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let kafka = Kafka::start_with(security);
        let backend = backend("file", &dir.path().join("registry")).await;
        let pump = start_pump(&dir.path().join("pump"), &dir.path().join("registry"));
        let cluster_id = backend.registry.cluster_id().await.unwrap();
        let tidb = TidbWriter::new(pump.client().await, backend.tso.clone(), cluster_id);
        Cluster {
            dir,
            kafka,
            backend,
            _pump: pump,
            tidb,
        }
    }

    fn start_drainer(&self, setup: &DrainerSetup<'_>) -> NodeProcess {
        setup.start(
            self.dir.path(),
            &self.backend,
            &self.kafka,
            self.tidb.status_addr(),
        )
    }

    /// Runs a drainer that must be refused; its exit code and the error it printed (asserting
    /// that it stopped within [`REFUSED_WITHIN`], explaining once rather than retrying, and
    /// without logging the SASL password).
    fn refused(&self, setup: &DrainerSetup<'_>) -> (Option<i32>, String) {
        let (status, stderr, log) = setup.run_refused(
            self.dir.path(),
            &self.backend,
            &self.kafka,
            self.tidb.status_addr(),
        );
        assert!(
            !log.contains("retrying") && !log.contains(SASL_PASSWORD),
            "{} retried or logged the password:\n{log}",
            setup.name
        );
        let error = stderr.trim().to_owned();
        eprintln!("{} ({status}): {error}", setup.name);
        (status.code(), error)
    }

    /// Creates `shop`, `shop.items` and `shop.skipped`; the two messages expected.
    async fn create_tables(&mut self) -> Vec<Message> {
        let tidb = &mut self.tidb;
        let mut expected = vec![
            ddl(
                tidb,
                |id, v| create_schema(id, v, SHOP, "shop"),
                "CREATE DATABASE `shop`",
            )
            .await,
        ];
        let items_ddl =
            "CREATE TABLE `items` (`id` BIGINT PRIMARY KEY, `name` VARCHAR(64), `qty` INT)";
        let items = table_info(ITEMS, "items", items_columns(false));
        expected.push(
            ddl(
                tidb,
                |id, v| create_table(id, v, SHOP, "shop", items),
                items_ddl,
            )
            .await,
        );
        // Filtered out: neither its DDL nor its rows reach the topic.
        let skipped = table_info(SKIPPED, "skipped", items_columns(false));
        ddl(
            tidb,
            |id, v| create_table(id, v, SHOP, "shop", skipped),
            "CREATE TABLE `skipped` (`id` BIGINT PRIMARY KEY, `name` VARCHAR(64), `qty` INT)",
        )
        .await;
        expected
    }

    /// Writes `rounds` of small transactions (an `ADD COLUMN` at round 80, every tenth round
    /// only the filtered table); appends the messages expected.
    async fn write_rounds(
        &mut self,
        model: &mut Items,
        rng: &mut Rng,
        rounds: Range<u64>,
        expected: &mut Vec<Message>,
    ) {
        let tidb = &mut self.tidb;
        for round in rounds {
            if round == 80 {
                let table = table_info(ITEMS, "items", items_columns(true));
                let query = "ALTER TABLE `items` ADD COLUMN `note` VARCHAR(64)";
                expected
                    .push(ddl(tidb, |id, v| add_column(id, v, SHOP, "shop", table), query).await);
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
            let (mutation, lines) = model.change(rng, round);
            // Both tables: the message holds only `items`.
            let mutations = match round % 10 {
                1 => vec![mutation, other],
                _ => vec![mutation],
            };
            expected.push((tidb.dml(mutations).await, lines));
        }
    }
}

/// Asserts that `got` is `expected`, message by message, in strictly increasing commit TS.
fn assert_exactly_once(got: &[Message], expected: &[Message], log: &str) {
    let commit_tss: Vec<u64> = got.iter().map(|m| m.0).collect();
    assert!(
        commit_tss.windows(2).all(|w| w[0] < w[1]),
        "commit TSs repeat or go back: {commit_tss:?}\ndrainer log:\n{log}"
    );
    assert_eq!(got.len(), expected.len(), "drainer log:\n{log}");
    for (got, expected) in got.iter().zip(expected) {
        assert_eq!(got, expected);
    }
    assert!(!log.contains("panicked"), "the drainer panicked:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_reach_the_topic_exactly_once_in_order_across_drainer_kills_and_a_broker_restart(
) {
    let started = Instant::now();
    let mut cluster = Cluster::start().await;
    eprintln!("kafka up in {:?}", started.elapsed());
    let drainer = cluster.start_drainer(&DrainerSetup {
        name: "drainer-kafka",
        topic: TOPIC,
        top: "",
        to: "kafka-max-messages = 8",
    });
    let mut expected = cluster.create_tables().await;

    // The drainer is SIGKILLed and restarted every 700 ms while TiDB writes.
    let killer = Killer::start(drainer, Duration::from_millis(700), 6);
    let mut model = Items::default();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    cluster
        .write_rounds(&mut model, &mut rng, 0..160, &mut expected)
        .await;
    eprintln!("written in {:?}", started.elapsed());
    let (mut drainer, kills) = tokio::task::spawn_blocking(move || killer.stop())
        .await
        .unwrap();
    assert!(kills >= 6, "the drainer was killed {kills} times");

    // The broker is SIGKILLed while the drainer has these to send, and restarted on the same
    // port and data while TiDB writes more.
    cluster
        .write_rounds(&mut model, &mut rng, 160..200, &mut expected)
        .await;
    cluster.kafka.kill();
    cluster
        .write_rounds(&mut model, &mut rng, 200..240, &mut expected)
        .await;
    let down = Instant::now();
    tokio::task::block_in_place(|| cluster.kafka.restart());
    eprintln!("broker restarted after {:?} down", down.elapsed());
    cluster
        .write_rounds(&mut model, &mut rng, 240..260, &mut expected)
        .await;

    let last_ts = expected.last().unwrap().0;
    let (got, parts) =
        tokio::task::block_in_place(|| consume_until(&cluster.kafka, TOPIC, last_ts));
    eprintln!("consumed in {:?}", started.elapsed());
    // The drainer retries a failing broker for 30 s; when the restart took longer it stopped
    // with the error, and is started again here (the operator's move).
    let rode_through = drainer.exited().is_none();
    let got = if rode_through {
        got
    } else {
        drainer.kill_and_restart(Duration::ZERO);
        tokio::task::block_in_place(|| consume_until(&cluster.kafka, TOPIC, last_ts)).0
    };
    assert_eq!(parts, 0, "no transaction is split at the default limit");
    assert_exactly_once(&got, &expected, &drainer.log());
    eprintln!(
        "{} messages exactly once across {kills} drainer kills and a broker restart (the drainer {})",
        got.len(),
        if rode_through {
            "rode through it"
        } else {
            "stopped and was restarted"
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_above_the_limit_stops_the_drainer_or_flows_in_parts_across_a_kill() {
    let started = Instant::now();
    let mut cluster = Cluster::start().await;
    eprintln!("kafka up in {:?}", started.elapsed());
    // Both drainers read everything from here.
    let start_ts = cluster.backend.tso.get_ts().await.unwrap();
    let top = format!("initial-commit-ts = {start_ts}");
    let limit = format!("kafka-max-message-size = {SMALL_LIMIT}");
    let mut whole = cluster.start_drainer(&DrainerSetup {
        name: "drainer-whole",
        topic: "whole",
        top: &top,
        to: &limit,
    });
    // One message per produce request: the parts land one by one, so the kill below can fall
    // between two of them.
    let split_to = format!("{limit}\nkafka-split-large-txn = true\nkafka-max-messages = 1");
    let split = DrainerSetup {
        name: "drainer-split",
        topic: "parts",
        top: &top,
        to: &split_to,
    };
    let split_drainer = cluster.start_drainer(&split);

    let mut expected = cluster.create_tables().await;
    let mut model = Items::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    cluster
        .write_rounds(&mut model, &mut rng, 1..6, &mut expected)
        .await;
    let before_large = expected.len();

    // SIGKILLs the splitting drainer once two parts of the large transaction (from offset
    // `before_large`) are in the topic; gives it back with the partition's end after the kill.
    let client = rskafka::client::ClientBuilder::new(vec![cluster.kafka.bootstrap()])
        .build()
        .await
        .unwrap();
    let watcher = tokio::spawn(async move {
        let mut drainer = split_drainer;
        let partition = loop {
            match client
                .partition_client("parts", 0, UnknownTopicHandling::Retry)
                .await
            {
                Ok(partition) => break partition,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let end = partition.get_offset(OffsetAt::Latest).await.unwrap();
            if end >= before_large as i64 + 2 {
                drainer.kill();
                let end = partition.get_offset(OffsetAt::Latest).await.unwrap();
                return (drainer, end);
            }
            assert!(
                Instant::now() < deadline,
                "no parts after 120 s:\n{}",
                drainer.log()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    // 6000 rows of about 30 bytes: some 45 parts of at most 4 KiB.
    let (mutation, lines) = model.insert_many(1000..7000, 100);
    let large_ts = cluster.tidb.dml(vec![mutation]).await;
    expected.push((large_ts, lines));
    cluster
        .write_rounds(&mut model, &mut rng, 6..12, &mut expected)
        .await;
    let last_ts = expected.last().unwrap().0;

    // The default: the drainer stops, naming the transaction, and nothing of it or after it
    // is in the topic.
    let status = tokio::task::block_in_place(|| whole.wait_exit(Duration::from_secs(60)));
    let log = whole.log();
    assert!(
        !status.success(),
        "the drainer exited with {status}:\n{log}"
    );
    let named = format!("the transaction at commit TS {large_ts} is a ");
    let size: usize = log
        .split(&named)
        .nth(1)
        .and_then(|rest| {
            rest.split_once("-byte message, more than kafka-max-message-size (4096 bytes)")
        })
        .and_then(|(size, _)| size.parse().ok())
        .unwrap_or_else(|| panic!("the log does not name {large_ts} and its size:\n{log}"));
    assert!(size > 100_000, "a {size}-byte message");
    eprintln!(
        "the default stops: {}",
        log.lines().find(|l| l.contains(&named)).unwrap()
    );
    let records = tokio::task::block_in_place(|| consume(&cluster.kafka, "whole"));
    assert_eq!(
        records.len(),
        before_large,
        "the topic holds more than the transactions before"
    );
    assert_exactly_once(&transactions(&records).0, &expected[..before_large], &log);

    // Splitting: killed between two parts, restarted, it sends the rest exactly once.
    let (mut split_drainer, landed) = watcher.await.unwrap();
    let landed = landed as usize - before_large;
    split_drainer.kill_and_restart(Duration::ZERO);
    let (got, parts) =
        tokio::task::block_in_place(|| consume_until(&cluster.kafka, "parts", last_ts));
    let log = split_drainer.log();
    assert!(parts > 10, "{parts} parts");
    assert!(
        (2..parts).contains(&landed),
        "the kill fell after {landed} of {parts} parts, not between two"
    );
    assert!(
        log.contains("skipping the parts already in the partition"),
        "the restarted drainer did not resume inside the transaction:\n{log}"
    );
    assert_exactly_once(&got, &expected, &log);
    eprintln!(
        "a {size}-byte transaction in {parts} parts of at most {SMALL_LIMIT} bytes, killed after \
         part {landed}, reassembled exactly once"
    );
}

/// The `[syncer.to]` lines of a drainer logging in as [`SASL_USER`] with `mechanism` and
/// `password`, trusting `ca` and presenting `cert` when given.
fn secured_to(mechanism: &str, password: &str, ca: &Path, cert: Option<&Issued>) -> String {
    let mut to = format!(
        "kafka-sasl-mechanism = \"{mechanism}\"\nkafka-sasl-user = \"{SASL_USER}\"\n\
         kafka-sasl-password = \"{password}\"\n[syncer.to.security]\nssl-ca = {:?}\n",
        ca.display().to_string()
    );
    if let Some(cert) = cert {
        to += &format!(
            "ssl-cert = {:?}\nssl-key = {:?}\n",
            cert.cert.display().to_string(),
            cert.key.display().to_string()
        );
    }
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_sasl_ssl_transactions_reach_the_topic_exactly_once_and_bad_credentials_are_refused() {
    let started = Instant::now();
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path(), "kafka-ca");
    let security = KafkaSecurity {
        tls: Some(KafkaTls {
            ca: ca.ca.clone(),
            broker: ca.issue("kafka", "kafka"),
            client: ca.issue("tools", "tools"),
        }),
        sasl_users: vec![(SASL_USER.to_owned(), SASL_PASSWORD.to_owned())],
    };
    let mut cluster = Cluster::start_with(&security).await;
    eprintln!("SASL_SSL kafka up in {:?}", started.elapsed());
    let drainer_cert = ca.issue("drainer", "drainer");
    let scram = secured_to("SCRAM-SHA-256", SASL_PASSWORD, &ca.ca, Some(&drainer_cert));
    let setup = DrainerSetup {
        name: "drainer-secure",
        topic: TOPIC,
        top: "",
        to: &scram,
    };
    let mut drainer = cluster.start_drainer(&setup);
    let mut expected = cluster.create_tables().await;
    let mut model = Items::default();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    cluster
        .write_rounds(&mut model, &mut rng, 0..40, &mut expected)
        .await;

    // Killed and restarted logging in with PLAIN: it resumes from the topic's last message.
    let plain = secured_to("plain", SASL_PASSWORD, &ca.ca, Some(&drainer_cert));
    DrainerSetup {
        to: &plain,
        ..setup
    }
    .write_config(
        cluster.dir.path(),
        &cluster.kafka,
        cluster.tidb.status_addr(),
    );
    tokio::task::block_in_place(|| drainer.kill_and_restart(Duration::ZERO));
    cluster
        .write_rounds(&mut model, &mut rng, 40..90, &mut expected)
        .await;
    let last_ts = expected.last().unwrap().0;
    let (got, parts) =
        tokio::task::block_in_place(|| consume_until(&cluster.kafka, TOPIC, last_ts));
    eprintln!("consumed over SASL_SSL in {:?}", started.elapsed());
    assert_eq!(parts, 0);
    let log = drainer.log();
    assert_exactly_once(&got, &expected, &log);
    assert!(
        !log.contains(SASL_PASSWORD),
        "the drainer logged the password"
    );
    for mechanism in ["SCRAM-SHA-256", "PLAIN"] {
        assert!(
            log.contains(&format!("tls=true sasl=\"{mechanism}\"")),
            "no Kafka topic opened with {mechanism}:\n{log}"
        );
    }

    // Refusals, each stopping the drainer at once with what to check.
    let rogue = TestCa::new(certs.path(), "rogue-ca");
    let refusals = [
        (
            "drainer-rogue-ca",
            secured_to(
                "SCRAM-SHA-256",
                SASL_PASSWORD,
                &rogue.ca,
                Some(&drainer_cert),
            ),
            1,
            "the TLS handshake failed",
            "invalid peer certificate: UnknownIssuer",
        ),
        (
            "drainer-no-cert",
            secured_to("SCRAM-SHA-256", SASL_PASSWORD, &ca.ca, None),
            1,
            "the TLS handshake failed",
            "fatal alert",
        ),
        (
            "drainer-bad-password",
            secured_to("SCRAM-SHA-256", "wrong", &ca.ca, Some(&drainer_cert)),
            1,
            "SASL authentication failed",
            "SaslAuthenticationFailed",
        ),
        (
            "drainer-gssapi",
            // A configuration error: refused before anything starts (exit code 2).
            secured_to("GSSAPI", SASL_PASSWORD, &ca.ca, Some(&drainer_cert)),
            2,
            "kafka-sasl-mechanism \"GSSAPI\" is not supported",
            "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512",
        ),
    ];
    for (name, to, code, says, and) in &refusals {
        let (exit_code, error) = tokio::task::block_in_place(|| {
            cluster.refused(&DrainerSetup {
                name,
                topic: "refused",
                top: "",
                to,
            })
        });
        assert!(
            exit_code == Some(*code) && error.contains(says) && error.contains(and),
            "{name} stopped with {exit_code:?}: {error}"
        );
    }
    eprintln!(
        "{} messages exactly once over SASL_SSL, {} refusals, in {:?}",
        got.len(),
        refusals.len(),
        started.elapsed()
    );
}
