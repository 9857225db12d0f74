//! The drainer's HTTP routes, as `http-api.md` lists them: `/status`, `/commit_ts`, `/metrics`,
//! `PUT /state/{nodeID}/{action}`. Every handler answers 200; only the router answers 404/405.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::held_by::{held_by, pending_prewrite, HeldBy, Waiting};
use crate::Drainer;
use binlog_node::registry::{NodeKind, NodeState};
use binlog_node::serve::{json_response, ApiResponse};

/// The drainer's routes.
pub fn router(drainer: Arc<Drainer>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/commit_ts", get(commit_ts))
        .route("/metrics", any(metrics))
        .route("/state/{node_id}/{action}", put(apply_action))
        .with_state(drainer)
}

/// `GET /status`'s body.
#[derive(Debug, Serialize, Deserialize)]
pub struct DrainerStatusReply {
    /// Last commit TS taken from each pump that is not offline.
    #[serde(rename = "PumpPos")]
    pub pump_pos: BTreeMap<String, i64>,
    /// Whether the checkpoint has reached every non-offline pump's watermark.
    #[serde(rename = "Synced")]
    pub synced: bool,
    /// The checkpoint TS.
    #[serde(rename = "LastTS")]
    pub last_ts: i64,
    /// Always `""`, as the original.
    #[serde(rename = "TsMap")]
    pub ts_map: String,
    /// Ours: when not synced, the pump holding the merge and what it waits for; absent when
    /// synced.
    #[serde(rename = "HeldBy", default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<HeldBy>,
}

/// `GET /status`.
async fn status(State(drainer): State<Arc<Drainer>>) -> Response {
    let last_ts = drainer.checkpoint_ts();
    let positions = drainer.pump_positions();
    let (synced, holder) = match drainer.registry.nodes(NodeKind::Pump).await {
        Ok(pumps) => {
            let synced = pumps
                .iter()
                .filter(|pump| pump.state != NodeState::Offline)
                .all(|pump| pump.max_commit_ts <= last_ts as i64);
            let mut holder = (!synced)
                .then(|| {
                    held_by(
                        drainer.merged_ts(),
                        last_ts,
                        &pumps,
                        &positions,
                        &drainer.pull_failures(),
                    )
                })
                .flatten();
            if let Some(held) = holder.take_if(|held| held.waiting == Waiting::Stream) {
                let host = pumps.iter().find(|pump| pump.node_id == held.pump);
                let tls = drainer.settings.client_tls.as_ref();
                let prewrite = match host {
                    Some(pump) => pending_prewrite(&pump.host, tls).await,
                    None => None,
                };
                holder = Some(match prewrite {
                    Some(start_ts) => held.by_prewrite(start_ts),
                    None => held,
                });
            }
            (synced, holder)
        }
        Err(error) => {
            tracing::warn!(%error, "/status: cannot read the pumps");
            (false, None)
        }
    };
    let pump_pos = positions
        .into_iter()
        .map(|(pump, ts)| (pump, ts as i64))
        .collect();
    json_response(&DrainerStatusReply {
        pump_pos,
        synced,
        last_ts: last_ts as i64,
        ts_map: String::new(),
        held_by: holder,
    })
}

/// `GET /commit_ts`.
async fn commit_ts(State(drainer): State<Arc<Drainer>>) -> Response {
    ApiResponse {
        message: "get drainer's latest ts success!".into(),
        code: 200,
        data: serde_json::json!({ "ts": drainer.checkpoint_ts() }),
    }
    .into_response()
}

/// `/metrics`.
async fn metrics(State(drainer): State<Arc<Drainer>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let metrics = &drainer.metrics;
            metrics.refresh_lags(drainer.checkpoint_ts(), &drainer.pump_positions());
            metrics.render()
        },
    )
        .into_response()
}

/// `PUT /state/{nodeID}/{action}`.
async fn apply_action(
    State(drainer): State<Arc<Drainer>>,
    Path((node_id, action)): Path<(String, String)>,
) -> Response {
    drainer
        .lifecycle
        .apply_action(
            NodeKind::Drainer,
            &drainer.settings.node_id,
            &node_id,
            &action,
        )
        .into_response()
}
