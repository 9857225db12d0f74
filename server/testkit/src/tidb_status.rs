//! A stand-in for TiDB's status API (`GET /ddl/history` and `GET /mvcc/hex/{key}` on port
//! 10080), because TiDB itself cannot be built here (the Go module proxy refuses it). It serves
//! a job list the test supplies (and appends to while it runs) with TiDB v8.1's exact semantics,
//! following
//! `pkg/server/handler/tikvhandler/tikv_handler.go` (`DDLHistoryJobHandler`),
//! `pkg/ddl/ddl.go` (`GetAllHistoryDDLJobs`, `ScanHistoryDDLJobs`) and
//! `pkg/server/handler/util.go` (`WriteData`, `WriteError`):
//! - no parameters: every job, ascending by ID;
//! - `limit=N`: the newest N jobs, descending by ID;
//! - `start_job_id=X&limit=N`: the jobs with ID ≤ X, descending, at most N;
//! - `start_job_id` without `limit`, a value that is not a number, or one below 1: status 400
//!   with TiDB's message as plain text.
//!
//! `/mvcc/hex/{key}` answers, per key, what the test set ([`MvccState`]: committed, rolled
//! back, locked, or unknown for a key never set), in TiDB v4+'s shape (`HandleMvccGetByHex`):
//! `{"key":"<HEX>","region_id":N,"value":<kvrpcpb.MvccGetByKeyResponse>}`, the response as gogo
//! JSON (proto names, `omitempty`: a Put write or lock has no `type`, bytes are base64). A key
//! that is not hex: status 400 with Go's `encoding/hex` message.
//!
//! Answers are tab-indented JSON (`json.MarshalIndent(data, "", "\t")`). The server runs on
//! its own thread and runtime, on a free loopback port, until dropped; in plain HTTP, or HTTPS
//! requiring a client certificate (TiDB's `cluster-ssl-*`).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use binlog_node::serve::serve_port;
use binlog_node::tls::{ReloadingServerConfig, Tls};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The served DDL history: a handle the test can keep and append to from any thread.
#[derive(Clone, Debug, Default)]
pub struct JobList {
    jobs: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

/// What TiKV holds for a transaction's primary key, as `/mvcc/hex/{key}` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MvccState {
    /// A Put write of transaction `start_ts`, committed at `commit_ts`.
    Committed {
        /// The transaction's start TS.
        start_ts: u64,
        /// Its commit TS.
        commit_ts: u64,
    },
    /// A Rollback write of transaction `start_ts`.
    RolledBack {
        /// The transaction's start TS.
        start_ts: u64,
    },
    /// The lock of transaction `start_ts`, not yet committed or rolled back.
    Locked {
        /// The transaction's start TS.
        start_ts: u64,
    },
    /// Nothing: TiKV has no lock and no write for the key.
    Unknown,
}

/// The MVCC states served, by upper-case hex key, and the keys asked for.
#[derive(Clone, Debug, Default)]
struct MvccTable {
    states: Arc<Mutex<HashMap<String, MvccState>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

/// A running stand-in for TiDB's status port.
#[derive(Debug)]
pub struct TidbStatusStandIn {
    addr: String,
    list: JobList,
    mvcc: MvccTable,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl JobList {
    /// Adds a job to the history (as a DDL finishing would).
    pub fn push(&self, job: Value) {
        lock(&self.jobs).push(job);
    }
}

impl TidbStatusStandIn {
    /// Serves `jobs` (TiDB's job JSON, see [`crate::tidb_jobs`]) on a free loopback port.
    pub fn start(jobs: Vec<Value>) -> TidbStatusStandIn {
        TidbStatusStandIn::start_tls(jobs, None)
    }

    /// [`TidbStatusStandIn::start`], serving HTTPS with `tls` (its certificate; clients must
    /// present one its CA signed) when given, as TiDB with `cluster-ssl-*` does.
    pub fn start_tls(jobs: Vec<Value>, tls: Option<Tls>) -> TidbStatusStandIn {
        let tls = tls.map(|tls| {
            Arc::new(ReloadingServerConfig::new(tls).expect("the stand-in's TLS files"))
        });
        let list = JobList::default();
        *lock(&list.jobs) = jobs;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address").to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        let mvcc = MvccTable::default();
        let app = Router::new()
            .route("/ddl/history", get(history))
            .with_state(list.clone())
            .merge(
                Router::new()
                    .route("/mvcc/hex/{key}", get(mvcc_by_hex))
                    .with_state(mvcc.clone()),
            );
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("stand-in runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                serve_port(listener, tls, app, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("stand-in serves");
            });
        });
        TidbStatusStandIn {
            addr,
            list,
            mvcc,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Adds a job to the history.
    pub fn push(&self, job: Value) {
        self.list.push(job);
    }

    /// A handle on the history, to append from another thread.
    pub fn job_list(&self) -> JobList {
        self.list.clone()
    }

    /// The query strings asked so far, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.list.requests).clone()
    }

    /// From now on, `/mvcc/hex/{key}` for `key` reports `state`.
    pub fn set_mvcc(&self, key: &[u8], state: MvccState) {
        lock(&self.mvcc.states).insert(hex_upper(key), state);
    }

    /// The keys asked of `/mvcc/hex`, in order, as sent (hex).
    pub fn mvcc_requests(&self) -> Vec<String> {
        lock(&self.mvcc.requests).clone()
    }
}

impl Drop for TidbStatusStandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `GET /ddl/history`.
async fn history(
    State(list): State<JobList>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut query: Vec<String> = Vec::new();
    for key in ["start_job_id", "limit"] {
        if let Some(value) = params.get(key) {
            query.push(format!("{key}={value}"));
        }
    }
    lock(&list.requests).push(query.join("&"));
    let checked = positive(&params, "start_job_id", "ddl history start_job_id")
        .and_then(|start| Ok((start, positive(&params, "limit", "ddl history limit")?)));
    let (start_job_id, limit) = match checked {
        Ok(values) => values,
        Err(message) => return refusal(&message),
    };
    let mut jobs = lock(&list.jobs).clone();
    jobs.sort_by_key(job_id);
    let answer: Vec<Value> = match (start_job_id, limit) {
        (0, 0) => jobs,
        (_, 0) => {
            return refusal("when 'start_job_id' is specified, it must work with a 'limit'");
        }
        (0, limit) => jobs.into_iter().rev().take(limit as usize).collect(),
        (start, limit) => jobs
            .into_iter()
            .rev()
            .filter(|job| job_id(job) <= start)
            .take(limit as usize)
            .collect(),
    };
    let body = pretty_tabs(&Value::Array(answer));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /mvcc/hex/{key}`.
async fn mvcc_by_hex(State(table): State<MvccTable>, Path(hex): Path<String>) -> Response {
    lock(&table.requests).push(hex.clone());
    let Some(key) = hex_decode(&hex) else {
        return refusal(&format!("encoding/hex: invalid byte in {hex:?}"));
    };
    let key = hex_upper(&key);
    let state = lock(&table.states)
        .get(&key)
        .copied()
        .unwrap_or(MvccState::Unknown);
    // A row's committed value and TiKV's lock TTL, as a small transaction leaves them.
    let short_value = base64(b"\x80\x00\x02");
    let info = match state {
        MvccState::Committed {
            start_ts,
            commit_ts,
        } => json!({"writes": [
            {"start_ts": start_ts, "commit_ts": commit_ts, "short_value": short_value}
        ]}),
        MvccState::RolledBack { start_ts } => json!({"writes": [
            {"type": 3, "start_ts": start_ts, "commit_ts": start_ts}
        ]}),
        MvccState::Locked { start_ts } => json!({"lock": {
            "start_ts": start_ts,
            "primary": base64(&hex_decode(&key).unwrap_or_default()),
            "short_value": short_value,
            "ttl": 3000,
            "txn_size": 1,
            "min_commit_ts": start_ts + 1,
        }}),
        MvccState::Unknown => json!({}),
    };
    let answer = json!({"key": key, "region_id": 2, "value": {"info": info}});
    (
        [(header::CONTENT_TYPE, "application/json")],
        pretty_tabs(&answer),
    )
        .into_response()
}

/// `bytes` in upper-case hex, as TiDB echoes keys.
fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

/// Hex (either case) to bytes; `None` when it is not hex, as Go's `hex.DecodeString` refuses.
fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A query parameter that must be a number of at least 1 when present (0 when absent), as
/// TiDB's handler checks it; the error is TiDB's message.
fn positive(params: &HashMap<String, String>, key: &str, what: &str) -> Result<i64, String> {
    match params.get(key).filter(|value| !value.is_empty()) {
        None => Ok(0),
        Some(value) => match value.parse::<i64>() {
            Ok(number) if number >= 1 => Ok(number),
            Ok(_) => Err(format!("{what} must be greater than 0")),
            Err(_) => Err(format!("strconv.Atoi: parsing {value:?}: invalid syntax")),
        },
    }
}

/// TiDB's `WriteError`: status 400, the message as the body.
fn refusal(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

fn job_id(job: &Value) -> i64 {
    job["id"].as_i64().unwrap_or(0)
}

/// JSON indented with tabs, as Go's `json.MarshalIndent(data, "", "\t")`.
fn pretty_tabs(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut serializer).expect("JSON to memory");
    out
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::http_request;

    fn ids(body: &str) -> Vec<i64> {
        let jobs: Vec<Value> = serde_json::from_str(body).expect("a JSON job list");
        jobs.iter().map(job_id).collect()
    }

    #[test]
    fn pages_like_tidb_and_refuses_what_tidb_refuses() {
        let jobs = [5, 1, 3, 9, 7]
            .map(|id| serde_json::json!({"id": id}))
            .to_vec();
        let stand_in = TidbStatusStandIn::start(jobs);
        let get = |query: &str| {
            http_request(stand_in.addr(), "GET", &format!("/ddl/history{query}")).unwrap()
        };
        let (status, body) = get("");
        assert_eq!((status, ids(&body)), (200, vec![1, 3, 5, 7, 9]));
        assert!(
            body.contains("\n\t{"),
            "tab-indented like Go's MarshalIndent: {body}"
        );
        assert_eq!(ids(&get("?limit=2").1), [9, 7]);
        assert_eq!(ids(&get("?start_job_id=6&limit=2").1), [5, 3]);
        assert_eq!(ids(&get("?start_job_id=5&limit=1").1), [5]);
        assert_eq!(ids(&get("?start_job_id=2&limit=10").1), [1]);
        stand_in.push(serde_json::json!({"id": 11}));
        assert_eq!(ids(&get("?limit=1").1), [11]);

        let (status, body) = get("?start_job_id=5");
        assert_eq!(status, 400);
        assert_eq!(
            body,
            "when 'start_job_id' is specified, it must work with a 'limit'"
        );
        assert_eq!(
            get("?limit=0"),
            (400, "ddl history limit must be greater than 0".into())
        );
        assert_eq!(get("?start_job_id=x&limit=1").0, 400);
        assert_eq!(
            stand_in.requests()[..3],
            ["", "limit=2", "start_job_id=6&limit=2"]
        );
    }

    #[test]
    fn mvcc_answers_are_tidbs_json_per_key() {
        let stand_in = TidbStatusStandIn::start(Vec::new());
        let get = |hex: &str| {
            let (status, body) =
                http_request(stand_in.addr(), "GET", &format!("/mvcc/hex/{hex}")).unwrap();
            assert_eq!(status, 200, "{body}");
            let answer: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(answer["key"], json!(hex.to_uppercase()));
            answer["value"]["info"].clone()
        };
        assert_eq!(get("7a"), json!({}));
        let committed = MvccState::Committed {
            start_ts: 5,
            commit_ts: 9,
        };
        stand_in.set_mvcc(b"z", committed);
        assert_eq!(
            get("7a"),
            json!({"writes": [{"start_ts": 5, "commit_ts": 9, "short_value": "gAAC"}]})
        );
        stand_in.set_mvcc(b"z", MvccState::RolledBack { start_ts: 5 });
        assert_eq!(get("7A")["writes"][0]["type"], json!(3));
        stand_in.set_mvcc(b"t\x80", MvccState::Locked { start_ts: 5 });
        let lock = &get("7480")["lock"];
        assert_eq!(
            (&lock["start_ts"], &lock["primary"]),
            (&json!(5), &json!("dIA="))
        );
        assert!(lock.get("type").is_none(), "a Put lock has no type");
        let (status, _) = http_request(stand_in.addr(), "GET", "/mvcc/hex/7g").unwrap();
        assert_eq!(status, 400);
        assert_eq!(stand_in.mvcc_requests()[..2], ["7a", "7a"]);
        assert_eq!(
            (base64(b""), base64(b"a"), base64(b"ab")),
            ("".into(), "YQ==".into(), "YWI=".into())
        );
    }
}
