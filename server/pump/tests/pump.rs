//! Integration tests of the real `pump` binary: gRPC writes and pulls, errors, every HTTP route,
//! metrics through `promtool`, and the state changes on the file registry and a real etcd.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use binlog_node::proto::{Binlog, BinlogType, PullBinlogReq, WriteBinlogReq};
use binlog_node::registry::{NodeKind, NodeState, NodeStatus, Registry};
use binlog_testkit::cluster::{backend, promtool_check, pull, write, write_pairs, Backend};
use binlog_testkit::http::http_headers;
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use futures_util::StreamExt;
use prost::Message;
use serde_json::Value;

fn start_pump(dir: &Path, backend: &Backend, extra: &[&str]) -> PumpProcess {
    PumpProcess::start(&PumpOptions {
        data_dir: &dir.join("pump"),
        registry_dir: &dir.join("registry"),
        pd_urls: &backend.pd_urls,
        extra,
        storage: None,
    })
}

/// Pulls from `after` until `count` real commits arrived (skipping fakes); checks order and meta.
async fn pull_commits(
    pump: &PumpProcess,
    cluster_id: u64,
    after: i64,
    count: usize,
) -> Vec<Binlog> {
    let mut client = pump.client().await;
    let mut stream = pull(&mut client, cluster_id, Some(after)).await;
    let mut commits = Vec::new();
    let mut last = after;
    while commits.len() < count {
        let response = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("pull stalled")
            .expect("stream ended")
            .unwrap();
        let entity = response.entity.unwrap();
        let meta = entity.meta.unwrap();
        let binlog = Binlog::decode(&entity.payload[..]).unwrap();
        assert!(
            binlog.commit_ts > last,
            "commit TS {} after {last}",
            binlog.commit_ts
        );
        last = binlog.commit_ts;
        assert_eq!(
            (meta.start_ts, meta.commit_ts),
            (binlog.start_ts, binlog.commit_ts)
        );
        if !binlog.is_fake() {
            commits.push(binlog);
        }
    }
    commits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pairs_pull_back_in_order_with_prewrite_values() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let pump = start_pump(dir.path(), &backend, &[]);
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let written = write_pairs(&pump, &backend, cluster_id, 16, 100).await;
    let commits = pull_commits(&pump, cluster_id, 0, written.len()).await;
    for commit in &commits {
        let (commit_ts, value) = &written[&commit.start_ts];
        assert_eq!(commit.commit_ts, *commit_ts);
        assert_eq!(commit.prewrite_value.as_ref(), Some(value));
        assert_eq!(commit.tp, BinlogType::Commit as i32);
    }
    // A pull from the middle starts right after it, gzip both ways.
    let middle = commits[commits.len() / 2].commit_ts;
    let mut client = pump
        .client()
        .await
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let mut stream = pull(&mut client, cluster_id, Some(middle)).await;
    let first = stream.next().await.unwrap().unwrap().entity.unwrap();
    assert!(first.meta.unwrap().commit_ts > middle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_reach_the_client_with_the_originals_codes_and_words() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let pump = start_pump(dir.path(), &backend, &["-max-message-size", "4096"]);
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let mut client = pump.client().await;

    let wrong = cluster_id.wrapping_add(1);
    let status = write(&mut client, wrong, &Binlog::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unknown);
    assert_eq!(
        status.message(),
        format!("cluster ID are mismatch, {wrong} vs {cluster_id}")
    );
    let status = client
        .pull_binlogs(PullBinlogReq {
            cluster_id: wrong,
            start_from: None,
        })
        .await
        .unwrap_err();
    assert!(status.message().contains("mismatch"), "{status:?}");

    let status = client
        .write_binlog(WriteBinlogReq {
            cluster_id,
            payload: b"invalid".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unknown);
    assert!(status.message().contains("decode"), "{status:?}");

    let huge = Binlog {
        start_ts: 1,
        prewrite_value: Some(vec![7; 8192]),
        ..Default::default()
    };
    // As grpc-go (the original pump) answers it: TiDB reads "ResourceExhausted" as "do not
    // retry" and "message larger than max" as "binlog data is too large".
    let status = write(&mut client, cluster_id, &huge).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let message = status.message();
    let sizes = message
        .strip_prefix("grpc: received message larger than max (")
        .and_then(|rest| rest.strip_suffix(" vs. 4096)"))
        .unwrap_or_else(|| panic!("not grpc-go's words: {status:?}"));
    assert!(
        sizes.parse::<u64>().is_ok_and(|size| size > 8192),
        "{status:?}"
    );

    let unmatched = Binlog {
        tp: BinlogType::Prewrite as i32,
        commit_ts: 5,
        ..Default::default()
    };
    let status = write(&mut client, cluster_id, &unmatched)
        .await
        .unwrap_err();
    assert!(
        status.message().starts_with("invalid binlog TS"),
        "{status:?}"
    );

    // An empty payload is a liveness probe: success, nothing stored. Only the undecodable
    // payload and the TS-less prewrite count as lost binlogs: a cluster-ID mismatch does not
    // (as in the original) and an oversized message never reaches the service.
    client
        .write_binlog(WriteBinlogReq {
            cluster_id,
            payload: Vec::new(),
        })
        .await
        .unwrap();
    let metrics = pump.http("GET", "/metrics").1;
    assert!(
        metrics.contains("binlog_pump_loss_binlog_count 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_routes_answer_with_the_original_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let pump = start_pump(dir.path(), &backend, &[]);
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let written = write_pairs(&pump, &backend, cluster_id, 2, 3).await;

    // /status
    let (code, body) = pump.http("GET", "/status");
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    let object = status.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["Checkpoint", "CommitTS", "ErrMsg", "status"]);
    assert!(status["CommitTS"].as_u64().unwrap() > 0);
    assert_eq!(status["Checkpoint"], serde_json::json!({}));
    assert_eq!(status["ErrMsg"], "");
    let nodes = status["status"].as_object().unwrap();
    assert_eq!(nodes.len(), 1);
    let (node_id, node) = nodes.iter().next().unwrap();
    assert_node_shape(node);
    assert_eq!(node["nodeId"], node_id.as_str());
    assert_eq!(node["host"], pump.addr.as_str());
    assert_eq!(node["state"], "online");
    assert_eq!(node["isAlive"], true);
    assert!(http_headers(&pump.addr, "GET", "/status").contains("content-type: application/json"));

    // /drainers: [] then the registered drainer.
    assert_eq!(pump.http("GET", "/drainers"), (200, "[]\n".to_owned()));
    let drainer = drainer_status("drainer-1", NodeState::Online, 5);
    backend
        .registry
        .update_node(NodeKind::Drainer, &drainer)
        .await
        .unwrap();
    let drainers: Value = serde_json::from_str(&pump.http("GET", "/drainers").1).unwrap();
    assert_eq!(
        drainers,
        serde_json::json!([serde_json::to_value(&drainer).unwrap()])
    );
    assert_node_shape(&drainers[0]);

    // /debug/binlog/{ts}
    let (start_ts, (commit_ts, _)) = written.iter().next().unwrap();
    let (code, text) = pump.http("GET", &format!("/debug/binlog/{start_ts}"));
    assert_eq!(code, 200);
    assert!(
        text.starts_with(&format!(
            "tp:Prewrite start_ts:{start_ts} commit_ts:0 prewrite_key:\"t\\200\\000\\001\" "
        )),
        "{text}"
    );
    assert!(
        text.contains("\n\n PrewriteValue: \nschema_version:7 mutations:<"),
        "{text}"
    );
    assert!(text.contains("GetMvccByEncodedKey failed: "), "{text}");
    let text = pump.http("GET", &format!("/debug/binlog/{commit_ts}")).1;
    assert!(
        text.starts_with(&format!(
            "tp:Commit start_ts:{start_ts} commit_ts:{commit_ts} ddl_job_id:0 ddl_schema_state:0 "
        )),
        "{text}"
    );
    let json: Value = serde_json::from_str(
        &pump
            .http("GET", &format!("/debug/binlog/{commit_ts}?format=json"))
            .1,
    )
    .unwrap();
    assert_eq!(json["tp"], "Commit");
    assert_eq!(json["commit_ts"], *commit_ts);
    assert_eq!(
        pump.http("GET", "/debug/binlog/abc"),
        (200, "invalid parameter ts: abc".to_owned())
    );
    assert_eq!(
        pump.http("GET", "/debug/binlog/5"),
        (200, "fail read binlog by ts: 5: not found".to_owned())
    );

    // /debug/gc/trigger
    assert_eq!(
        pump.http("POST", "/debug/gc/trigger"),
        (200, "trigger gc success\n".to_owned())
    );

    // Router errors.
    assert_eq!(
        pump.http("GET", "/no/such/route"),
        (404, "404 page not found\n".to_owned())
    );
    assert_eq!(pump.http("POST", "/status").0, 405);
    assert_eq!(pump.http("GET", "/state/x/pause").0, 405);

    // /state refusals.
    let (code, body) = pump.http("PUT", "/state/someone-else/pause");
    assert_eq!(code, 200);
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        reply,
        serde_json::json!({"message": format!("invalid nodeID someone-else, this pump's nodeID is {node_id}"), "code": 3, "data": null})
    );
    assert!(
        body.starts_with("{\n  \"message\""),
        "indented like the original: {body}"
    );
    let reply: Value =
        serde_json::from_str(&pump.http("PUT", &format!("/state/{node_id}/dance")).1).unwrap();
    assert_eq!(reply["message"], "invalid action dance");
    assert_eq!(reply["code"], 3);

    // /metrics passes promtool and carries the original names.
    let metrics = pump.http("GET", "/metrics").1;
    for name in [
        "binlog_pump_rpc_duration_seconds_bucket",
        "binlog_pump_storage_max_commit_ts",
        "binlog_pump_storage_storage_size_bytes",
        "binlog_pump_storage_write_binlog_duration_time_bucket",
        "binlog_pump_loss_binlog_count",
        "process_resident_memory_bytes",
    ] {
        assert!(metrics.contains(name), "{name} missing from\n{metrics}");
    }
    promtool_check(&metrics);
}

fn assert_node_shape(node: &Value) {
    let object = node.as_object().unwrap();
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut expected = vec![
        "nodeId",
        "host",
        "state",
        "isAlive",
        "score",
        "label",
        "maxCommitTS",
        "updateTS",
    ];
    expected.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected);
    assert!(node["nodeId"].is_string() && node["host"].is_string() && node["state"].is_string());
    assert!(node["isAlive"].is_boolean() && node["score"].is_i64());
    assert!(node["label"].is_null() || node["label"].is_object());
    assert!(node["maxCommitTS"].is_i64() && node["updateTS"].is_i64());
}

fn drainer_status(id: &str, state: NodeState, max_commit_ts: i64) -> NodeStatus {
    NodeStatus {
        node_id: id.to_owned(),
        host: "127.0.0.1:1".to_owned(),
        state,
        is_alive: false,
        score: 0,
        label: None,
        max_commit_ts,
        update_ts: max_commit_ts,
    }
}

async fn pump_entry(registry: &dyn Registry, id: &str) -> NodeStatus {
    registry
        .node(NodeKind::Pump, id)
        .await
        .unwrap()
        .expect("pump entry")
}

/// `pause` ends `paused` with exit 0; a restart comes back `online`; `close` waits for the
/// registered drainer's checkpoint (refusing prewrites and probes meanwhile), then `offline`.
async fn lifecycle(kind: &str) {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(kind, &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let mut pump = start_pump(dir.path(), &backend, &[]);
    let node_id = std::fs::read_to_string(pump.data_dir.join(".node")).unwrap();
    assert_eq!(
        pump_entry(backend.registry.as_ref(), &node_id).await.state,
        NodeState::Online
    );
    write_pairs(&pump, &backend, cluster_id, 2, 5).await;

    let reply: Value =
        serde_json::from_str(&pump.http("PUT", &format!("/state/{node_id}/pause")).1).unwrap();
    assert_eq!(
        reply,
        serde_json::json!({"message": "apply action pause success!", "code": 200, "data": null})
    );
    assert!(pump.wait_exit(Duration::from_secs(20)).success());
    let paused = pump_entry(backend.registry.as_ref(), &node_id).await;
    assert_eq!(paused.state, NodeState::Paused);

    // Restart: online again, with the same ID and the watermark kept.
    let mut pump = start_pump(dir.path(), &backend, &[]);
    let online = pump_entry(backend.registry.as_ref(), &node_id).await;
    assert_eq!(online.state, NodeState::Online);
    assert!(online.max_commit_ts >= paused.max_commit_ts);

    // A drainer behind the pump holds `close`.
    backend
        .registry
        .update_node(
            NodeKind::Drainer,
            &drainer_status("drainer-1", NodeState::Online, 1),
        )
        .await
        .unwrap();
    backend
        .registry
        .update_node(
            NodeKind::Drainer,
            &drainer_status("drainer-gone", NodeState::Offline, 1),
        )
        .await
        .unwrap();
    let reply: Value =
        serde_json::from_str(&pump.http("PUT", &format!("/state/{node_id}/close")).1).unwrap();
    assert_eq!(reply["message"], "apply action close success!");
    let mut client = pump.client().await;
    let status = client
        .write_binlog(WriteBinlogReq {
            cluster_id,
            payload: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.message(), "no online: closing");
    let reply: Value =
        serde_json::from_str(&pump.http("PUT", &format!("/state/{node_id}/pause")).1).unwrap();
    assert_eq!(
        reply["message"],
        "this pump's state is closing, apply pause failed!"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pump_entry(backend.registry.as_ref(), &node_id).await.state,
        NodeState::Online,
        "close must wait for the drainer"
    );

    // The drainer catches up by pulling (pulls keep being served while closing, and carry the
    // close-time fake binlogs); each received commit TS becomes its checkpoint. The pump then
    // goes offline and exits 0.
    let puller = {
        let registry = backend.registry.clone();
        let mut client = pump.client().await;
        tokio::spawn(async move {
            let mut stream = pull(&mut client, cluster_id, Some(0)).await;
            let mut last = 0;
            while let Some(Ok(response)) = stream.next().await {
                last = response.entity.unwrap().meta.unwrap().commit_ts;
                let checkpoint = drainer_status("drainer-1", NodeState::Online, last);
                registry
                    .update_node(NodeKind::Drainer, &checkpoint)
                    .await
                    .unwrap();
            }
            last
        })
    };
    assert!(pump.wait_exit(Duration::from_secs(20)).success());
    assert_eq!(
        pump_entry(backend.registry.as_ref(), &node_id).await.state,
        NodeState::Offline
    );

    // The stream ended OK when the pump stopped, after delivering the fakes.
    let last = puller.await.unwrap();
    assert!(last > 0);

    // SIGTERM ends `paused` too. (The pump comes back from `offline`, so it notifies online
    // drainers: the stand-in drainer has no server, so it goes offline first.)
    backend
        .registry
        .update_node(
            NodeKind::Drainer,
            &drainer_status("drainer-1", NodeState::Offline, last),
        )
        .await
        .unwrap();
    let pump = start_pump(dir.path(), &backend, &[]);
    let mut pump = pump;
    pump.signal(libc::SIGTERM);
    assert!(pump.wait_exit(Duration::from_secs(20)).success());
    assert_eq!(
        pump_entry(backend.registry.as_ref(), &node_id).await.state,
        NodeState::Paused
    );
}

/// A signal while `close` waits for a drainer that never catches up: the pump stops waiting,
/// ends `paused` (not `offline`: its binlogs were not consumed) and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_interrupts_a_close() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let mut pump = start_pump(dir.path(), &backend, &[]);
    let node_id = std::fs::read_to_string(pump.data_dir.join(".node")).unwrap();
    let stuck = drainer_status("drainer-stuck", NodeState::Paused, 1);
    backend
        .registry
        .update_node(NodeKind::Drainer, &stuck)
        .await
        .unwrap();
    let reply: Value =
        serde_json::from_str(&pump.http("PUT", &format!("/state/{node_id}/close")).1).unwrap();
    assert_eq!(reply["code"], 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    pump.signal(libc::SIGTERM);
    assert!(pump.wait_exit(Duration::from_secs(20)).success());
    let entry = pump_entry(backend.registry.as_ref(), &node_id).await;
    assert_eq!(entry.state, NodeState::Paused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_on_the_file_registry() {
    lifecycle("file").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_on_etcd() {
    lifecycle("etcd").await;
}

/// With no traffic, fake binlogs (`start == commit`, a fresh TSO) reach a puller every
/// `-fake-binlog-interval`; a GC run (on `/debug/gc/trigger`) moves the GC point, after which a
/// pull from below it is refused instead of silently missing binlogs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_binlogs_flow_and_gc_refuses_pulls_below_it() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let pump = start_pump(dir.path(), &backend, &["-gc", "1s"]);
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let before = backend.tso.get_ts().await.unwrap() as i64;
    let mut client = pump.client().await;
    let mut stream = pull(&mut client, cluster_id, Some(before)).await;
    let mut fakes = Vec::new();
    while fakes.len() < 2 {
        let entity = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("no fake binlog while idle")
            .unwrap()
            .unwrap()
            .entity
            .unwrap();
        let binlog = Binlog::decode(&entity.payload[..]).unwrap();
        assert!(binlog.is_fake(), "{binlog:?}");
        assert!(binlog.commit_ts > before);
        fakes.push(binlog.commit_ts);
    }
    assert!(fakes[1] > fakes[0]);

    // GC with a 1 s retention: once it has run, a pull from 0 is refused.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refused = async {
        loop {
            let reply = pump.http("POST", "/debug/gc/trigger").1;
            assert!(
                reply == "trigger gc success\n" || reply == "gc is working\n",
                "{reply}"
            );
            let pull = client
                .pull_binlogs(PullBinlogReq {
                    cluster_id,
                    start_from: None,
                })
                .await;
            if let Err(status) = pull {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("GC never moved the GC point");
    assert_eq!(status.code(), tonic::Code::Unknown);
    assert!(status.message().contains("purged by GC"), "{status:?}");
    let metrics = pump.http("GET", "/metrics").1;
    assert!(
        !metrics.contains("binlog_pump_storage_gc_ts 0\n"),
        "{metrics}"
    );
}

/// `/status` reports a registry failure in `ErrMsg`, with `status` null and `CommitTS` 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_a_registry_error() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let pump = start_pump(dir.path(), &backend, &[]);
    std::fs::write(dir.path().join("registry/pumps/broken.json"), "{not json").unwrap();
    let status: Value = serde_json::from_str(&pump.http("GET", "/status").1).unwrap();
    assert_eq!(status["status"], Value::Null);
    assert_eq!(status["CommitTS"], 0);
    assert_eq!(status["Checkpoint"], serde_json::json!({}));
    assert!(
        status["ErrMsg"].as_str().unwrap().contains("broken"),
        "{status}"
    );
}

/// `-socket` serves gRPC on a unix socket too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_on_the_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let socket = dir.path().join("pump.sock");
    let flag = format!("unix://{}", socket.display());
    let _pump = start_pump(dir.path(), &backend, &["-socket", &flag]);
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .unwrap();
    let mut client = binlog_node::proto::pump_client::PumpClient::new(channel);
    let start_ts = backend.tso.get_ts().await.unwrap() as i64;
    let prewrite = Binlog {
        tp: BinlogType::Prewrite as i32,
        start_ts,
        ..Default::default()
    };
    write(&mut client, cluster_id, &prewrite).await.unwrap();
}

/// Counts `Cistern.Notify` calls; the drainer's other methods are not part of this protocol.
struct NotifyCounter(Arc<std::sync::atomic::AtomicUsize>);

#[tonic::async_trait]
impl binlog_node::proto::cistern_server::Cistern for NotifyCounter {
    type DumpBinlogStream =
        futures_util::stream::Empty<Result<binlog_node::proto::DumpBinlogResp, tonic::Status>>;

    async fn dump_binlog(
        &self,
        _: tonic::Request<binlog_node::proto::DumpBinlogReq>,
    ) -> Result<tonic::Response<Self::DumpBinlogStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not a drainer method"))
    }

    async fn dump_ddl_jobs(
        &self,
        _: tonic::Request<binlog_node::proto::DumpDdlJobsReq>,
    ) -> Result<tonic::Response<binlog_node::proto::DumpDdlJobsResp>, tonic::Status> {
        Err(tonic::Status::unimplemented("not a drainer method"))
    }

    async fn get_latest_commit_ts(
        &self,
        _: tonic::Request<binlog_node::proto::GetLatestCommitTsReq>,
    ) -> Result<tonic::Response<binlog_node::proto::GetLatestCommitTsResp>, tonic::Status> {
        Err(tonic::Status::unimplemented("not a drainer method"))
    }

    async fn notify(
        &self,
        _: tonic::Request<binlog_node::proto::NotifyReq>,
    ) -> Result<tonic::Response<binlog_node::proto::NotifyResp>, tonic::Status> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(tonic::Response::new(binlog_node::proto::NotifyResp {}))
    }
}

/// A pump that comes online for the first time (or back from `offline`) calls `Cistern.Notify`
/// on every online drainer; a restart from `paused` does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_pump_notifies_online_drainers() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let drainer_addr = listener.local_addr().unwrap().to_string();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let service =
        binlog_node::proto::cistern_server::CisternServer::new(NotifyCounter(calls.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut drainer = drainer_status("drainer-1", NodeState::Online, 1);
    drainer.host = drainer_addr;
    backend
        .registry
        .update_node(NodeKind::Drainer, &drainer)
        .await
        .unwrap();

    let mut pump = start_pump(dir.path(), &backend, &[]);
    // The pump registers `online` (which the kit waits for) and then notifies: poll.
    let notified = || calls.load(std::sync::atomic::Ordering::SeqCst);
    binlog_testkit::poll::wait_for(
        "the pump's Cistern.Notify",
        Duration::from_secs(10),
        || (notified() == 1).then_some(()),
        || pump.log(),
    );
    pump.signal(libc::SIGTERM);
    assert!(pump.wait_exit(Duration::from_secs(20)).success());
    let pump = start_pump(dir.path(), &backend, &[]);
    // A notify would follow the registration at once: give it the time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(pump);
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a paused pump coming back does not notify"
    );
}
