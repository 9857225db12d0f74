//! `--verify`: pulls every pump's binlogs back from a TS taken before the load and checks them
//! against what the pumps acknowledged: each acknowledged commit arrives exactly once, commit
//! TSs strictly increase per pump, each commit carries the prewrite value (and DDL fields) it
//! was written with, and no rolled-back transaction shows up.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use binlog_server::proto::{Binlog, BinlogType, Pos, PullBinlogReq};
use futures_util::StreamExt;
use prost::Message;
use serde::Serialize;

use super::workload::{describe_status, Acked, Pump};

/// What identifies a transaction's content: its prewrite value and DDL fields, hashed.
pub fn digest(binlog: &Binlog) -> u64 {
    let mut hasher = DefaultHasher::new();
    binlog
        .prewrite_value
        .as_deref()
        .unwrap_or_default()
        .hash(&mut hasher);
    binlog
        .ddl_query
        .as_deref()
        .unwrap_or_default()
        .hash(&mut hasher);
    binlog.ddl_job_id.hash(&mut hasher);
    hasher.finish()
}

/// What the pumps acknowledged during the load.
#[derive(Debug, Default)]
pub struct Expected {
    /// Acknowledged commits.
    pub acked: Vec<Acked>,
    /// Start TSs of rolled-back transactions.
    pub rolled_back: HashSet<i64>,
}

/// The result of a verification.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Acknowledged commits.
    pub expected: u64,
    /// Acknowledged commits pulled back (first copies).
    pub delivered: u64,
    /// Acknowledged commits never pulled back before the timeout.
    pub missing: u64,
    /// Extra copies of a commit already pulled.
    pub duplicated: u64,
    /// Commits with the wrong commit TS, type, or prewrite value / DDL fields.
    pub corrupt: u64,
    /// Binlogs whose commit TS was not above the previous one from the same pump.
    pub out_of_order: u64,
    /// Binlogs of rolled-back transactions pulled back.
    pub rolled_back_seen: u64,
    /// Missing commits per pump address (only pumps with some missing).
    pub missing_by_pump: Vec<(String, u64)>,
    /// Pull streams that failed or ended early.
    pub stream_errors: Vec<String>,
    /// Wall time of the verification, seconds.
    pub elapsed_secs: f64,
}

impl VerifyReport {
    /// Whether anything was wrong.
    pub fn failed(&self) -> bool {
        self.missing + self.duplicated + self.corrupt + self.out_of_order + self.rolled_back_seen
            > 0
    }

    /// What was wrong, one sentence per problem.
    pub fn problems(&self, timeout: Duration) -> Vec<String> {
        let mut problems = Vec::new();
        if self.missing > 0 {
            let pumps: Vec<String> = self
                .missing_by_pump
                .iter()
                .map(|(addr, n)| format!("{n} from {addr}"))
                .collect();
            problems.push(format!(
                "verification gave up after {timeout:?}: {} of {} acknowledged commits never \
                 came back ({}){}",
                self.missing,
                self.expected,
                pumps.join(", "),
                if self.stream_errors.is_empty() {
                    String::new()
                } else {
                    format!("; pull errors: {}", self.stream_errors.join("; "))
                }
            ));
        }
        for (n, what) in [
            (self.duplicated, "commits came back more than once"),
            (
                self.corrupt,
                "commits came back with the wrong commit TS or content",
            ),
            (
                self.out_of_order,
                "binlogs came back out of commit-TS order",
            ),
            (self.rolled_back_seen, "rolled-back transactions came back"),
        ] {
            if n > 0 {
                problems.push(format!("verification: {n} {what}"));
            }
        }
        problems
    }

    fn absorb(&mut self, addr: &str, pump: PumpCheck) {
        self.delivered += pump.seen.len() as u64;
        let missing = pump.expected.len() as u64 - pump.seen.len() as u64;
        self.missing += missing;
        if missing > 0 {
            self.missing_by_pump.push((addr.to_owned(), missing));
        }
        self.duplicated += pump.duplicated;
        self.corrupt += pump.corrupt;
        self.out_of_order += pump.out_of_order;
        self.rolled_back_seen += pump.rolled_back_seen;
        self.stream_errors.extend(pump.stream_error);
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verify: expected {}, delivered {}, missing {}, duplicated {}, corrupt {}, \
             out of order {}, rolled back seen {} ({:.2} s)",
            self.expected,
            self.delivered,
            self.missing,
            self.duplicated,
            self.corrupt,
            self.out_of_order,
            self.rolled_back_seen,
            self.elapsed_secs
        )
    }
}

/// The check of one pump's stream.
#[derive(Default)]
struct PumpCheck {
    /// Start TS -> (commit TS, digest).
    expected: HashMap<i64, (i64, u64)>,
    seen: HashSet<i64>,
    duplicated: u64,
    corrupt: u64,
    out_of_order: u64,
    rolled_back_seen: u64,
    stream_error: Option<String>,
}

impl PumpCheck {
    /// Checks one pulled binlog; `last` is the previous commit TS of the stream.
    fn check(&mut self, binlog: &Binlog, last: &mut i64, rolled_back: &HashSet<i64>) {
        if binlog.commit_ts <= *last {
            self.out_of_order += 1;
        }
        *last = (*last).max(binlog.commit_ts);
        if binlog.is_fake() {
            return;
        }
        if rolled_back.contains(&binlog.start_ts) {
            self.rolled_back_seen += 1;
            return;
        }
        let Some(&(commit_ts, digest_written)) = self.expected.get(&binlog.start_ts) else {
            return; // another writer's, or a commit whose ack never reached us
        };
        if !self.seen.insert(binlog.start_ts) {
            self.duplicated += 1;
        } else if binlog.tp != BinlogType::Commit as i32
            || binlog.commit_ts != commit_ts
            || digest(binlog) != digest_written
        {
            self.corrupt += 1;
        }
    }

    fn done(&self) -> bool {
        self.seen.len() == self.expected.len()
    }
}

/// Pulls from every pump from `begin_ts` until every acknowledged commit is back or `timeout`
/// passes; `delivered` counts the commits back so far (for a progress bar).
pub async fn verify(
    pumps: &[Pump],
    cluster_id: u64,
    begin_ts: i64,
    expected: Expected,
    timeout: Duration,
    delivered: Arc<AtomicU64>,
) -> VerifyReport {
    let began = Instant::now();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut checks: Vec<PumpCheck> = pumps.iter().map(|_| PumpCheck::default()).collect();
    let total = expected.acked.len() as u64;
    for acked in expected.acked {
        checks[acked.pump]
            .expected
            .insert(acked.start_ts, (acked.commit_ts, acked.digest));
    }
    let rolled_back = Arc::new(expected.rolled_back);
    let tasks: Vec<_> = pumps
        .iter()
        .zip(checks)
        .map(|(pump, check)| {
            let pump = pump.clone();
            let rolled_back = rolled_back.clone();
            let delivered = delivered.clone();
            tokio::spawn(async move {
                pull(
                    &pump,
                    cluster_id,
                    begin_ts,
                    check,
                    &rolled_back,
                    deadline,
                    &delivered,
                )
                .await
            })
        })
        .collect();
    let mut report = VerifyReport {
        expected: total,
        ..VerifyReport::default()
    };
    for (pump, task) in pumps.iter().zip(tasks) {
        match task.await {
            Ok(check) => report.absorb(&pump.addr, check),
            Err(e) => report
                .stream_errors
                .push(format!("pull task of {} failed: {e}", pump.addr)),
        }
    }
    report.elapsed_secs = began.elapsed().as_secs_f64();
    report
}

/// Pulls one pump's stream into `check` until it is complete, the stream fails, or `deadline`.
async fn pull(
    pump: &Pump,
    cluster_id: u64,
    begin_ts: i64,
    mut check: PumpCheck,
    rolled_back: &HashSet<i64>,
    deadline: tokio::time::Instant,
    delivered: &AtomicU64,
) -> PumpCheck {
    if check.done() {
        return check;
    }
    let request = PullBinlogReq {
        cluster_id,
        start_from: Some(Pos {
            suffix: 0,
            offset: begin_ts,
        }),
    };
    let mut client = pump.client.clone();
    let mut stream = match tokio::time::timeout_at(deadline, client.pull_binlogs(request)).await {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => {
            check.stream_error = Some(format!(
                "pull from {}: {}",
                pump.addr,
                describe_status(&status)
            ));
            return check;
        }
        Err(_) => return check,
    };
    let mut last = begin_ts;
    while !check.done() {
        let item = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => break,
            Ok(None) => {
                check.stream_error = Some(format!("the pull stream of {} ended", pump.addr));
                break;
            }
            Ok(Some(item)) => item,
        };
        let entity = match item {
            Ok(response) => response.entity.unwrap_or_default(),
            Err(status) => {
                check.stream_error = Some(format!(
                    "pull from {}: {}",
                    pump.addr,
                    describe_status(&status)
                ));
                break;
            }
        };
        match Binlog::decode(&entity.payload[..]) {
            Ok(binlog) => {
                let before = check.seen.len();
                check.check(&binlog, &mut last, rolled_back);
                delivered.fetch_add((check.seen.len() - before) as u64, Ordering::Relaxed);
            }
            Err(_) => check.corrupt += 1,
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(start_ts: i64, commit_ts: i64, value: &[u8]) -> Binlog {
        Binlog {
            tp: BinlogType::Commit as i32,
            start_ts,
            commit_ts,
            prewrite_value: Some(value.to_vec()),
            ..Binlog::default()
        }
    }

    #[test]
    fn a_stream_is_checked_for_every_kind_of_problem() {
        let written = commit(10, 11, b"a");
        let mut check = PumpCheck::default();
        check.expected.insert(10, (11, digest(&written)));
        check
            .expected
            .insert(20, (21, digest(&commit(20, 21, b"b"))));
        check.expected.insert(40, (41, 0));
        let rolled_back = HashSet::from([30]);
        let mut last = 5;
        check.check(&written, &mut last, &rolled_back);
        check.check(&written, &mut last, &rolled_back); // again: duplicate and out of order
        check.check(&commit(20, 21, b"corrupted"), &mut last, &rolled_back);
        check.check(&commit(30, 31, b""), &mut last, &rolled_back);
        check.check(&Binlog::fake(32), &mut last, &rolled_back);
        check.check(&commit(99, 100, b"foreign"), &mut last, &rolled_back);
        assert_eq!(check.duplicated, 1);
        assert_eq!(check.out_of_order, 1);
        assert_eq!(check.corrupt, 1);
        assert_eq!(check.rolled_back_seen, 1);
        assert!(!check.done());
        let mut report = VerifyReport {
            expected: 3,
            ..VerifyReport::default()
        };
        report.absorb("p:1", check);
        assert_eq!((report.delivered, report.missing), (2, 1));
        assert!(report.failed());
        let problems = report.problems(Duration::from_secs(1));
        assert_eq!(problems.len(), 5);
        assert!(problems[0].contains("1 of 3 acknowledged commits never came back (1 from p:1)"));
    }
}
