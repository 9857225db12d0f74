//! The `file` sink (alias `pb`): transactions appended to [`BinlogFiles`], as the original's
//! `pb_binlog.Binlog` ([`binlog_archive::pb_binlog`], from the translated rows) or as the payload bytes
//! the pump sent ([`FilePayload`]), by a writer on the blocking pool so disk waits never hold
//! an async worker.
//!
//! Records are acknowledged after the fsync of a flush (each checkpoint tick), never when merely
//! buffered. Exactly once: [`FileSink::resume_ts`] is the commit TS of the last record the files
//! held at open, so a restart from an older checkpoint skips what they already hold.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Sink;
use crate::blocking::blocking;
use crate::progress::Ack;
use crate::translate::Txn;
use binlog_archive::binlog_file::{BinlogFiles, FilePayload, DEFAULT_ROLL_SIZE};
use binlog_archive::pb_binlog;
use binlog_node::{Error, Result};

/// A request to the writer.
enum Op {
    /// Append a record; ack it at the next flush.
    Write {
        commit_ts: u64,
        payload: Bytes,
        ack: Ack,
    },
    /// Make every appended record durable, ack them, answer.
    Flush(oneshot::Sender<()>),
}

/// The `file` sink: a handle on its writer.
pub struct FileSink {
    ops: mpsc::UnboundedSender<Op>,
    /// The writer; it ends only when the sink is dropped or on an error, which it returns.
    writer: Option<JoinHandle<Result<()>>>,
    dir: PathBuf,
    payload: FilePayload,
    resume_ts: Option<u64>,
}

impl FileSink {
    /// Opens the binlog files of `dir` for `payload` records (see [`BinlogFiles::open`]) and
    /// starts the writer.
    pub async fn open(
        dir: &Path,
        retention: Option<Duration>,
        payload: FilePayload,
    ) -> Result<FileSink> {
        let opening = dir.to_path_buf();
        let files =
            blocking(move || BinlogFiles::open(&opening, DEFAULT_ROLL_SIZE, retention, payload))
                .await?;
        let resume_ts = files.resume_ts();
        let (ops, requests) = mpsc::unbounded_channel();
        let writer = tokio::task::spawn_blocking(move || write_loop(files, requests));
        Ok(FileSink {
            ops,
            writer: Some(writer),
            dir: dir.to_path_buf(),
            payload,
            resume_ts,
        })
    }

    /// The writer's error, once it has stopped (it stops only on one); reported once, later
    /// calls say the writer is gone.
    async fn writer_error(&mut self) -> Error {
        let Some(writer) = self.writer.take() else {
            return Error::io(
                "the writer stopped after an earlier error in",
                &self.dir,
                std::io::ErrorKind::BrokenPipe.into(),
            );
        };
        match writer.await {
            Ok(Err(error)) => error,
            Ok(Ok(())) => unreachable!("the writer runs while the sink holds its channel"),
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

#[async_trait]
impl Sink for FileSink {
    async fn write(&mut self, txn: Txn, ack: Ack) -> Result<()> {
        let payload = match self.payload {
            FilePayload::PbBinlog => Bytes::from(pb_binlog_payload(&txn)?),
            FilePayload::Tipb => txn.payload,
        };
        let op = Op::Write {
            commit_ts: txn.commit_ts,
            payload,
            ack,
        };
        if self.ops.send(op).is_err() {
            return Err(self.writer_error().await);
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        let (done, flushed) = oneshot::channel();
        if self.ops.send(Op::Flush(done)).is_err() || flushed.await.is_err() {
            return Err(self.writer_error().await);
        }
        Ok(())
    }

    fn resume_ts(&self) -> Option<u64> {
        self.resume_ts
    }
}

/// `txn` as the original's `pb_binlog` payload, from its translated rows and their schemas.
fn pb_binlog_payload(txn: &Txn) -> Result<Vec<u8>> {
    let Some(load) = &txn.load else {
        return Err(Error::Translate(format!(
            "binlog at commit TS {}: no rows or DDL were translated for the pb_binlog payload",
            txn.commit_ts
        )));
    };
    pb_binlog::encode(load, |rows| {
        txn.tables
            .iter()
            .find(|table| std::sync::Arc::ptr_eq(&table.rows, rows))
            .map(|table| table.schema.clone())
    })
}

/// The writer: applies the requests in order until the sink is dropped or a write fails.
fn write_loop(mut files: BinlogFiles, mut requests: mpsc::UnboundedReceiver<Op>) -> Result<()> {
    let mut unflushed = Vec::new();
    while let Some(op) = requests.blocking_recv() {
        match op {
            Op::Write {
                commit_ts,
                payload,
                ack,
            } => {
                files.write(commit_ts, &payload)?;
                unflushed.push(ack);
            }
            Op::Flush(done) => {
                files.flush()?;
                unflushed.drain(..).for_each(Ack::done);
                // The syncer may have stopped waiting (a shutdown): nothing to tell then.
                let _ = done.send(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::budget::ByteBudget;
    use crate::progress::Progress;
    use binlog_archive::binlog_file::{decode_records, list_files};
    use binlog_node::proto::{Binlog, BinlogType};

    fn txn(commit_ts: u64) -> Txn {
        let binlog = Binlog {
            tp: BinlogType::Commit as i32,
            start_ts: commit_ts as i64 - 1,
            commit_ts: commit_ts as i64,
            ..Default::default()
        };
        Txn {
            commit_ts,
            payload: Bytes::from(binlog.encode_to_vec()),
            binlog,
            load: None,
            tables: Vec::new(),
        }
    }

    #[tokio::test]
    async fn acks_only_after_the_fsync_and_resumes_after_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let budget = ByteBudget::new(1 << 20);
        let mut progress = Progress::new(0);
        let mut sink = FileSink::open(dir.path(), None, FilePayload::Tipb)
            .await
            .unwrap();
        assert_eq!(sink.resume_ts(), None);
        for ts in 1..=3 {
            let txn = txn(ts);
            let ack = progress.hand(ts, budget.acquire(txn.payload.len()).await);
            sink.write(txn, ack).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        progress.drain_acks();
        assert_eq!(progress.checkpoint(), 0, "written is not durable");
        sink.flush().await.unwrap();
        progress.drain_acks();
        assert_eq!(progress.checkpoint(), 3);
        drop(sink);

        let mut payloads = Vec::new();
        for (_, path) in list_files(dir.path()).unwrap() {
            let (records, _) = decode_records(&std::fs::read(path).unwrap());
            payloads.extend(records.into_iter().map(|r| r.payload));
        }
        let expected: Vec<Vec<u8>> = (1..=3).map(|ts| txn(ts).payload.to_vec()).collect();
        assert_eq!(payloads, expected, "the payloads as received");
        // The writer lets go of the directory lock once the sink is dropped.
        let reopened = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match FileSink::open(dir.path(), None, FilePayload::Tipb).await {
                    Ok(sink) => return sink,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(reopened.resume_ts(), Some(3));
    }
}
