//! Starting and stopping a drainer: open the registry, TSO, checkpoint store and sink; serve
//! HTTP and `Cistern` on one port; register `online`; pull, merge and write; and on a signal or
//! a state action save the checkpoint (`consistent = true`), write `paused` or `offline` and
//! return.

use std::os::unix::fs::DirBuilderExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::checkpoint::{self, StoredCheckpoint};
use crate::collector::Collector;
use crate::config::DrainerConfig;
use crate::merge::Merger;
use crate::metrics::DrainerMetrics;
use crate::schema::{Schema, SCHEMA_WAIT};
use crate::service::CisternGrpc;
use crate::skip_list::{self, PlannedSkip};
use crate::syncer::{self, Syncer};
use crate::tidb_status::TidbStatus;
use crate::translate::{RowTranslation, Translator};
use crate::{sink, Drainer, DrainerSettings};
use binlog_node::config::address::default_node_id;
use binlog_node::lifecycle::{self, publish_final_state, until_shutdown, Shutdown};
use binlog_node::registry::NodeState;
use binlog_node::tls::{ReloadingServerConfig, Tls};
use binlog_node::{registry, serve, tso, Error, Result};

/// Period of the registry heartbeat (the original's 1 s).
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Consecutive heartbeat failures after which the drainer shuts down, as the original.
const MAX_HEARTBEAT_FAILURES: u32 = 20;

/// Runs a drainer until it has shut down; returns the state it ended in.
pub async fn run(config: &DrainerConfig) -> Result<NodeState> {
    if let Some(action) = &config.operator_action {
        return crate::operator::run(config, action).await;
    }
    let signals = lifecycle::shutdown_signals();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .map_err(|e| Error::io("cannot create data dir", &config.data_dir, e))?;
    // The files are read and checked once here; servers and clients re-read them when they
    // make a configuration, so a rotated certificate is picked up.
    let tls = Tls::for_server(&config.security)?;
    let registry = registry::open(&config.pd_urls, tls.as_ref(), &config.registry_dir).await?;
    let tso = tso::open(&config.pd_urls, tls.as_ref(), &config.registry_dir).await?;
    let cluster_id = registry.cluster_id().await?;
    let metrics = DrainerMetrics::new();
    let sink = sink::open(config, cluster_id, &metrics).await?;
    let rows = row_translation(config, tls.clone(), &metrics).await?;

    let mut store = checkpoint::open_store(config, cluster_id).await?;
    let loaded = store.load().await?.filter(|s| s.commit_ts > 0);
    let checkpoint_ts = match &loaded {
        Some(saved) => saved.commit_ts,
        None if config.initial_commit_ts == -1 => tso.get_ts().await?,
        None => config.initial_commit_ts as u64,
    };
    // Binlogs the sink already holds past the checkpoint are not written again.
    let start_ts = checkpoint_ts.max(sink.resume_ts().unwrap_or(0));
    if loaded.is_none_or(|s| s.consistent) || start_ts != checkpoint_ts {
        // Pinned at once: a restart must not take a newer TSO and skip binlogs, and a clean
        // stop's `consistent = true` no longer holds once this run writes.
        store
            .save(StoredCheckpoint {
                commit_ts: start_ts,
                consistent: false,
            })
            .await?;
    }
    tracing::info!(
        checkpoint_ts,
        start_ts,
        from_savepoint = loaded.is_some(),
        "checkpoint loaded"
    );
    let stop_at = (config.stop_at_commit_ts > 0).then_some(config.stop_at_commit_ts);
    if let Some(stop_at) = stop_at {
        if start_ts >= stop_at {
            return Err(Error::InvalidConfig(format!(
                "the checkpoint {start_ts} is already at or past stop-at-commit-ts {stop_at}: \
                 nothing to apply; raise or remove stop-at-commit-ts to run on"
            )));
        }
        tracing::info!(
            stop_at,
            "will stop once every binlog up to stop-at-commit-ts is applied"
        );
    }
    let skips = skip_list::planned(
        &config.syncer.ignore_txn_commit_ts,
        skip_list::load(&config.data_dir)?,
    );
    for (commit_ts, skip) in &skips {
        if let (PlannedSkip::Recorded(skip), true) = (skip, *commit_ts > start_ts) {
            tracing::warn!(
                commit_ts,
                reason = %skip.reason,
                by = %skip.by,
                at = %skip.at,
                "a binlog ahead will be skipped on purpose (recorded with -skip-commit-ts)"
            );
        }
    }

    let listen = config.listen_addr();
    let (listener, port) = serve::bind(&listen).await?;
    let node_id = config
        .node_id
        .clone()
        .unwrap_or_else(|| default_node_id(port));
    let settings = DrainerSettings {
        node_id: node_id.clone(),
        advertise_host: config.advertise_host(),
        detect_interval: config.detect_interval,
        gzip: config.compressor == "gzip",
        stream_buffer: config.cache_binlog_count.max(1) as usize,
        client_tls: tls.clone(),
    };
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let drainer = Drainer::new(
        registry.clone(),
        tso,
        cluster_id,
        settings,
        start_ts,
        metrics,
    );
    let collector = Collector::new(drainer.clone(), commands_tx);
    drainer.metrics.set_checkpoint(start_ts);
    tracing::info!(%node_id, cluster_id, %listen, registry = %registry.describe(), "drainer serving HTTP and gRPC");

    let (stop_serving, serving_stopped) = tokio::sync::watch::channel(false);
    let app = serve::one_port_app(
        tonic::service::Routes::new(CisternGrpc::server(drainer.clone(), collector.clone())),
        crate::http::router(drainer.clone()),
    );
    let tls = tls.map(ReloadingServerConfig::new).transpose()?;
    let server = tokio::spawn(serve::serve_port(
        listener,
        tls.map(Arc::new),
        app,
        async move {
            let mut stopped = serving_stopped;
            let _ = stopped.wait_for(|stop| *stop).await;
        },
    ));

    let sync = {
        let drainer = drainer.clone();
        tokio::spawn(async move {
            let syncer = Syncer {
                translator: Translator::new(skips, rows),
                sink,
                store,
                stop_at,
            };
            let result =
                syncer::run(drainer.clone(), Merger::new(start_ts), commands, syncer).await;
            if let Err(error) = &result {
                tracing::error!(%error, "syncing failed: shutting down");
                drainer.lifecycle.on_signal();
            }
            result
        })
    };
    let outcome = run_online(&drainer, &collector, signals).await;
    // The syncer sees the shutdown, stops merging and saves the final checkpoint.
    let synced = match sync.await {
        Ok(result) => result,
        Err(error) => Err(Error::InvalidConfig(format!(
            "the sync task failed: {error}"
        ))),
    };
    collector.stop().await;
    let state = match (&outcome, &synced) {
        (Ok(Shutdown::Close), Ok(())) => NodeState::Offline,
        _ => NodeState::Paused,
    };
    // A second signal stops retrying a registry that does not answer.
    let published = tokio::select! {
        published = publish_final_state(state, || drainer.publish(state)) => published,
        _ = drainer.lifecycle.interrupted() => Err(Error::Registry(format!(
            "interrupted while writing the final state {state}"
        ))),
    };
    let _ = stop_serving.send(true);
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "server stopped with an error"),
        Err(error) => tracing::warn!(%error, "server task failed"),
    }
    outcome?;
    synced?;
    published?;
    tracing::info!(%state, checkpoint = drainer.checkpoint_ts(), "drainer stopped");
    Ok(state)
}

/// Registers `online`, runs discovery and the heartbeat, and waits for a shutdown request (or
/// the end of the sync task's usefulness: a heartbeat that keeps failing).
async fn run_online(
    drainer: &Arc<Drainer>,
    collector: &Arc<Collector>,
    signals: Vec<tokio::signal::unix::Signal>,
) -> Result<Shutdown> {
    let registered = drainer.publish(NodeState::Online).await;
    if let Err(error) = registered {
        drainer
            .lifecycle
            .begin_shutdown(NodeState::Pausing, Shutdown::Pause)
            .ok();
        return Err(error);
    }
    if let Err(error) = collector.refresh().await {
        tracing::warn!(%error, "cannot read the pumps from the registry; retrying");
    }
    let detect = tokio::spawn(collector.clone().detect_loop());
    let heartbeat = tokio::spawn(heartbeat_loop(drainer.clone()));
    // Left running to the end (dropping the handle does not stop it): a signal during the
    // shutdown interrupts the final-state retries.
    {
        let drainer = drainer.clone();
        tokio::spawn(
            async move { lifecycle::shutdown_on_signal(&drainer.lifecycle, signals).await },
        );
    }
    let kind = drainer.lifecycle.shutdown_requested().await;
    tracing::info!(?kind, "shutting down");
    let _ = heartbeat.await;
    detect.abort();
    Ok(kind)
}

/// Publishes `online` with the saved checkpoint every second until a shutdown starts; after
/// 20 consecutive failures starts one itself.
async fn heartbeat_loop(drainer: Arc<Drainer>) {
    let shutdown = until_shutdown(drainer.lifecycle.shutdown_signal());
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(HEARTBEAT_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        match drainer.publish(NodeState::Online).await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, failures, "heartbeat failed");
                if failures >= MAX_HEARTBEAT_FAILURES {
                    tracing::error!("heartbeat failed {failures} times in a row: shutting down");
                    drainer.lifecycle.on_signal();
                    return;
                }
            }
        }
    }
}

/// The row translation of the destinations that write rows: the schema history, up to date
/// with TiDB, and the table filter.
async fn row_translation(
    config: &DrainerConfig,
    tls: Option<Tls>,
    metrics: &DrainerMetrics,
) -> Result<Option<RowTranslation>> {
    if !config.translates_rows()? {
        return Ok(None);
    }
    let status = TidbStatus::new(config.tidb_status_addr.clone(), tls)?;
    Ok(Some(RowTranslation {
        schema: Schema::open(
            &config.data_dir,
            status,
            SCHEMA_WAIT,
            metrics.ddl_jobs.clone(),
        )
        .await?,
        filter: config.syncer.table_filter()?,
        sync_ddl: config.syncer.sync_ddl,
    }))
}
