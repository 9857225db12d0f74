//! What can stop a replay, each naming where: the file and offset of a bad record, the commit
//! TS of a binlog the destination refused.

use std::path::PathBuf;

/// Why reparo stopped before the end of its range.
#[derive(Debug, thiserror::Error)]
pub enum ReparoError {
    /// The directory could not be listed, or its files are not contiguous.
    #[error("{0}")]
    Dir(#[source] binlog_node::Error),
    /// A file could not be read.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Bytes that are not a valid record where records must be.
    #[error(
        "{} is damaged at offset {offset}: no valid record (bad magic, length or CRC-32C) \
         there, and it is not the end of the newest file; the binlogs before it were replayed",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the valid records end.
        offset: u64,
    },
    /// A record holds the raw TiDB binlog rather than a `pb_binlog.Binlog`.
    #[error(
        "{}, offset {offset}: the record holds a raw TiDB binlog (commit TS {commit_ts}), not the \
         pb_binlog payload reparo replays: the drainer wrote it without table schemas (or with \
         [syncer.to] file-payload = \"tipb\"). Run the drainer with tidb-status-addr set (and \
         file-payload unset or \"pb\") to write pb_binlog files",
        path.display()
    )]
    TidbPayload {
        /// The file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// The TiDB binlog's commit TS.
        commit_ts: u64,
    },
    /// A record's payload is not a `pb_binlog.Binlog`.
    #[error("{}, offset {offset}: the payload is not a pb_binlog.Binlog: {reason}", path.display())]
    Payload {
        /// The file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// What did not decode.
        reason: String,
    },
    /// A binlog's rows or DDL could not be read.
    #[error("{}, offset {offset}: {source}", path.display())]
    Binlog {
        /// The file.
        path: PathBuf,
        /// The record's offset.
        offset: u64,
        /// What is wrong.
        source: binlog_node::Error,
    },
    /// The destination failed.
    #[error("destination: {0}")]
    Destination(#[from] binlog_loader::LoaderError),
    /// The printed output could not be written.
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
}
