//! A `WriteBinlog` payload through the pump: protobuf decode, every text and JSON rendering
//! `/debug/binlog` and `binlog-inspect` produce, then `Pump::write_binlog` into a real engine
//! (validation, the record kind, the append; `sync-log` off for speed). An accepted binlog must
//! read back by its TS byte for byte; a refusal is fine; a panic is a bug.

#![no_main]

#[path = "support.rs"]
mod support;

use std::sync::OnceLock;

use binlog_engine::Kind;
use binlog_node::binlog_text::{debug_json, debug_text, summary_line};
use binlog_node::proto::Binlog;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use support::{test_pump, TestPump};

fn pump() -> &'static TestPump {
    static PUMP: OnceLock<TestPump> = OnceLock::new();
    PUMP.get_or_init(|| test_pump(false))
}

fuzz_target!(|data: &[u8]| {
    let Ok(binlog) = Binlog::decode(data) else {
        return;
    };
    let kind = binlog.engine_kind();
    let _ = binlog.is_fake();
    let _ = debug_text(&binlog);
    let _ = debug_json(&binlog).to_string();
    let _ = summary_line(&binlog);
    let test = pump();
    if test.runtime.block_on(test.pump.write_binlog(data)).is_err() {
        return;
    }
    let Some(kind) = kind else {
        return; // only TiDB's empty probe is accepted without a kind, and it stores nothing
    };
    let key = match kind {
        Kind::Prewrite => binlog.start_ts,
        _ => binlog.commit_ts,
    } as u64;
    if binlog.start_ts == 0 && binlog.commit_ts == 0 {
        return; // the probe
    }
    let stored = test
        .pump
        .engine
        .get(key)
        .expect("get an accepted binlog")
        .expect("an accepted binlog is stored");
    assert_eq!(stored.kind, kind);
    assert_eq!(stored.payload, data, "the stored payload differs");
});
