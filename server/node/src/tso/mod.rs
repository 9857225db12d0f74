//! The timestamp oracle. TSOs use PD's layout, `physical_ms << 18 | logical`.
//!
//! Every binlog's TS and every fake binlog's TS must come from one monotonic source for the
//! drainer's merge and the pumps' watermarks to be right, so both backends hand out TSs that are
//! larger than every TS handed out before, by any process: [`file::FileTso`] (the embedded
//! default, shared by every process on the host) and [`etcd::EtcdTso`] (a compare-and-swap on
//! one key of a plain etcd, selected by `pd-urls`).
//!
//! Neither is PD's TSO service, and TiDB takes its commit TSs from PD: next to a real PD, a TS of
//! ours (`max(local clock, last + 1)`) could be above commit TSs PD has yet to issue, and a
//! drainer that saw a fake binlog with that TS would skip those binlogs. So a real PD (an etcd
//! holding `/pd/cluster_id`) is refused when connecting. A client for PD's own TSO service would
//! be a third implementation of [`Tso`], and the one to use against a real PD.

pub mod etcd;
pub mod file;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::tls::Tls;
use crate::Result;

/// Bits of the logical part of a TSO.
pub const LOGICAL_BITS: u32 = 18;

/// A TSO from its physical milliseconds and logical counter.
pub fn compose_ts(physical_ms: u64, logical: u64) -> u64 {
    (physical_ms << LOGICAL_BITS) | (logical & ((1 << LOGICAL_BITS) - 1))
}

/// The physical milliseconds of a TSO.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

/// The TSO of the wall clock now, logical 0.
pub fn now_ts() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    compose_ts(ms, 0)
}

/// `ts` moved later by `duration` (physical part only).
pub fn add_duration(ts: u64, duration: Duration) -> u64 {
    ts.saturating_add((duration.as_millis() as u64) << LOGICAL_BITS)
}

/// A TSO's time as `YYYY-MM-DD hh:mm:ss.mmm UTC` (for binlogctl-style output).
pub fn format_ts_time(ts: u64) -> String {
    format_unix_ms(physical_ms(ts))
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD hh:mm:ss.mmm UTC`.
pub fn format_unix_ms(ms: u64) -> String {
    // A TSO's 46 physical bits (year 4199) are always in jiff's range (year 9999).
    match i64::try_from(ms).map(jiff::Timestamp::from_millisecond) {
        Ok(Ok(time)) => time.strftime("%Y-%m-%d %H:%M:%S.%3f UTC").to_string(),
        _ => format!("<{ms} ms after the epoch: out of range>"),
    }
}

/// A source of TSOs.
#[async_trait::async_trait]
pub trait Tso: Send + Sync {
    /// A TSO larger than every TSO this source has given to anyone before.
    async fn get_ts(&self) -> Result<u64>;
}

/// Opens the etcd TSO when `pd_urls` is non-empty (refusing a real PD; over TLS to `https://`
/// endpoints, with `tls`), else the file TSO in
/// `dir` (the registry directory).
pub async fn open(pd_urls: &[String], tls: Option<&Tls>, dir: &Path) -> Result<Arc<dyn Tso>> {
    if pd_urls.is_empty() {
        Ok(Arc::new(file::FileTso::open(dir)?))
    } else {
        Ok(Arc::new(etcd::EtcdTso::connect(pd_urls, tls).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_time_format() {
        let ts = compose_ts(1_700_000_000_123, 5);
        assert_eq!(physical_ms(ts), 1_700_000_000_123);
        assert_eq!(ts & 0x3ffff, 5);
        assert_eq!(format_ts_time(ts), "2023-11-14 22:13:20.123 UTC");
        assert_eq!(format_unix_ms(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(
            format_unix_ms(951_782_400_007),
            "2000-02-29 00:00:00.007 UTC"
        );
    }
}
