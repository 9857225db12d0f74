//! Integration tests of the real `drainer` binary with real pumps: the merge of three pumps into
//! the `file` destination (exactly once, in commit-TS order, with prewrite values) across a
//! drainer SIGKILL and a pump SIGKILL, fake binlogs moving an idle checkpoint, and the original's
//! status scenario on the file registry and a real etcd.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use binlog_node::registry::{NodeKind, NodeState, NodeStatus};
use binlog_node::savepoint;
use binlog_testkit::cluster::{backend, promtool_check_allowing, write_pairs, Backend};
use binlog_testkit::drainer::{read_destination, start_drainer, DrainerOptions};
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use binlog_testkit::NodeProcess;
use serde_json::Value;

const DRAINER_ID: &str = "drainer-test";

fn start_pump(dir: &Path, name: &str, backend: &Backend) -> PumpProcess {
    PumpProcess::start(&PumpOptions {
        data_dir: &dir.join(name),
        registry_dir: &dir.join("registry"),
        pd_urls: &backend.pd_urls,
        extra: &[],
        storage: None,
    })
}

/// A drainer; on etcd its streams are gzipped (`-compressor gzip`), so both ways are run.
fn drainer(dir: &Path, backend: &Backend) -> NodeProcess {
    let gzip: &[&str] = if backend.pd_urls.is_empty() {
        &[]
    } else {
        &["-compressor", "gzip"]
    };
    start_drainer(&DrainerOptions {
        data_dir: &dir.join("drainer"),
        registry_dir: &dir.join("registry"),
        pd_urls: &backend.pd_urls,
        node_id: DRAINER_ID,
        extra: gzip,
        stdout: None,
        config: None,
    })
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `timeout`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn entry(backend: &Backend, kind: NodeKind, id: &str) -> Option<NodeStatus> {
    backend.registry.node(kind, id).await.unwrap()
}

/// Waits until the drainer's registry checkpoint reaches `ts`.
async fn wait_checkpoint(backend: &Backend, ts: i64) -> i64 {
    wait_for(
        "the drainer's checkpoint",
        Duration::from_secs(30),
        || async {
            entry(backend, NodeKind::Drainer, DRAINER_ID)
                .await
                .map(|d| d.max_commit_ts)
                .filter(|&checkpoint| checkpoint >= ts)
        },
    )
    .await
}

/// The destination holds exactly `written` (start TS -> commit TS, value), in strictly
/// increasing commit TS, each commit with its prewrite value.
fn check_destination(dir: &Path, written: &HashMap<i64, (i64, Vec<u8>)>) {
    let binlogs = read_destination(&dir.join("drainer"));
    for pair in binlogs.windows(2) {
        assert!(
            pair[0].commit_ts < pair[1].commit_ts,
            "not strictly increasing: {} then {}",
            pair[0].commit_ts,
            pair[1].commit_ts
        );
    }
    let mut seen = HashMap::new();
    for binlog in &binlogs {
        assert!(!binlog.is_fake(), "a fake binlog was written");
        let previous = seen.insert(binlog.start_ts, binlog.commit_ts);
        assert!(previous.is_none(), "start TS {} twice", binlog.start_ts);
        let (commit_ts, value) = written
            .get(&binlog.start_ts)
            .unwrap_or_else(|| panic!("unknown binlog {binlog:?}"));
        assert_eq!(binlog.commit_ts, *commit_ts);
        assert_eq!(binlog.prewrite_value.as_ref(), Some(value));
    }
    assert_eq!(seen.len(), written.len(), "binlogs missing");
}

fn max_commit(written: &HashMap<i64, (i64, Vec<u8>)>) -> i64 {
    written.values().map(|(commit, _)| *commit).max().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pumps_merge_exactly_once_across_drainer_and_pump_kills() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let mut pumps: Vec<PumpProcess> = (0..3)
        .map(|i| start_pump(dir.path(), &format!("pump{i}"), &backend))
        .collect();
    let mut drainer_process = drainer(dir.path(), &backend);

    // Concurrent writers on every pump.
    let writes = pumps
        .iter()
        .map(|pump| write_pairs(pump, &backend, cluster_id, 4, 40));
    let mut written: HashMap<_, _> = futures_util::future::join_all(writes)
        .await
        .into_iter()
        .flatten()
        .collect();
    wait_checkpoint(&backend, max_commit(&written)).await;
    check_destination(dir.path(), &written);

    // With no traffic, the pumps' fake binlogs move the checkpoint; nothing is written.
    let idle = wait_checkpoint(&backend, 0).await;
    let moved = wait_checkpoint(&backend, idle + 1).await;
    assert!(moved > idle);
    check_destination(dir.path(), &written);

    // SIGKILL the drainer while it merges a new batch, restart it: nothing lost, nothing twice.
    let batch = {
        let writes = pumps
            .iter()
            .map(|pump| write_pairs(pump, &backend, cluster_id, 4, 60));
        let kill = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drainer_process.kill();
        };
        let (batches, ()) = tokio::join!(futures_util::future::join_all(writes), kill);
        batches
    };
    written.extend(batch.into_iter().flatten());
    let drainer_process = drainer(dir.path(), &backend);
    wait_checkpoint(&backend, max_commit(&written)).await;
    check_destination(dir.path(), &written);

    // SIGKILL a pump and restart it (on a new port): the drainer follows it, no gap.
    pumps[1].kill();
    pumps[1] = start_pump(dir.path(), "pump1", &backend);
    let writes = pumps
        .iter()
        .map(|pump| write_pairs(pump, &backend, cluster_id, 2, 20));
    written.extend(
        futures_util::future::join_all(writes)
            .await
            .into_iter()
            .flatten(),
    );
    wait_checkpoint(&backend, max_commit(&written)).await;
    check_destination(dir.path(), &written);

    // /status and /commit_ts in the shapes of http-api.md.
    let (code, body) = drainer_process.http("GET", "/status");
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    let object = status.as_object().unwrap();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, ["LastTS", "PumpPos", "Synced", "TsMap"]);
    assert_eq!(status["PumpPos"].as_object().unwrap().len(), 3);
    assert!(status["LastTS"].as_i64().unwrap() >= max_commit(&written));
    assert_eq!(status["TsMap"], "");
    assert!(status["Synced"].is_boolean());
    let (_, body) = drainer_process.http("GET", "/commit_ts");
    let commit_ts: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(commit_ts["message"], "get drainer's latest ts success!");
    assert_eq!(commit_ts["code"], 200);
    assert!(commit_ts["data"]["ts"].as_i64().unwrap() >= max_commit(&written));
    let (_, metrics) = drainer_process.http("GET", "/metrics");
    // The original labels its per-pump series `nodeID`; only that lint finding is accepted.
    promtool_check_allowing(
        &metrics,
        &["label names should be written in 'snake_case' not 'camelCase'"],
    );
    for name in [
        "binlog_drainer_checkpoint_tso",
        "binlog_drainer_pump_position{nodeID=",
        "binlog_drainer_event{type=\"Insert\"}",
        "binlog_drainer_read_binlog_size_bucket",
        "process_cpu_seconds_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    let (code, body) = drainer_process.http("PUT", "/state/nope/pause");
    assert_eq!(code, 200);
    assert!(body.contains("invalid nodeID nope, this drainer's nodeID is drainer-test"));
    let (_, body) = drainer_process.http("PUT", &format!("/state/{DRAINER_ID}/jump"));
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["message"], "invalid action jump");
    assert_eq!(reply["code"], 3);
    assert_eq!(
        drainer_process.http("GET", "/nope"),
        (404, "404 page not found\n".to_owned())
    );
    assert_eq!(drainer_process.http("POST", "/status").0, 405);
    assert_eq!(drainer_process.http("GET", "/state/x/pause").0, 405);
    let long = format!("/state/{}/pause", "x".repeat(64 << 10));
    let (code, _) = drainer_process.http("PUT", &long);
    assert!(code == 200 || code == 414 || code == 431, "{code}");
    // Still online after all of that.
    let (_, body) = drainer_process.http("GET", "/status");
    assert!(body.contains("PumpPos"), "{body}");
}

/// `original-drainer.md` §8.3: drainer online with a rising checkpoint; pause a pump; restart it
/// and close it: offline only once the drainer has caught up; pause and close the drainer.
async fn status_scenario(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(kind, &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let mut pump = start_pump(dir.path(), "pump", &backend);
    let pump_id = wait_for("the pump's entry", Duration::from_secs(10), || async {
        let pumps = backend.registry.nodes(NodeKind::Pump).await.unwrap();
        pumps.first().map(|p| p.node_id.clone())
    })
    .await;
    let mut drainer_process = drainer(dir.path(), &backend);

    // 1. online, with a rising maxCommitTS.
    let first = wait_checkpoint(&backend, 0).await;
    let later = wait_checkpoint(&backend, first + 1).await;
    assert!(later > first);
    let online = entry(&backend, NodeKind::Drainer, DRAINER_ID)
        .await
        .unwrap();
    assert_eq!(online.state, NodeState::Online);
    let mut written = write_pairs(&pump, &backend, cluster_id, 2, 20).await;

    // 2-3. pause the pump: paused, exit 0.
    let (_, body) = pump.http("PUT", &format!("/state/{pump_id}/pause"));
    assert!(body.contains("apply action pause success!"), "{body}");
    assert!(pump.wait_exit(Duration::from_secs(30)).success());
    let paused = entry(&backend, NodeKind::Pump, &pump_id).await.unwrap();
    assert_eq!(paused.state, NodeState::Paused);

    // 4. restart it (the drainer reconnects, no gap), then close it: offline only after the
    // drainer has consumed everything it holds.
    let mut pump = start_pump(dir.path(), "pump", &backend);
    written.extend(write_pairs(&pump, &backend, cluster_id, 2, 20).await);
    let (_, body) = pump.http("PUT", &format!("/state/{pump_id}/close"));
    assert!(body.contains("apply action close success!"), "{body}");
    assert!(pump.wait_exit(Duration::from_secs(60)).success());
    let offline = entry(&backend, NodeKind::Pump, &pump_id).await.unwrap();
    assert_eq!(offline.state, NodeState::Offline);
    let drainer_now = entry(&backend, NodeKind::Drainer, DRAINER_ID)
        .await
        .unwrap();
    assert!(
        drainer_now.max_commit_ts >= offline.max_commit_ts,
        "pump offline at {} before the drainer reached it ({})",
        offline.max_commit_ts,
        drainer_now.max_commit_ts
    );
    assert!(offline.max_commit_ts >= max_commit(&written));
    check_destination(dir.path(), &written);

    // 5. pause the drainer: checkpoint saved consistent, paused, exit 0.
    let (_, body) = drainer_process.http("PUT", &format!("/state/{DRAINER_ID}/pause"));
    assert!(body.contains("apply action pause success!"), "{body}");
    assert!(drainer_process.wait_exit(Duration::from_secs(30)).success());
    let paused = entry(&backend, NodeKind::Drainer, DRAINER_ID)
        .await
        .unwrap();
    assert_eq!(paused.state, NodeState::Paused);
    let saved = savepoint::read(&dir.path().join("drainer"))
        .unwrap()
        .unwrap();
    assert!(saved.consistent);
    assert_eq!(saved.commit_ts, paused.max_commit_ts);

    // 6. restart it and close it: offline, exit 0, and it resumed at its checkpoint.
    let mut drainer_process = drainer(dir.path(), &backend);
    let (_, body) = drainer_process.http("GET", "/commit_ts");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["data"]["ts"].as_i64().unwrap(), saved.commit_ts);
    let (_, body) = drainer_process.http("PUT", &format!("/state/{DRAINER_ID}/close"));
    assert!(body.contains("apply action close success!"), "{body}");
    assert!(drainer_process.wait_exit(Duration::from_secs(30)).success());
    let closed = entry(&backend, NodeKind::Drainer, DRAINER_ID)
        .await
        .unwrap();
    assert_eq!(closed.state, NodeState::Offline);
    check_destination(dir.path(), &written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_scenario_on_the_file_registry() {
    status_scenario("file").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_scenario_on_etcd() {
    status_scenario("etcd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_print_destination_writes_one_line_per_binlog_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let pump = start_pump(dir.path(), "pump", &backend);
    let printed = dir.path().join("printed.txt");
    let _drainer = start_drainer(&DrainerOptions {
        data_dir: &dir.path().join("drainer"),
        registry_dir: &dir.path().join("registry"),
        pd_urls: "",
        node_id: DRAINER_ID,
        extra: &["-dest-db-type", "print"],
        stdout: Some(&printed),
        config: None,
    });
    let written = write_pairs(&pump, &backend, cluster_id, 2, 5).await;
    wait_checkpoint(&backend, max_commit(&written)).await;
    let text = std::fs::read_to_string(&printed).unwrap();
    let mut expected: Vec<(i64, i64)> = written
        .iter()
        .map(|(start, (commit, _))| (*commit, *start))
        .collect();
    expected.sort();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{text}");
    for (line, (commit, start)) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(&format!("commit_ts={commit} start_ts={start} tp=Commit ")),
            "{line}"
        );
        assert!(line.contains("schema_version=7 tables=["), "{line}");
        assert!(line.contains("1 inserted 0 updated 0 deleted"), "{line}");
    }
}
