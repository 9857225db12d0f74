//! The etcd connection the etcd registry and the etcd TSO share: endpoints from `pd-urls`, the
//! original's 5 s bound on every call, and the refusal of a real PD (an etcd holding
//! `/pd/cluster_id`; the etcd registry's module docs say why).
//!
//! It lives below both users so neither imports the other.

use std::future::Future;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, GetOptions, KvClient};

use crate::tls::{url_with_scheme, Tls};
use crate::{Error, Result};

/// PD's cluster ID key; its presence means the etcd is a real PD, which is refused.
pub(crate) const PD_CLUSTER_ID_KEY: &str = "/pd/cluster_id";
/// The bound of every etcd call (the original's `EtcdDialTimeout`).
const ETCD_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected etcd client and the endpoints it was made for (for messages).
#[derive(Clone)]
pub(crate) struct Etcd {
    client: Client,
    endpoints: String,
}

impl Etcd {
    /// Connects to the etcd behind `pd_urls` (`host:port`, `http://host:port` or
    /// `https://host:port`, each entry possibly a comma-separated list; without a scheme,
    /// `https` when `tls` is set), checks that it answers, and refuses it if it is a real PD
    /// (see the module docs). `https://` endpoints trust `tls`'s CA and present its
    /// certificate.
    pub(crate) async fn connect(pd_urls: &[String], tls: Option<&Tls>) -> Result<Etcd> {
        let urls = pd_urls
            .iter()
            .flat_map(|urls| urls.split(','))
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| url_with_scheme(url, tls, "pd-urls"))
            .collect::<Result<Vec<String>>>()?;
        if urls.is_empty() {
            return Err(Error::InvalidConfig("pd-urls names no endpoint".into()));
        }
        let endpoints = urls.join(",");
        let secure = urls
            .iter()
            .filter(|url| url.starts_with("https://"))
            .count();
        if secure != 0 && secure != urls.len() {
            // One client, one channel: it cannot speak TLS to some endpoints and not others.
            return Err(Error::InvalidConfig(format!(
                "pd-urls {endpoints} mixes http:// and https:// endpoints: use one scheme"
            )));
        }
        let mut options = ConnectOptions::new()
            .with_connect_timeout(ETCD_TIMEOUT)
            .with_timeout(ETCD_TIMEOUT);
        if let (Some(tls), true) = (tls, secure != 0) {
            options = options.with_tls(tls.tonic_client()?);
        }
        let unreachable =
            |e: String| Error::Registry(format!("cannot connect to etcd at {endpoints}: {e}"));
        // The client connects lazily, so only a request shows whether anyone answers.
        let client = bounded(Client::connect(&urls, Some(options)))
            .await
            .map_err(unreachable)?;
        let etcd = Etcd {
            client,
            endpoints: endpoints.clone(),
        };
        let pd = bounded(
            etcd.kv()
                .get(PD_CLUSTER_ID_KEY, Some(GetOptions::new().with_count_only())),
        )
        .await
        .map_err(unreachable)?;
        if pd.count() > 0 {
            return Err(etcd.pd_refused());
        }
        tracing::info!(endpoints = %endpoints, "connected to etcd");
        Ok(etcd)
    }

    /// The error refusing a real PD (an etcd holding `/pd/cluster_id`).
    pub(crate) fn pd_refused(&self) -> Error {
        Error::InvalidConfig(format!(
            "pd-urls {} points at a PD cluster (found {PD_CLUSTER_ID_KEY}): this build has no \
             client for PD's TSO service, and taking binlog TSs from anything else could make \
             drainers skip binlogs; point pd-urls at a plain etcd, or leave it empty for the \
             embedded registry",
            self.endpoints
        ))
    }

    /// A KV client (cheap: it shares the connection).
    pub(crate) fn kv(&self) -> KvClient {
        self.client.kv_client()
    }

    /// The endpoints, comma-separated.
    pub(crate) fn endpoints(&self) -> &str {
        &self.endpoints
    }
}

/// Runs one etcd call within [`ETCD_TIMEOUT`]; the error is the text to wrap into the caller's
/// [`Error`] variant.
pub(crate) async fn bounded<T>(
    call: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout(ETCD_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {ETCD_TIMEOUT:?}")),
    }
}
