//! Starting and stopping a pump: open the engine (which locks the data dir first), the registry
//! and the TSO; serve gRPC and HTTP on one port; register `online`; run the loops; and on a
//! signal or a state action, finish the whole shutdown before returning.

use std::sync::Arc;
use std::time::Duration;

use binlog_engine::Engine;

use crate::config::PumpConfig;
use crate::metrics::PumpMetrics;
use crate::service::PumpGrpc;
use crate::tidb_resolver::TidbMvccResolver;
use crate::{background, node, Pump, PumpNetwork, PumpTimings};
use binlog_node::registry::NodeState;
use binlog_node::tidb_status::TidbStatusClient;
use binlog_node::tls::{ReloadingServerConfig, Tls};
use binlog_node::{lifecycle, registry, serve, tso, Error, Result};

/// The original's GC period.
pub const GC_INTERVAL: Duration = Duration::from_secs(3600);

/// Runs a pump until it has shut down; returns the state it ended in.
pub async fn run(config: &PumpConfig) -> Result<NodeState> {
    let engine_config = config.engine_config();
    let engine = tokio::task::spawn_blocking(move || Engine::open(engine_config))
        .await
        .map_err(|e| Error::InvalidConfig(format!("engine open task failed: {e}")))??;
    let engine = Arc::new(engine);
    tracing::info!(
        dir = %config.data_dir.display(),
        io_backend = engine.io_backend(),
        max_commit_ts = engine.max_commit_ts(),
        gc_ts = engine.gc_ts(),
        "storage opened"
    );
    let result = run_with_engine(config, engine.clone()).await;
    let closing = engine.clone();
    let _ = tokio::task::spawn_blocking(move || closing.close()).await;
    tracing::info!("storage closed");
    result
}

async fn run_with_engine(config: &PumpConfig, engine: Arc<Engine>) -> Result<NodeState> {
    // Before anything is published: a signal from then on must shut down cleanly.
    let signals = lifecycle::shutdown_signals();
    // The files are read and checked once here; servers and clients re-read them when they
    // make a configuration, so a rotated certificate is picked up.
    let tls = Tls::for_server(&config.security)?;
    let registry = registry::open(&config.pd_urls, tls.as_ref(), &config.registry_dir).await?;
    let tso = tso::open(&config.pd_urls, tls.as_ref(), &config.registry_dir).await?;
    let resolver = tidb_resolver(config, tls.clone())?;
    let cluster_id = registry.cluster_id().await?;
    let listen = config.listen_addr();
    let (listener, port) = serve::bind(&listen).await?;
    let configured_id = config.node_id.as_deref().unwrap_or_default();
    let node_id = node::resolve_node_id(&config.data_dir, configured_id, port)?;
    let timings = PumpTimings {
        heartbeat_interval: config.heartbeat_interval,
        fake_binlog_interval: config.gen_binlog_interval,
        gc_retention: config.gc,
        gc_interval: GC_INTERVAL,
        gc_prewrite_margin: config.engine_config().gc_prewrite_margin,
    };
    let pump = Pump::new(
        engine.clone(),
        registry.clone(),
        tso,
        cluster_id,
        node_id.clone(),
        PumpNetwork {
            advertise_host: config.advertise_host(),
            client_tls: tls.clone(),
        },
        timings,
    );
    PumpMetrics::set_ts(&pump.metrics.gc_ts, engine.gc_ts());
    match binlog_engine::data_dir::space(&config.data_dir) {
        Ok(space) => pump
            .metrics
            .storage_size
            .with_label_values(&["capacity"])
            .set(space.capacity as f64),
        Err(error) => tracing::warn!(%error, "cannot read the data dir's filesystem size"),
    }
    PumpMetrics::set_ts(&pump.metrics.max_commit_ts, engine.max_commit_ts());
    tracing::info!(
        %node_id, cluster_id, %listen, registry = %registry.describe(),
        "pump serving gRPC and HTTP"
    );

    // Serving stops only after the final state is written: drainers keep pulling while a
    // closing pump waits for them.
    let (stop_serving, serving_stopped) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut serving_stopped = serving_stopped.clone();
        async move {
            let _ = serving_stopped.wait_for(|stop| *stop).await;
        }
    };
    let grpc =
        || tonic::service::Routes::new(PumpGrpc::server(pump.clone(), config.max_message_size));
    let app = serve::one_port_app(grpc(), crate::http::router(pump.clone(), resolver.clone()));
    let tls = tls.map(ReloadingServerConfig::new).transpose()?;
    let mut servers = vec![tokio::spawn(serve::serve_port(
        listener,
        tls.map(Arc::new),
        app,
        stopped(),
    ))];
    let socket = config.socket_path();
    if let Some(path) = &socket {
        remove_stale_socket(path)?;
        let unix = tokio::net::UnixListener::bind(path)
            .map_err(|e| Error::io("cannot listen on unix socket", path, e))?;
        tracing::info!(socket = %path.display(), "serving gRPC on a unix socket too");
        servers.push(tokio::spawn(serve::serve(
            unix,
            grpc().into_axum_router(),
            stopped(),
        )));
    }

    if let Err(error) = pump.register_online().await {
        pump.close_pulls();
        let _ = stop_serving.send(true);
        for server in servers {
            let _ = server.await;
        }
        return Err(error);
    }
    let heartbeat = tokio::spawn(pump.clone().heartbeat_loop());
    let loops = [
        tokio::spawn(background::fake_binlog_loop(pump.clone())),
        tokio::spawn(background::gc_loop(pump.clone())),
        tokio::spawn(background::pending_prewrite_watch(
            pump.clone(),
            resolver.map(|resolver| resolver as Arc<dyn background::TxnResolver>),
        )),
    ];
    let signals = {
        let pump = pump.clone();
        tokio::spawn(async move { lifecycle::shutdown_on_signal(&pump.lifecycle, signals).await })
    };

    let kind = pump.lifecycle.shutdown_requested().await;
    tracing::info!(?kind, "shutting down");
    // The heartbeat ends on its own at the shutdown; waiting for it means no `online` write can
    // land after the final state. The signal task stays: a signal during `close` stops waiting.
    let _ = heartbeat.await;
    for task in loops {
        task.abort();
    }
    let final_state = pump.final_state(kind).await;
    signals.abort();
    pump.close_pulls();
    let _ = stop_serving.send(true);
    for server in servers {
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "server stopped with an error"),
            Err(error) => tracing::warn!(%error, "server task failed"),
        }
    }
    if let Some(path) = &socket {
        let _ = std::fs::remove_file(path);
    }
    let state = final_state?;
    tracing::info!(%state, "pump stopped");
    Ok(state)
}

/// The resolver asking TiDB's status API about stuck prewrites, when `tidb-status-addr` is set.
fn tidb_resolver(config: &PumpConfig, tls: Option<Tls>) -> Result<Option<Arc<TidbMvccResolver>>> {
    if config.tidb_status_addr.is_empty() {
        tracing::info!(
            "no tidb-status-addr: prewrites with no commit after 10 minutes are only reported"
        );
        return Ok(None);
    }
    let client = TidbStatusClient::new(&config.tidb_status_addr, tls)?;
    let resolver = TidbMvccResolver::new(client);
    tracing::info!(
        tidb = %resolver.describe(),
        "prewrites with no commit after 10 minutes are settled through TiDB's status API"
    );
    Ok(Some(Arc::new(resolver)))
}

/// Removes a socket file left by an earlier run (bind fails on it); anything else at that path
/// is an error, never deleted.
fn remove_stale_socket(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)
            .map_err(|e| Error::io("cannot remove the stale unix socket", path, e)),
        Ok(_) => Err(Error::InvalidConfig(format!(
            "socket {} exists and is not a unix socket; refusing to replace it",
            path.display()
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(Error::io(
            "cannot inspect the unix socket path",
            path,
            error,
        )),
    }
}
