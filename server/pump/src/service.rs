//! The `binlog.Pump` gRPC service. Every failure reaches the client as status `UNKNOWN` with the
//! original's message, which is what grpc-go produced and what TiDB's pump client expects.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use binlog_engine::pull::PulledBinlog;
use binlog_engine::record::Kind;
use futures_util::{Stream, StreamExt};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::Pump;
use binlog_node::proto::pump_server::{Pump as PumpService, PumpServer};
use binlog_node::proto::{
    Binlog, Entity, Meta, PullBinlogReq, PullBinlogResp, WriteBinlogReq, WriteBinlogResp,
};

/// The gRPC service over a [`Pump`].
pub struct PumpGrpc {
    pump: Arc<Pump>,
}

impl PumpGrpc {
    /// The tonic server for `pump`: gzip accepted and answered, requests above
    /// `max_message_size` refused.
    pub fn server(pump: Arc<Pump>, max_message_size: usize) -> PumpServer<PumpGrpc> {
        PumpServer::new(PumpGrpc { pump })
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(max_message_size)
            .max_encoding_message_size(usize::MAX)
    }

    fn check_cluster_id(&self, cluster_id: u64) -> Result<(), Status> {
        if cluster_id != self.pump.cluster_id {
            return Err(Status::unknown(format!(
                "cluster ID are mismatch, {} vs {}",
                cluster_id, self.pump.cluster_id
            )));
        }
        Ok(())
    }

    fn observe(&self, method: &str, started: Instant, ok: bool) {
        self.pump
            .metrics
            .rpc_duration
            .with_label_values(&[method, if ok { "succ" } else { "fail" }])
            .observe(started.elapsed().as_secs_f64());
    }
}

type PullStream = Pin<Box<dyn Stream<Item = Result<PullBinlogResp, Status>> + Send>>;

#[tonic::async_trait]
impl PumpService for PumpGrpc {
    async fn write_binlog(
        &self,
        request: Request<WriteBinlogReq>,
    ) -> Result<Response<WriteBinlogResp>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        if let Err(status) = self.check_cluster_id(request.cluster_id) {
            self.observe("WriteBinlog", started, false);
            return Err(status);
        }
        let result = self.pump.write_binlog(&request.payload).await;
        self.observe("WriteBinlog", started, result.is_ok());
        if started.elapsed().as_secs() >= 1 {
            tracing::warn!(elapsed = ?started.elapsed(), "slow WriteBinlog");
        }
        match result {
            Ok(()) => Ok(Response::new(WriteBinlogResp::default())),
            Err(refusal) => {
                self.pump.metrics.loss_binlog.inc();
                let message = refusal.to_string();
                match refusal.log_level() {
                    tracing::Level::WARN => tracing::warn!(%message, "WriteBinlog refused"),
                    _ => tracing::error!(%message, "WriteBinlog failed"),
                }
                Err(Status::unknown(message))
            }
        }
    }

    type PullBinlogsStream = PullStream;

    async fn pull_binlogs(
        &self,
        request: Request<PullBinlogReq>,
    ) -> Result<Response<PullStream>, Status> {
        let started = Instant::now();
        let request = request.into_inner();
        self.check_cluster_id(request.cluster_id)?;
        let after = request.start_from.map_or(0, |pos| pos.offset.max(0) as u64);
        let binlogs = self.pump.engine.pull_commits(after).map_err(|error| {
            tracing::error!(%error, after, "PullBinlogs refused");
            Status::unknown(error.to_string())
        })?;
        tracing::info!(after, "PullBinlogs started");
        let timer = PullTimer {
            pump: self.pump.clone(),
            started,
        };
        let entities = binlogs
            .map(move |pulled| {
                let _timer = &timer; // recorded when the stream ends, however it ends
                let pulled = pulled.map_err(|error| Status::unknown(error.to_string()))?;
                Ok(PullBinlogResp {
                    entity: Some(entity(pulled)?),
                })
            })
            .take_until(self.pump.pulls_closed())
            // A failed item ends the stream with its status.
            .scan(false, |failed, item: Result<PullBinlogResp, Status>| {
                let keep = !*failed;
                *failed = item.is_err();
                std::future::ready(keep.then_some(item))
            });
        Ok(Response::new(Box::pin(entities)))
    }
}

/// Records a pull's duration in `binlog_pump_rpc_duration_seconds` when its stream is dropped
/// (ended by the pump, by an error, or by the client going away).
struct PullTimer {
    pump: Arc<Pump>,
    started: Instant,
}

impl Drop for PullTimer {
    fn drop(&mut self) {
        self.pump
            .metrics
            .rpc_duration
            .with_label_values(&["PullBinlogs", "succ"])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// The `Entity` for a pulled binlog: a fake binlog as stored; a commit with its prewrite's
/// `start_ts`, `prewrite_value` and DDL fields copied in (as `feedPreWriteValue` does).
fn entity(pulled: PulledBinlog) -> Result<Entity, Status> {
    let payload = match (pulled.kind, &pulled.prewrite_payload) {
        (Kind::Commit, Some(prewrite)) => {
            let corrupt = |what: &str, error: prost::DecodeError| {
                Status::unknown(format!(
                    "stored {what} binlog at commit TS {} does not decode: {error}",
                    pulled.commit_ts
                ))
            };
            let mut commit =
                Binlog::decode(&pulled.payload[..]).map_err(|e| corrupt("commit", e))?;
            let prewrite = Binlog::decode(&prewrite[..]).map_err(|e| corrupt("prewrite", e))?;
            commit.start_ts = prewrite.start_ts;
            commit.prewrite_value = prewrite.prewrite_value;
            commit.ddl_query = prewrite.ddl_query;
            commit.ddl_job_id = prewrite.ddl_job_id;
            commit.ddl_schema_state = prewrite.ddl_schema_state;
            commit.encode_to_vec()
        }
        _ => pulled.payload,
    };
    Ok(Entity {
        pos: Some(Default::default()),
        payload,
        checksum: Vec::new(),
        meta: Some(Meta {
            start_ts: pulled.start_ts as i64,
            commit_ts: pulled.commit_ts as i64,
        }),
    })
}
