//! The data dir of a running `pump` fed by `binlog-load`, read with `--read-only`.

use std::process::Command;

use binlog_testkit::pump::start_pump;
use serde_json::Value;

use super::run::*;

#[test]
fn a_running_pump_is_read_with_read_only_and_get_matches_its_debug_route() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let mut pump = start_pump(&dir.path().join("pump"), &registry);
    let data_dir = pump.data_dir.display().to_string();
    let load = Command::new(env!("CARGO_BIN_EXE_binlog-load"))
        .args(["--quiet", "--pump", &pump.addr, "--registry-dir"])
        .arg(&registry)
        .args(["--count", "40", "--clients", "4", "--ddl-every", "10"])
        .args(["--rollback-fraction", "0.2", "--value-size", "64B..512B"])
        .output()
        .expect("run binlog-load");
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );

    let refused = inspect(&["ls", &data_dir]).exits(2);
    assert!(
        refused.stderr.contains(&format!(
            "is locked by a running pump (pid {}); use --read-only",
            pump.pid()
        )),
        "{}",
        refused.stderr
    );
    let refused = inspect(&["repair", "--apply", &data_dir]).exits(2);
    assert!(
        refused.stderr.ends_with("; stop it before repairing\n"),
        "{}",
        refused.stderr
    );

    // A copy of the active segment may end in a record being written: only whole ones count.
    let records: Vec<Value> = dump(&data_dir, &["--read-only", "--decode"])
        .into_iter()
        .filter(|line| line["crc"] == "ok")
        .collect();
    let of_kind = |kind: &'static str| records.iter().filter(move |r| r["kind"] == kind);
    assert_eq!(of_kind("prewrite").count(), 40);
    let rollbacks = of_kind("rollback").count();
    assert!(rollbacks > 0);
    assert_eq!(of_kind("commit").count(), 40 - rollbacks);
    let ddl = of_kind("commit")
        .find(|r| !r["binlog"]["ddl_query"].is_null())
        .expect("a DDL commit");
    let dml = of_kind("prewrite")
        .find(|r| !r["binlog"]["prewrite_value"].is_null())
        .unwrap();
    let commit = of_kind("commit").next().unwrap();
    let fake = of_kind("fake").next().expect("a fake binlog");
    for (record, key) in [
        (ddl, "commit_ts"),
        (dml, "start_ts"),
        (commit, "commit_ts"),
        (fake, "commit_ts"),
    ] {
        let ts = record[key].to_string();
        let route = format!("/debug/binlog/{ts}");
        // binlog-inspect works offline: it prints the route's answer without the MVCC lookup
        // the pump adds for a binlog with a primary key (here, that TiDB is not configured).
        let served_text = pump.get(&route);
        let offline_part = served_text
            .split_once("GetMvccByEncodedKey failed: ")
            .map_or(served_text.as_str(), |(binlog, _)| binlog);
        assert_eq!(
            inspect(&["get", "--read-only", &data_dir, &ts]).ok(),
            format!("{offline_part}\n")
        );
        let mut served: Value =
            serde_json::from_str(&pump.get(&format!("{route}?format=json"))).unwrap();
        if served["mvcc"].is_string() {
            served["mvcc"] = Value::Null;
        }
        assert_eq!(
            inspect(&["get", "--read-only", "--json", &data_dir, &ts])
                .exits(0)
                .json(),
            served
        );
        assert_eq!(record["binlog"], served);
    }

    assert!(pump.stop().success(), "log:\n{}", pump.log());
    assert!(inspect(&["verify", &data_dir]).ok().starts_with("OK: "));
    // Records stay where they were written: the ones read around the running pump are all there.
    let after = dump(&data_dir, &["--decode"]);
    for record in &records {
        assert!(after.contains(record), "{record} is gone");
    }
}
