//! `drainer-kafka`: the drainer's `kafka` destination against Kafka's own producer, measured in
//! the same run on the same broker (the test kit's one-node Kafka 4.1.1, KRaft, on loopback):
//! - **Kafka's own rate**: `org.apache.kafka.tools.ProducerPerformance` (Kafka's producer
//!   benchmark, run with `java` on the test bed's jars) sends as many records as the drainer
//!   will, of the drainer's mean message size: `--throughput -1`, `acks=all`, its other
//!   settings Kafka's defaults; records/s and MB/s as it reports them.
//! - **The drainer**: the transactions written TiDB-style to a real release pump beforehand
//!   (`--rows-per-txn` rows of `(BIGINT PK, INT, VARCHAR(64))` each; table schema from the TiDB
//!   status stand-in, since TiDB cannot be built here), then a fresh release `drainer` with
//!   `db-type = "kafka"` and its defaults: messages/s from its first message in the topic to
//!   its last (the partition's end offset polled every 10 ms), MB/s from the message bytes read
//!   back.
//!
//! The ratio drainer ÷ Kafka (messages/s, medians) is the figure of merit (target ≥ 0.8).
//! `--runs` runs of each, alternating, a fresh topic each; medians with the spread. Run:
//!
//! ```text
//! cargo run --release -p binlog-benches --bin drainer-kafka -- --json drainer-kafka.json
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use binlog_benches::upstream::{Upstream, DDL_BINLOGS};
use binlog_benches::{median_by, print_and_save_json, Machine};
use binlog_testkit::kafka::Kafka;
use clap::Parser;
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use serde::Serialize;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "The drainer's kafka destination against Kafka's own producer")]
struct Args {
    /// Directory under which a temporary directory is made (and removed afterwards).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Upstream transactions (messages) per run, at most.
    #[arg(long, default_value_t = 20_000)]
    txns: u64,
    /// Rows per run, at most: a run has `min(txns, rows / rows-per-txn)` transactions.
    #[arg(long, default_value_t = 200_000)]
    rows: u64,
    /// Rows per upstream transaction (one message each), one configuration per value.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    rows_per_txn: Vec<u64>,
    /// Runs per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One run's rate.
#[derive(Clone, Debug, Serialize)]
struct Rate {
    messages_per_s: f64,
    mb_per_s: f64,
}

/// The results at one transaction size.
#[derive(Debug, Serialize)]
struct Point {
    rows_per_txn: u64,
    messages: u64,
    mean_message_bytes: u64,
    kafka: Vec<Rate>,
    drainer: Vec<Rate>,
    ratio_of_medians: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: Machine,
    harness: &'static str,
    points: Vec<Point>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir).context("create the bench dir")?;
    let dir = tempfile::tempdir_in(&args.dir).context("make the run dir")?;
    let machine = Machine::describe(dir.path());
    let runtime = tokio::runtime::Runtime::new().context("start tokio")?;
    let kafka = Kafka::start();
    let mut points = Vec::new();
    for &rows_per_txn in &args.rows_per_txn {
        let txns = args.txns.min(args.rows / rows_per_txn).max(1);
        let (mut own, mut drained, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..args.runs {
            let run_dir = dir.path().join(format!("t{rows_per_txn}-r{run}"));
            let topic = format!("drainer-{rows_per_txn}-{run}");
            let (rate, mean_size) =
                runtime.block_on(drainer_rate(&kafka, &topic, txns, rows_per_txn, &run_dir))?;
            drained.push(rate);
            sizes.push(mean_size);
            let topic = format!("perf-{rows_per_txn}-{run}");
            own.push(producer_performance(&kafka, &topic, txns, mean_size)?);
        }
        let median = |rates: &[Rate]| {
            median_by(rates, |r| r.messages_per_s).map_or(0.0, |r| r.messages_per_s)
        };
        points.push(Point {
            rows_per_txn,
            messages: txns,
            mean_message_bytes: sizes[0],
            ratio_of_medians: median(&drained) / median(&own),
            kafka: own,
            drainer: drained,
        });
    }
    drop(kafka);

    machine.print(dir.path());
    let harness = "drainer: release pump + release drainer (db-type kafka, defaults) into the \
                   test kit's Kafka 4.1.1; reference: org.apache.kafka.tools.ProducerPerformance \
                   --throughput -1 acks=all, same broker, same record count and size";
    println!("harness:    {harness}");
    println!(
        "drainer-kafka: one message per upstream txn of N rows of (BIGINT PK, INT, VARCHAR(64)), median of {} runs [min-max]",
        args.runs
    );
    println!(
        " rows/txn  messages  bytes/msg   Kafka msg/s               drainer msg/s             Kafka MB/s  drainer MB/s  ratio"
    );
    let spread = |rates: &[Rate]| {
        let values: Vec<f64> = rates.iter().map(|r| r.messages_per_s).collect();
        let (min, max) = values
            .iter()
            .fold((f64::MAX, 0f64), |(a, b), &v| (a.min(v), b.max(v)));
        let median = median_by(rates, |r| r.messages_per_s).map_or(0.0, |r| r.messages_per_s);
        format!("{median:>7.0} [{min:.0}-{max:.0}]")
    };
    let mb = |rates: &[Rate]| median_by(rates, |r| r.messages_per_s).map_or(0.0, |r| r.mb_per_s);
    for point in &points {
        println!(
            " {:>8}  {:>8}  {:>9}   {:<25} {:<25} {:>10.1}  {:>12.1}  {:.2}",
            point.rows_per_txn,
            point.messages,
            point.mean_message_bytes,
            spread(&point.kafka),
            spread(&point.drainer),
            mb(&point.kafka),
            mb(&point.drainer),
            point.ratio_of_medians
        );
    }
    println!("MB/s: 10^6 bytes of message values per second (the drainer's median-rate run)");
    let report = Report {
        machine,
        harness,
        points,
    };
    print_and_save_json(&report, args.json.as_deref())
}

/// The transactions through a pump and a fresh drainer into `topic`: the drainer's rate and
/// its mean message size, bytes.
async fn drainer_rate(
    kafka: &Kafka,
    topic: &str,
    txns: u64,
    rows_per_txn: u64,
    dir: &Path,
) -> Result<(Rate, u64)> {
    let upstream = Upstream::load(dir, txns * rows_per_txn, rows_per_txn).await?;
    // Watched from before the drainer starts: it may write its first messages before it
    // answers `/status`.
    let partition = Arc::new(create_topic(kafka, topic).await?);
    let total = (txns + DDL_BINLOGS) as i64;
    let watch = tokio::spawn(watch_end(Arc::clone(&partition), total));
    let drainer = upstream.start_drainer(&format!(
        "[syncer]\ndb-type = \"kafka\"\n\
         [syncer.to]\nkafka-addrs = \"{}\"\ntopic-name = \"{topic}\"\n",
        kafka.bootstrap()
    ))?;
    let watched = watch.await.context("the watcher")?;
    let (first, first_count, finished) = watched.with_context(|| drainer.log())?;
    let took = finished.duration_since(first).as_secs_f64().max(1e-3);
    drop(drainer);
    drop(upstream);
    let bytes = value_bytes(&partition, first_count, total).await?;
    let messages = (total - first_count) as u64;
    Ok((
        Rate {
            messages_per_s: messages as f64 / took,
            mb_per_s: bytes as f64 / took / 1e6,
        },
        bytes / messages.max(1),
    ))
}

/// Creates `topic` (one partition, as the drainer would) and gives its partition 0.
async fn create_topic(kafka: &Kafka, topic: &str) -> Result<PartitionClient> {
    let client = ClientBuilder::new(vec![kafka.bootstrap()])
        .build()
        .await
        .context("connect to Kafka")?;
    client
        .controller_client()
        .context("reach the controller")?
        .create_topic(topic, 1, 1, 30_000)
        .await
        .with_context(|| format!("create the topic {topic}"))?;
    client
        .partition_client(topic, 0, UnknownTopicHandling::Retry)
        .await
        .with_context(|| format!("reach partition 0 of {topic}"))
}

/// Polls the partition's end every 10 ms until it reaches `total` messages: when the first
/// message was seen, the end then, and when the last was.
async fn watch_end(partition: Arc<PartitionClient>, total: i64) -> Result<(Instant, i64, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first = None;
    loop {
        let end = partition.get_offset(OffsetAt::Latest).await.unwrap_or(0);
        if end > 0 && first.is_none() {
            first = Some((Instant::now(), end));
        }
        if end >= total {
            let (at, count) = first.context("a first message")?;
            if count >= total {
                bail!("all {total} messages appeared in one 10 ms poll: raise --txns");
            }
            return Ok((at, count, Instant::now()));
        }
        ensure!(
            Instant::now() < deadline,
            "the drainer wrote {end} of {total} messages in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The bytes of the values of the messages at offsets `from..to`.
async fn value_bytes(partition: &PartitionClient, from: i64, to: i64) -> Result<u64> {
    let (mut offset, mut bytes) = (from, 0u64);
    while offset < to {
        let (records, _) = partition
            .fetch_records(offset, 1..(8 << 20), 1_000)
            .await
            .context("read the messages back")?;
        ensure!(!records.is_empty(), "no message at offset {offset}");
        for record in records.iter().filter(|r| (offset..to).contains(&r.offset)) {
            bytes += record.record.value.as_ref().map_or(0, |v| v.len() as u64);
        }
        offset = records.iter().map(|r| r.offset + 1).max().unwrap_or(offset);
    }
    Ok(bytes)
}

/// Kafka's producer benchmark: `records` records of `size` bytes into `topic`, `acks=all`, as
/// fast as it can; its records/s and MB/s (10^6 bytes) from its summary line.
fn producer_performance(kafka: &Kafka, topic: &str, records: u64, size: u64) -> Result<Rate> {
    let mut command = kafka.tool("org.apache.kafka.tools.ProducerPerformance");
    command.args([
        "--topic",
        topic,
        "--num-records",
        &records.to_string(),
        "--record-size",
        &size.to_string(),
        "--throughput",
        "-1",
        "--producer-props",
        &format!("bootstrap.servers={}", kafka.bootstrap()),
        "acks=all",
    ]);
    let output = kafka.run(command, "");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // `N records sent, R records/sec (M MB/sec), …`: the last line, the whole run's.
    let summary = stdout
        .lines()
        .rev()
        .find(|line| line.contains("records sent"))
        .with_context(|| format!("no summary in ProducerPerformance's output:\n{stdout}"))?;
    let per_s: f64 = summary
        .split(", ")
        .nth(1)
        .and_then(|field| field.split_whitespace().next())
        .and_then(|rate| rate.parse().ok())
        .with_context(|| format!("no records/sec in {summary:?}"))?;
    Ok(Rate {
        messages_per_s: per_s,
        mb_per_s: per_s * size as f64 / 1e6,
    })
}
