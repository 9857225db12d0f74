//! The `kafka` sink: one [secondary binlog](crate::secondary_binlog) message per transaction,
//! appended to partition 0 of the topic (no key, `acks = all`), acknowledged once the broker
//! confirmed it. The checkpoint stays the savepoint file.
//!
//! `[syncer.to]`: `kafka-addrs` (comma list; default `$KAFKA_ADDRS`, else `127.0.0.1:9092`),
//! `kafka-version` (accepted, unused: the client negotiates versions), `kafka-max-messages`
//! (messages per produce request, default 1024), `kafka-max-message-size` (default 1 GiB: a
//! larger transaction stops the drainer with its commit TS and size, never skipped),
//! `kafka-client-id`, `topic-name` (default `<clusterID>_obinlog`; created with one partition
//! and the broker's replication factor when missing). `zookeeper-addrs` is refused. Ours:
//! `kafka-split-large-txn` (default false), below.
//!
//! **Security.** `[syncer.to.security]` (`ssl-ca`, `ssl-cert`, `ssl-key`, the original's) turns
//! TLS on: the brokers' certificates must be signed by `ssl-ca`, and the drainer presents
//! `ssl-cert` when set (a listener with `ssl.client.auth=required` needs it). SASL takes
//! `kafka-sasl-mechanism` (`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`, any case),
//! `kafka-sasl-user` and `kafka-sasl-password` (ours, after TiCDC's `sasl-*`); with TLS that
//! is a `SASL_SSL` listener, without it `SASL_PLAINTEXT`. The password is never logged. A
//! failed TLS handshake (a broker certificate `ssl-ca` did not sign, the drainer's certificate
//! refused or missing) or a refused user or password (SASL) stops the drainer at once with an
//! error saying which and what to check: trying again cannot help, so the log explains it
//! once instead of retrying for 30 s.
//!
//! **Large transactions.** A transaction whose message is above `kafka-max-message-size`
//! stops the drainer with its commit TS and size by default (the original failed, or in some
//! versions skipped it: data loss). With `kafka-split-large-txn = true` a DML transaction is
//! sent instead as `n` consecutive messages of the partition ([`secondary_binlog::split`]):
//! each a complete secondary binlog (type DML, the transaction's commit TS, a run of its row
//! changes, every table entry with its `column_info` and `unique_keys`) of at most
//! `kafka-max-message-size` bytes, carrying two record headers (ASCII):
//! - `tidb-binlog-part`: `<i>/<n>`, the part's 1-based index and the number of parts;
//! - `tidb-binlog-commit-ts`: the commit TS, in decimal.
//!
//! A message without them is a whole transaction. A consumer written for the original sees `n`
//! messages with one commit TS, each applicable alone; one that wants the transaction whole
//! collects the parts of a commit TS, in partition order, until `i == n`, and applies the rows
//! of parts 1..=n in that order. A DDL, or one row change that alone makes a message above the
//! limit, still stops the drainer with the error.
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
//!   When that message is part `i < n` of commit TS `X`, the resume TS is `X - 1` and
//!   the sink drops parts 1..=i when `X` comes again, sending `i + 1..=n` (the split is the
//!   same for the same transaction and limit; a different part count, or a transaction other
//!   than `X` coming first, stops the drainer rather than leave `X` torn). A transaction is
//!   acknowledged once its last part is, so the checkpoint never passes a torn one.
//! - The client's own retries are off (a retried produce whose first attempt landed would
//!   duplicate). Messages go in record batches (at most `kafka-max-messages` and
//!   [`BATCH_BYTES`] each, or one larger message), which the broker appends whole or not at
//!   all; when a produce fails, the partition's last message tells whether the batch landed
//!   (its commit TS and part are the batch's last message's, or later) before it is sent again. One drainer writes the
//!   partition, so nothing else moves it meanwhile.
//! - The residue: a request the broker still appends after the connection carrying it broke
//!   and after that check (an idempotent producer's sequence numbers would catch it). A
//!   consumer that drops messages whose commit TS is not above the previous one is exact even
//!   then: commit TSs only grow in the topic.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use prost::Message;
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;
use rskafka::BackoffConfig;

use super::Sink;
use crate::config::ToConfig;
use crate::progress::Ack;
use crate::secondary_binlog;
use crate::translate::Txn;
use binlog_node::tls::Tls;
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
/// Record header of a split transaction's part: `<index>/<count>`, 1-based.
pub const PART_HEADER: &str = "tidb-binlog-part";
/// Record header of a split transaction's part: its commit TS, decimal.
pub const COMMIT_TS_HEADER: &str = "tidb-binlog-commit-ts";

/// Text of rustls's errors when a TLS handshake fails: the broker's certificate rejected
/// (`invalid peer certificate`), the drainer's rejected by the broker (`received fatal
/// alert`), or a broker that does not speak TLS on that port (`received corrupt message`).
const TLS_FAILURES: [&str; 3] = [
    "invalid peer certificate",
    "received fatal alert",
    "received corrupt message",
];
/// Text of rskafka's error when the SASL exchange fails (an unknown user, a wrong password, a
/// mechanism the listener does not enable).
const SASL_FAILURE: &str = "Sasl handshake failed";

/// `[syncer.to] kafka-sasl-mechanism`'s values (Kafka's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN`: the password itself goes to the broker (use it with TLS).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    /// Every mechanism, in the order messages list them.
    const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ];

    /// Kafka's name of the mechanism.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism named `name`, in any case.
    fn parse(name: &str) -> Option<SaslMechanism> {
        SaslMechanism::ALL
            .into_iter()
            .find(|mechanism| mechanism.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The accepted values, for messages: `PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`.
    fn accepted() -> String {
        SaslMechanism::ALL.map(SaslMechanism::name).join(", ")
    }
}

/// SASL from `[syncer.to] kafka-sasl-*`. Its `Debug` leaves the password out: the config may
/// be printed, the password must not be.
#[derive(Clone)]
pub struct Sasl {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user.
    pub user: String,
    password: String,
}

impl Sasl {
    /// `[syncer.to]`'s SASL, `None` when no `kafka-sasl-*` key is set (empty counts as unset).
    /// A mechanism without a user and a password, a user or password without a mechanism, or
    /// an unknown mechanism is a configuration error naming the key and the accepted values.
    fn from_config(to: &ToConfig) -> Result<Option<Sasl>> {
        let set = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let (mechanism, user, password) = (
            set(&to.kafka_sasl_mechanism),
            set(&to.kafka_sasl_user),
            set(&to.kafka_sasl_password),
        );
        let invalid = |message: String| Error::InvalidConfig(format!("[syncer.to] {message}"));
        let Some(name) = mechanism else {
            let orphan = [
                ("kafka-sasl-user", user.is_some()),
                ("kafka-sasl-password", password.is_some()),
            ]
            .into_iter()
            .find_map(|(key, is_set)| is_set.then_some(key));
            return match orphan {
                None => Ok(None),
                Some(key) => Err(invalid(format!(
                    "{key} is set but kafka-sasl-mechanism is not: set it to one of {}",
                    SaslMechanism::accepted()
                ))),
            };
        };
        let mechanism = SaslMechanism::parse(&name).ok_or_else(|| {
            invalid(format!(
                "kafka-sasl-mechanism {name:?} is not supported: use one of {} (GSSAPI and \
                 OAUTHBEARER are not available in this build)",
                SaslMechanism::accepted()
            ))
        })?;
        match (user, password) {
            (Some(user), Some(password)) => Ok(Some(Sasl {
                mechanism,
                user,
                password,
            })),
            _ => Err(invalid(format!(
                "kafka-sasl-mechanism {name:?} needs kafka-sasl-user and kafka-sasl-password"
            ))),
        }
    }

    /// The client's SASL settings.
    fn client_config(&self) -> SaslConfig {
        let credentials = Credentials::new(self.user.clone(), self.password.clone());
        match self.mechanism {
            SaslMechanism::Plain => SaslConfig::Plain(credentials),
            SaslMechanism::ScramSha256 => SaslConfig::ScramSha256(credentials),
            SaslMechanism::ScramSha512 => SaslConfig::ScramSha512(credentials),
        }
    }
}

impl fmt::Debug for Sasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The producer's settings from `[syncer.to]`.
#[derive(Clone, Debug)]
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
    /// Whether a DML transaction above `max_message_size` is split into parts.
    pub split_large_txn: bool,
    /// TLS from `[syncer.to.security]`, when on; its files are read again at each attempt to
    /// open the topic, so a restart picks up a rotated certificate.
    pub tls: Option<Tls>,
    /// SASL, when on.
    pub sasl: Option<Sasl>,
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
        split_large_txn: to.kafka_split_large_txn,
        tls: to.tls()?,
        sasl: Sasl::from_config(to)?,
    })
}

/// Why an attempt to open the topic failed, and whether another attempt may succeed.
enum OpenFailure {
    /// The brokers may be starting, moving or back soon: tried again until [`RETRY_FOR`].
    Transient(Error),
    /// The brokers refused the drainer's TLS or SASL credentials: only a configuration change
    /// helps, so the drainer stops at once.
    Refused(Error),
}

impl OpenFailure {
    /// The failure of a connection `doing` something: refused when the brokers refused the
    /// drainer's credentials, else transient.
    fn new(config: &ProducerConfig, doing: &str, error: rskafka::client::error::Error) -> Self {
        let refused = refusal(&error).is_some();
        let error = broker_error(config, doing, error);
        if refused {
            OpenFailure::Refused(error)
        } else {
            OpenFailure::Transient(error)
        }
    }
}

impl From<Error> for OpenFailure {
    fn from(error: Error) -> OpenFailure {
        OpenFailure::Transient(error)
    }
}

/// Where a message stands in the partition: its transaction's commit TS and which part of it
/// it is (`part` of `parts`, 1-based; 1 of 1 for a whole transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Position {
    commit_ts: u64,
    part: u32,
    parts: u32,
}

impl Position {
    /// Whether a partition ending at `self` holds the message at `other`: messages go in
    /// commit-TS order and the parts of one commit TS in index order.
    fn holds(&self, other: &Position) -> bool {
        (self.commit_ts, self.part) >= (other.commit_ts, other.part)
    }

    /// The record headers that mark a part (none for a whole transaction).
    fn headers(&self) -> BTreeMap<String, Vec<u8>> {
        if self.parts == 1 {
            return BTreeMap::new();
        }
        BTreeMap::from([
            (
                PART_HEADER.to_owned(),
                format!("{}/{}", self.part, self.parts).into_bytes(),
            ),
            (
                COMMIT_TS_HEADER.to_owned(),
                self.commit_ts.to_string().into_bytes(),
            ),
        ])
    }
}

/// A message waiting to be produced; only a transaction's last part carries its ack.
struct Pending {
    position: Position,
    value: Vec<u8>,
    ack: Option<Ack>,
}

/// The `kafka` sink.
pub struct KafkaSink {
    config: ProducerConfig,
    partition: PartitionClient,
    pending: Vec<Pending>,
    pending_bytes: usize,
    resume_ts: Option<u64>,
    /// The partition ends with part `i < n` of this transaction: its parts 1..=i are dropped
    /// when it comes again.
    torn: Option<Position>,
}

impl KafkaSink {
    /// Connects to the brokers, creates the topic when it is missing, and reads the commit TS
    /// of its last message; retries for 30 s before giving up, except after a refusal of the
    /// drainer's TLS or SASL credentials, which stops at once.
    pub async fn open(config: ProducerConfig) -> Result<KafkaSink> {
        if config.tls.is_none()
            && config
                .sasl
                .as_ref()
                .is_some_and(|sasl| sasl.mechanism == SaslMechanism::Plain)
        {
            tracing::warn!(
                "kafka-sasl-mechanism PLAIN without [syncer.to.security]: the password crosses \
                 the network in clear"
            );
        }
        let started = Instant::now();
        loop {
            match Self::try_open(&config).await {
                Ok(sink) => return sink.check_torn(),
                Err(OpenFailure::Transient(error)) if started.elapsed() < RETRY_FOR => {
                    tracing::warn!(%error, "cannot open the Kafka topic yet: retrying");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(OpenFailure::Transient(error) | OpenFailure::Refused(error)) => {
                    return Err(error)
                }
            }
        }
    }

    async fn try_open(config: &ProducerConfig) -> std::result::Result<KafkaSink, OpenFailure> {
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
        if let Some(tls) = &config.tls {
            builder = builder.tls_config(Arc::new(tls.client_config()?));
        }
        if let Some(sasl) = &config.sasl {
            builder = builder.sasl_config(sasl.client_config());
        }
        let client = builder
            .build()
            .await
            .map_err(|e| OpenFailure::new(config, "cannot connect", e))?;
        ensure_topic(&client, config).await?;
        let partition = client
            .partition_client(config.topic.clone(), PARTITION, UnknownTopicHandling::Error)
            .await
            .map_err(|e| OpenFailure::new(config, "cannot reach partition 0's leader", e))?;
        let last = last_position(&partition, config).await?;
        let torn = last.filter(|last| last.part < last.parts);
        let resume_ts = match (last, torn) {
            (_, Some(torn)) => Some(torn.commit_ts - 1),
            (last, None) => last.map(|last| last.commit_ts),
        };
        tracing::info!(
            topic = %config.topic,
            brokers = ?config.brokers,
            tls = config.tls.is_some(),
            sasl = config.sasl.as_ref().map_or("none", |sasl| sasl.mechanism.name()),
            ?resume_ts,
            "Kafka topic opened"
        );
        Ok(KafkaSink {
            config: config.clone(),
            partition,
            pending: Vec::new(),
            pending_bytes: 0,
            resume_ts,
            torn,
        })
    }

    /// Refuses to start without splitting when the partition ends with a torn transaction:
    /// sent whole, its first parts' rows would be in the topic twice.
    fn check_torn(self) -> Result<KafkaSink> {
        let Some(torn) = self.torn else {
            return Ok(self);
        };
        if !self.config.split_large_txn {
            return Err(downstream(
                &self.config,
                format!(
                    "the partition ends with part {} of {} of the transaction at commit TS {}: \
                     set kafka-split-large-txn = true (and the kafka-max-message-size it was \
                     split with) to send the rest",
                    torn.part, torn.parts, torn.commit_ts
                ),
            ));
        }
        tracing::info!(
            topic = %self.config.topic,
            commit_ts = torn.commit_ts,
            part = torn.part,
            parts = torn.parts,
            "the partition ends inside a split transaction: its remaining parts are sent first"
        );
        Ok(self)
    }

    /// The messages of `txn`, whose whole message is `value`: that one, or its parts when it
    /// is too large and splitting is on; without the parts the partition already holds.
    fn messages(&mut self, txn: &Txn, value: Vec<u8>) -> Result<Vec<(Position, Vec<u8>)>> {
        let (commit_ts, size) = (txn.commit_ts, value.len());
        let values = if value.len() <= self.config.max_message_size {
            vec![value]
        } else if !self.config.split_large_txn {
            return Err(too_large(&self.config, commit_ts, value.len(), None));
        } else {
            let limit = self.config.max_message_size;
            secondary_binlog::split(secondary_binlog::message(txn)?, limit)
                .map_err(|reason| too_large(&self.config, commit_ts, size, Some(reason)))?
                .iter()
                .map(Message::encode_to_vec)
                .collect()
        };
        let parts = u32::try_from(values.len()).expect("fewer parts than rows");
        let mut landed = 0;
        if let Some(torn) = self.torn.take() {
            if torn.commit_ts != commit_ts || torn.parts != parts {
                return Err(downstream(
                    &self.config,
                    format!(
                        "the partition ends with part {} of {} of the transaction at commit TS \
                         {}, but the drainer now sends commit TS {commit_ts} in {parts} part(s) \
                         first: was kafka-max-message-size or the filter changed? Restore them \
                         to finish it",
                        torn.part, torn.parts, torn.commit_ts
                    ),
                ));
            }
            landed = torn.part as usize;
            tracing::info!(
                commit_ts,
                landed,
                parts,
                "skipping the parts already in the partition"
            );
        }
        if parts > 1 {
            tracing::info!(
                commit_ts,
                size,
                parts,
                "a large transaction is sent in parts"
            );
        }
        Ok(values
            .into_iter()
            .enumerate()
            .skip(landed)
            .map(|(index, value)| {
                let part = index as u32 + 1;
                (
                    Position {
                        commit_ts,
                        part,
                        parts,
                    },
                    value,
                )
            })
            .collect())
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
            batch
                .into_iter()
                .filter_map(|message| message.ack)
                .for_each(Ack::done);
        }
        Ok(())
    }

    /// Appends `batch` (one record batch) exactly once: after a failure it is sent again only
    /// when the partition's last message shows it did not land.
    async fn produce(&self, batch: &[Pending]) -> Result<()> {
        let (first, last) = match (batch.first(), batch.last()) {
            (Some(first), Some(last)) => (first.position, last.position),
            _ => return Ok(()),
        };
        let started = Instant::now();
        loop {
            let records = batch
                .iter()
                .map(|message| Record {
                    key: None,
                    value: Some(message.value.clone()),
                    headers: message.position.headers(),
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
            let retry = retriable(&error);
            let failure = broker_error(
                &self.config,
                &format!(
                    "producing the messages of commit TS {}..={} ({} bytes) failed",
                    first.commit_ts,
                    last.commit_ts,
                    batch.iter().map(|m| m.value.len()).sum::<usize>()
                ),
                error,
            );
            if started.elapsed() >= RETRY_FOR || !retry {
                return Err(failure);
            }
            tracing::warn!(topic = %self.config.topic, error = %failure, "retrying");
            tokio::time::sleep(RETRY_PAUSE).await;
            match last_position(&self.partition, &self.config).await {
                Ok(Some(at)) if at.holds(&last) => {
                    tracing::info!(topic = %self.config.topic, last = last.commit_ts, "the failed batch had landed");
                    return Ok(());
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot read the topic's last message yet");
                    // Not knowing whether the batch landed, it must not be sent again yet.
                    loop {
                        if started.elapsed() >= RETRY_FOR {
                            return Err(failure);
                        }
                        tokio::time::sleep(RETRY_PAUSE).await;
                        match last_position(&self.partition, &self.config).await {
                            Ok(Some(at)) if at.holds(&last) => return Ok(()),
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
        let messages = match self.messages(&txn, value) {
            Ok(messages) => messages,
            Err(error) => {
                // The transactions before this one still go: the topic stops right before it.
                self.send().await?;
                return Err(error);
            }
        };
        let mut ack = Some(ack);
        for (position, value) in messages {
            self.pending_bytes += value.len();
            let last_part = position.part == position.parts;
            self.pending.push(Pending {
                position,
                value,
                ack: if last_part { ack.take() } else { None },
            });
        }
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

/// The error that stops the drainer at a message above `kafka-max-message-size`, naming its
/// commit TS and size (it is never skipped silently); `unsplittable` is why splitting, which
/// is on, could not help.
fn too_large(
    config: &ProducerConfig,
    commit_ts: u64,
    size: usize,
    unsplittable: Option<String>,
) -> Error {
    let what = format!(
        "the transaction at commit TS {commit_ts} is a {size}-byte message, more than \
         kafka-max-message-size ({} bytes)",
        config.max_message_size
    );
    let remedy = "raise the limit (and the broker's message.max.bytes), or skip it on purpose \
                  with ignore-txn-commit-ts";
    downstream(
        config,
        match unsplittable {
            None => format!(
                "{what}; it is not skipped: {remedy}, or set kafka-split-large-txn = true to send \
                 it in parts"
            ),
            Some(reason) => format!("{what}, and it cannot be split ({reason}): {remedy}"),
        },
    )
}

/// Creates the topic (one partition, the broker's replication factor) unless it exists.
async fn ensure_topic(client: &Client, config: &ProducerConfig) -> Result<()> {
    let topics = client
        .list_topics()
        .await
        .map_err(|e| broker_error(config, "cannot list the topics", e))?;
    if topics.iter().any(|topic| topic.name == config.topic) {
        return Ok(());
    }
    let controller = client
        .controller_client()
        .map_err(|e| broker_error(config, "cannot reach the controller", e))?;
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
        Err(e) => Err(broker_error(config, "cannot create the topic", e)),
    }
}

/// The position of the partition's last message, `None` when it holds none.
async fn last_position(
    partition: &PartitionClient,
    config: &ProducerConfig,
) -> Result<Option<Position>> {
    let offset = |at| async move {
        partition
            .get_offset(at)
            .await
            .map_err(|e| broker_error(config, "cannot read the partition's offsets", e))
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
            broker_error(
                config,
                &format!("cannot fetch the message at offset {last}"),
                e,
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
    let not_ours = |what: String| {
        downstream(
            config,
            format!("the message at offset {last} {what}: is the topic shared?"),
        )
    };
    let value = record.record.value.as_deref().unwrap_or_default();
    let commit_ts = secondary_binlog::commit_ts(value)
        .map_err(|e| not_ours(format!("is not a secondary binlog ({e})")))?;
    let (part, parts) = match record.record.headers.get(PART_HEADER) {
        None => (1, 1),
        Some(header) => parse_part(header).ok_or_else(|| {
            not_ours(format!(
                "has a {PART_HEADER} header {:?}, not <index>/<count>",
                String::from_utf8_lossy(header)
            ))
        })?,
    };
    Ok(Some(Position {
        commit_ts,
        part,
        parts,
    }))
}

/// `<index>/<count>` with `1 <= index <= count`.
fn parse_part(header: &[u8]) -> Option<(u32, u32)> {
    let (part, parts) = std::str::from_utf8(header).ok()?.split_once('/')?;
    let (part, parts) = (part.parse().ok()?, parts.parse().ok()?);
    (1..=parts).contains(&part).then_some((part, parts))
}

/// Whether a produce error may go away (a connection, a leader change, a busy broker); others
/// (a message too large, an authorization error, a [`refusal`] of the drainer's credentials)
/// stop the drainer at once.
fn retriable(error: &rskafka::client::error::Error) -> bool {
    use rskafka::client::error::{Error as E, ProtocolError as P};
    if refusal(error).is_some() {
        return false;
    }
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

/// What the brokers refused when `error` is a refusal of the drainer's credentials (the TLS
/// handshake, or SASL authentication), with what to check; `None` for other errors. rskafka
/// keeps a failed connection's cause only as text (the failures of several brokers joined into
/// one error), so the text is matched: rustls's and rskafka's fixed wording.
fn refusal(error: &rskafka::client::error::Error) -> Option<&'static str> {
    let text = error.to_string();
    if text.contains(SASL_FAILURE) {
        Some(
            "SASL authentication failed: check kafka-sasl-mechanism, kafka-sasl-user and \
             kafka-sasl-password against the broker's users and enabled mechanisms",
        )
    } else if TLS_FAILURES.iter().any(|phrase| text.contains(phrase)) {
        Some(
            "the TLS handshake failed: check [syncer.to.security] (ssl-ca must be the CA that \
             signed the brokers' certificates, and ssl-cert/ssl-key a certificate they trust; \
             the port must be an SSL or SASL_SSL listener)",
        )
    } else {
        None
    }
}

/// An rskafka error as the drainer reports it: what failed (`doing`), a [`refusal`]'s
/// explanation when it is one, then the client's error.
fn broker_error(
    config: &ProducerConfig,
    doing: &str,
    error: rskafka::client::error::Error,
) -> Error {
    match refusal(&error) {
        Some(refused) => downstream(config, format!("{doing}: {refused}: {error}")),
        None => downstream(config, format!("{doing}: {error}")),
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
        assert!(!config.split_large_txn);
        let error = too_large(&config, 9, 101, None).to_string();
        assert!(
            error.contains("commit TS 9 is a 101-byte message")
                && error.contains("topic t at k:9092")
                && error.contains("kafka-split-large-txn = true"),
            "{error}"
        );
        to.kafka_split_large_txn = true;
        assert!(producer_config(&to, 7, env).unwrap().split_large_txn);
        to.kafka_max_message_size = Some(0);
        let error = producer_config(&to, 7, env).unwrap_err().to_string();
        assert!(error.contains("kafka-max-message-size 0"), "{error}");
    }

    #[test]
    fn sasl_keys_are_checked_at_start_and_the_password_is_never_printed() {
        let config = |to: &ToConfig| producer_config(to, 7, |_| None);
        let refused = |to: &ToConfig| config(to).unwrap_err().to_string();
        let mut to = ToConfig::default();
        let plain = config(&to).unwrap();
        assert!(plain.sasl.is_none() && plain.tls.is_none());

        to.kafka_sasl_mechanism = Some("scram-sha-256".into());
        let needs = "[syncer.to] kafka-sasl-mechanism \"scram-sha-256\" needs kafka-sasl-user and \
                     kafka-sasl-password";
        assert_eq!(refused(&to), needs);
        to.kafka_sasl_user = Some("alice".into());
        assert_eq!(refused(&to), needs);
        to.kafka_sasl_password = Some("s3cret".into());
        let sasl = config(&to).unwrap().sasl.expect("SASL on");
        assert_eq!(
            (sasl.mechanism, sasl.user.as_str()),
            (SaslMechanism::ScramSha256, "alice")
        );
        assert!(
            !format!("{:?}", config(&to).unwrap()).contains("s3cret"),
            "the password is printed"
        );
        assert!(matches!(
            sasl.client_config(),
            SaslConfig::ScramSha256(c) if c.username == "alice" && c.password == "s3cret"
        ));
        for (name, mechanism) in [
            ("PLAIN", SaslMechanism::Plain),
            (" Scram-Sha-512 ", SaslMechanism::ScramSha512),
        ] {
            to.kafka_sasl_mechanism = Some(name.into());
            assert_eq!(config(&to).unwrap().sasl.unwrap().mechanism, mechanism);
        }
        assert!(matches!(
            config(&to).unwrap().sasl.unwrap().client_config(),
            SaslConfig::ScramSha512(_)
        ));

        to.kafka_sasl_mechanism = Some("GSSAPI".into());
        let error = refused(&to);
        assert!(
            error.contains("kafka-sasl-mechanism \"GSSAPI\" is not supported")
                && error.contains("PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
            "{error}"
        );
        to.kafka_sasl_mechanism = Some(String::new());
        assert_eq!(
            refused(&to),
            "[syncer.to] kafka-sasl-user is set but kafka-sasl-mechanism is not: set it to one \
             of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"
        );
        to.kafka_sasl_user = None;
        let error = refused(&to);
        assert!(
            error.starts_with("[syncer.to] kafka-sasl-password is set but kafka-sasl-mechanism"),
            "{error}"
        );
        to.kafka_sasl_password = Some(String::new());
        assert!(config(&to).unwrap().sasl.is_none(), "empty keys are unset");
    }

    #[test]
    fn the_security_sections_files_are_read_at_start() {
        let to = ToConfig {
            security: Some(binlog_node::config::security::SecurityConfig {
                ssl_ca: Some("/nonexistent/kafka-ca.pem".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let error = producer_config(&to, 7, |_| None).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/kafka-ca.pem"), "{error}");
    }

    #[test]
    fn part_headers_round_trip_and_positions_order_parts_within_a_commit_ts() {
        let at = |commit_ts, part, parts| Position {
            commit_ts,
            part,
            parts,
        };
        assert!(at(5, 1, 1).headers().is_empty());
        let headers = at(5, 2, 3).headers();
        assert_eq!(headers[PART_HEADER], b"2/3");
        assert_eq!(headers[COMMIT_TS_HEADER], b"5");
        assert_eq!(parse_part(&headers[PART_HEADER]), Some((2, 3)));
        for bad in ["0/3", "4/3", "2", "a/b", "2/3/4", ""] {
            assert_eq!(parse_part(bad.as_bytes()), None, "{bad}");
        }
        assert!(at(5, 2, 3).holds(&at(5, 2, 3)) && at(5, 3, 3).holds(&at(5, 2, 3)));
        assert!(!at(5, 1, 3).holds(&at(5, 2, 3)) && at(6, 1, 1).holds(&at(5, 3, 3)));
        assert!(!at(4, 1, 1).holds(&at(5, 1, 3)));
    }
}
