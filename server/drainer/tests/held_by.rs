//! What an operator reads on a bad day, through the real binaries: with two pumps, pausing one
//! holds the merge, `/status` names that pump and says it is paused, and the lag gauges in
//! `/metrics` show the checkpoint falling behind while it is paused and catching up once it is
//! back. A prewrite whose commit has not come holds its pump's stream: `/status` names the pump
//! and the prewrite's start TS until the commit arrives.

use std::path::Path;
use std::time::Duration;

use binlog_node::proto::{Binlog, BinlogType};
use binlog_testkit::cluster::{
    backend, metric_value, prewrite_value, promtool_check_allowing, write, write_pairs,
};
use binlog_testkit::drainer::{start_drainer, DrainerOptions};
use binlog_testkit::poll::wait_for;
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use binlog_testkit::NodeProcess;
use serde_json::Value;

const DRAINER_ID: &str = "drainer-held";
const CHECKPOINT_LAG: &str = "binlog_drainer_checkpoint_lag_seconds";

/// A pump whose node ID is `name`.
fn start_pump(dir: &Path, name: &str, pd_urls: &str) -> PumpProcess {
    PumpProcess::start(&PumpOptions {
        data_dir: &dir.join(name),
        registry_dir: &dir.join("registry"),
        pd_urls,
        extra: &["-node-id", name],
        storage: None,
    })
}

fn status(drainer: &NodeProcess) -> Value {
    serde_json::from_str(&drainer.get("/status")).expect("/status is JSON")
}

fn checkpoint_lag(drainer: &NodeProcess) -> f64 {
    let metrics = drainer.get("/metrics");
    metric_value(&metrics, CHECKPOINT_LAG)
        .unwrap_or_else(|| panic!("{CHECKPOINT_LAG} missing from:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_pump_is_named_in_status_and_the_checkpoint_lag_grows_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let mut held = start_pump(dir.path(), "held", &backend.pd_urls);
    let other = start_pump(dir.path(), "other", &backend.pd_urls);
    let ids = ["held", "other"];
    let drainer = start_drainer(&DrainerOptions {
        data_dir: &dir.path().join("drainer"),
        registry_dir: &dir.path().join("registry"),
        pd_urls: &backend.pd_urls,
        node_id: DRAINER_ID,
        extra: &[],
        stdout: None,
        config: None,
    });
    write_pairs(&held, &backend, cluster_id, 1, 5).await;
    write_pairs(&other, &backend, cluster_id, 1, 5).await;

    // Both pumps read: the gauges are there, and the output passes promtool.
    let metrics = wait_for(
        "both pumps' lag gauges",
        Duration::from_secs(30),
        || {
            let metrics = drainer.get("/metrics");
            ids.iter()
                .all(|id| {
                    metrics.contains(&format!(
                        "binlog_drainer_pump_lag_seconds{{nodeID=\"{id}\"}}"
                    ))
                })
                .then_some(metrics)
        },
        || drainer.log(),
    );
    assert!(
        metric_value(&metrics, CHECKPOINT_LAG).is_some(),
        "{metrics}"
    );
    // The original labels its per-pump series `nodeID`; only that lint finding is accepted.
    promtool_check_allowing(
        &metrics,
        &["label names should be written in 'snake_case' not 'camelCase'"],
    );
    let synced = wait_for(
        "a synced drainer",
        Duration::from_secs(30),
        || Some(status(&drainer)).filter(|s| s["Synced"] == true),
        || drainer.log(),
    );
    assert!(synced.get("HeldBy").is_none(), "{synced}");

    // Pause one pump (as binlogctl does); the other keeps writing.
    let (_, body) = held.http("PUT", "/state/held/pause");
    assert!(body.contains("apply action pause success!"), "{body}");
    assert!(held.wait_exit(Duration::from_secs(30)).success());
    write_pairs(&other, &backend, cluster_id, 1, 5).await;
    let reply = wait_for(
        "/status naming the paused pump",
        Duration::from_secs(30),
        || Some(status(&drainer)).filter(|s| s["HeldBy"]["Pump"] == "held"),
        || drainer.log(),
    );
    println!("/status while paused: {}", drainer.get("/status"));
    assert_eq!(reply["Synced"], false);
    assert_eq!(reply["HeldBy"]["Waiting"], "paused");
    let merge_ts = reply["HeldBy"]["TS"].as_u64().unwrap();
    assert!(merge_ts >= reply["LastTS"].as_u64().unwrap(), "{reply}");
    let message = reply["HeldBy"]["Message"].as_str().unwrap();
    assert!(message.contains("pump held is paused"), "{message}");

    // The checkpoint lag grows while the pump is paused...
    let before = checkpoint_lag(&drainer);
    let grown = wait_for(
        "a growing checkpoint lag",
        Duration::from_secs(10),
        || Some(checkpoint_lag(&drainer)).filter(|&lag| lag >= before + 2.0),
        || drainer.log(),
    );
    // ... and falls back once it is online again.
    let held = start_pump(dir.path(), "held", &backend.pd_urls);
    write_pairs(&held, &backend, cluster_id, 1, 5).await;
    wait_for(
        "the checkpoint lag falling back",
        Duration::from_secs(30),
        || Some(checkpoint_lag(&drainer)).filter(|&lag| lag < grown - 1.0),
        || drainer.log(),
    );
    let back = wait_for(
        "a synced drainer again",
        Duration::from_secs(30),
        || Some(status(&drainer)).filter(|s| s["Synced"] == true),
        || drainer.log(),
    );
    assert!(back.get("HeldBy").is_none(), "{back}");
    promtool_check_allowing(
        &drainer.get("/metrics"),
        &["label names should be written in 'snake_case' not 'camelCase'"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prewrite_without_its_commit_is_named_with_its_pump_and_start_ts() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let stuck = start_pump(dir.path(), "stuck", &backend.pd_urls);
    let other = start_pump(dir.path(), "other", &backend.pd_urls);
    let drainer = start_drainer(&DrainerOptions {
        data_dir: &dir.path().join("drainer"),
        registry_dir: &dir.path().join("registry"),
        pd_urls: &backend.pd_urls,
        node_id: "drainer-prewrite",
        extra: &[],
        stdout: None,
        config: None,
    });
    write_pairs(&stuck, &backend, cluster_id, 1, 3).await;

    // A prewrite on `stuck` whose commit TiDB has not sent yet; `other` goes on writing.
    let start_ts = backend.tso.get_ts().await.unwrap();
    let mut client = stuck.client().await;
    let prewrite = Binlog {
        tp: BinlogType::Prewrite as i32,
        start_ts: start_ts as i64,
        prewrite_key: Some(b"t\x80\x00\x01".to_vec()),
        prewrite_value: Some(prewrite_value(start_ts)),
        ..Default::default()
    };
    write(&mut client, cluster_id, &prewrite).await.unwrap();
    write_pairs(&other, &backend, cluster_id, 1, 5).await;
    let reply = wait_for(
        "/status naming the pending prewrite",
        Duration::from_secs(30),
        || Some(status(&drainer)).filter(|s| s["HeldBy"]["Waiting"] == "prewrite"),
        || drainer.log(),
    );
    println!(
        "/status while a prewrite waits for its commit: {}",
        drainer.get("/status")
    );
    assert_eq!(reply["HeldBy"]["Pump"], "stuck");
    assert_eq!(reply["HeldBy"]["StartTS"].as_u64(), Some(start_ts));
    let message = reply["HeldBy"]["Message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "pump stuck holds a prewrite without its commit at start TS {start_ts}"
        )),
        "{message}"
    );

    // The commit arrives: the merge goes on and the drainer is synced.
    let commit = Binlog {
        tp: BinlogType::Commit as i32,
        start_ts: start_ts as i64,
        commit_ts: backend.tso.get_ts().await.unwrap() as i64,
        ..Default::default()
    };
    write(&mut client, cluster_id, &commit).await.unwrap();
    let synced = wait_for(
        "a synced drainer",
        Duration::from_secs(30),
        || Some(status(&drainer)).filter(|s| s["Synced"] == true),
        || drainer.log(),
    );
    assert!(synced.get("HeldBy").is_none(), "{synced}");
}
