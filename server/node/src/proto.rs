//! The `binlog` protobuf package (tipb's `binlog.proto`, `pump.proto`, `cistern.proto`), generated
//! by `build.rs`, and how a [`Binlog`] maps to an engine record ([`BinlogHead`]).

#![allow(missing_docs)]

tonic::include_proto!("binlog");

mod head;

pub use head::BinlogHead;

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
        self.head().is_fake()
    }

    /// The engine record kind this binlog is stored as (see [`BinlogHead::engine_kind`]).
    pub fn engine_kind(&self) -> Option<binlog_engine::record::Kind> {
        self.head().engine_kind()
    }
}

impl TableMutation {
    /// Rows this mutation deletes, in any of the three forms TiDB writes them.
    pub fn deleted_count(&self) -> usize {
        self.deleted_rows.len() + self.deleted_pks.len() + self.deleted_ids.len()
    }
}
