//! The `kafka` sink: one [secondary binlog](crate::secondary_binlog) message per transaction,
//! appended to partition 0 of the topic (no key, `acks = all`), acknowledged once the broker
//! confirmed it. The checkpoint stays the savepoint file.
//!
//! `[syncer.to]`: `kafka-addrs` (comma list; default `$KAFKA_ADDRS`, else `127.0.0.1:9092`),
//! `kafka-version` (accepted, unused: the client negotiates versions), `kafka-max-messages`
//! (messages per produce request, default 1024), `kafka-max-message-size` (default 1 GiB: a
//! larger transaction stops the drainer with its commit TS and size, never skipped),
//! `kafka-client-id`, `topic-name` (default `<clusterID>_obinlog`; created with one partition
//! and the broker's replication factor when missing). `zookeeper-addrs` is refused.
//!
//! **Client: `rskafka`** (pure Rust, maintained by InfluxData, async on tokio). `rdkafka` 0.39
//! wraps librdkafka 2.12.1: its `dynamic-linking` feature asks pkg-config for librdkafka at
//! least 2.12.1, and Debian 12's `librdkafka-dev` is 2.0.2, so it cannot be used without going
//! back to an old `rdkafka`; the bundled build compiles librdkafka's C sources (its configure
//! and make, or cmake) into every clean build of the drainer, on a machine of 2 cores shared
//! by builders (not measured here). `rskafka` is Rust from crates.io and nothing else (no
//! system package, no C toolchain step). It has no idempotent producer, so exactly once is
//! ours:
//! - On open, [`KafkaSink::resume_ts`] is the commit TS of the partition's last message: a
//!   restart from an older checkpoint skips what the topic already holds (as the `file` sink).
//! - The client's own retries are off (a retried produce whose first attempt landed would
//!   duplicate). Messages go in record batches (at most `kafka-max-messages` and
//!   [`BATCH_BYTES`] each, or one larger message), which the broker appends whole or not at
//!   all; when a produce fails, the partition's last message tells whether the batch landed
//!   (its commit TS is the batch's last one) before it is sent again. One drainer writes the
//!   partition, so nothing else moves it meanwhile.
//! - The residue: a request the broker still appends after the connection carrying it broke
//!   and after that check (an idempotent producer's sequence numbers would catch it). A
//!   consumer that drops messages whose commit TS is not above the previous one is exact even
//!   then: commit TSs only grow in the topic.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use rskafka::BackoffConfig;

use super::Sink;
use crate::config::ToConfig;
use crate::progress::Ack;
use crate::secondary_binlog;
use crate::translate::Txn;
use binlog_node::{Error, Result};

/// Default of `[syncer.to] kafka-addrs` without `$KAFKA_ADDRS`.
const DEFAULT_KAFKA_ADDRS: &str = "127.0.0.1:9092";
/// Default of `[syncer.to] kafka-max-messages`.
const DEFAULT_MAX_MESSAGES: i64 = 1024;
/// Default of `[syncer.to] kafka-max-message-size`.
const DEFAULT_MAX_MESSAGE_SIZE: i64 = 1 << 30;
/// The partition written.
const PARTITION: i32 = 0;
/// Largest record batch of several messages: below the broker's default `message.max.bytes`
/// (1 MiB), which limits a whole batch.
pub const BATCH_BYTES: usize = 900 << 10;
/// How long a failing broker is retried before the drainer stops (the original's 30 s
/// without an ack).
const RETRY_FOR: Duration = Duration::from_secs(30);
/// Pause between retries (the original's 500 ms backoff).
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How long the broker may hold a fetch of the last message.
const FETCH_WAIT_MS: i32 = 5_000;

/// The producer's settings from `[syncer.to]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Bootstrap brokers, `host:port`.
    pub brokers: Vec<String>,
    /// The topic.
    pub topic: String,
    /// Client ID, when set.
    pub client_id: Option<String>,
    /// Messages per produce request.
    pub max_messages: usize,
    /// Largest message, bytes.
    pub max_message_size: usize,
}

/// The producer's settings from `[syncer.to]` for the cluster `cluster_id`, reading
/// `$KAFKA_ADDRS` through `env`.
pub fn producer_config(
    to: &ToConfig,
    cluster_id: u64,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ProducerConfig> {
    let invalid = |message: String| Error::InvalidConfig(format!("[syncer.to] {message}"));
    if to.zookeeper_addrs.as_deref().is_some_and(|z| !z.is_empty()) {
        return Err(invalid(
            "zookeeper-addrs is not supported by this build (brokers are not discovered \
             through ZooKeeper): list the brokers in kafka-addrs"
                .into(),
        ));
    }
    let addrs = to
        .kafka_addrs
        .clone()
        .filter(|a| !a.is_empty())
        .or_else(|| env("KAFKA_ADDRS").filter(|a| !a.is_empty()))
        .unwrap_or_else(|| DEFAULT_KAFKA_ADDRS.into());
    let brokers: Vec<String> = addrs
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = brokers.iter().find(|b| !b.contains(':')) {
        return Err(invalid(format!(
            "kafka-addrs {addrs:?}: {bad:?} is not host:port"
        )));
    }
    let max_messages = to.kafka_max_messages.unwrap_or(DEFAULT_MAX_MESSAGES);
    if max_messages <= 0 {
        return Err(invalid(format!(
            "kafka-max-messages {max_messages} must be greater than 0"
        )));
    }
    let max_message_size = to
        .kafka_max_message_size
        .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
    if max_message_size <= 0 || max_message_size > i64::from(i32::MAX) {
        return Err(invalid(format!(
            "kafka-max-message-size {max_message_size} must be between 1 and {} (Kafka's limit)",
            i32::MAX
        )));
    }
    let topic = match to.topic_name.as_deref() {
        None | Some("") => format!("{cluster_id}_obinlog"),
        Some(topic) => topic.to_owned(),
    };
    Ok(ProducerConfig {
        brokers,
        topic,
        client_id: to.kafka_client_id.clone().filter(|c| !c.is_empty()),
        max_messages: max_messages as usize,
        max_message_size: max_message_size as usize,
    })
}

/// A message waiting to be produced.
struct Pending {
    commit_ts: u64,
    value: Vec<u8>,
    ack: Ack,
}

/// The `kafka` sink.
pub struct KafkaSink {
    config: ProducerConfig,
    partition: PartitionClient,
    pending: Vec<Pending>,
    pending_bytes: usize,
    resume_ts: Option<u64>,
}

impl KafkaSink {
    /// Connects to the brokers, creates the topic when it is missing, and reads the commit TS
    /// of its last message; retries for 30 s before giving up.
    pub async fn open(config: ProducerConfig) -> Result<KafkaSink> {
        let started = Instant::now();
        loop {
            match Self::try_open(&config).await {
                Ok(sink) => return Ok(sink),
                Err(error) if started.elapsed() < RETRY_FOR => {
                    tracing::warn!(%error, "cannot open the Kafka topic yet: retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn try_open(config: &ProducerConfig) -> Result<KafkaSink> {
        let broker_error = |doing: &str, error: rskafka::client::error::Error| {
            downstream(config, format!("{doing}: {error}"))
        };
        let mut builder = ClientBuilder::new(config.brokers.clone())
            .max_message_size(config.max_message_size.saturating_add(1 << 20))
            // No retries inside the client: see the module doc.
            .backoff_config(BackoffConfig {
                deadline: Some(Duration::ZERO),
                ..BackoffConfig::default()
            });
        if let Some(id) = &config.client_id {
            builder = builder.client_id(id.as_str());
        }
        let client = builder
            .build()
            .await
            .map_err(|e| broker_error("cannot connect", e))?;
        ensure_topic(&client, config).await?;
        let partition = client
            .partition_client(config.topic.clone(), PARTITION, UnknownTopicHandling::Error)
            .await
            .map_err(|e| broker_error("cannot reach partition 0's leader", e))?;
        let resume_ts = last_commit_ts(&partition, config).await?;
        tracing::info!(topic = %config.topic, brokers = ?config.brokers, ?resume_ts, "Kafka topic opened");
        Ok(KafkaSink {
            config: config.clone(),
            partition,
            pending: Vec::new(),
            pending_bytes: 0,
            resume_ts,
        })
    }

    /// Produces every pending message, batch by batch, and acknowledges them.
    async fn send(&mut self) -> Result<()> {
        let mut pending = std::mem::take(&mut self.pending).into_iter().peekable();
        self.pending_bytes = 0;
        while pending.peek().is_some() {
            let mut batch: Vec<Pending> = Vec::new();
            let mut bytes = 0;
            while let Some(next) = pending.peek() {
                let full = batch.len() >= self.config.max_messages
                    || (!batch.is_empty() && bytes + next.value.len() > BATCH_BYTES);
                if full {
                    break;
                }
                bytes += next.value.len();
                batch.extend(pending.next());
            }
            self.produce(&batch).await?;
            batch.into_iter().for_each(|message| message.ack.done());
        }
        Ok(())
    }

    /// Appends `batch` (one record batch) exactly once: after a failure it is sent again only
    /// when the partition's last message shows it did not land.
    async fn produce(&self, batch: &[Pending]) -> Result<()> {
        let (first, last) = match (batch.first(), batch.last()) {
            (Some(first), Some(last)) => (first.commit_ts, last.commit_ts),
            _ => return Ok(()),
        };
        let started = Instant::now();
        loop {
            let records = batch
                .iter()
                .map(|message| Record {
                    key: None,
                    value: Some(message.value.clone()),
                    headers: Default::default(),
                    timestamp: chrono::Utc::now(),
                })
                .collect();
            let error = match self
                .partition
                .produce(records, Compression::NoCompression)
                .await
            {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let failure = format!(
                "producing the messages of commit TS {first}..={last} ({} bytes) failed: {error}",
                batch.iter().map(|m| m.value.len()).sum::<usize>()
            );
            if started.elapsed() >= RETRY_FOR || !retriable(&error) {
                return Err(downstream(&self.config, failure));
            }
            tracing::warn!(topic = %self.config.topic, error = %failure, "retrying");
            tokio::time::sleep(RETRY_PAUSE).await;
            match last_commit_ts(&self.partition, &self.config).await {
                Ok(Some(ts)) if ts >= last => {
                    tracing::info!(topic = %self.config.topic, last, "the failed batch had landed");
                    return Ok(());
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot read the topic's last message yet");
                    // Not knowing whether the batch landed, it must not be sent again yet.
                    loop {
                        if started.elapsed() >= RETRY_FOR {
                            return Err(downstream(&self.config, failure));
                        }
                        tokio::time::sleep(RETRY_PAUSE).await;
                        match last_commit_ts(&self.partition, &self.config).await {
                            Ok(Some(ts)) if ts >= last => return Ok(()),
                            Ok(_) => break,
                            Err(_) => continue,
                        }
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Sink for KafkaSink {
    async fn write(&mut self, txn: Txn, ack: Ack) -> Result<()> {
        let value = secondary_binlog::encode(&txn)?;
        check_size(&self.config, txn.commit_ts, value.len())?;
        self.pending_bytes += value.len();
        self.pending.push(Pending {
            commit_ts: txn.commit_ts,
            value,
            ack,
        });
        if self.pending.len() >= self.config.max_messages || self.pending_bytes >= BATCH_BYTES {
            self.send().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        self.send().await
    }

    fn resume_ts(&self) -> Option<u64> {
        self.resume_ts
    }
}

/// Refuses a message above `kafka-max-message-size`, naming its commit TS and size: it is
/// never skipped silently.
fn check_size(config: &ProducerConfig, commit_ts: u64, size: usize) -> Result<()> {
    if size <= config.max_message_size {
        return Ok(());
    }
    Err(downstream(
        config,
        format!(
            "the transaction at commit TS {commit_ts} is a {size}-byte message, more than \
             kafka-max-message-size ({} bytes); it is not skipped: raise the limit (and the \
             broker's message.max.bytes), or skip it on purpose with ignore-txn-commit-ts",
            config.max_message_size
        ),
    ))
}

/// Creates the topic (one partition, the broker's replication factor) unless it exists.
async fn ensure_topic(client: &Client, config: &ProducerConfig) -> Result<()> {
    let topics = client
        .list_topics()
        .await
        .map_err(|e| downstream(config, format!("cannot list the topics: {e}")))?;
    if topics.iter().any(|topic| topic.name == config.topic) {
        return Ok(());
    }
    let controller = client
        .controller_client()
        .map_err(|e| downstream(config, format!("cannot reach the controller: {e}")))?;
    match controller
        .create_topic(config.topic.clone(), 1, -1, 30_000)
        .await
    {
        Ok(()) => {
            tracing::info!(topic = %config.topic, "topic created");
            Ok(())
        }
        Err(rskafka::client::error::Error::ServerError {
            protocol_error: rskafka::client::error::ProtocolError::TopicAlreadyExists,
            ..
        }) => Ok(()),
        Err(e) => Err(downstream(config, format!("cannot create the topic: {e}"))),
    }
}

/// The commit TS of the partition's last message, `None` when it holds none.
async fn last_commit_ts(
    partition: &PartitionClient,
    config: &ProducerConfig,
) -> Result<Option<u64>> {
    let offset = |at| async move {
        partition
            .get_offset(at)
            .await
            .map_err(|e| downstream(config, format!("cannot read the partition's offsets: {e}")))
    };
    let (low, high) = (
        offset(OffsetAt::Earliest).await?,
        offset(OffsetAt::Latest).await?,
    );
    if high <= low {
        return Ok(None);
    }
    let last = high - 1;
    let max_bytes =
        i32::try_from(config.max_message_size.saturating_add(1 << 20)).unwrap_or(i32::MAX);
    let (records, _) = partition
        .fetch_records(last, 1..max_bytes, FETCH_WAIT_MS)
        .await
        .map_err(|e| {
            downstream(
                config,
                format!("cannot fetch the message at offset {last}: {e}"),
            )
        })?;
    let record = records
        .into_iter()
        .find(|record| record.offset == last)
        .ok_or_else(|| {
            downstream(
                config,
                format!("the broker did not return the message at offset {last}"),
            )
        })?;
    let value = record.record.value.unwrap_or_default();
    let commit_ts = secondary_binlog::commit_ts(&value).map_err(|e| {
        downstream(
            config,
            format!("the message at offset {last} is not a secondary binlog ({e}): is the topic shared?"),
        )
    })?;
    Ok(Some(commit_ts))
}

/// Whether a produce error may go away (a connection, a leader change, a busy broker); others
/// (a message too large, an authorization error) stop the drainer at once.
fn retriable(error: &rskafka::client::error::Error) -> bool {
    use rskafka::client::error::{Error as E, ProtocolError as P};
    match error {
        E::Connection(_) | E::Request(_) | E::RetryFailed(_) => true,
        E::ServerError { protocol_error, .. } => matches!(
            protocol_error,
            P::NotLeaderOrFollower
                | P::LeaderNotAvailable
                | P::RequestTimedOut
                | P::NetworkException
                | P::NotEnoughReplicas
                | P::NotEnoughReplicasAfterAppend
                | P::UnknownTopicOrPartition
        ),
        _ => false,
    }
}

/// A broker error as the drainer reports it: the topic and brokers, then what failed.
fn downstream(config: &ProducerConfig, what: String) -> Error {
    Error::Downstream(format!(
        "kafka topic {} at {}: {what}",
        config.topic,
        config.brokers.join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_originals_keys_and_defaults() {
        let mut to = ToConfig::default();
        let config = producer_config(&to, 7, |_| None).unwrap();
        assert_eq!(config.brokers, ["127.0.0.1:9092"]);
        assert_eq!(config.topic, "7_obinlog");
        assert_eq!(
            (config.max_messages, config.max_message_size),
            (1024, 1 << 30)
        );
        let env = |name: &str| (name == "KAFKA_ADDRS").then(|| "a:1, b:2".to_owned());
        assert_eq!(
            producer_config(&to, 7, env).unwrap().brokers,
            ["a:1", "b:2"]
        );

        to.kafka_addrs = Some("k:9092".into());
        to.topic_name = Some("t".into());
        to.kafka_max_messages = Some(3);
        to.kafka_client_id = Some("me".into());
        to.kafka_version = Some("2.0.0".into());
        let config = producer_config(&to, 7, env).unwrap();
        assert_eq!(
            (config.brokers[0].as_str(), config.topic.as_str()),
            ("k:9092", "t")
        );
        assert_eq!(
            (config.max_messages, config.client_id.as_deref()),
            (3, Some("me"))
        );

        to.zookeeper_addrs = Some("z:2181".into());
        let error = producer_config(&to, 7, env).unwrap_err().to_string();
        assert!(error.contains("zookeeper-addrs"), "{error}");
        to.zookeeper_addrs = None;
        to.kafka_max_message_size = Some(100);
        let config = producer_config(&to, 7, env).unwrap();
        assert!(check_size(&config, 9, 100).is_ok());
        let error = check_size(&config, 9, 101).unwrap_err().to_string();
        assert!(
            error.contains("commit TS 9 is a 101-byte message")
                && error.contains("topic t at k:9092"),
            "{error}"
        );
        to.kafka_max_message_size = Some(0);
        let error = producer_config(&to, 7, env).unwrap_err().to_string();
        assert!(error.contains("kafka-max-message-size 0"), "{error}");
    }
}
