//! The operator's tools on a bad day, through the real binaries: skipping one binlog on purpose
//! (`-skip-commit-ts`, recorded with who and why, counted in `/metrics`), stopping at a commit
//! TS (`-stop-at-commit-ts`: the checkpoint ends exactly there, the drainer `paused`, the
//! destination holding exactly the binlogs up to it), and setting the checkpoint
//! (`-set-checkpoint-ts`: refused below the pump's GC point and while the drainer runs, taken
//! otherwise).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binlog_node::registry::{NodeKind, NodeState};
use binlog_node::savepoint;
use binlog_testkit::cluster::{backend, metric_value, write_pairs, Backend};
use binlog_testkit::drainer::{
    read_destination, run_drainer_until_exit, start_drainer, DrainerOptions,
};
use binlog_testkit::poll::wait_for;
use binlog_testkit::ports::free_addr;
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use binlog_testkit::NodeProcess;

const DRAINER_ID: &str = "drainer-operator";

/// Commit TSs of `count` new transactions written to `pump`, ascending.
async fn commit(pump: &NodeProcess, backend: &Backend, cluster_id: u64, count: usize) -> Vec<u64> {
    let written = write_pairs(pump, backend, cluster_id, 1, count).await;
    let mut commits: Vec<u64> = written.values().map(|&(ts, _)| ts as u64).collect();
    commits.sort_unstable();
    commits
}

fn destination_commits(dir: &Path) -> Vec<u64> {
    read_destination(dir)
        .iter()
        .map(|binlog| binlog.commit_ts as u64)
        .collect()
}

fn saved_checkpoint(dir: &Path) -> savepoint::Savepoint {
    savepoint::read(dir).unwrap().expect("a savepoint")
}

fn wait_checkpoint(drainer: &NodeProcess, at_least: u64) {
    wait_for(
        "the drainer's checkpoint",
        Duration::from_secs(30),
        || {
            let body = drainer.get("/commit_ts");
            let reply: serde_json::Value = serde_json::from_str(&body).ok()?;
            (reply["data"]["ts"].as_u64()? >= at_least).then_some(())
        },
        || drainer.log(),
    );
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_stop_at_and_set_checkpoint_do_exactly_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let registry_dir = dir.path().join("registry");
    let backend = backend("file", &registry_dir).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    // Binlogs are kept an hour: a checkpoint two hours back is below the GC point.
    let pump = PumpProcess::start(&PumpOptions {
        data_dir: &dir.path().join("pump"),
        registry_dir: &registry_dir,
        pd_urls: &backend.pd_urls,
        extra: &["-node-id", "pump-operator", "-gc", "1h"],
        storage: None,
    });
    let data_dir = dir.path().join("drainer");
    let addr = free_addr();
    let options = |extra: &'static [&'static str]| DrainerOptions {
        data_dir: &data_dir,
        registry_dir: &registry_dir,
        pd_urls: &backend.pd_urls,
        node_id: DRAINER_ID,
        extra,
        stdout: None,
        config: None,
    };
    let mut drainer = start_drainer(&options(&[]));
    let mut expected = commit(&pump, &backend, cluster_id, 10).await;
    wait_checkpoint(&drainer, expected[9]);
    assert!(drainer.stop().success());

    // Skip: refused at or below the checkpoint, recorded above it.
    let later = commit(&pump, &backend, cluster_id, 10).await;
    let behind = expected[4].to_string();
    let refused = run_drainer_until_exit(
        &options(&[]),
        &addr,
        &["-skip-commit-ts", &behind, "-skip-reason", "too late"],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("nothing to skip"),
        "{}",
        stderr(&refused)
    );
    let skipped = later[3];
    let recorded = run_drainer_until_exit(
        &options(&[]),
        &addr,
        &[
            "-skip-commit-ts",
            &skipped.to_string(),
            "-skip-reason",
            "DDL rejected downstream",
        ],
    );
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    expected.extend(later.iter().filter(|&&ts| ts != skipped));

    // The next run passes it, says who skipped it and why, and counts it.
    let mut drainer = start_drainer(&options(&[]));
    wait_checkpoint(&drainer, later[9]);
    let metrics = drainer.get("/metrics");
    assert_eq!(
        metric_value(
            &metrics,
            "binlog_drainer_skipped_binlogs_total{reason=\"skip-commit-ts\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    let log = drainer.log();
    assert!(log.contains("skipped on purpose"), "{log}");
    assert!(log.contains("DDL rejected downstream"), "{log}");
    assert_eq!(destination_commits(&data_dir), expected);
    assert!(drainer.stop().success());

    // Stop at a TS between two commits: the checkpoint ends exactly there, paused.
    let more = commit(&pump, &backend, cluster_id, 10).await;
    let stop_at = more[4] + 1;
    assert!(stop_at < more[5]);
    let stopped = run_drainer_until_exit(
        &options(&[]),
        &addr,
        &["-stop-at-commit-ts", &stop_at.to_string()],
    );
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    let saved = saved_checkpoint(&data_dir);
    assert_eq!(saved.commit_ts as u64, stop_at);
    assert!(saved.consistent);
    expected.extend(&more[..5]);
    assert_eq!(destination_commits(&data_dir), expected);
    let entry = backend.registry.nodes(NodeKind::Drainer).await.unwrap();
    let entry = entry
        .iter()
        .find(|node| node.node_id == DRAINER_ID)
        .unwrap();
    assert_eq!(entry.state, NodeState::Paused);
    assert_eq!(entry.max_commit_ts as u64, stop_at);

    // Set the checkpoint: below the GC point is refused (after the pump has run GC).
    pump.http("POST", "/debug/gc/trigger");
    let two_hours_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 2 * 3600 * 1000;
    let old = (two_hours_ago << 18).to_string();
    let refused = wait_for(
        "a checkpoint below the GC point refused",
        Duration::from_secs(20),
        || {
            let output =
                run_drainer_until_exit(&options(&[]), &addr, &["-set-checkpoint-ts", &old]);
            (!output.status.success()).then_some(output)
        },
        || pump.log(),
    );
    let message = stderr(&refused);
    assert!(
        message.contains("below pump pump-operator's GC point"),
        "{message}"
    );
    assert_eq!(saved_checkpoint(&data_dir).commit_ts as u64, stop_at);

    // Refused while a drainer answers at the address.
    let mut running = start_drainer(&options(&[]));
    let refused = run_drainer_until_exit(
        &options(&[]),
        &running.addr,
        &["-set-checkpoint-ts", &more[7].to_string()],
    );
    assert!(
        stderr(&refused).contains("a drainer answers"),
        "{}",
        stderr(&refused)
    );
    wait_checkpoint(&running, more[9]);
    expected.extend(&more[5..]);
    assert!(running.stop().success());

    // Taken on a stopped drainer: the next run starts after it.
    let last = commit(&pump, &backend, cluster_id, 4).await;
    let set = run_drainer_until_exit(
        &options(&[]),
        &addr,
        &["-set-checkpoint-ts", &last[1].to_string()],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert_eq!(saved_checkpoint(&data_dir).commit_ts as u64, last[1]);
    let resumed = start_drainer(&options(&[]));
    wait_checkpoint(&resumed, last[3]);
    expected.extend(&last[2..]);
    assert_eq!(destination_commits(&data_dir), expected);
}
