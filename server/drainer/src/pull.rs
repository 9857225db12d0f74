//! One pump's stream: `PullBinlogs` from the last commit TS received, forwarded to the merge in
//! order. A failed or ended stream is reopened from the same point after a backoff (100 ms,
//! doubling to 3 s), so nothing is skipped and nothing is asked for twice; while the registry
//! says the pump is paused the stream is not read.
//!
//! The commit TS comes from the response's `meta`; the payload is passed on as received,
//! undecoded (only a pump that leaves `meta` empty has its payload decoded here, for the TS).
//! Each stream holds at most [`PULL_BUDGET_BYTES`] of payload between the pull and the merge,
//! besides the `cache-binlog-count` binlogs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::codec::CompressionEncoding;

use crate::budget::{ByteBudget, PULL_BUDGET_BYTES};
use crate::metrics::seconds_since;
use crate::pulled::PulledBinlog;
use crate::Drainer;
use binlog_node::proto::pump_client::PumpClient;
use binlog_node::proto::{BinlogHead, Entity, Pos, PullBinlogReq};
use binlog_node::tls::grpc_endpoint;

/// First wait before reopening a stream.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait before reopening a stream.
const MAX_BACKOFF: Duration = Duration::from_secs(3);
/// Time allowed to connect to a pump.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// HTTP/2 pings on an idle stream, and how long an answer may take: a pump whose host vanished
/// without a reset is noticed, and the stream reopened, instead of holding the merge forever.
const KEEPALIVE: Duration = Duration::from_secs(10);

/// Where and whether to pull a pump, as the registry says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PumpTarget {
    /// The pump's advertised `host:port`.
    pub host: String,
    /// False while the pump is paused.
    pub pull: bool,
}

/// Where a pump's binlogs go: the merge's channel, within the stream's byte budget.
struct ToMerge {
    binlogs: mpsc::Sender<PulledBinlog>,
    budget: ByteBudget,
}

/// How one stream ended.
enum StreamEnd {
    /// The registry changed the target: reconnect at once (or stop reading).
    TargetChanged,
    /// The pump ended the stream or it failed: reconnect after a backoff.
    Broken(String),
    /// The merge is gone: stop.
    MergeGone,
}

/// Pulls `pump` from `after` (a commit TS) into `binlogs` until the task is aborted.
pub async fn pull_loop(
    drainer: Arc<Drainer>,
    pump: String,
    mut target: watch::Receiver<PumpTarget>,
    mut after: u64,
    binlogs: mpsc::Sender<PulledBinlog>,
) {
    let to_merge = ToMerge {
        binlogs,
        budget: ByteBudget::new(PULL_BUDGET_BYTES),
    };
    let mut backoff = MIN_BACKOFF;
    loop {
        let current = target.borrow_and_update().clone();
        if !current.pull {
            tracing::info!(%pump, "pump is paused: not reading its stream");
            if target.changed().await.is_err() {
                return;
            }
            continue;
        }
        let end = stream_once(
            &drainer,
            &pump,
            &current.host,
            &mut after,
            &to_merge,
            &mut target,
            &mut backoff,
        )
        .await;
        match end {
            StreamEnd::TargetChanged => continue,
            StreamEnd::MergeGone => return,
            StreamEnd::Broken(reason) => {
                drainer.pull_failed(&pump, &reason);
                tracing::warn!(%pump, host = %current.host, after, %reason, retry_in = ?backoff, "pull stream broken");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    changed = target.changed() => if changed.is_err() { return },
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One `PullBinlogs` call: forwards every binlog above `after`, moving it.
async fn stream_once(
    drainer: &Drainer,
    pump: &str,
    host: &str,
    after: &mut u64,
    to_merge: &ToMerge,
    target: &mut watch::Receiver<PumpTarget>,
    backoff: &mut Duration,
) -> StreamEnd {
    let open = async {
        let channel = grpc_endpoint(host, drainer.settings.client_tls.as_ref())
            .map_err(|e| e.to_string())?
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(KEEPALIVE)
            .keep_alive_timeout(KEEPALIVE)
            .keep_alive_while_idle(true)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut client = PumpClient::new(channel).max_decoding_message_size(usize::MAX);
        if drainer.settings.gzip {
            client = client
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        let request = PullBinlogReq {
            cluster_id: drainer.cluster_id,
            start_from: Some(Pos {
                suffix: 0,
                offset: *after as i64,
            }),
        };
        client
            .pull_binlogs(request)
            .await
            .map(|response| response.into_inner())
            .map_err(|status| format!("PullBinlogs: {}", status.message()))
    };
    let mut stream = tokio::select! {
        opened = open => match opened {
            Ok(stream) => stream,
            Err(reason) => return StreamEnd::Broken(reason),
        },
        _ = target.changed() => return StreamEnd::TargetChanged,
    };
    tracing::info!(%pump, %host, after = *after, "pulling");
    drainer.pull_recovered(pump);
    loop {
        let message = tokio::select! {
            message = stream.message() => message,
            _ = target.changed() => return StreamEnd::TargetChanged,
        };
        let entity = match message {
            Ok(Some(response)) => response.entity.unwrap_or_default(),
            Ok(None) => return StreamEnd::Broken("the pump ended the stream".into()),
            Err(status) => return StreamEnd::Broken(status.message().to_owned()),
        };
        let Some(commit_ts) = commit_ts(drainer, pump, *after, &entity) else {
            return StreamEnd::MergeGone;
        };
        if commit_ts <= *after {
            continue;
        }
        *backoff = MIN_BACKOFF;
        drainer
            .metrics
            .observe_read(pump, entity.payload.len(), seconds_since(commit_ts));
        // Waits while this stream's earlier binlogs still hold its budget; a target change
        // meanwhile loses nothing (the binlog is asked for again from `after`).
        let permit = tokio::select! {
            permit = to_merge.budget.acquire(entity.payload.len()) => permit,
            _ = target.changed() => return StreamEnd::TargetChanged,
        };
        let pulled = PulledBinlog {
            commit_ts,
            payload: entity.payload.into(),
            permit,
        };
        if to_merge.binlogs.send(pulled).await.is_err() {
            return StreamEnd::MergeGone;
        }
        *after = commit_ts;
        drainer.set_pump_position(pump, Some(commit_ts));
    }
}

/// The commit TS of a pulled entity: its `meta`'s, or, from a pump that does not fill it in,
/// the payload's head (only the head is decoded: the TS is all the merge needs). `None` when the
/// payload does not decode: fatal, as in the original,
/// since skipping it would lose a binlog and the pump would send the same bytes again.
fn commit_ts(drainer: &Drainer, pump: &str, after: u64, entity: &Entity) -> Option<u64> {
    if let Some(meta) = entity.meta.as_ref().filter(|meta| meta.commit_ts > 0) {
        return Some(meta.commit_ts as u64);
    }
    match BinlogHead::decode(&entity.payload[..]) {
        Ok(head) => Some(head.commit_ts.max(0) as u64),
        Err(error) => {
            drainer.metrics.unmarshal_errors.inc();
            tracing::error!(%pump, after, %error, "a pulled binlog does not decode: stopping the drainer");
            drainer.lifecycle.on_signal();
            None
        }
    }
}
