//! One-shot actions on a stopped drainer, run by the drainer binary with its usual config
//! instead of a run (the original ends a paused drainer's process, so there is no drainer to
//! call over HTTP): `-set-checkpoint-ts TS` moves the checkpoint the next run starts after, and
//! `-skip-commit-ts TS -skip-reason WHY` records a binlog not to write ([`crate::skip_list`]).
//!
//! Both are refused while a drainer answers at this one's address (it would overwrite the
//! checkpoint, or never read the skip). A checkpoint is refused below any pump's GC point: each
//! pump that is not offline is asked for the pull a run would open (`PullBinlogs` after TS),
//! which our pump refuses once it has purged what follows TS. (The original pump instead starts
//! such a pull at its GC point without a word, so against it this check cannot see the GC
//! point.)

use std::time::Duration;

use tokio::net::TcpStream;

use crate::checkpoint::{self, StoredCheckpoint};
use crate::config::{DestinationKind, DrainerConfig, OperatorAction};
use crate::skip_list::{self, RecordedSkip};
use binlog_node::proto::pump_client::PumpClient;
use binlog_node::proto::{Pos, PullBinlogReq};
use binlog_node::registry::{self, NodeKind, NodeState};
use binlog_node::tls::{grpc_endpoint, Tls};
use binlog_node::{Error, Result};

/// Time allowed to reach a pump, or a drainer at this one's address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a pump's pull may take to refuse a start point after accepting the call.
const REFUSAL_WAIT: Duration = Duration::from_millis(500);

/// Runs `action` and returns the state the drainer is left in (`paused`: it was not running).
pub async fn run(config: &DrainerConfig, action: &OperatorAction) -> Result<NodeState> {
    refuse_if_running(config).await?;
    let tls = Tls::for_server(&config.security)?;
    let registry = registry::open(&config.pd_urls, tls.as_ref(), &config.registry_dir).await?;
    let cluster_id = registry.cluster_id().await?;
    let mut store = checkpoint::open_store(config, cluster_id).await?;
    let current = store.load().await?.map_or(0, |saved| saved.commit_ts);
    match action {
        OperatorAction::SetCheckpoint(commit_ts) => {
            let mut pumps = registry.nodes(NodeKind::Pump).await?;
            pumps.retain(|pump| pump.state != NodeState::Offline);
            for pump in &pumps {
                check_pump_keeps(
                    &pump.node_id,
                    &pump.host,
                    tls.as_ref(),
                    cluster_id,
                    *commit_ts,
                )
                .await?;
            }
            store
                .save(StoredCheckpoint {
                    commit_ts: *commit_ts,
                    consistent: true,
                })
                .await?;
            tracing::warn!(
                from = current,
                to = commit_ts,
                pumps_checked = pumps.len(),
                "checkpoint set with -set-checkpoint-ts: the next run starts after it"
            );
            if *commit_ts < current && config.destination()? == DestinationKind::File {
                tracing::warn!(
                    "the file destination resumes after the newest binlog its files hold: \
                     moving the checkpoint back does not write those binlogs again; move the \
                     newer files away first to replay them"
                );
            }
        }
        OperatorAction::Skip { commit_ts, reason } => {
            if *commit_ts <= current {
                return Err(Error::Refused(format!(
                    "commit TS {commit_ts} is at or below the checkpoint {current}: that binlog \
                     is already behind the drainer, nothing to skip"
                )));
            }
            let skip = RecordedSkip::now(*commit_ts, reason.clone());
            skip_list::append(&config.data_dir, &skip)?;
            tracing::warn!(
                commit_ts,
                reason = %skip.reason,
                by = %skip.by,
                checkpoint = current,
                "recorded: the next run skips the binlog committed at this TS"
            );
        }
    }
    Ok(NodeState::Paused)
}

/// Refuses when something answers at this drainer's address: a running drainer would overwrite
/// the checkpoint, and reads skips only when it starts.
async fn refuse_if_running(config: &DrainerConfig) -> Result<()> {
    let address = config.advertise_host();
    let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address)).await;
    if matches!(connected, Ok(Ok(_))) {
        return Err(Error::Refused(format!(
            "a drainer answers at {address}: stop it first (binlogctl -cmd pause-drainer, or \
             SIGTERM), then run this again"
        )));
    }
    Ok(())
}

/// Asks `pump` for the binlogs after `commit_ts`, as a run would; refuses the checkpoint when
/// the pump has purged them or cannot be asked.
async fn check_pump_keeps(
    pump: &str,
    host: &str,
    tls: Option<&Tls>,
    cluster_id: u64,
    commit_ts: u64,
) -> Result<()> {
    let cannot_check = |reason: String| {
        Error::Refused(format!(
            "cannot check that pump {pump} ({host}) still holds the binlogs after {commit_ts}: \
             {reason}; the checkpoint is left as it was (start the pump, or mark it offline if \
             it is gone for good)"
        ))
    };
    let channel = grpc_endpoint(host, tls)?
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .map_err(|error| cannot_check(format!("connect: {error}")))?;
    let request = PullBinlogReq {
        cluster_id,
        start_from: Some(Pos {
            suffix: 0,
            offset: commit_ts as i64,
        }),
    };
    let refusal = match PumpClient::new(channel).pull_binlogs(request).await {
        Err(status) => Some(status),
        // A pump may accept the call and refuse in the stream's first message instead.
        Ok(response) => {
            let mut stream = response.into_inner();
            match tokio::time::timeout(REFUSAL_WAIT, stream.message()).await {
                Ok(Err(status)) => Some(status),
                _ => None,
            }
        }
    };
    match refusal {
        None => Ok(()),
        Some(status) if status.message().contains("purged") => Err(Error::Refused(format!(
            "checkpoint {commit_ts} is below pump {pump}'s GC point: {}; the binlogs after it \
             are gone. Choose a TS at or above the GC point, or reload the downstream from a \
             backup taken after it",
            status.message()
        ))),
        Some(status) => Err(cannot_check(format!("PullBinlogs: {}", status.message()))),
    }
}
