//! The `binlog` protobuf package (tipb's `binlog.proto`, `pump.proto`, `cistern.proto`), generated
//! by `build.rs`, and how a [`Binlog`] maps to an engine record.

#![allow(missing_docs)]

tonic::include_proto!("binlog");

use binlog_engine::record::Kind;

impl Binlog {
    /// A fake binlog: a rollback whose start and commit TS are the same non-zero TSO. Pumps
    /// write one after a silence so that drainers see the watermark move.
    pub fn fake(ts: u64) -> Binlog {
        Binlog {
            tp: BinlogType::Rollback as i32,
            start_ts: ts as i64,
            commit_ts: ts as i64,
            ..Binlog::default()
        }
    }

    /// Whether this is a fake binlog (see [`Binlog::fake`]).
    pub fn is_fake(&self) -> bool {
        self.tp == BinlogType::Rollback as i32
            && self.start_ts > 0
            && self.start_ts == self.commit_ts
    }

    /// The engine record kind this binlog is stored as, or `None` for the obsolete
    /// `PreDDL`/`PostDDL` types and unknown values.
    pub fn engine_kind(&self) -> Option<Kind> {
        match BinlogType::try_from(self.tp).ok()? {
            BinlogType::Prewrite => Some(Kind::Prewrite),
            BinlogType::Commit => Some(Kind::Commit),
            BinlogType::Rollback if self.is_fake() => Some(Kind::Fake),
            BinlogType::Rollback => Some(Kind::Rollback),
            BinlogType::PreDdl | BinlogType::PostDdl => None,
        }
    }
}

impl TableMutation {
    /// Rows this mutation deletes, in any of the three forms TiDB writes them.
    pub fn deleted_count(&self) -> usize {
        self.deleted_rows.len() + self.deleted_pks.len() + self.deleted_ids.len()
    }
}
