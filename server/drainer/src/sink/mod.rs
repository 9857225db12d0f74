//! Sinks: where translated transactions go ([`Sink`]), one file per kind: [`file`] (alias
//! `pb`), [`mysql`] (also `tidb`), [`kafka`] and [`print`].
//!
//! A sink takes transactions in commit-TS order and acknowledges each one through its [`Ack`]
//! once the downstream holds it durably: at once, after a batch, or later and out of order
//! (parallel SQL workers, a producer's ack window). The checkpoint follows the acks (see
//! [`crate::progress`]), never what was merely handed over.

pub mod file;
pub mod kafka;
pub mod mysql;
pub mod print;

use async_trait::async_trait;

use crate::config::{DestinationKind, DrainerConfig};
use crate::metrics::DrainerMetrics;
use crate::progress::Ack;
use crate::translate::Txn;
use binlog_node::Result;

/// A downstream. Transactions arrive in strictly increasing commit TS.
#[async_trait]
pub trait Sink: Send {
    /// Takes one transaction; `ack` is completed once it is durable downstream, possibly after
    /// this returns. An error stops the drainer.
    async fn write(&mut self, txn: Txn, ack: Ack) -> Result<()>;
    /// Makes everything written so far durable and completes its acks before returning. Runs
    /// at every checkpoint tick and at the end, so a sink that batches never holds acks longer.
    async fn flush(&mut self) -> Result<()>;
    /// The commit TS of the newest transaction the downstream already holds, when it can tell;
    /// the drainer skips up to it on a restart (exactly once past the checkpoint).
    fn resume_ts(&self) -> Option<u64>;
}

/// Opens the sink `config` names (its `[syncer] db-type`) for the cluster `cluster_id`.
pub async fn open(
    config: &DrainerConfig,
    cluster_id: u64,
    metrics: &DrainerMetrics,
) -> Result<Box<dyn Sink>> {
    Ok(match config.destination()? {
        DestinationKind::File => Box::new(
            file::FileSink::open(
                &config.destination_dir(),
                config.retention(),
                config.file_payload()?,
            )
            .await?,
        ),
        DestinationKind::Print => Box::new(print::PrintSink::default()),
        DestinationKind::Sql => Box::new(
            mysql::MysqlSink::open(
                mysql::loader_config(&config.syncer, |name| std::env::var(name).ok())?,
                metrics.query_observer(),
            )
            .await?,
        ),
        DestinationKind::Kafka => Box::new(
            kafka::KafkaSink::open(kafka::producer_config(
                &config.syncer.to,
                cluster_id,
                |name| std::env::var(name).ok(),
            )?)
            .await?,
        ),
    })
}
