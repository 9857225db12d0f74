//! Where merged binlogs go: the [`Destination`] trait (ready for an SQL destination), the
//! `file` destination over [`BinlogFiles`] and the `print` destination.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::binlog_file::BinlogFiles;
use crate::config::DestinationKind;
use binlog_node::binlog_text::summary_line;
use binlog_node::proto::Binlog;
use binlog_node::{Error, Result};

/// One binlog out of the merge, in commit-TS order.
#[derive(Clone, Debug)]
pub struct MergedBinlog {
    /// Its commit TS (the merge key).
    pub commit_ts: u64,
    /// The decoded binlog.
    pub binlog: Binlog,
    /// The bytes the pump sent (the binlog encoded).
    pub payload: Vec<u8>,
}

/// A downstream. Binlogs arrive in strictly increasing commit TS, fake binlogs excluded.
pub trait Destination: Send {
    /// Applies one binlog; it may be buffered until [`Destination::flush`].
    fn write(&mut self, binlog: &MergedBinlog) -> Result<()>;
    /// Makes everything written so far durable. Runs before every checkpoint save.
    fn flush(&mut self) -> Result<()>;
    /// The commit TS of the newest binlog the destination already holds, when it can tell;
    /// the drainer skips up to it on a restart (exactly once past the checkpoint).
    fn resume_ts(&self) -> Option<u64>;
}

/// Opens the destination of `kind`.
pub fn open(
    kind: DestinationKind,
    dir: &Path,
    retention: Option<Duration>,
) -> Result<Box<dyn Destination>> {
    Ok(match kind {
        DestinationKind::File => Box::new(FileDestination(BinlogFiles::open(
            dir,
            crate::binlog_file::DEFAULT_ROLL_SIZE,
            retention,
        )?)),
        DestinationKind::Print => Box::new(PrintDestination),
    })
}

/// `file` (alias `pb`): the original's framed binlog files.
struct FileDestination(BinlogFiles);

impl Destination for FileDestination {
    fn write(&mut self, binlog: &MergedBinlog) -> Result<()> {
        self.0.write(binlog.commit_ts, &binlog.payload)
    }

    fn flush(&mut self) -> Result<()> {
        self.0.flush()
    }

    fn resume_ts(&self) -> Option<u64> {
        self.0.resume_ts()
    }
}

/// `print`: one readable line per binlog on stdout (see [`summary_line`]). It cannot tell what
/// an earlier run printed, so a restart may print the binlogs after the checkpoint again.
struct PrintDestination;

impl Destination for PrintDestination {
    fn write(&mut self, binlog: &MergedBinlog) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", summary_line(&binlog.binlog))
            .map_err(|e| Error::io("cannot print a binlog to", "stdout", e))
    }

    fn flush(&mut self) -> Result<()> {
        std::io::stdout()
            .flush()
            .map_err(|e| Error::io("cannot flush", "stdout", e))
    }

    fn resume_ts(&self) -> Option<u64> {
        None
    }
}
