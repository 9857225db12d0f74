//! The `binlog.Cistern` gRPC service on the drainer's port. `Notify` re-reads the pumps at once
//! (a pump coming back from `offline` calls it); `GetLatestCommitTS` answers the checkpoint;
//! `DumpBinlog` and `DumpDDLJobs` are the original's stubs.

use std::sync::Arc;

use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::collector::Collector;
use crate::Drainer;
use binlog_node::proto::cistern_server::{Cistern, CisternServer};
use binlog_node::proto::{
    DumpBinlogReq, DumpBinlogResp, DumpDdlJobsReq, DumpDdlJobsResp, GetLatestCommitTsReq,
    GetLatestCommitTsResp, NotifyReq, NotifyResp,
};

/// The service over a drainer and its pump discovery.
pub struct CisternGrpc {
    drainer: Arc<Drainer>,
    collector: Arc<Collector>,
}

impl CisternGrpc {
    /// The tonic server for `drainer`, whose `Notify` refreshes `collector`; gzip accepted and
    /// answered.
    pub fn server(drainer: Arc<Drainer>, collector: Arc<Collector>) -> CisternServer<CisternGrpc> {
        CisternServer::new(CisternGrpc { drainer, collector })
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
    }
}

#[tonic::async_trait]
impl Cistern for CisternGrpc {
    type DumpBinlogStream = futures_util::stream::Empty<Result<DumpBinlogResp, Status>>;

    async fn dump_binlog(
        &self,
        _request: Request<DumpBinlogReq>,
    ) -> Result<Response<Self::DumpBinlogStream>, Status> {
        Ok(Response::new(futures_util::stream::empty()))
    }

    async fn dump_ddl_jobs(
        &self,
        _request: Request<DumpDdlJobsReq>,
    ) -> Result<Response<DumpDdlJobsResp>, Status> {
        Ok(Response::new(DumpDdlJobsResp::default()))
    }

    async fn get_latest_commit_ts(
        &self,
        _request: Request<GetLatestCommitTsReq>,
    ) -> Result<Response<GetLatestCommitTsResp>, Status> {
        Ok(Response::new(GetLatestCommitTsResp {
            commit_ts: self.drainer.checkpoint_ts() as i64,
            is_synced: false,
        }))
    }

    async fn notify(&self, _request: Request<NotifyReq>) -> Result<Response<NotifyResp>, Status> {
        tracing::info!("Notify: reading the pumps now");
        self.collector
            .refresh()
            .await
            .map_err(|error| Status::unknown(error.to_string()))?;
        Ok(Response::new(NotifyResp {}))
    }
}
