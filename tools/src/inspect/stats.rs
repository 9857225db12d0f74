//! `stats`: record counts by kind, a payload size histogram, the TS span, and the write rate
//! over time (from the physical part of each record's TS).

use std::collections::BTreeMap;
use std::process::ExitCode;

use binlog_engine::inspect::SegmentItem;
use binlog_engine::Kind;
use serde_json::json;

use super::target::{byte_progress, Target};
use super::{count, record_ts, TsRange};

/// Bits of a TSO below its physical milliseconds.
const TSO_LOGICAL_BITS: u32 = 18;
/// How many intervals the write rate is split into at most.
const RATE_BUCKETS: u64 = 20;
const KINDS: [Kind; 4] = [Kind::Prewrite, Kind::Commit, Kind::Rollback, Kind::Fake];

/// What `stats` adds up.
#[derive(Default)]
struct Totals {
    by_kind: [u64; 4],
    bytes: u64,
    damaged: u64,
    /// Payload sizes by power-of-two upper bound.
    sizes: BTreeMap<u64, u64>,
    /// `(physical ms of the record's TS, payload bytes)` of every record.
    writes: Vec<(u64, u64)>,
    range: TsRange,
}

impl Totals {
    fn add(&mut self, item: &SegmentItem<'_>) {
        let SegmentItem::Record { record, .. } = item else {
            self.damaged += 1;
            return;
        };
        let kind = KINDS.iter().position(|&k| k == record.kind).unwrap_or(0);
        self.by_kind[kind] += 1;
        let size = record.payload.len() as u64;
        self.bytes += size;
        *self
            .sizes
            .entry(size.max(1).next_power_of_two())
            .or_default() += 1;
        self.writes
            .push((record_ts(record) >> TSO_LOGICAL_BITS, size));
        self.range.add(record);
    }

    /// `(start ms, width ms, records, bytes)` per interval, the span cut into at most
    /// [`RATE_BUCKETS`] whole seconds.
    fn rate(&self) -> Vec<(u64, u64, u64, u64)> {
        let (Some(first), Some(last)) = (
            self.writes.iter().map(|w| w.0).min(),
            self.writes.iter().map(|w| w.0).max(),
        ) else {
            return Vec::new();
        };
        let width = ((last - first) / RATE_BUCKETS + 1).div_ceil(1000) * 1000;
        let mut buckets: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for &(ms, bytes) in &self.writes {
            let bucket = buckets.entry((ms - first) / width).or_default();
            bucket.0 += 1;
            bucket.1 += bytes;
        }
        buckets
            .into_iter()
            .map(|(i, (records, bytes))| (first + i * width, width, records, bytes))
            .collect()
    }
}

/// `stats`.
pub fn stats(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let progress = byte_progress(target.total_bytes(), !json);
    let mut totals = Totals::default();
    let reports = target.inspect_all(&progress, |_, item| totals.add(item))?;
    let records: u64 = totals.by_kind.iter().sum();
    let (min_ts, max_ts) = (totals.range.min, totals.range.max);
    let span_ms = match (min_ts, max_ts) {
        (Some(min), Some(max)) => Some((max >> TSO_LOGICAL_BITS) - (min >> TSO_LOGICAL_BITS)),
        _ => None,
    };
    let rate = totals.rate();
    if json {
        let by_kind: serde_json::Map<String, serde_json::Value> = KINDS
            .iter()
            .zip(totals.by_kind)
            .map(|(k, n)| (k.name().to_owned(), n.into()))
            .collect();
        let sizes: Vec<_> = totals
            .sizes
            .iter()
            .map(|(upto, n)| json!({"max_size": upto, "records": n}))
            .collect();
        let rate: Vec<_> = rate
            .iter()
            .map(|&(start, width, n, bytes)| {
                json!({"start_ms": start, "width_ms": width, "records": n, "bytes": bytes})
            })
            .collect();
        println!(
            "{}",
            json!({
                "segments": reports.len(),
                "records": records,
                "payload_bytes": totals.bytes,
                "damaged": totals.damaged,
                "by_kind": by_kind,
                "size_histogram": sizes,
                "min_ts": min_ts,
                "max_ts": max_ts,
                "span_ms": span_ms,
                "rate": rate,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}, {}, {} payload bytes, {}",
        count(reports.len() as u64, "segment", "segments"),
        count(records, "record", "records"),
        totals.bytes,
        count(totals.damaged, "damaged stretch", "damaged stretches")
    );
    println!("by kind:");
    for (kind, n) in KINDS.iter().zip(totals.by_kind) {
        println!("  {:<10} {n}", kind.name());
    }
    println!("payload size:");
    for (upto, n) in &totals.sizes {
        println!("  <= {upto:<10} {n:>10}");
    }
    if let (Some(min), Some(max), Some(span)) = (min_ts, max_ts, span_ms) {
        println!(
            "TS span: {min} ({}) .. {max} ({}): {:.3} s",
            binlog_node::tso::format_unix_ms(min >> TSO_LOGICAL_BITS),
            binlog_node::tso::format_unix_ms(max >> TSO_LOGICAL_BITS),
            span as f64 / 1000.0
        );
        println!("write rate:");
        for (start, width, n, bytes) in rate {
            let seconds = width as f64 / 1000.0;
            println!(
                "  {}  {n:>8} records {:>10.1} records/s {:>12.0} bytes/s",
                binlog_node::tso::format_unix_ms(start),
                n as f64 / seconds,
                bytes as f64 / seconds
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
