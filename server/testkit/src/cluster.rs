//! A test cluster's registry and TSO, TiDB-style writes to a pump, and the metrics linter.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use binlog_node::proto::{
    Binlog, BinlogType, Pos, PrewriteValue, PullBinlogReq, PullBinlogResp, TableMutation,
    WriteBinlogReq,
};
use binlog_node::registry::{self, Registry};
use binlog_node::tls::Tls;
use binlog_node::tso::{self, Tso};
use prost::Message;

use crate::certs::Issued;
use crate::etcd::EtcdServer;
use crate::process::NodeProcess;

/// The registry and TSO of a test cluster: the file backend, or a real etcd it started.
pub struct Backend {
    _etcd: Option<EtcdServer>,
    /// `-pd-urls` for the nodes (empty for the file backend).
    pub pd_urls: String,
    /// The registry.
    pub registry: Arc<dyn Registry>,
    /// The TSO.
    pub tso: Arc<dyn Tso>,
}

/// A real etcd serving TLS with `server`'s certificate and requiring client certificates `ca`
/// signed, opened as registry and TSO with `client`'s.
pub async fn tls_backend(ca: &Path, server: &Issued, client: &Tls) -> Backend {
    let etcd = EtcdServer::start_tls(ca, server);
    let urls = vec![etcd.url().to_owned()];
    Backend {
        registry: registry::open(&urls, Some(client), Path::new(""))
            .await
            .unwrap(),
        tso: tso::open(&urls, Some(client), Path::new("")).await.unwrap(),
        pd_urls: etcd.url().to_owned(),
        _etcd: Some(etcd),
    }
}

/// `kind` is `file` (in `registry_dir`) or `etcd`.
pub async fn backend(kind: &str, registry_dir: &Path) -> Backend {
    let (etcd, pd_urls) = if kind == "etcd" {
        let etcd = EtcdServer::start();
        let url = etcd.url().to_owned();
        (Some(etcd), url)
    } else {
        (None, String::new())
    };
    let urls: Vec<String> = pd_urls
        .split(',')
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect();
    Backend {
        registry: registry::open(&urls, None, registry_dir).await.unwrap(),
        tso: tso::open(&urls, None, registry_dir).await.unwrap(),
        _etcd: etcd,
        pd_urls,
    }
}

/// A prewrite value whose row is derived from `seed`.
pub fn prewrite_value(seed: u64) -> Vec<u8> {
    PrewriteValue {
        schema_version: 7,
        mutations: vec![TableMutation {
            table_id: seed as i64 % 5 + 1,
            inserted_rows: vec![seed.to_le_bytes().repeat(16)],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// One `WriteBinlog`.
pub async fn write(
    client: &mut binlog_node::proto::pump_client::PumpClient<tonic::transport::Channel>,
    cluster_id: u64,
    binlog: &Binlog,
) -> Result<(), tonic::Status> {
    client
        .write_binlog(WriteBinlogReq {
            cluster_id,
            payload: binlog.encode_to_vec(),
        })
        .await
        .map(drop)
}

/// Opens a `PullBinlogs` stream: after commit TS `after`, or with no start position (`None`).
pub async fn pull(
    client: &mut binlog_node::proto::pump_client::PumpClient<tonic::transport::Channel>,
    cluster_id: u64,
    after: Option<i64>,
) -> tonic::Streaming<PullBinlogResp> {
    client
        .pull_binlogs(PullBinlogReq {
            cluster_id,
            start_from: after.map(|offset| Pos { suffix: 0, offset }),
        })
        .await
        .expect("open a pull stream")
        .into_inner()
}

/// Writes `txns` prewrite/commit pairs from `clients` concurrent clients, TiDB-style (start TS
/// before the prewrite, commit TS after its ack); returns start TS -> (commit TS, value).
pub async fn write_pairs(
    pump: &NodeProcess,
    backend: &Backend,
    cluster_id: u64,
    clients: usize,
    txns: usize,
) -> HashMap<i64, (i64, Vec<u8>)> {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut client = pump.client().await;
        let tso = backend.tso.clone();
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            for _ in 0..txns {
                let start_ts = tso.get_ts().await.unwrap() as i64;
                let value = prewrite_value(start_ts as u64);
                let prewrite = Binlog {
                    tp: BinlogType::Prewrite as i32,
                    start_ts,
                    prewrite_key: Some(b"t\x80\x00\x01".to_vec()),
                    prewrite_value: Some(value.clone()),
                    ..Default::default()
                };
                write(&mut client, cluster_id, &prewrite).await.unwrap();
                let commit_ts = tso.get_ts().await.unwrap() as i64;
                let commit = Binlog {
                    tp: BinlogType::Commit as i32,
                    start_ts,
                    commit_ts,
                    ..Default::default()
                };
                write(&mut client, cluster_id, &commit).await.unwrap();
                written.push((start_ts, (commit_ts, value)));
            }
            written
        }));
    }
    let mut all = HashMap::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

/// The value of the sample `series` (a name, with its labels if it has any, as written in the
/// exposition) in a `/metrics` text; `None` when it is absent or not a number.
pub fn metric_value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// Runs `promtool check metrics` on a `/metrics` text; panics with its report if it fails.
pub fn promtool_check(metrics: &str) {
    promtool_check_allowing(metrics, &[]);
}

/// As [`promtool_check`], but lint findings that contain one of `allowed` are accepted (the
/// original names some series with them, and dashboards query those names); any other finding,
/// or a parse error, fails.
pub fn promtool_check_allowing(metrics: &str, allowed: &[&str]) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is needed (Debian package `prometheus`; .ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let unexpected: Vec<&str> = report
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| !allowed.iter().any(|allowed| line.contains(allowed)))
        .collect();
    assert!(
        output.status.success() || unexpected.is_empty(),
        "promtool check metrics failed:\n{report}"
    );
    assert!(unexpected.is_empty(), "promtool check metrics:\n{report}");
}
