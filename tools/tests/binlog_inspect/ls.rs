//! `binlog-inspect ls`.

use binlog_engine::record::record_span;
use binlog_engine::segment::FOOTER_LEN;
use serde_json::Value;

use super::fixture::*;
use super::run::*;

#[test]
fn ls_lists_every_segment_with_records_ts_range_state_and_index() {
    let f = Fixture::new();
    assert!(f.ids().len() >= 5, "{:?}", f.ids());
    let expected = f.expected_ls();
    assert_eq!(
        inspect(&["ls", "--json", &f.arg()]).exits(0).json(),
        expected
    );

    // Sealed segments are trimmed right after their footer; the active one keeps its full size.
    for id in f.ids() {
        let last = *f.in_segment(id).last().unwrap();
        let data_end = last.offset() + record_span(last.payload.len()) as u64;
        let size = if id == f.active_id() {
            SEGMENT_SIZE
        } else {
            data_end + FOOTER_LEN as u64
        };
        assert_eq!(file_len(&f.seg(id)), size, "segment {id}");
    }

    let text = inspect(&["ls", &f.arg()]).ok();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["ID", "SIZE", "RECORDS", "MIN", "TS", "MAX", "TS", "STATE", "INDEX", "PROBLEMS"]
    );
    let rows: Vec<Vec<String>> = lines
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect();
    let expected_rows: Vec<Vec<String>> = expected["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            [
                "id", "size", "records", "min_ts", "max_ts", "state", "index", "problems",
            ]
            .iter()
            .map(|field| match &s[field] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect()
        })
        .collect();
    assert_eq!(rows, expected_rows);
}
