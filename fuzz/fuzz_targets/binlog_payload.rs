//! A `WriteBinlog` payload through what the pump does with it before the engine: protobuf
//! decode, the record kind, and every text and JSON rendering `/debug/binlog` and
//! `binlog-inspect` produce. A panic is a bug.

#![no_main]

use binlog_server::binlog_text::{debug_json, debug_text, summary_line};
use binlog_server::proto::Binlog;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(binlog) = Binlog::decode(data) {
        let _ = binlog.engine_kind();
        let _ = binlog.is_fake();
        let _ = debug_text(&binlog);
        let _ = debug_json(&binlog).to_string();
        let _ = summary_line(&binlog);
    }
});
