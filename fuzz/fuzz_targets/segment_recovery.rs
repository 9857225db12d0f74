//! Engine open (recovery) on arbitrary bytes: the input, split in two, becomes a segment file
//! (with a valid segment header, so the mutations reach the records) and its `.idx` file; the
//! engine then opens the data dir, in strict and in skip-corrupt mode, and reads what it
//! recovered. An error is fine; a panic, a hang or a record served with a bad CRC is a bug.

#![no_main]

use binlog_engine::index::idx_path;
use binlog_engine::segment::{encode_header, segment_path};
use binlog_engine::{Config, Engine, IoBackend, ReadableSize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| b as usize).min(data.len());
    let (segment_body, idx) = data.split_at(split.max(data.len() / 2));
    for skip_corrupt in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let log_dir = dir.path().join("log");
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let mut segment = encode_header(1).to_vec();
        segment.extend_from_slice(segment_body);
        std::fs::write(segment_path(&log_dir, 1), &segment).expect("segment");
        if !idx.is_empty() {
            std::fs::write(idx_path(&log_dir, 1), idx).expect("idx");
        }
        let config = Config {
            dir: dir.path().to_path_buf(),
            io_backend: IoBackend::Pwrite,
            segment_size: ReadableSize(64 << 10),
            max_record_size: ReadableSize(16 << 10),
            stop_write_at_available_space: ReadableSize(0),
            skip_corrupt_records: skip_corrupt,
            ..Config::default()
        };
        if let Ok(engine) = Engine::open(config) {
            let watermark = engine.max_commit_ts();
            for ts in [0, 1, 2, watermark, watermark.saturating_sub(1)] {
                let _ = engine.get(ts);
            }
            engine.close();
        }
    }
});
