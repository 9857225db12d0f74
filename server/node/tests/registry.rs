//! The registry and TSO backends against their contracts: every case runs on the file backend
//! and on a real etcd.

use std::collections::BTreeMap;
use std::sync::Arc;

use binlog_node::registry::etcd::EtcdRegistry;
use binlog_node::registry::file::{encode_node_id, FileRegistry};
use binlog_node::registry::{Label, NodeKind, NodeState, NodeStatus, Registry};
use binlog_node::tso::etcd::EtcdTso;
use binlog_node::tso::file::FileTso;
use binlog_node::tso::Tso;
use binlog_testkit::etcd::EtcdServer;

/// Where a test's registry and TSO live.
enum Backend {
    File(tempfile::TempDir),
    Etcd(EtcdServer),
}

/// A registry that can also create an entry only if it is absent.
enum Creator {
    File(FileRegistry),
    Etcd(Box<EtcdRegistry>),
}

impl Creator {
    async fn create(&self, kind: NodeKind, status: &NodeStatus) -> binlog_node::Result<()> {
        match self {
            Creator::File(registry) => registry.create_node(kind, status).await,
            Creator::Etcd(registry) => registry.create_node(kind, status).await,
        }
    }
}

impl Backend {
    fn file() -> Backend {
        Backend::File(tempfile::tempdir().unwrap())
    }

    fn etcd() -> Backend {
        Backend::Etcd(EtcdServer::start())
    }

    /// A new registry instance, independent of every other one.
    async fn registry(&self) -> Arc<dyn Registry> {
        match self.creator().await {
            Creator::File(registry) => Arc::new(registry),
            Creator::Etcd(registry) => Arc::new(*registry),
        }
    }

    async fn creator(&self) -> Creator {
        match self {
            Backend::File(dir) => Creator::File(FileRegistry::open(dir.path()).unwrap()),
            // Without the scheme, as pd-urls may be written.
            Backend::Etcd(etcd) => Creator::Etcd(Box::new(
                EtcdRegistry::connect(
                    &[etcd.url().trim_start_matches("http://").to_string()],
                    None,
                )
                .await
                .unwrap(),
            )),
        }
    }

    /// A new TSO instance, independent of every other one.
    async fn tso(&self) -> Arc<dyn Tso> {
        match self {
            Backend::File(dir) => Arc::new(FileTso::open(dir.path()).unwrap()),
            Backend::Etcd(etcd) => Arc::new(
                EtcdTso::connect(&[etcd.url().to_string()], None)
                    .await
                    .unwrap(),
            ),
        }
    }

    /// The bytes stored for a node.
    async fn raw(&self, kind: NodeKind, node_id: &str) -> Vec<u8> {
        match self {
            Backend::File(dir) => std::fs::read(entry_path(dir.path(), kind, node_id)).unwrap(),
            Backend::Etcd(etcd) => {
                let mut client = etcd_client::Client::connect([etcd.url()], None)
                    .await
                    .unwrap();
                let resp = client.get(etcd_key(kind, node_id), None).await.unwrap();
                resp.kvs()[0].value().to_vec()
            }
        }
    }

    /// Stores `value` for a node, bypassing the registry.
    async fn put_raw(&self, kind: NodeKind, node_id: &str, value: &[u8]) {
        match self {
            Backend::File(dir) => {
                std::fs::write(entry_path(dir.path(), kind, node_id), value).unwrap()
            }
            Backend::Etcd(etcd) => {
                let mut client = etcd_client::Client::connect([etcd.url()], None)
                    .await
                    .unwrap();
                client
                    .put(etcd_key(kind, node_id), value, None)
                    .await
                    .unwrap();
            }
        }
    }
}

fn entry_path(dir: &std::path::Path, kind: NodeKind, node_id: &str) -> std::path::PathBuf {
    dir.join(kind.prefix())
        .join(format!("{}.json", encode_node_id(node_id)))
}

fn etcd_key(kind: NodeKind, node_id: &str) -> String {
    format!("/tidb-binlog/v1/{}/{node_id}", kind.prefix())
}

fn status(node_id: &str, state: NodeState, max_commit_ts: i64) -> NodeStatus {
    NodeStatus {
        node_id: node_id.to_string(),
        host: "127.0.0.1:8250".to_string(),
        state,
        is_alive: false,
        score: 0,
        label: None,
        max_commit_ts,
        update_ts: 412_518_831_338_292_471,
    }
}

fn ids(nodes: &[NodeStatus]) -> Vec<&str> {
    nodes.iter().map(|n| n.node_id.as_str()).collect()
}

/// Runs each case as `file_backend::<case>` and `etcd_backend::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod file_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::Backend::file()).await
                }
            )*
        }
        mod etcd_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::Backend::etcd()).await
                }
            )*
        }
    };
}

on_both_backends!(
    round_trip_is_exact_json,
    nodes_are_sorted_and_kinds_separate,
    invalid_json_fails_naming_the_entry,
    of_racing_creators_exactly_one_wins,
    cluster_id_is_made_once,
    tso_is_strictly_increasing_across_tasks_and_instances,
    tso_never_goes_back_across_reopen,
);

async fn round_trip_is_exact_json(backend: Backend) {
    let registry = backend.registry().await;
    assert_eq!(registry.node(NodeKind::Pump, "p1").await.unwrap(), None);

    let mut pump = status("p1", NodeState::Online, 412_518_831_548_007_863);
    registry.update_node(NodeKind::Pump, &pump).await.unwrap();
    assert_eq!(
        String::from_utf8(backend.raw(NodeKind::Pump, "p1").await).unwrap(),
        r#"{"nodeId":"p1","host":"127.0.0.1:8250","state":"online","isAlive":false,"score":0,"label":null,"maxCommitTS":412518831548007863,"updateTS":412518831338292471}"#
    );
    assert_eq!(
        registry.node(NodeKind::Pump, "p1").await.unwrap(),
        Some(pump.clone())
    );

    // The update path, with every field changed.
    pump.host = "10.0.0.1:8250".into();
    pump.state = NodeState::Paused;
    pump.is_alive = true;
    pump.score = -1;
    pump.label = Some(Label {
        labels: BTreeMap::from([("zone".to_string(), "a".to_string())]),
    });
    pump.max_commit_ts += 1;
    pump.update_ts += 1;
    registry.update_node(NodeKind::Pump, &pump).await.unwrap();
    assert_eq!(
        backend.raw(NodeKind::Pump, "p1").await,
        serde_json::to_vec(&pump).unwrap()
    );
    // Another instance reads the same.
    let other = backend.registry().await;
    assert_eq!(other.node(NodeKind::Pump, "p1").await.unwrap(), Some(pump));
    assert_eq!(other.node(NodeKind::Drainer, "p1").await.unwrap(), None);
}

async fn nodes_are_sorted_and_kinds_separate(backend: Backend) {
    let registry = backend.registry().await;
    assert_eq!(registry.nodes(NodeKind::Pump).await.unwrap(), vec![]);
    for id in ["c", "a", "b:8250", "b"] {
        registry
            .update_node(NodeKind::Pump, &status(id, NodeState::Online, 1))
            .await
            .unwrap();
    }
    registry
        .update_node(NodeKind::Drainer, &status("d", NodeState::Offline, 2))
        .await
        .unwrap();
    let pumps = registry.nodes(NodeKind::Pump).await.unwrap();
    assert_eq!(ids(&pumps), ["a", "b", "b:8250", "c"]);
    assert!(pumps.iter().all(|p| p.state == NodeState::Online));
    let drainers = registry.nodes(NodeKind::Drainer).await.unwrap();
    assert_eq!(drainers, vec![status("d", NodeState::Offline, 2)]);
}

async fn invalid_json_fails_naming_the_entry(backend: Backend) {
    let registry = backend.registry().await;
    registry
        .update_node(NodeKind::Pump, &status("good", NodeState::Online, 1))
        .await
        .unwrap();
    backend
        .put_raw(NodeKind::Pump, "broken", b"{not json")
        .await;
    let err = registry
        .nodes(NodeKind::Pump)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken"), "{err}");
    let err = registry
        .node(NodeKind::Pump, "broken")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken"), "{err}");
    // The other kind is not affected.
    assert_eq!(registry.nodes(NodeKind::Drainer).await.unwrap(), vec![]);
}

async fn of_racing_creators_exactly_one_wins(backend: Backend) {
    const CREATORS: usize = 6;
    let mut creators = Vec::new();
    for _ in 0..CREATORS {
        creators.push(backend.creator().await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(CREATORS));
    let tasks: Vec<_> = creators
        .into_iter()
        .enumerate()
        .map(|(i, creator)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let pump = status("new", NodeState::Online, i as i64);
                creator.create(NodeKind::Pump, &pump).await.map(|()| pump)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(pump) => winners.push(pump),
            Err(e) => assert!(e.to_string().contains("already exists"), "{e}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let registry = backend.registry().await;
    assert_eq!(
        registry.node(NodeKind::Pump, "new").await.unwrap(),
        winners.pop()
    );

    // Creating an existing entry fails; updating it does not.
    let creator = backend.creator().await;
    let err = creator
        .create(NodeKind::Pump, &status("new", NodeState::Paused, 0))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    let paused = status("new", NodeState::Paused, 7);
    registry.update_node(NodeKind::Pump, &paused).await.unwrap();
    assert_eq!(
        registry.node(NodeKind::Pump, "new").await.unwrap(),
        Some(paused)
    );
}

async fn cluster_id_is_made_once(backend: Backend) {
    let (a, b) = (backend.registry().await, backend.registry().await);
    let (id_a, id_b) = tokio::join!(a.cluster_id(), b.cluster_id());
    let id = id_a.unwrap();
    assert_ne!(id, 0);
    assert_eq!(id_b.unwrap(), id);
    drop((a, b));
    assert_eq!(backend.registry().await.cluster_id().await.unwrap(), id);
}

async fn tso_is_strictly_increasing_across_tasks_and_instances(backend: Backend) {
    const TASKS: usize = 8;
    const PER_TASK: usize = 25;
    let instances = [backend.tso().await, backend.tso().await];
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let tso = instances[i % 2].clone();
            tokio::spawn(async move {
                let mut taken = Vec::with_capacity(PER_TASK);
                for _ in 0..PER_TASK {
                    taken.push(tso.get_ts().await.unwrap());
                }
                taken
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let taken = task.await.unwrap();
        assert!(taken.windows(2).all(|w| w[0] < w[1]), "{taken:?}");
        all.extend(taken);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), TASKS * PER_TASK, "duplicate TSs");
    // In real-time order, alternating instances: each TS above every earlier one.
    let mut last = *all.last().unwrap();
    for i in 0..20 {
        let ts = instances[i % 2].get_ts().await.unwrap();
        assert!(ts > last, "{ts} after {last}");
        last = ts;
    }
}

async fn tso_never_goes_back_across_reopen(backend: Backend) {
    let tso = backend.tso().await;
    let mut last = 0;
    for _ in 0..10 {
        last = tso.get_ts().await.unwrap();
    }
    drop(tso);
    let tso = backend.tso().await;
    let ts = tso.get_ts().await.unwrap();
    assert!(ts > last, "{ts} after {last}");
}

#[tokio::test]
async fn file_registry_maps_any_node_id_to_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FileRegistry::open(dir.path()).unwrap();
    let odd = [
        "a/b",
        "../up",
        "host:8250",
        "50%",
        ".",
        "..",
        "sp ace",
        "ünï",
    ];
    for id in odd {
        registry
            .update_node(NodeKind::Drainer, &status(id, NodeState::Online, 3))
            .await
            .unwrap();
        assert_eq!(
            registry.node(NodeKind::Drainer, id).await.unwrap(),
            Some(status(id, NodeState::Online, 3)),
            "{id:?}"
        );
    }
    let mut expected = odd.to_vec();
    expected.sort_unstable();
    assert_eq!(
        ids(&registry.nodes(NodeKind::Drainer).await.unwrap()),
        expected
    );
    // One plain file per node, all inside the kind's directory.
    let files: Vec<_> = std::fs::read_dir(dir.path().join("drainers"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .collect();
    assert_eq!(files.len(), odd.len());
    assert!(files.iter().all(|f| f.file_type().unwrap().is_file()));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "only pumps/ and drainers/"
    );
}

#[tokio::test]
async fn file_registry_creates_its_directory_or_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/registry");
    FileRegistry::open(&nested).unwrap();
    assert!(nested.join("pumps").is_dir() && nested.join("drainers").is_dir());

    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let below = blocker.join("registry");
    let err = FileRegistry::open(&below).unwrap_err().to_string();
    assert!(err.contains(&below.display().to_string()), "{err}");
}

#[tokio::test]
async fn corrupt_tso_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let tso = FileTso::open(dir.path()).unwrap();
    tso.get_ts().await.unwrap();
    drop(tso);
    let path = dir.path().join("tso");
    std::fs::write(&path, [0xFFu8; 44]).unwrap();
    let err = FileTso::open(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("corrupt"),
        "{err}"
    );
}

#[tokio::test]
async fn etcd_connection_failure_names_the_endpoints() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("127.0.0.1:{port}");
    let err = EtcdRegistry::connect(std::slice::from_ref(&url), None)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&format!("http://{url}")), "{err}");
}

#[tokio::test]
async fn etcd_backend_keeps_its_own_cluster_id_and_refuses_a_real_pd() {
    const OURS: &str = "/tidb-binlog/v1/cluster_id";
    const PD: &str = "/pd/cluster_id";
    let etcd = EtcdServer::start();
    let urls = [etcd.url().to_string()];
    let mut client = etcd_client::Client::connect([etcd.url()], None)
        .await
        .unwrap();
    let registry = EtcdRegistry::connect(&urls, None).await.unwrap();
    let refused = |err: String| {
        assert!(
            err.contains(&format!(
                "pd-urls {} points at a PD cluster (found {PD})",
                etcd.url()
            )) && err.contains("no client for PD's TSO service"),
            "{err}"
        );
    };

    // A PD appears before the cluster ID is made: refused, and nothing is made.
    client
        .put(PD, 7_000_000_000_000_000_001u64.to_be_bytes(), None)
        .await
        .unwrap();
    refused(registry.cluster_id().await.unwrap_err().to_string());
    assert_eq!(client.get(OURS, None).await.unwrap().count(), 0);

    // Plain etcd: our own key, 8 bytes big-endian.
    client.delete(PD, None).await.unwrap();
    let id = registry.cluster_id().await.unwrap();
    assert_ne!(id, 0);
    let resp = client.get(OURS, None).await.unwrap();
    assert_eq!(resp.kvs()[0].value(), id.to_be_bytes());

    // A PD appears after it was made: still refused.
    client
        .put(PD, 7_000_000_000_000_000_001u64.to_be_bytes(), None)
        .await
        .unwrap();
    refused(registry.cluster_id().await.unwrap_err().to_string());

    // Connecting to a PD is refused, for the registry and the TSO alike.
    refused(
        EtcdRegistry::connect(&urls, None)
            .await
            .err()
            .unwrap()
            .to_string(),
    );
    refused(
        EtcdTso::connect(&urls, None)
            .await
            .err()
            .unwrap()
            .to_string(),
    );
    let dir = tempfile::tempdir().unwrap();
    refused(
        binlog_node::registry::open(&urls, None, dir.path())
            .await
            .err()
            .unwrap()
            .to_string(),
    );
    refused(
        binlog_node::tso::open(&urls, None, dir.path())
            .await
            .err()
            .unwrap()
            .to_string(),
    );
}
