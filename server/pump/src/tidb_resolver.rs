//! What became of a transaction, asked of TiDB's status API: `GET /mvcc/hex/{key}` (spec
//! `real-cluster.md` §2.3, §3.1) returns TiKV's MVCC record of one key, which is the first step
//! of the original pump's `storage.go: resolve` (`GetMvccByEncodedKey(prewrite_key)`), reached
//! through TiDB because this build has no TiKV client.
//!
//! The answer (TiDB `pkg/server/handler/tikvhandler`: `HandleMvccGetByHex`) is
//! `{"key":"<HEX>","region_id":N,"value":<kvrpcpb.MvccGetByKeyResponse>}` since TiDB v4; v3 and
//! older return the bare `MvccGetByKeyResponse`. That message is gogo-generated, so its JSON uses
//! the proto field names, every field `omitempty`: `{"region_error":{..},"error":"..",
//! "info":{"lock":{"type","start_ts","primary",..},"writes":[{"type","start_ts","commit_ts",
//! "short_value",..}],"values":[..]}}`. `type` is kvrpcpb's `Op` as a number (Put 0, Del 1,
//! Lock 2, Rollback 3, ...), so a Put write has no `type` key at all. Only what decides the
//! transaction's fate is decoded:
//! - a write with the prewrite's start TS: committed at its `commit_ts`, or rolled back when
//!   its type is Rollback (as the original);
//! - otherwise a lock with that start TS: still locked;
//! - otherwise no record yet. The original then asks TiKV's `GetTxnStatus` once the prewrite is
//!   600 s old; TiDB has no HTTP equivalent, so the transaction stays pending (and reported)
//!   rather than being guessed rolled back.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::background::{TxnResolver, TxnStatus};
use binlog_node::tidb_status::TidbStatusClient;
use binlog_node::{Error, Result};

/// The largest MVCC answer read: a hot key keeps many versions, each with its short value.
const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// kvrpcpb `Op::Rollback`.
const OP_ROLLBACK: i32 = 3;

/// Asks TiDB's status API what became of a transaction, by its primary key.
#[derive(Clone, Debug)]
pub struct TidbMvccResolver {
    client: TidbStatusClient,
}

/// `kvrpcpb.MvccGetByKeyResponse`, the fields that matter.
#[derive(Debug, Default, Deserialize)]
struct MvccResponse {
    #[serde(default)]
    region_error: Option<Value>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    info: Option<MvccInfo>,
}

/// `kvrpcpb.MvccInfo`: the key's lock and committed versions.
#[derive(Debug, Default, Deserialize)]
struct MvccInfo {
    #[serde(default)]
    lock: Option<MvccLock>,
    #[serde(default)]
    writes: Vec<MvccWrite>,
}

/// `kvrpcpb.MvccLock`.
#[derive(Debug, Default, Deserialize)]
struct MvccLock {
    #[serde(default)]
    start_ts: u64,
}

/// `kvrpcpb.MvccWrite`; `type` is absent for a Put (0, left out by `omitempty`).
#[derive(Debug, Default, Deserialize)]
struct MvccWrite {
    #[serde(default, rename = "type")]
    op: i32,
    #[serde(default)]
    start_ts: u64,
    #[serde(default)]
    commit_ts: u64,
}

impl TidbMvccResolver {
    /// A resolver asking through `client`.
    pub fn new(client: TidbStatusClient) -> TidbMvccResolver {
        TidbMvccResolver { client }
    }

    /// The TiDB addresses asked, for messages.
    pub fn describe(&self) -> String {
        self.client.describe()
    }

    /// TiKV's MVCC record of `key` as TiDB returns it: the `MvccGetByKeyResponse` object,
    /// unwrapped from TiDB v4+'s `{"key","region_id","value"}`.
    pub async fn mvcc(&self, key: &[u8]) -> Result<Value> {
        let path = format!("/mvcc/hex/{}", hex_upper(key));
        let body = self.client.get(&path, MAX_ANSWER_BYTES).await?;
        let answer: Value = serde_json::from_slice(&body).map_err(|e| Error::TidbStatus {
            addr: format!("{}{path}", self.describe()),
            reason: format!("the answer is not JSON: {e}"),
        })?;
        Ok(unwrap_value(answer))
    }
}

#[async_trait]
impl TxnResolver for TidbMvccResolver {
    async fn txn_status(&self, start_ts: u64, primary_key: &[u8]) -> Result<TxnStatus> {
        let record = self.mvcc(primary_key).await?;
        txn_status(record, start_ts).map_err(|reason| Error::TidbStatus {
            addr: format!("{}/mvcc/hex/{}", self.describe(), hex_upper(primary_key)),
            reason,
        })
    }
}

/// The `MvccGetByKeyResponse` inside TiDB's answer: its `value` when it is an object (TiDB v4+),
/// else the answer itself (older TiDB).
fn unwrap_value(answer: Value) -> Value {
    match answer {
        Value::Object(mut fields) if fields.get("value").is_some_and(Value::is_object) => {
            fields.remove("value").unwrap_or_default()
        }
        other => other,
    }
}

/// The fate of transaction `start_ts` by the MVCC record of its primary key (see the module
/// docs); an error when TiKV answered with one instead of a record.
fn txn_status(record: Value, start_ts: u64) -> std::result::Result<TxnStatus, String> {
    let response: MvccResponse = serde_json::from_value(record)
        .map_err(|e| format!("the answer is not an MVCC record: {e}"))?;
    if let Some(region_error) = response.region_error {
        return Err(format!("TiKV region error: {region_error}"));
    }
    if !response.error.is_empty() {
        return Err(format!("TiKV error: {}", response.error));
    }
    let info = response.info.unwrap_or_default();
    if let Some(write) = info.writes.iter().find(|write| write.start_ts == start_ts) {
        return Ok(if write.op == OP_ROLLBACK {
            TxnStatus::RolledBack
        } else {
            TxnStatus::Committed(write.commit_ts)
        });
    }
    Ok(match info.lock {
        Some(lock) if lock.start_ts == start_ts => TxnStatus::Locked,
        _ => TxnStatus::Pending,
    })
}

/// `key` in upper-case hex, as TiDB echoes it back.
fn hex_upper(key: &[u8]) -> String {
    key.iter().map(|byte| format!("{byte:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const START: u64 = 449_572_301_204_668_417;
    const COMMIT: u64 = 449_572_301_204_668_420;

    /// TiDB v8's answer around `value`, as `json.MarshalIndent` writes it.
    fn tidb_answer(value: &str) -> Value {
        let text = format!(
            "{{\n\t\"key\": \"7480000000000000FF5F728000000000000001\",\n\
             \t\"region_id\": 14,\n\t\"value\": {value}\n}}"
        );
        serde_json::from_str(&text).unwrap()
    }

    fn status_of(value: &str) -> std::result::Result<TxnStatus, String> {
        txn_status(unwrap_value(tidb_answer(value)), START)
    }

    #[test]
    fn a_put_write_without_a_type_key_is_a_commit() {
        let value = format!(
            "{{\"info\": {{\"writes\": [\
               {{\"start_ts\": {}, \"commit_ts\": {}, \"short_value\": \"AAE=\"}},\
               {{\"start_ts\": {START}, \"commit_ts\": {COMMIT}, \"short_value\": \"gAAC\"}}],\
             \"values\": [{{\"start_ts\": 3, \"value\": \"AQ==\"}}]}}}}",
            START + 10,
            COMMIT + 10
        );
        assert_eq!(status_of(&value), Ok(TxnStatus::Committed(COMMIT)));
    }

    #[test]
    fn delete_and_lock_writes_are_commits_too() {
        for op in [1, 2] {
            let value = format!(
                "{{\"info\": {{\"writes\": [{{\"type\": {op}, \"start_ts\": {START}, \
                 \"commit_ts\": {COMMIT}}}]}}}}"
            );
            assert_eq!(status_of(&value), Ok(TxnStatus::Committed(COMMIT)), "{op}");
        }
    }

    #[test]
    fn a_rollback_write_is_a_rollback() {
        // TiKV writes a rollback record at the transaction's own start TS.
        let value = format!(
            "{{\"info\": {{\"writes\": [{{\"type\": 3, \"start_ts\": {START}, \
             \"commit_ts\": {START}}}]}}}}"
        );
        assert_eq!(status_of(&value), Ok(TxnStatus::RolledBack));
    }

    #[test]
    fn a_lock_of_the_transaction_is_locked_anything_else_is_no_record_yet() {
        let locked = format!(
            "{{\"info\": {{\"lock\": {{\"start_ts\": {START}, \"primary\": \"dIAAAA==\", \
             \"short_value\": \"AQ==\", \"ttl\": 3000, \"txn_size\": 1}}}}}}"
        );
        assert_eq!(status_of(&locked), Ok(TxnStatus::Locked));
        // Another transaction's lock and writes say nothing of ours.
        let other = format!(
            "{{\"info\": {{\"lock\": {{\"start_ts\": {}}}, \"writes\": [{{\"start_ts\": 7, \
             \"commit_ts\": 8}}]}}}}",
            START + 1
        );
        assert_eq!(status_of(&other), Ok(TxnStatus::Pending));
        // A key TiKV has never seen: every field left out.
        assert_eq!(status_of("{}"), Ok(TxnStatus::Pending));
        assert_eq!(status_of("{\"info\": {}}"), Ok(TxnStatus::Pending));
    }

    #[test]
    fn tikv_errors_are_errors_not_answers() {
        let error = status_of("{\"error\": \"key is locked\"}").unwrap_err();
        assert_eq!(error, "TiKV error: key is locked");
        let error = status_of("{\"region_error\": {\"message\": \"not leader\"}}").unwrap_err();
        assert!(error.contains("not leader"), "{error}");
        let error = status_of("{\"info\": {\"writes\": [{\"start_ts\": \"x\"}]}}").unwrap_err();
        assert!(
            error.starts_with("the answer is not an MVCC record"),
            "{error}"
        );
    }

    #[test]
    fn an_answer_of_old_tidb_is_the_bare_record() {
        let bare = json!({"info": {"writes": [{"start_ts": START, "commit_ts": COMMIT}]}});
        assert_eq!(unwrap_value(bare.clone()), bare);
        assert_eq!(
            txn_status(unwrap_value(bare), START),
            Ok(TxnStatus::Committed(COMMIT))
        );
    }

    #[test]
    fn keys_are_upper_case_hex() {
        assert_eq!(hex_upper(b"t\x80\x00\x05_r\xff"), "748000055F72FF");
        assert_eq!(hex_upper(b""), "");
    }
}
