//! A client of TiDB's status port (`:10080`, spec `real-cluster.md` §3.1): one `GET` answered
//! by the first of several TiDB servers that can be reached. What to ask and how to read the
//! answer is the caller's (the pump's MVCC lookups, the drainer's DDL history).
//!
//! HTTP through `ureq` (blocking, already the workspace's client) on tokio's blocking pool: the
//! callers make a few calls a minute, which do not need an async client. With `[security]`,
//! addresses without a scheme are `https://` (TiDB's `cluster-ssl-*` status port), and each
//! call reads the TLS files anew, so a rotated client certificate is used from the next call.
//! Each call tries the addresses in turn, from the last one that answered, when one cannot be
//! reached; an answer that is not 200 is an error, not a reason to ask another TiDB (they share
//! one cluster, so they would all say the same).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::tls::{http_agent, url_with_scheme, Tls};

/// How long one request may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The configuration key the addresses come from, for messages.
const SETTING: &str = "tidb-status-addr";

/// A client of the status ports of one or more TiDB servers of one cluster.
#[derive(Clone, Debug)]
pub struct TidbStatusClient {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// `http(s)://host:port`, without a trailing slash.
    base_urls: Vec<String>,
    /// The address that answered last: tried first.
    preferred: AtomicUsize,
    /// `[security]`, for `https://` addresses.
    tls: Option<Tls>,
}

impl TidbStatusClient {
    /// A client of `addrs`, each `host:port`, `http://host:port` or `https://host:port`
    /// (without a scheme: `https` with `tls`). At least one address is needed.
    pub fn new(addrs: &[String], tls: Option<Tls>) -> Result<TidbStatusClient> {
        if addrs.is_empty() {
            return Err(Error::InvalidConfig(format!("{SETTING} is empty")));
        }
        let base_urls = addrs
            .iter()
            .map(|addr| url_with_scheme(addr.trim_end_matches('/'), tls.as_ref(), SETTING))
            .collect::<Result<Vec<String>>>()?;
        Ok(TidbStatusClient {
            shared: Arc::new(Shared {
                base_urls,
                preferred: AtomicUsize::new(0),
                tls,
            }),
        })
    }

    /// The addresses asked, for messages.
    pub fn describe(&self) -> String {
        self.shared.base_urls.join(",")
    }

    /// The body of a 200 answer to `GET <path_and_query>` (which starts with `/`), read up to
    /// `max_bytes`.
    pub async fn get(&self, path_and_query: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let shared = Arc::clone(&self.shared);
        let path_and_query = path_and_query.to_owned();
        tokio::task::spawn_blocking(move || shared.get(&path_and_query, max_bytes))
            .await
            .map_err(|e| Error::TidbStatus {
                addr: self.describe(),
                reason: format!("the request task failed: {e}"),
            })?
    }
}

/// Checks `tidb-status-addr` entries before anything starts: each `host:port`, `http://host:port`
/// or `https://host:port` (a trailing `/` allowed), `https://` only with `[security]` TLS
/// (`tls_configured`), which is where its CA comes from.
pub fn check_addresses(addrs: &[String], tls_configured: bool) -> Result<()> {
    for addr in addrs {
        let invalid = |why: &str| {
            Err(Error::InvalidConfig(format!(
                "{SETTING} {addr:?}: {why} (each entry is host:port, http://host:port or \
                 https://host:port: a TiDB status port, 10080 by default)"
            )))
        };
        let rest = match addr.split_once("://") {
            Some(("http", rest)) => rest,
            Some(("https", _)) if !tls_configured => {
                return invalid("https:// needs [security] ssl-ca to check TiDB's certificate");
            }
            Some(("https", rest)) => rest,
            Some(_) => return invalid("the scheme must be http or https"),
            None => addr,
        };
        let host_port = rest.strip_suffix('/').unwrap_or(rest);
        if host_port.contains('/') {
            return invalid("it must not have a path");
        }
        match host_port.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            _ => return invalid("it must name a host and a numeric port"),
        }
    }
    Ok(())
}

impl Shared {
    fn get(&self, path_and_query: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let agent = http_agent(self.tls.as_ref(), REQUEST_TIMEOUT)?;
        let count = self.base_urls.len();
        let first = self.preferred.load(Ordering::Relaxed);
        let mut unreachable = Vec::new();
        for index in (0..count).map(|step| (first + step) % count) {
            let url = format!("{}{path_and_query}", self.base_urls[index]);
            match get(&agent, &url, max_bytes) {
                Ok(answer) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return answer;
                }
                Err(e) => {
                    // Said once, in the error below, by the caller who knows how often it asks.
                    tracing::debug!(%url, error = %e, "TiDB status port unreachable");
                    unreachable.push(format!("{url}: {e}"));
                }
            }
        }
        Err(Error::TidbStatus {
            addr: self.base_urls.join(", "),
            reason: format!("no address answered: {}", unreachable.join("; ")),
        })
    }
}

/// One request: the outer error is a transport failure (try another address), the inner one an
/// answer other than 200.
fn get(
    agent: &ureq::Agent,
    url: &str,
    max_bytes: u64,
) -> std::result::Result<Result<Vec<u8>>, ureq::Error> {
    let mut response = agent.get(url).call()?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(max_bytes)
        .read_to_vec()?;
    if status != 200 {
        let text = String::from_utf8_lossy(&body);
        return Ok(Err(Error::TidbStatus {
            addr: url.to_owned(),
            reason: format!("status {status}: {}", text.trim()),
        }));
    }
    Ok(Ok(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use binlog_testkit::tidb_status::TidbStatusStandIn;

    #[tokio::test]
    async fn an_unreachable_address_is_skipped_and_the_one_that_answered_is_asked_first() {
        let stand_in = TidbStatusStandIn::start(vec![serde_json::json!({"id": 3})]);
        let client = TidbStatusClient::new(
            &[
                "127.0.0.1:1".to_owned(),
                format!("http://{}/", stand_in.addr()),
            ],
            None,
        )
        .unwrap();
        let body = client.get("/ddl/history?limit=1", 1 << 20).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"id\": 3"));
        assert_eq!(client.shared.preferred.load(Ordering::Relaxed), 1);

        let error = client
            .get("/ddl/history?limit=0", 1 << 20)
            .await
            .unwrap_err();
        let error = error.to_string();
        assert!(error.contains("status 400"), "{error}");
        assert!(error.contains("limit must be greater than 0"), "{error}");
    }

    #[test]
    fn addresses_are_checked_with_reasons() {
        let ok = |addrs: &[&str], tls| {
            let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            check_addresses(&addrs, tls).map_err(|e| e.to_string())
        };
        ok(
            &["127.0.0.1:10080", "http://tidb-0:10080/", "[::1]:10080"],
            false,
        )
        .unwrap();
        ok(&["https://tidb-0:10080"], true).unwrap();
        for (addrs, tls, why) in [
            (&["https://tidb-0:10080"], false, "needs [security] ssl-ca"),
            (&["ftp://tidb-0:10080"], false, "http or https"),
            (&["tidb-0:10080/status"], false, "path"),
            (&["tidb-0"], false, "numeric port"),
            (&[":10080"], false, "host"),
            (&[""], false, "host"),
        ] {
            let error = ok(addrs, tls).unwrap_err();
            assert!(error.contains(why), "{addrs:?}: {error}");
            assert!(error.contains("tidb-status-addr"), "{error}");
        }
    }

    #[tokio::test]
    async fn no_reachable_address_is_an_error_naming_each() {
        let client = TidbStatusClient::new(&["127.0.0.1:1".to_owned()], None).unwrap();
        let error = client.get("/mvcc/hex/00", 1 << 20).await.unwrap_err();
        assert!(
            error.to_string().contains("http://127.0.0.1:1/mvcc/hex/00"),
            "{error}"
        );
        assert!(TidbStatusClient::new(&[], None).is_err());
    }
}
