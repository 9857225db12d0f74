//! The `print` sink: one readable line per transaction on stdout (see [`summary_line`]). It
//! cannot tell what an earlier run printed, so a restart may print the transactions after the
//! checkpoint again.

use async_trait::async_trait;
use tokio::io::{AsyncWriteExt, Stdout};

use super::Sink;
use crate::progress::Ack;
use crate::translate::Txn;
use binlog_node::binlog_text::summary_line;
use binlog_node::{Error, Result};

/// Prints to stdout; acknowledges at each flush of stdout.
pub struct PrintSink {
    out: Stdout,
    unflushed: Vec<Ack>,
}

impl Default for PrintSink {
    fn default() -> PrintSink {
        PrintSink {
            out: tokio::io::stdout(),
            unflushed: Vec::new(),
        }
    }
}

#[async_trait]
impl Sink for PrintSink {
    async fn write(&mut self, txn: Txn, ack: Ack) -> Result<()> {
        let mut line = summary_line(&txn.binlog);
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .await
            .map_err(|e| Error::io("cannot print a binlog to", "stdout", e))?;
        self.unflushed.push(ack);
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .await
            .map_err(|e| Error::io("cannot flush", "stdout", e))?;
        self.unflushed.drain(..).for_each(Ack::done);
        Ok(())
    }

    fn resume_ts(&self) -> Option<u64> {
        None
    }
}
