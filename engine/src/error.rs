//! The engine's one error type.

use std::io;
use std::path::PathBuf;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed; `context` says which and on what.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The configuration does not validate.
    #[error("invalid engine config: {0}")]
    InvalidConfig(String),

    /// Another process (or another engine in this one) holds the data dir.
    #[error("data dir {dir} is locked by another process{holder}: only one pump may use a data dir at a time")]
    Locked {
        /// The data dir.
        dir: PathBuf,
        /// `" (pid N)"` when the holder wrote its pid, else empty.
        holder: String,
    },

    /// Stored bytes are damaged somewhere other than the tail of the active segment.
    #[error("corrupt {file} at offset {offset}: {reason}")]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the first damage found in it.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },

    /// A payload is larger than `max-record-size`.
    #[error("binlog of {size} bytes exceeds max-record-size of {max} bytes")]
    RecordTooLarge {
        /// Payload size.
        size: usize,
        /// The configured limit.
        max: usize,
    },

    /// Free space under the data dir is below `stop-write-at-available-space`.
    #[error("no available space, available: {available}, StopWriteAtAvailableSpace: {required}")]
    NoSpace {
        /// Free bytes available to the pump.
        available: u64,
        /// The configured threshold.
        required: u64,
    },

    /// A pull started below the GC point: the binlogs it needs may be gone.
    #[error("binlogs at or below commit TS {gc_ts} have been purged by GC; cannot pull from {requested}")]
    Purged {
        /// Where the pull asked to start (exclusive).
        requested: u64,
        /// The GC point.
        gc_ts: u64,
    },

    /// An earlier `fdatasync` failed; the writer accepts nothing until the engine is reopened.
    #[error(
        "storage writer stopped after a failed fdatasync ({0}); reopen the engine to continue"
    )]
    WriterFailed(String),

    /// The engine is closed.
    #[error("storage engine is closed")]
    Closed,
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A copy of `error` for each caller of a failed group (`io::Error` is not `Clone`).
pub(crate) fn copy_io_error(error: &io::Error) -> io::Error {
    match error.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(error.kind(), error.to_string()),
    }
}

/// Attaches context to an `io::Result`.
pub(crate) trait IoContext<T> {
    /// Wraps the error with `context()`, computed only on failure.
    fn context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context().into(),
            source,
        })
    }
}
