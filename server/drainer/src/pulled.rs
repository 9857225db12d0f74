//! One binlog as a pump stream delivers it to the merge ([`PulledBinlog`]): its commit TS, taken
//! from the response's `meta`, and the payload bytes exactly as received. Nothing is decoded on
//! the way to the merge, which needs only the TS; the translation decodes what a sink needs.

use bytes::Bytes;

use crate::budget::BytePermit;

/// A pulled binlog, in its pump's commit-TS order.
#[derive(Debug)]
pub struct PulledBinlog {
    /// Its commit TS (the merge key).
    pub commit_ts: u64,
    /// The encoded tipb `binlog.Binlog` the pump sent, never copied.
    pub payload: Bytes,
    /// Its share of its pump stream's byte budget, held until the syncer takes it from the
    /// merge.
    pub permit: BytePermit,
}
