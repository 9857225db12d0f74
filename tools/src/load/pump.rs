//! A pump connection as TiDB opens one: gRPC (optionally gzip, over TLS with `--ssl-ca`),
//! checked with an empty-payload probe write, and gRPC statuses described in one line.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use binlog_node::proto::pump_client::PumpClient;
use binlog_node::proto::WriteBinlogReq;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use binlog_node::tls::{grpc_endpoint, Tls};

/// How long connecting to a pump may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected pump.
#[derive(Clone, Debug)]
pub struct Pump {
    /// `host:port`.
    pub addr: String,
    /// The gRPC client (one HTTP/2 connection, shared by the clones).
    pub client: PumpClient<Channel>,
}

impl Pump {
    /// Connects to the pump at `addr` (`host:port`, an `http://` prefix is accepted), over
    /// TLS when `tls` is given, and checks that it takes writes for `cluster_id` with an
    /// empty-payload probe, as TiDB does.
    pub async fn connect(
        addr: &str,
        cluster_id: u64,
        gzip: bool,
        tls: Option<&Tls>,
    ) -> Result<Pump> {
        let addr = addr.strip_prefix("http://").unwrap_or(addr).to_owned();
        let endpoint = grpc_endpoint(&addr, tls)
            .with_context(|| format!("invalid pump address {addr:?} (expected HOST:PORT)"))?
            .connect_timeout(CONNECT_TIMEOUT);
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot connect to pump {addr}"))?;
        let mut client = PumpClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        if gzip {
            client = client
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        let probe = WriteBinlogReq {
            cluster_id,
            payload: Vec::new(),
        };
        client.write_binlog(probe).await.map_err(|status| {
            anyhow!(
                "pump {addr} refused a probe write: {} (is it online, and is the registry \
                 (--registry-dir / --pd-urls) the pump's?)",
                describe_status(&status)
            )
        })?;
        Ok(Pump { addr, client })
    }
}

/// A gRPC status as one line: its code, message and underlying cause.
pub fn describe_status(status: &tonic::Status) -> String {
    let mut text = format!("{}: {}", status.code(), status.message());
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
