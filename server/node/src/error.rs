//! The error type of the server library.

use std::path::PathBuf;

/// Everything the server library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value or combination is not valid; the text says which and why.
    #[error("{0}")]
    InvalidConfig(String),
    /// A file operation failed.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The storage engine failed.
    #[error(transparent)]
    Engine(#[from] binlog_engine::Error),
    /// A registry entry could not be created or read; the text says which and why.
    #[error("{0}")]
    Registry(String),
    /// A binlog write was refused; the text is what the client is told.
    #[error("{0}")]
    WriteRefused(String),
    /// The TSO could not give a timestamp.
    #[error("tso: {0}")]
    Tso(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A binlog payload could not be decoded.
    #[error("{0}")]
    Decode(#[from] prost::DecodeError),
    /// TiDB's status API could not be reached or did not answer as expected.
    #[error("TiDB status API at {addr}: {reason}")]
    TidbStatus {
        /// The address(es) asked.
        addr: String,
        /// What went wrong.
        reason: String,
    },
    /// The persisted schema history could not be read or replayed.
    #[error("schema history {}, byte {offset}: {reason}", path.display())]
    SchemaStore {
        /// The file.
        path: PathBuf,
        /// Where in it.
        offset: u64,
        /// What went wrong.
        reason: String,
    },
    /// A binlog the drainer cannot turn into rows or DDL (its schema is unknown, a row does not
    /// decode); the message names the commit TS and what is missing.
    #[error("{0}")]
    Translate(String),
    /// The downstream refused or lost what the drainer wrote; the message names the commit TS
    /// and the statement.
    #[error("downstream: {0}")]
    Downstream(String),
    /// An operator's action on a stopped node was refused: it would lose binlogs or race a
    /// running node; the text says why and what to do instead.
    #[error("refused: {0}")]
    Refused(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }
}
