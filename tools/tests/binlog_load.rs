//! Integration tests of the real `binlog-load` binary against real `pump` processes: verified
//! count runs on one pump and on two pumps found in the registry, the rate limit, and the
//! errors for unreachable or missing pumps and bad values.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use binlog_testkit::free_port;
use binlog_testkit::pump::{start_pump, PumpProcess};
use serde_json::Value;

/// Runs `binlog-load` with `args` (and `--quiet`).
fn load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_binlog-load"))
        .arg("--quiet")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run binlog-load")
}

/// Asserts the run succeeded; returns its stdout.
fn succeeded(output: &Output, pumps: &[&PumpProcess]) -> String {
    let logs: String = pumps.iter().map(|pump| pump.log()).collect();
    assert!(
        output.status.success(),
        "binlog-load failed with {}\nstdout:\n{}\nstderr:\n{}\npump logs:\n{logs}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

/// Checks a verified report of `count` transactions with DDL every `ddl_every`.
fn assert_verified(report: &Value, count: u64, ddl_every: u64) {
    let types = &report["types"];
    let ddl_txns = count / ddl_every;
    assert_eq!(types["txn"]["count"], count);
    assert_eq!(types["ddl"]["count"], 2 * ddl_txns);
    let rollbacks = types["rollback"]["count"].as_u64().unwrap();
    assert!(rollbacks > 0, "no rollback in {report:#}");
    assert_eq!(types["prewrite"]["count"], count - ddl_txns);
    assert_eq!(types["commit"]["count"], count - ddl_txns - rollbacks);
    assert_eq!(report["write_errors"], 0);
    assert!(types["commit"]["latency_us"]["p99"].as_u64().unwrap() > 0);
    let verify = &report["verify"];
    assert_eq!(verify["expected"], count - rollbacks);
    assert_delivered_intact(verify);
}

/// Asserts a `--verify` report found every acknowledged commit and no problem.
fn assert_delivered_intact(verify: &Value) {
    assert_eq!(verify["delivered"], verify["expected"]);
    for problem in [
        "missing",
        "duplicated",
        "corrupt",
        "out_of_order",
        "rolled_back_seen",
    ] {
        assert_eq!(verify[problem], 0, "{problem} in {verify:#}");
    }
}

#[test]
fn a_verified_count_run_on_one_pump() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let pump = start_pump(&dir.path().join("pump"), &registry);
    let json = dir.path().join("report.json");
    let output = load(&[
        "--pump",
        &pump.addr,
        "--registry-dir",
        registry.to_str().unwrap(),
        "--count",
        "200",
        "--clients",
        "8",
        "--ddl-every",
        "10",
        "--rollback-fraction",
        "0.2",
        "--value-size",
        "64B..2KiB",
        "--verify",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = succeeded(&output, &[&pump]);
    for row in ["prewrite", "commit", "rollback", "ddl", "txn", "p99.9 µs"] {
        assert!(stdout.contains(row), "no {row:?} in the table:\n{stdout}");
    }
    assert!(stdout.contains("200 txns"), "{stdout}");
    assert!(stdout.contains("verify: expected "), "{stdout}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_verified(&report, 200, 10);
    assert_eq!(report["settings"]["pumps"][0], pump.addr.as_str());
}

#[test]
fn a_verified_gzip_run_on_two_pumps_found_in_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let first = start_pump(&dir.path().join("pump1"), &registry);
    let second = start_pump(&dir.path().join("pump2"), &registry);
    let output = load(&[
        "--registry-dir",
        registry.to_str().unwrap(),
        "--count",
        "150",
        "--clients",
        "6",
        "--ddl-every",
        "15",
        "--rollback-fraction",
        "0.2",
        "--value-size",
        "1KiB",
        "--gzip",
        "--verify",
        "--json",
        "-",
    ]);
    let stdout = succeeded(&output, &[&first, &second]);
    let report: Value = serde_json::from_str(&stdout).expect("stdout is only the JSON report");
    assert_verified(&report, 150, 15);
    let mut pumps: Vec<&str> = report["settings"]["pumps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|addr| addr.as_str().unwrap())
        .collect();
    pumps.sort_unstable();
    let mut expected = vec![first.addr.as_str(), second.addr.as_str()];
    expected.sort_unstable();
    assert_eq!(pumps, expected);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("verify: expected "), "{stderr}");
}

#[test]
fn a_pump_killed_mid_load_keeps_every_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let mut pump = start_pump(&dir.path().join("pump"), &registry);
    let acked_file = dir.path().join("acked.txt");
    let load = Command::new(env!("CARGO_BIN_EXE_binlog-load"))
        .args(["--quiet", "--pump", &pump.addr, "--registry-dir"])
        .arg(&registry)
        .args(["--duration", "5s", "--clients", "8", "--rate", "400"])
        .args(["--allow-errors", "--verify", "--json", "-", "--acked-file"])
        .arg(&acked_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run binlog-load");
    std::thread::sleep(Duration::from_millis(1500));
    pump.kill_and_restart(Duration::from_millis(300));
    let output = load.wait_with_output().expect("wait for binlog-load");
    let stdout = succeeded(&output, &[&pump]);
    let report: Value = serde_json::from_str(&stdout).expect("stdout is only the JSON report");
    // The kill was seen (writes failed while the pump was down) and retried through.
    assert!(report["write_errors"].as_u64().unwrap() > 0, "{report:#}");
    let verify = &report["verify"];
    assert!(verify["expected"].as_u64().unwrap() > 500, "{verify:#}");
    assert_delivered_intact(verify);
    let acked = std::fs::read_to_string(&acked_file).unwrap();
    let commits = acked.lines().filter(|l| l.starts_with("commit ")).count();
    assert_eq!(commits as u64, verify["expected"].as_u64().unwrap());
}

#[test]
fn the_rate_limit_paces_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let pump = start_pump(&dir.path().join("pump"), &registry);
    let began = Instant::now();
    let output = load(&[
        "--pump",
        &pump.addr,
        "--registry-dir",
        registry.to_str().unwrap(),
        "--count",
        "50",
        "--clients",
        "8",
        "--rate",
        "100",
        "--json",
        "-",
    ]);
    let report: Value = serde_json::from_str(&succeeded(&output, &[&pump])).unwrap();
    assert!(began.elapsed() >= Duration::from_millis(400));
    let elapsed = report["elapsed_secs"].as_f64().unwrap();
    assert!(elapsed >= 0.4, "50 txns at 100/s took {elapsed} s");
    assert_eq!(report["types"]["txn"]["count"], 50);
    assert_eq!(report["settings"]["rate"], 100.0);
}

#[test]
fn unreachable_or_missing_pumps_and_bad_values_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let registry = registry.to_str().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let failed = |args: &[&str], message: &str| {
        let output = load(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(message), "no {message:?} in:\n{stderr}");
    };
    failed(
        &["--pump", &addr, "--registry-dir", registry, "--count", "1"],
        &format!("cannot connect to pump {addr}"),
    );
    failed(
        &["--registry-dir", registry, "--count", "1"],
        "no online pump in the file registry",
    );
    failed(
        &["--value-size", "2KiB..1KiB", "--count", "1"],
        "minimum above maximum",
    );
    failed(&["--count", "1", "--duration", "1s"], "cannot be used with");
}
