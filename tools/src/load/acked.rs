//! What a run remembers of each acknowledged commit ([`Acked`]), and the stable content digest
//! ([`digest`]) that `--verify`, `--acked-file` and the soak check it by.

use binlog_node::proto::Binlog;

/// What identifies a transaction's content: its prewrite value and DDL fields, hashed with
/// 64-bit FNV-1a (stable across builds, so `--acked-file` digests can be checked by another
/// program).
pub fn digest(binlog: &Binlog) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let value = binlog.prewrite_value.as_deref().unwrap_or_default();
    let query = binlog.ddl_query.as_deref().unwrap_or_default();
    let fields: [&[u8]; 5] = [
        &(value.len() as u64).to_le_bytes(),
        value,
        &(query.len() as u64).to_le_bytes(),
        query,
        &binlog.ddl_job_id.to_le_bytes(),
    ];
    fields
        .iter()
        .flat_map(|field| field.iter())
        .fold(OFFSET_BASIS, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

/// A commit written to a pump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    /// Index of the pump in the run's pump list.
    pub pump: usize,
    /// Start TS.
    pub start_ts: i64,
    /// Commit TS.
    pub commit_ts: i64,
    /// [`digest`] of the prewrite binlog.
    pub digest: u64,
}
