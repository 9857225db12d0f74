//! The etcd TSO: a compare-and-swap on one key, `/tidb-binlog/v1/tso` (decimal text).
//!
//! Each TS is `max(now, last + 1)` written with `If(ModRevision(key) == rev) Then Put`, so it is
//! larger than every TS any process took before. There are no per-process windows: one etcd
//! round trip per TS, which is fine for the pump's few TSs (fake binlogs, heartbeats).
//!
//! This is not PD's TSO, so it is only right on a plain etcd: [`EtcdTso::connect`] refuses a real
//! PD (see [`crate::tso`] for why).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};

use crate::etcd::{bounded, Etcd};
use crate::tls::Tls;
use crate::tso::{now_ts, Tso};
use crate::{Error, Result};

/// The key holding the last TS issued.
const TSO_KEY: &str = "/tidb-binlog/v1/tso";
/// Compare-and-swap attempts before giving up; each lost one means another process got a TS.
const MAX_ATTEMPTS: u32 = 64;

/// The TSO in etcd.
pub struct EtcdTso {
    etcd: Etcd,
    /// The last value and mod revision of the key seen by this process, so a TS usually takes
    /// one round trip. Held across the request: this process's callers take turns, so the CAS
    /// only races other processes.
    last: tokio::sync::Mutex<Option<(u64, i64)>>,
}

impl EtcdTso {
    /// Connects to the etcd behind `pd_urls` (see [`Etcd::connect`]); fails naming the
    /// endpoints if none answers within 5 s, and refuses a real PD (one holding
    /// `/pd/cluster_id`).
    pub async fn connect(pd_urls: &[String], tls: Option<&Tls>) -> Result<EtcdTso> {
        Ok(EtcdTso {
            etcd: Etcd::connect(pd_urls, tls).await?,
            last: tokio::sync::Mutex::new(None),
        })
    }

    /// A TSO error naming the key and the endpoints.
    fn error(&self, what: &str) -> Error {
        Error::Tso(format!("{TSO_KEY} at {}: {what}", self.etcd.endpoints()))
    }

    /// The key's value and mod revision, `(0, 0)` if it does not exist.
    async fn read(&self) -> Result<(u64, i64)> {
        let resp = bounded(self.etcd.kv().get(TSO_KEY, None))
            .await
            .map_err(|e| self.error(&e))?;
        self.decode(resp.kvs().first())
    }

    /// The value and mod revision of the key as read (`kv`), `(0, 0)` if it does not exist.
    fn decode(&self, kv: Option<&etcd_client::KeyValue>) -> Result<(u64, i64)> {
        let Some(kv) = kv else {
            return Ok((0, 0));
        };
        let value = std::str::from_utf8(kv.value())
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| {
                self.error(&format!(
                    "holds {:?}, not a decimal TS",
                    String::from_utf8_lossy(kv.value())
                ))
            })?;
        Ok((value, kv.mod_revision()))
    }
}

#[async_trait::async_trait]
impl Tso for EtcdTso {
    async fn get_ts(&self) -> Result<u64> {
        let mut cached = self.last.lock().await;
        let (mut last, mut revision) = match *cached {
            Some(seen) => seen,
            None => self.read().await?,
        };
        for attempt in 1..=MAX_ATTEMPTS {
            let ts = last
                .checked_add(1)
                .ok_or_else(|| self.error("the last TS is u64::MAX"))?
                .max(now_ts());
            // A missing key has mod revision 0, so this also creates it.
            let txn = Txn::new()
                .when([Compare::mod_revision(TSO_KEY, CompareOp::Equal, revision)])
                .and_then([TxnOp::put(TSO_KEY, ts.to_string(), None)])
                .or_else([TxnOp::get(TSO_KEY, None::<GetOptions>)]);
            let resp = bounded(self.etcd.kv().txn(txn)).await;
            let resp = match resp {
                Ok(resp) => resp,
                Err(e) => {
                    // The put may have been applied; the next call rereads the key.
                    *cached = None;
                    return Err(self.error(&e));
                }
            };
            if resp.succeeded() {
                // The put's revision is the key's new mod revision.
                let revision = resp
                    .header()
                    .map(|header| header.revision())
                    .ok_or_else(|| self.error("the answer has no header"))?;
                *cached = Some((ts, revision));
                return Ok(ts);
            }
            // Another process took a TS in between: continue from its value.
            let current = resp.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Get(get) => Some(get),
                _ => None,
            });
            (last, revision) = self.decode(current.as_ref().and_then(|get| get.kvs().first()))?;
            *cached = Some((last, revision));
            // A little jitter, growing with the losses, so racing processes spread out.
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let jitter_us = u64::from(nanos) % (200 * u64::from(attempt));
            tokio::time::sleep(Duration::from_micros(jitter_us)).await;
        }
        *cached = None;
        Err(self.error(&format!(
            "lost the compare-and-swap {MAX_ATTEMPTS} times in a row to other processes"
        )))
    }
}
