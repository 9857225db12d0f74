//! `binlogctl` end to end: the real binary against the file registry and a real etcd, and
//! `pause-pump` / `offline-pump` against a real pump.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use binlog_node::registry::{self, NodeKind, NodeState, NodeStatus};
use binlog_node::savepoint;
use binlog_node::tso;
use binlog_testkit::etcd::EtcdServer;
use binlog_testkit::poll::wait_for;
use binlog_testkit::pump::{PumpOptions, PumpProcess};

/// How long a pump may take to exit after binlogctl paused or closed it.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the nodes live for one test: a file registry directory or a real etcd.
enum Backend {
    File(tempfile::TempDir),
    Etcd(EtcdServer),
}

impl Backend {
    fn file() -> Backend {
        Backend::File(tempfile::tempdir().expect("tempdir"))
    }

    fn etcd() -> Backend {
        Backend::Etcd(EtcdServer::start())
    }

    /// The flags selecting this registry, for binlogctl and the pump alike.
    fn flags(&self) -> Vec<String> {
        match self {
            Backend::File(dir) => vec!["-registry-dir".into(), dir.path().display().to_string()],
            Backend::Etcd(server) => vec!["-pd-urls".into(), server.url().to_owned()],
        }
    }

    /// Runs `binlogctl` on this registry with `args`.
    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_binlogctl"))
            .args(self.flags())
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run binlogctl")
    }

    /// Writes `nodes` straight into the registry.
    fn seed(&self, kind: NodeKind, nodes: &[NodeStatus]) {
        let (pd_urls, dir) = match self {
            Backend::File(dir) => (Vec::new(), dir.path().to_path_buf()),
            Backend::Etcd(server) => (vec![server.url().to_owned()], PathBuf::new()),
        };
        runtime().block_on(async {
            let registry = registry::open(&pd_urls, None, &dir)
                .await
                .expect("open registry");
            for node in nodes {
                registry.update_node(kind, node).await.expect("seed node");
            }
        });
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn node(id: &str, state: NodeState, max_commit_ts: i64) -> NodeStatus {
    NodeStatus {
        node_id: id.into(),
        host: format!("127.0.0.1:{}", 8250 + id.len()),
        state,
        is_alive: false,
        score: 0,
        label: None,
        max_commit_ts,
        update_ts: tso::compose_ts(1_556_443_797_000, 0) as i64,
    }
}

/// Stdout of a run that must succeed.
fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "binlogctl failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Stderr of a run that must fail with `code`.
fn failure(output: &Output, code: i32) -> String {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn nodes_json(text: &str) -> Vec<NodeStatus> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not a node array ({e}): {text}"))
}

fn check_lists(backend: Backend) {
    backend.seed(
        NodeKind::Pump,
        &[
            node("pump-a", NodeState::Online, 42),
            node("pump-b", NodeState::Offline, 7),
        ],
    );
    backend.seed(
        NodeKind::Drainer,
        &[node("drainer-a", NodeState::Paused, 9)],
    );

    let text = success(&backend.ctl(&["-cmd", "pumps"]));
    assert_eq!(
        text,
        "{NodeID: pump-a, Addr: 127.0.0.1:8256, State: online, MaxCommitTS: 42, \
         UpdateTime: 2019-04-28 09:29:57.000 UTC}\n"
    );
    // `pumps` is the default command.
    assert_eq!(success(&backend.ctl(&[])), text);

    let all = success(&backend.ctl(&["-cmd", "pumps", "-show-offline-nodes"]));
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 2, "{all}");
    assert!(lines[1].contains("NodeID: pump-b,") && lines[1].contains("State: offline,"));
    assert!(lines[1].contains("MaxCommitTS: 7, "));

    let json = nodes_json(&success(&backend.ctl(&["-cmd", "pumps", "-json"])));
    assert_eq!(json, vec![node("pump-a", NodeState::Online, 42)]);
    let json = nodes_json(&success(&backend.ctl(&[
        "--cmd=pumps",
        "--json",
        "--show-offline-nodes=true",
    ])));
    assert_eq!(json.len(), 2);

    let drainers = success(&backend.ctl(&["-cmd", "drainers"]));
    assert!(drainers.starts_with("{NodeID: drainer-a, "), "{drainers}");
    assert!(drainers.contains("State: paused, MaxCommitTS: 9, "));
    let json = nodes_json(&success(&backend.ctl(&["-cmd", "drainers", "-json"])));
    assert_eq!(json, vec![node("drainer-a", NodeState::Paused, 9)]);
}

#[test]
fn lists_file_registry() {
    check_lists(Backend::file());
}

#[test]
fn lists_etcd() {
    check_lists(Backend::etcd());
}

fn check_update(backend: Backend) {
    let original = node("drainer-x", NodeState::Online, 100);
    backend.seed(NodeKind::Drainer, std::slice::from_ref(&original));

    let out = success(&backend.ctl(&[
        "-cmd",
        "update-drainer",
        "-node-id",
        "drainer-x",
        "-state",
        "paused",
    ]));
    assert!(out.contains("State: paused"), "{out}");
    let json = nodes_json(&success(&backend.ctl(&["-cmd", "drainers", "-json"])));
    let expected = NodeStatus {
        state: NodeState::Paused,
        ..original.clone()
    };
    assert_eq!(json, vec![expected]);

    // Offline, then hidden unless asked for.
    let out = success(&backend.ctl(&[
        "-cmd=update-drainer",
        "-node-id=drainer-x",
        "-state=offline",
        "-json",
    ]));
    let updated: NodeStatus = serde_json::from_str(&out).expect("update -json");
    assert_eq!(updated.state, NodeState::Offline);
    assert_eq!(success(&backend.ctl(&["-cmd", "drainers"])), "");

    let error = failure(
        &backend.ctl(&[
            "-cmd",
            "update-drainer",
            "-node-id",
            "drainer-x",
            "-state",
            "sleeping",
        ]),
        1,
    );
    assert!(error.contains("state sleeping is illegal"), "{error}");
    let error = failure(
        &backend.ctl(&[
            "-cmd",
            "update-pump",
            "-node-id",
            "nobody",
            "-state",
            "online",
        ]),
        1,
    );
    assert!(error.contains("pump nobody not found"), "{error}");
    let error = failure(
        &backend.ctl(&["-cmd", "update-pump", "-state", "online"]),
        1,
    );
    assert!(error.contains("needs -node-id"), "{error}");
}

#[test]
fn update_file_registry() {
    check_update(Backend::file());
}

#[test]
fn update_etcd() {
    check_update(Backend::etcd());
}

fn check_generate_meta(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("binlog_position");
    let data_dir_flag = data_dir.display().to_string();
    let before = tso::now_ts();
    let out = success(&backend.ctl(&["-cmd", "generate_meta", "-data-dir", &data_dir_flag]));
    let ts: u64 = out.trim().parse().expect("generate_meta prints the TS");
    assert!(
        tso::physical_ms(ts) + 1 >= tso::physical_ms(before)
            && tso::physical_ms(ts) <= tso::physical_ms(tso::now_ts()) + 60_000,
        "TS {ts} is not close to now"
    );
    let saved = savepoint::read(&data_dir).expect("read savepoint");
    assert_eq!(
        saved,
        Some(savepoint::Savepoint {
            consistent: false,
            commit_ts: ts as i64,
            schema_version: 0
        })
    );

    // Again, with times as comments and JSON output: a later TS, still a valid savepoint.
    let out = success(&backend.ctl(&[
        "-cmd",
        "generate_meta",
        "-data-dir",
        &data_dir_flag,
        "-time-zone",
        "Asia/Shanghai",
        "-json",
    ]));
    let reply: serde_json::Value = serde_json::from_str(&out).expect("generate_meta -json");
    let second = reply["commitTS"].as_i64().expect("commitTS");
    assert!(second > ts as i64);
    let text = std::fs::read_to_string(savepoint::path(&data_dir)).expect("savepoint file");
    assert!(text.contains("\n# UTC: "), "{text}");
    assert!(
        text.contains("\n# Asia/Shanghai: ") && text.contains("+0800 CST"),
        "{text}"
    );
    assert_eq!(
        savepoint::read(&data_dir)
            .expect("read")
            .map(|s| s.commit_ts),
        Some(second)
    );

    let error = failure(
        &backend.ctl(&[
            "-cmd",
            "generate_meta",
            "-data-dir",
            &data_dir_flag,
            "-time-zone",
            "Nowhere/Land",
        ]),
        1,
    );
    assert!(error.contains("unknown time zone"), "{error}");
}

#[test]
fn generate_meta_file_registry() {
    check_generate_meta(Backend::file());
}

#[test]
fn generate_meta_etcd() {
    check_generate_meta(Backend::etcd());
}

#[test]
fn bad_commands_and_flags() {
    let backend = Backend::file();
    let error = failure(&backend.ctl(&["-cmd", "frobnicate"]), 1);
    assert_eq!(error, "binlogctl: cmd frobnicate not supported\n");
    let error = failure(&backend.ctl(&["-cmd", "encrypt", "-text", "secret"]), 1);
    assert!(
        error.contains("cmd encrypt not supported by this build"),
        "{error}"
    );
    let error = failure(&backend.ctl(&["-cmd", "pumps", "stray"]), 2);
    assert!(error.contains("stray"), "{error}");
    let error = failure(&backend.ctl(&["-ssl-ca", "/no/such/ca.pem"]), 2);
    assert!(
        error.contains("/no/such/ca.pem") && error.contains("cannot read TLS file"),
        "{error}"
    );
    let help = success(&backend.ctl(&["--help"]));
    for word in [
        "generate_meta",
        "update-pump",
        "-show-offline-nodes",
        "valid TOML",
    ] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    assert!(success(&backend.ctl(&["-V"])).contains("Release Version"));
}

/// Starts a real pump on `backend`'s registry with node ID `node_id` (its data in `dir`) and
/// waits until binlogctl lists it online.
fn start_pump(backend: &Backend, dir: &Path, node_id: &str) -> PumpProcess {
    let (registry_dir, pd_urls) = match backend {
        Backend::File(registry) => (registry.path(), ""),
        Backend::Etcd(server) => (dir, server.url()),
    };
    let pump = PumpProcess::start(&PumpOptions {
        data_dir: &dir.join("data"),
        registry_dir,
        pd_urls,
        extra: &["-node-id", node_id],
        storage: None,
    });
    wait_for_state(backend, &pump, node_id, NodeState::Online);
    pump
}

/// Waits until binlogctl lists `node_id` in `state`.
fn wait_for_state(backend: &Backend, pump: &PumpProcess, node_id: &str, state: NodeState) {
    wait_for(
        &format!("binlogctl to list pump {node_id} as {state}"),
        Duration::from_secs(30),
        || {
            let out = backend.ctl(&["-cmd", "pumps", "-json", "-show-offline-nodes"]);
            let found = out.status.success()
                && nodes_json(&String::from_utf8_lossy(&out.stdout))
                    .iter()
                    .any(|node| node.node_id == node_id && node.state == state);
            found.then_some(())
        },
        || format!("pump log:\n{}", pump.log()),
    );
}

fn check_pause_pump(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pump = start_pump(&backend, dir.path(), "ctl-pump");

    // A registry entry pointing at the pump under another ID: the pump refuses, code 3.
    let impostor = NodeStatus {
        host: pump.addr.clone(),
        ..node("impostor", NodeState::Online, 0)
    };
    backend.seed(NodeKind::Pump, &[impostor]);
    let error = failure(
        &backend.ctl(&["-cmd", "pause-pump", "-node-id", "impostor"]),
        1,
    );
    assert!(
        error.contains("invalid nodeID impostor, this pump's nodeID is ctl-pump")
            && error.contains("code 3"),
        "{error}"
    );

    let out = success(&backend.ctl(&["-cmd", "pause-pump", "-node-id", "ctl-pump"]));
    assert_eq!(out, "apply action pause success!\n");
    assert_eq!(
        pump.wait_exit(EXIT_TIMEOUT).code(),
        Some(0),
        "log:\n{}",
        pump.log()
    );
    wait_for_state(&backend, &pump, "ctl-pump", NodeState::Paused);

    // The pump is gone: a transport error, reported as such.
    let error = failure(
        &backend.ctl(&["-cmd", "pause-pump", "-node-id", "ctl-pump"]),
        1,
    );
    assert!(error.contains("cannot reach pump ctl-pump"), "{error}");
}

#[test]
fn pause_pump_file_registry() {
    check_pause_pump(Backend::file());
}

#[test]
fn pause_pump_etcd() {
    check_pause_pump(Backend::etcd());
}

#[test]
fn offline_pump_file_registry() {
    let backend = Backend::file();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pump = start_pump(&backend, dir.path(), "ctl-pump");
    let out = success(&backend.ctl(&["-cmd", "offline-pump", "-node-id", "ctl-pump", "-json"]));
    let reply: serde_json::Value = serde_json::from_str(&out).expect("offline-pump -json");
    assert_eq!(reply["code"], 200);
    assert_eq!(reply["message"], "apply action close success!");
    assert_eq!(
        pump.wait_exit(EXIT_TIMEOUT).code(),
        Some(0),
        "log:\n{}",
        pump.log()
    );
    wait_for_state(&backend, &pump, "ctl-pump", NodeState::Offline);
    assert_eq!(success(&backend.ctl(&["-cmd", "pumps"])), "");
}
