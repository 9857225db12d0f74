//! The drainer's savepoint TOML and a registry entry's JSON on arbitrary bytes, as the drainer,
//! the pumps and `binlogctl` read them. A parse error is fine; a panic is a bug.

#![no_main]

use binlog_node::registry::NodeStatus;
use binlog_node::savepoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<NodeStatus>(data).map(|status| status.to_string());
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(savepoint::path(dir.path()), data).expect("savepoint");
    let _ = savepoint::read(dir.path());
});
