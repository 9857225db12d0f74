//! The record decoder and the segment scan on arbitrary bytes: every offset of the input is
//! decoded as a record of segment 1, then the whole input is scanned as a segment (torn tail
//! allowed, damage skipped) and inspected as `binlog-inspect` does. Errors are fine; a panic or
//! an out-of-bounds read is a bug.

#![no_main]

use std::path::Path;

use binlog_engine::inspect::inspect_segment;
use binlog_engine::record::read_record;
use binlog_engine::segment::scan_records;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for offset in 0..data.len().min(256) {
        let _ = read_record(data, offset, 1);
    }
    let path = Path::new("fuzz/00000000000000000001.seg");
    let _ = scan_records(path, data, data.len(), 1, true, true, |_| {});
    let _ = scan_records(path, data, data.len(), 1, false, false, |_| {});
    let _ = inspect_segment(Path::new("fuzz"), 1, true, data, |_| {});
    let _ = inspect_segment(Path::new("fuzz"), 1, false, data, |_| {});
});
