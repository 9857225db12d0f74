//! `binlog-inspect stats`.

use std::collections::BTreeMap;

use binlog_engine::Kind;
use serde_json::{json, Value};

use super::fixture::*;
use super::run::*;

#[test]
fn stats_counts_kinds_sizes_ts_span_and_write_rate() {
    let f = Fixture::new();
    let stats = inspect(&["stats", "--json", &f.arg()]).exits(0).json();
    let count = |kind: Kind| f.written.iter().filter(|w| w.kind == kind).count();
    let payload_bytes: usize = f.written.iter().map(|w| w.payload.len()).sum();
    let mut sizes: BTreeMap<u64, u64> = BTreeMap::new();
    for w in &f.written {
        *sizes
            .entry((w.payload.len() as u64).next_power_of_two())
            .or_default() += 1;
    }
    let min_ts = f.written.iter().map(Written::ts).min().unwrap();
    let max_ts = f.written.iter().map(Written::ts).max().unwrap();
    let span_ms = (max_ts >> 18) - BASE_MS;
    assert_eq!(min_ts >> 18, BASE_MS);
    for (field, value) in [
        ("segments", json!(f.ids().len())),
        ("records", json!(f.written.len())),
        ("payload_bytes", json!(payload_bytes)),
        ("damaged", json!(0)),
        (
            "by_kind",
            json!({
                "prewrite": count(Kind::Prewrite),
                "commit": count(Kind::Commit),
                "rollback": count(Kind::Rollback),
                "fake": count(Kind::Fake),
            }),
        ),
        (
            "size_histogram",
            sizes
                .iter()
                .map(|(max, n)| json!({"max_size": max, "records": n}))
                .collect(),
        ),
        ("min_ts", json!(min_ts)),
        ("max_ts", json!(max_ts)),
        ("span_ms", json!(span_ms)),
    ] {
        assert_eq!(stats[field], value, "{field} in {stats:#}");
    }

    // The rate buckets are whole seconds from the first record and hold every record once.
    let rate = stats["rate"].as_array().unwrap();
    let width = rate[0]["width_ms"].as_u64().unwrap();
    assert!(
        width >= 1000 && width.is_multiple_of(1000) && width * 20 > span_ms,
        "{rate:?}"
    );
    let mut expected: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for w in &f.written {
        let bucket = expected
            .entry(((w.ts() >> 18) - BASE_MS) / width)
            .or_default();
        bucket.0 += 1;
        bucket.1 += w.payload.len() as u64;
    }
    let expected: Vec<Value> = expected
        .into_iter()
        .map(|(i, (records, bytes))| {
            json!({"start_ms": BASE_MS + i * width, "width_ms": width, "records": records, "bytes": bytes})
        })
        .collect();
    assert_eq!(rate, &expected);

    let text = inspect(&["stats", &f.arg()]).ok();
    let head = format!(
        "{} segments, {} records, {payload_bytes} payload bytes, 0 damaged stretches\nby kind:\n  \
         prewrite   {}\n  commit     {}\n  rollback   {}\n  fake       {}\npayload size:\n",
        f.ids().len(),
        f.written.len(),
        count(Kind::Prewrite),
        count(Kind::Commit),
        count(Kind::Rollback),
        count(Kind::Fake)
    );
    assert!(text.starts_with(&head), "{text}");
    let span = format!(
        "TS span: {min_ts} (2023-11-14 22:13:20.000 UTC) .. {max_ts} ({}): {}.{:03} s\n",
        utc_of(max_ts >> 18),
        span_ms / 1000,
        span_ms % 1000
    );
    assert!(text.contains(&span), "no {span:?} in\n{text}");
    assert!(
        text.contains("\nwrite rate:\n  2023-11-14 22:13:20.000 UTC  "),
        "{text}"
    );
}

/// `YYYY-MM-DD HH:MM:SS.mmm UTC` of `ms` after [`BASE_MS`] (2023-11-14 22:13:20 UTC), for
/// spans under a day.
fn utc_of(ms: u64) -> String {
    let of_day = (ms - BASE_MS) + (22 * 3600 + 13 * 60 + 20) * 1000;
    assert!(of_day < 86_400_000, "the fixture spans under a day");
    format!(
        "2023-11-14 {:02}:{:02}:{:02}.{:03} UTC",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}
