//! The etcd registry: the original's keys and JSON, so binlogctl, TiDB and drainers of the
//! original find the nodes it registers.
//!
//! Keys `/tidb-binlog/v1/pumps/<nodeId>` and `/tidb-binlog/v1/drainers/<nodeId>`, values the
//! compact JSON of [`NodeStatus`]. Writes keep the original's revision checks (`UpdateNode`:
//! create only if absent, update only if present), and every call is bounded by the original's
//! 5 s `EtcdDialTimeout` (the connection shared with the etcd TSO, `crate::etcd`). The cluster
//! ID is ours, `/tidb-binlog/v1/cluster_id` (8 bytes, big-endian), made once.
//!
//! The etcd must be a plain one, not a real PD. With a PD, binlog TSs would have to come from
//! PD's TSO service, and this build has no client for it: the etcd compare-and-swap TSO
//! ([`crate::tso::etcd::EtcdTso`], `max(local clock, last + 1)`) could give a fake binlog a TS
//! above commit TSs PD has yet to issue, and drainers would then skip those binlogs. So an etcd
//! holding PD's `/pd/cluster_id` is refused, when connecting (registry and TSO alike) and when
//! reading the cluster ID.

use std::collections::BTreeMap;
use std::future::Future;

use etcd_client::{Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};

use crate::etcd::{bounded, Etcd, PD_CLUSTER_ID_KEY};
use crate::registry::{parse_entry, serialize, NodeKind, NodeStatus, Registry};
use crate::tls::Tls;
use crate::{Error, Result};

/// The root of every key of TiDB-Binlog.
const ROOT: &str = "/tidb-binlog/v1";
/// Our cluster ID key: 8 bytes, big-endian, non-zero.
const CLUSTER_ID_KEY: &str = "/tidb-binlog/v1/cluster_id";
/// The registry in etcd.
#[derive(Clone)]
pub struct EtcdRegistry {
    etcd: Etcd,
}

impl EtcdRegistry {
    /// Connects to the etcd behind `pd_urls` (see [`Etcd::connect`]); fails naming the
    /// endpoints if none answers within 5 s, and refuses a real PD (see the module docs).
    pub async fn connect(pd_urls: &[String], tls: Option<&Tls>) -> Result<EtcdRegistry> {
        Ok(EtcdRegistry {
            etcd: Etcd::connect(pd_urls, tls).await?,
        })
    }

    /// Creates the entry of `status.node_id`; fails with `key ... in etcd already exists` if
    /// there is one (the original's `Create`: `If(ModRevision(key)==0) Then Put`).
    pub async fn create_node(&self, kind: NodeKind, status: &NodeStatus) -> Result<()> {
        let key = node_key(kind, &status.node_id);
        let value = serialize(status)?;
        let txn = Txn::new()
            .when([Compare::mod_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), value, None)]);
        let resp = self.call("create", &key, self.etcd.kv().txn(txn)).await?;
        if resp.succeeded() {
            Ok(())
        } else {
            Err(Error::Registry(format!("key {key} in etcd already exists")))
        }
    }

    /// Our cluster ID, `None` if none was made yet; fails if the etcd holds PD's (both keys are
    /// read in one transaction, so a PD cannot slip in between).
    async fn read_cluster_id(&self) -> Result<Option<u64>> {
        let txn = Txn::new().and_then([
            TxnOp::get(PD_CLUSTER_ID_KEY, Some(GetOptions::new().with_count_only())),
            TxnOp::get(CLUSTER_ID_KEY, None),
        ]);
        let resp = self
            .call("get", CLUSTER_ID_KEY, self.etcd.kv().txn(txn))
            .await?;
        let mut gets = resp.op_responses().into_iter().filter_map(|op| match op {
            TxnOpResponse::Get(get) => Some(get),
            _ => None,
        });
        let (Some(pd), Some(ours)) = (gets.next(), gets.next()) else {
            return Err(Error::Registry(format!(
                "etcd get of {CLUSTER_ID_KEY} at {} answered without its two reads",
                self.etcd.endpoints()
            )));
        };
        if pd.count() > 0 {
            return Err(self.etcd.pd_refused());
        }
        ours.kvs()
            .first()
            .map(|kv| decode_cluster_id(kv.value()))
            .transpose()
    }

    /// Runs one call, its error naming the operation, the key and the endpoints.
    async fn call<T>(
        &self,
        op: &str,
        key: &str,
        call: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        bounded(call).await.map_err(|e| {
            Error::Registry(format!(
                "etcd {op} of {key} at {} failed: {e}",
                self.etcd.endpoints()
            ))
        })
    }
}

#[async_trait::async_trait]
impl Registry for EtcdRegistry {
    async fn node(&self, kind: NodeKind, node_id: &str) -> Result<Option<NodeStatus>> {
        let key = node_key(kind, node_id);
        let resp = self
            .call("get", &key, self.etcd.kv().get(key.as_str(), None))
            .await?;
        resp.kvs()
            .first()
            .map(|kv| parse_entry(&key, kv.value()))
            .transpose()
    }

    async fn nodes(&self, kind: NodeKind) -> Result<Vec<NodeStatus>> {
        let prefix = format!("{ROOT}/{}/", kind.prefix());
        let resp = self
            .call(
                "prefix get",
                &prefix,
                self.etcd
                    .kv()
                    .get(prefix.as_str(), Some(GetOptions::new().with_prefix())),
            )
            .await?;
        // As the original's `List`: children are the first path segment below the prefix; a
        // child that only has keys below it has no value, which does not parse.
        let mut children: BTreeMap<String, &[u8]> = BTreeMap::new();
        for kv in resp.kvs() {
            let key = String::from_utf8_lossy(kv.key());
            let Some(tail) = key.strip_prefix(&prefix).filter(|tail| !tail.is_empty()) else {
                continue;
            };
            match tail.split_once('/') {
                None => {
                    children.insert(tail.to_string(), kv.value());
                }
                Some((child, _)) => {
                    children.entry(child.to_string()).or_insert(&[]);
                }
            }
        }
        let mut nodes = children
            .iter()
            .map(|(child, value)| parse_entry(format!("{prefix}{child}"), value))
            .collect::<Result<Vec<_>>>()?;
        nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(nodes)
    }

    async fn update_node(&self, kind: NodeKind, status: &NodeStatus) -> Result<()> {
        let key = node_key(kind, &status.node_id);
        let resp = self
            .call(
                "get",
                &key,
                self.etcd
                    .kv()
                    .get(key.as_str(), Some(GetOptions::new().with_count_only())),
            )
            .await?;
        if resp.count() == 0 {
            return self.create_node(kind, status).await;
        }
        let value = serialize(status)?;
        let txn = Txn::new()
            .when([Compare::mod_revision(key.as_str(), CompareOp::Greater, 0)])
            .and_then([TxnOp::put(key.as_str(), value, None)]);
        let resp = self.call("update", &key, self.etcd.kv().txn(txn)).await?;
        if resp.succeeded() {
            Ok(())
        } else {
            Err(Error::Registry(format!("key {key} in etcd not found")))
        }
    }

    async fn cluster_id(&self) -> Result<u64> {
        if let Some(id) = self.read_cluster_id().await? {
            return Ok(id);
        }
        // None made yet: create it if it is still absent (and no PD appeared), then read back
        // whichever creator won.
        let key = CLUSTER_ID_KEY;
        let id = super::file::random_nonzero_u64()?;
        let txn = Txn::new()
            .when([
                Compare::create_revision(key, CompareOp::Equal, 0),
                Compare::create_revision(PD_CLUSTER_ID_KEY, CompareOp::Equal, 0),
            ])
            .and_then([TxnOp::put(key, id.to_be_bytes(), None)]);
        let created = self.call("create", key, self.etcd.kv().txn(txn)).await?;
        if created.succeeded() {
            tracing::info!(cluster_id = id, "made a new cluster id in etcd");
        }
        self.read_cluster_id().await?.ok_or_else(|| {
            Error::Registry(format!("{key} in etcd vanished right after it was created"))
        })
    }

    fn describe(&self) -> String {
        format!("etcd {}", self.etcd.endpoints())
    }
}

/// The key of a node's entry.
fn node_key(kind: NodeKind, node_id: &str) -> String {
    format!("{ROOT}/{}/{node_id}", kind.prefix())
}

/// The cluster ID stored in [`CLUSTER_ID_KEY`]: 8 bytes, big-endian, non-zero.
fn decode_cluster_id(value: &[u8]) -> Result<u64> {
    match <[u8; 8]>::try_from(value).map(u64::from_be_bytes) {
        Ok(id) if id != 0 => Ok(id),
        _ => Err(Error::Registry(format!(
            "{CLUSTER_ID_KEY} in etcd holds {:02x?}, not a non-zero 8-byte big-endian cluster id",
            value
        ))),
    }
}
