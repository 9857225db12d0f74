//! The translation stage between the merge and the sink: a [`PulledBinlog`] becomes what a sink
//! consumes, a [`Txn`], or is [`Translated::Skip`]ped (a fake binlog, or one listed in
//! `ignore-txn-commit-ts`), which only moves the checkpoint.
//!
//! Today a transaction is the decoded tipb binlog next to its payload bytes: there is no schema
//! history yet to turn rows into named, typed columns (DESIGN §4b). This is the one place where
//! a binlog is decoded in full; the `file` sink still writes the payload as received.

use std::collections::HashSet;

use bytes::Bytes;
use prost::Message;

use crate::pulled::PulledBinlog;
use crate::Drainer;
use binlog_node::proto::Binlog;
use binlog_node::Result;

/// A transaction for a sink, in commit-TS order.
#[derive(Clone, Debug)]
pub struct Txn {
    /// Its commit TS.
    pub commit_ts: u64,
    /// The encoded binlog as the pump sent it (what the `file` sink writes).
    pub payload: Bytes,
    /// The decoded binlog (what `print` shows and the metrics count rows from).
    pub binlog: Binlog,
}

/// What the translation makes of one binlog.
#[derive(Debug)]
pub enum Translated {
    /// A transaction for the sink.
    Txn(Txn),
    /// Nothing for the sink; the checkpoint still moves past it.
    Skip,
}

/// The translation stage.
#[derive(Debug, Default)]
pub struct Translator {
    /// Commit TSs never to write (`[syncer] ignore-txn-commit-ts`).
    ignored: HashSet<u64>,
}

impl Translator {
    /// A translator skipping the binlogs committed at `ignored`.
    pub fn new(ignored: HashSet<u64>) -> Translator {
        Translator { ignored }
    }

    /// Translates one merged binlog. A payload that does not decode is an error (the drainer
    /// stops, as the original's): skipping it would lose a transaction.
    pub fn translate(&self, drainer: &Drainer, binlog: &PulledBinlog) -> Result<Translated> {
        let decoded = match Binlog::decode(&binlog.payload[..]) {
            Ok(decoded) => decoded,
            Err(error) => {
                drainer.metrics.unmarshal_errors.inc();
                tracing::error!(commit_ts = binlog.commit_ts, %error, "a pulled binlog does not decode");
                return Err(error.into());
            }
        };
        if decoded.is_fake() {
            return Ok(Translated::Skip);
        }
        if self.ignored.contains(&binlog.commit_ts) {
            tracing::info!(
                commit_ts = binlog.commit_ts,
                "skipped: listed in ignore-txn-commit-ts"
            );
            return Ok(Translated::Skip);
        }
        Ok(Translated::Txn(Txn {
            commit_ts: binlog.commit_ts,
            payload: binlog.payload.clone(),
            binlog: decoded,
        }))
    }
}
