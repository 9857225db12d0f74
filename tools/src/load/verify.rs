//! `--verify`: pulls every pump's binlogs back from a TS taken before the load and checks them
//! against what the pumps acknowledged: each acknowledged commit arrives exactly once, commit
//! TSs strictly increase per pump, each commit carries the prewrite value (and DDL fields) it
//! was written with, and no rolled-back transaction shows up.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use binlog_node::proto::{Binlog, BinlogType, Pos, PullBinlogReq};
use futures_util::StreamExt;
use prost::Message;
use serde::Serialize;

use super::acked::{digest, Acked};
use super::pump::{describe_status, Pump};

/// What the pumps acknowledged during the load.
#[derive(Debug, Default, PartialEq)]
pub struct Expected {
    /// Acknowledged commits.
    pub acked: Vec<Acked>,
    /// Commits written but never acknowledged: each may or may not have been stored.
    pub unconfirmed: Vec<Acked>,
    /// Start TSs of rolled-back transactions (and of those given up before their commit).
    pub rolled_back: HashSet<i64>,
}

impl Expected {
    /// Every commit written, with whether it was acknowledged: the unconfirmed ones first, so
    /// that a [`StreamCheck::want`] of both in this order leaves an acknowledged one wanted.
    pub fn commits(&self) -> impl Iterator<Item = (&Acked, bool)> {
        let unconfirmed = self.unconfirmed.iter().map(|commit| (commit, false));
        unconfirmed.chain(self.acked.iter().map(|commit| (commit, true)))
    }

    /// Adds what another load wrote.
    pub fn merge(&mut self, other: Expected) {
        self.acked.extend(other.acked);
        self.unconfirmed.extend(other.unconfirmed);
        self.rolled_back.extend(other.rolled_back);
    }

    /// Writes the `--acked-file`: a comment line, then one line per transaction.
    // Format: `commit PUMP START_TS COMMIT_TS DIGEST` (acknowledged), `unconfirmed PUMP
    // START_TS COMMIT_TS DIGEST` (written, no ack), `rollback START_TS`; PUMP is the pump's
    // index in the run's pump list, DIGEST is [`digest`] in 16 hex digits.
    pub fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "# binlog-load transactions: commit|unconfirmed PUMP START_TS COMMIT_TS DIGEST, \
             rollback START_TS"
        )?;
        for (word, commits) in [("commit", &self.acked), ("unconfirmed", &self.unconfirmed)] {
            for c in commits {
                writeln!(
                    out,
                    "{word} {} {} {} {:016x}",
                    c.pump, c.start_ts, c.commit_ts, c.digest
                )?;
            }
        }
        let mut rolled_back: Vec<i64> = self.rolled_back.iter().copied().collect();
        rolled_back.sort_unstable();
        for start_ts in rolled_back {
            writeln!(out, "rollback {start_ts}")?;
        }
        Ok(())
    }

    /// Parses what [`Expected::write_to`] wrote; the error names the bad line.
    pub fn parse(text: &str) -> Result<Expected, String> {
        let mut expected = Expected::default();
        for (number, line) in text.lines().enumerate() {
            let bad = || format!("line {}: cannot parse {line:?}", number + 1);
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [] => {}
                [comment, ..] if comment.starts_with('#') => {}
                ["rollback", start_ts] => {
                    expected
                        .rolled_back
                        .insert(start_ts.parse().map_err(|_| bad())?);
                }
                [word @ ("commit" | "unconfirmed"), pump, start_ts, commit_ts, digest] => {
                    let commit = Acked {
                        pump: pump.parse().map_err(|_| bad())?,
                        start_ts: start_ts.parse().map_err(|_| bad())?,
                        commit_ts: commit_ts.parse().map_err(|_| bad())?,
                        digest: u64::from_str_radix(digest, 16).map_err(|_| bad())?,
                    };
                    if *word == "commit" {
                        expected.acked.push(commit);
                    } else {
                        expected.unconfirmed.push(commit);
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(expected)
    }
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

    fn absorb(&mut self, addr: &str, pump: StreamCheck) {
        self.delivered += pump.delivered();
        let missing = pump.missing();
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

/// A commit a [`StreamCheck`] looks for.
struct Wanted {
    commit_ts: i64,
    digest: u64,
    /// Whether the writer saw its ack (else it may be missing without a problem).
    acknowledged: bool,
}

/// The check of one stream of binlogs (a pump's pull stream, or a drainer's output) against
/// what was written: each acknowledged commit once, commit TSs strictly increasing, each commit
/// with the commit TS and content it was written with, no rolled-back transaction.
#[derive(Default)]
pub struct StreamCheck {
    /// Start TS -> what was written.
    wanted: HashMap<i64, Wanted>,
    acknowledged: u64,
    /// Start TSs of the wanted commits seen so far.
    seen: HashSet<i64>,
    delivered: u64,
    last: i64,
    /// Extra copies of a commit already seen.
    pub duplicated: u64,
    /// Commits with the wrong type, commit TS or content.
    pub corrupt: u64,
    /// Binlogs whose commit TS was not above the previous one.
    pub out_of_order: u64,
    /// Binlogs of rolled-back transactions.
    pub rolled_back_seen: u64,
    /// Commits written without an ack that arrived (allowed: the pump stored them).
    pub unconfirmed_delivered: u64,
    stream_error: Option<String>,
}

impl StreamCheck {
    /// A check of a stream that starts after commit TS `after`.
    pub fn new(after: i64) -> StreamCheck {
        StreamCheck {
            last: after,
            ..StreamCheck::default()
        }
    }

    /// Looks for `commit` in the stream; `acknowledged`: its writer saw the ack.
    pub fn want(&mut self, commit: &Acked, acknowledged: bool) {
        let wanted = Wanted {
            commit_ts: commit.commit_ts,
            digest: commit.digest,
            acknowledged,
        };
        if let Some(previous) = self.wanted.insert(commit.start_ts, wanted) {
            self.acknowledged -= u64::from(previous.acknowledged);
        }
        self.acknowledged += u64::from(acknowledged);
    }

    /// Checks the stream's next binlog.
    pub fn check(&mut self, binlog: &Binlog, rolled_back: &HashSet<i64>) {
        if binlog.commit_ts <= self.last {
            self.out_of_order += 1;
        }
        self.last = self.last.max(binlog.commit_ts);
        if binlog.is_fake() {
            return;
        }
        if rolled_back.contains(&binlog.start_ts) {
            self.rolled_back_seen += 1;
            return;
        }
        let Some(wanted) = self.wanted.get(&binlog.start_ts) else {
            return; // another writer's
        };
        if !self.seen.insert(binlog.start_ts) {
            self.duplicated += 1;
            return;
        }
        if wanted.acknowledged {
            self.delivered += 1;
        } else {
            self.unconfirmed_delivered += 1;
        }
        if binlog.tp != BinlogType::Commit as i32
            || binlog.commit_ts != wanted.commit_ts
            || digest(binlog) != wanted.digest
        {
            self.corrupt += 1;
        }
    }

    /// Acknowledged commits seen.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Acknowledged commits not seen (yet).
    pub fn missing(&self) -> u64 {
        self.acknowledged - self.delivered
    }

    /// Commit TSs of the acknowledged commits not seen (yet), ascending.
    pub fn missing_commits(&self) -> Vec<i64> {
        let mut missing: Vec<i64> = self
            .wanted
            .iter()
            .filter(|(start_ts, wanted)| wanted.acknowledged && !self.seen.contains(start_ts))
            .map(|(_, wanted)| wanted.commit_ts)
            .collect();
        missing.sort_unstable();
        missing
    }

    /// Whether every acknowledged commit was seen.
    pub fn done(&self) -> bool {
        self.missing() == 0
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
    let mut checks: Vec<StreamCheck> = pumps.iter().map(|_| StreamCheck::new(begin_ts)).collect();
    let total = expected.acked.len() as u64;
    for (commit, acknowledged) in expected.commits() {
        checks[commit.pump].want(commit, acknowledged);
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
    mut check: StreamCheck,
    rolled_back: &HashSet<i64>,
    deadline: tokio::time::Instant,
    delivered: &AtomicU64,
) -> StreamCheck {
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
                let before = check.delivered();
                check.check(&binlog, rolled_back);
                delivered.fetch_add(check.delivered() - before, Ordering::Relaxed);
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

    fn acked(start_ts: i64, commit_ts: i64, value: &[u8]) -> Acked {
        Acked {
            pump: 0,
            start_ts,
            commit_ts,
            digest: digest(&commit(start_ts, commit_ts, value)),
        }
    }

    #[test]
    fn a_stream_is_checked_for_every_kind_of_problem() {
        let written = commit(10, 11, b"a");
        let mut check = StreamCheck::new(5);
        check.want(&acked(10, 11, b"a"), true);
        check.want(&acked(20, 21, b"b"), true);
        check.want(&acked(40, 41, b"c"), true);
        check.want(&acked(50, 51, b"d"), false);
        let rolled_back = HashSet::from([30]);
        check.check(&written, &rolled_back);
        check.check(&written, &rolled_back); // again: duplicate and out of order
        check.check(&commit(20, 21, b"corrupted"), &rolled_back);
        check.check(&commit(30, 31, b""), &rolled_back);
        check.check(&Binlog::fake(32), &rolled_back);
        check.check(&commit(50, 51, b"d"), &rolled_back);
        check.check(&commit(99, 100, b"foreign"), &rolled_back);
        assert_eq!(check.duplicated, 1);
        assert_eq!(check.out_of_order, 1);
        assert_eq!(check.corrupt, 1);
        assert_eq!(check.rolled_back_seen, 1);
        assert_eq!(check.unconfirmed_delivered, 1);
        assert_eq!(check.missing_commits(), vec![41]);
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

    #[test]
    fn the_acked_file_round_trips_and_names_a_bad_line() {
        let expected = Expected {
            acked: vec![acked(10, 11, b"a"), acked(20, 21, b"b")],
            unconfirmed: vec![acked(30, 31, b"c")],
            rolled_back: HashSet::from([40, 50]),
        };
        let mut text = Vec::new();
        expected.write_to(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("# binlog-load transactions"));
        assert!(text.contains("\nrollback 40\nrollback 50\n"));
        assert_eq!(Expected::parse(&text).unwrap(), expected);
        let error = Expected::parse("commit 0 1 2\n").unwrap_err();
        assert_eq!(error, "line 1: cannot parse \"commit 0 1 2\"");
    }

    #[test]
    fn the_digest_is_fnv1a_of_the_content() {
        // Computed independently (Python): the digest must not change between builds.
        assert_eq!(digest(&commit(1, 2, b"value")), 0xf979_01d5_b31e_63d1);
        assert_ne!(
            digest(&commit(1, 2, b"value")),
            digest(&commit(1, 2, b"valuf"))
        );
    }
}
