//! The pump's HTTP routes, exactly as `http-api.md` lists them. Every handler answers 200 with
//! the original's bodies, errors included; only the router answers 404 and 405.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::tidb_resolver::TidbMvccResolver;
use crate::Pump;
use binlog_node::binlog_text;
use binlog_node::proto::Binlog;
use binlog_node::registry::{NodeKind, NodeState, NodeStatus};
use binlog_node::serve::json_response;
use binlog_node::tso::physical_ms;

/// The pump's routes; `mvcc` answers `/debug/binlog`'s MVCC part when TiDB is configured.
pub fn router(pump: Arc<Pump>, mvcc: Option<Arc<TidbMvccResolver>>) -> Router {
    let by_ts = move |pump: State<Arc<Pump>>, ts: Path<String>, query: Query<BinlogQuery>| {
        binlog_by_ts(pump, ts, query, mvcc.clone())
    };
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/drainers", get(drainers))
        .route("/state/{node_id}/{action}", put(apply_action))
        .route("/debug/binlog/{ts}", get(by_ts))
        .route("/debug/gc/trigger", post(trigger_gc))
        .with_state(pump)
}

/// `GET /status`'s body.
#[derive(Debug, Serialize, Deserialize)]
pub struct PumpStatusReply {
    /// Every pump in the registry by node ID; `null` on error.
    pub status: Option<BTreeMap<String, NodeStatus>>,
    /// A fresh TSO; 0 on error.
    #[serde(rename = "CommitTS")]
    pub commit_ts: i64,
    /// Always `{}` (the original never fills it).
    #[serde(rename = "Checkpoint")]
    pub checkpoint: serde_json::Map<String, serde_json::Value>,
    /// The error text, or "".
    #[serde(rename = "ErrMsg")]
    pub err_msg: String,
    /// Ours: the start TS of this pump's oldest prewrite still waiting for its commit, which
    /// holds its stream (and every drainer's merge) back; absent when there is none.
    #[serde(
        rename = "OldestPendingPrewrite",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oldest_pending_prewrite: Option<u64>,
}

/// `GET /status`: every pump in the registry, a fresh TSO.
async fn status(State(pump): State<Arc<Pump>>) -> Response {
    let oldest_pending_prewrite = pump.engine.oldest_pending_prewrite();
    let reply = match pump_status(&pump).await {
        Ok((status, commit_ts)) => PumpStatusReply {
            status: Some(status),
            commit_ts,
            checkpoint: Default::default(),
            err_msg: String::new(),
            oldest_pending_prewrite,
        },
        Err(error) => PumpStatusReply {
            status: None,
            commit_ts: 0,
            checkpoint: Default::default(),
            err_msg: error.to_string(),
            oldest_pending_prewrite,
        },
    };
    json_response(&reply)
}

async fn pump_status(pump: &Pump) -> binlog_node::Result<(BTreeMap<String, NodeStatus>, i64)> {
    let pumps = pump.registry.nodes(NodeKind::Pump).await?;
    let now = pump.tso.get_ts().await?;
    let alive_ms = 3 * pump.timings.heartbeat_interval.as_millis() as u64;
    let status = pumps
        .into_iter()
        .map(|mut node| {
            let age_ms = physical_ms(now).saturating_sub(physical_ms(node.update_ts as u64));
            node.is_alive = node.state == NodeState::Online && age_ms <= alive_ms;
            (node.node_id.clone(), node)
        })
        .collect();
    Ok((status, now as i64))
}

/// `GET /metrics`: the Prometheus text, with the space and watermark gauges refreshed.
async fn metrics(State(pump): State<Arc<Pump>>) -> Response {
    let engine = &pump.engine;
    crate::metrics::PumpMetrics::set_ts(&pump.metrics.max_commit_ts, engine.max_commit_ts());
    pump.metrics
        .storage_size
        .with_label_values(&["available"])
        .set(engine.available_space() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        pump.metrics.render(),
    )
        .into_response()
}

/// `GET /drainers`: the drainers in the registry.
async fn drainers(State(pump): State<Arc<Pump>>) -> Response {
    match pump.registry.nodes(NodeKind::Drainer).await {
        Ok(drainers) => json_response(&drainers),
        Err(error) => {
            // As the original: the error is logged, the reply is `null`.
            tracing::error!(%error, "cannot read drainers from the registry");
            json_response(&serde_json::Value::Null)
        }
    }
}

/// `PUT /state/{nodeID}/{action}`: `pause`/`stop` or `close`, checked in the order of `http-api.md`.
async fn apply_action(
    State(pump): State<Arc<Pump>>,
    Path((node_id, action)): Path<(String, String)>,
) -> Response {
    pump.lifecycle
        .apply_action(NodeKind::Pump, &pump.node_id, &node_id, &action)
        .into_response()
}

/// `?format=json` on `/debug/binlog/{ts}`.
#[derive(Debug, Deserialize)]
struct BinlogQuery {
    format: Option<String>,
}

/// What `/debug/binlog` says of the MVCC part without `tidb-status-addr`.
const NO_TIDB: &str = "no TiDB status address is configured (set tidb-status-addr to look the \
                       primary key up through TiDB's /mvcc/hex API)";

/// `GET /debug/binlog/{ts}`: the stored binlog as compact text, or JSON with `?format=json`,
/// with TiDB's MVCC record of its primary key.
async fn binlog_by_ts(
    State(pump): State<Arc<Pump>>,
    Path(raw): Path<String>,
    Query(query): Query<BinlogQuery>,
    mvcc: Option<Arc<TidbMvccResolver>>,
) -> Response {
    let Ok(ts) = raw.parse::<i64>() else {
        return text(format!("invalid parameter ts: {raw}"));
    };
    let stored = match u64::try_from(ts).map(|ts| pump.engine.get(ts)) {
        Ok(Ok(Some(stored))) => stored,
        Ok(Ok(None)) | Err(_) => return text(format!("fail read binlog by ts: {ts}: not found")),
        Ok(Err(error)) => return text(format!("fail read binlog by ts: {ts}: {error}")),
    };
    let binlog = match Binlog::decode(&stored.payload[..]) {
        Ok(binlog) => binlog,
        Err(error) => return text(format!("fail read binlog by ts: {ts}: {error}")),
    };
    let format = query.format.as_deref();
    if let Some(other) = format.filter(|&format| format != "json") {
        return text(format!(
            "invalid parameter format: {other} (only json is known)"
        ));
    }
    let lookup = match (binlog_text::primary_key(&binlog), mvcc) {
        (None, _) => None,
        (Some(_), None) => Some(Err(NO_TIDB.to_owned())),
        (Some(key), Some(mvcc)) => Some(mvcc.mvcc(key).await.map_err(|e| e.to_string())),
    };
    match format {
        Some(_) => json_response(&binlog_text::debug_json(&binlog, lookup.as_ref())),
        None => text(binlog_text::debug_text(&binlog, lookup.as_ref())),
    }
}

/// `POST /debug/gc/trigger`: starts a GC run unless one is going on.
async fn trigger_gc(State(pump): State<Arc<Pump>>) -> Response {
    if pump.gc_trigger().trigger() {
        text("trigger gc success\n".to_owned())
    } else {
        text("gc is working\n".to_owned())
    }
}

/// A plain-text reply.
fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
