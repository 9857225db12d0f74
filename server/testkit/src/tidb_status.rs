//! A stand-in for TiDB's status API (`GET /ddl/history` on port 10080), because TiDB itself
//! cannot be built here (the Go module proxy refuses it). It serves a job list the test
//! supplies (and appends to while it runs) with TiDB v8.1's exact semantics, following
//! `pkg/server/handler/tikvhandler/tikv_handler.go` (`DDLHistoryJobHandler`),
//! `pkg/ddl/ddl.go` (`GetAllHistoryDDLJobs`, `ScanHistoryDDLJobs`) and
//! `pkg/server/handler/util.go` (`WriteData`, `WriteError`):
//! - no parameters: every job, ascending by ID;
//! - `limit=N`: the newest N jobs, descending by ID;
//! - `start_job_id=X&limit=N`: the jobs with ID ≤ X, descending, at most N;
//! - `start_job_id` without `limit`, a value that is not a number, or one below 1: status 400
//!   with TiDB's message as plain text.
//!
//! Answers are tab-indented JSON (`json.MarshalIndent(data, "", "\t")`). The server runs on
//! its own thread and runtime, on a free loopback port, until dropped; in plain HTTP, or HTTPS
//! requiring a client certificate (TiDB's `cluster-ssl-*`).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use binlog_node::serve::serve_port;
use binlog_node::tls::{ReloadingServerConfig, Tls};
use serde_json::Value;
use tokio::sync::oneshot;

/// The served DDL history: a handle the test can keep and append to from any thread.
#[derive(Clone, Debug, Default)]
pub struct JobList {
    jobs: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

/// A running stand-in for TiDB's status port.
#[derive(Debug)]
pub struct TidbStatusStandIn {
    addr: String,
    list: JobList,
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
        let app = Router::new()
            .route("/ddl/history", get(history))
            .with_state(list.clone());
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
}
