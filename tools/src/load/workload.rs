//! The clients: each writes transactions to one pump the way TiDB does (start TS from the TSO,
//! the prewrite binlog, a commit TS taken after the prewrite's ack, then the commit or rollback
//! binlog), paced by an optional shared rate limit, until the count is used up, the duration is
//! over or the run is interrupted.
//!
//! Like TiDB, a client retries a commit or rollback binlog (the pump's watermark cannot pass a
//! prewrite until one arrives) and writes a rollback binlog for a transaction that fails after
//! its prewrite was sent, since the pump may have stored that prewrite before the failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binlog_node::proto::pump_client::PumpClient;
use binlog_node::proto::{
    Binlog, BinlogType, MutationType, PrewriteValue, TableMutation, WriteBinlogReq,
};
use binlog_node::tso::Tso;
use prost::Message;
use tonic::transport::Channel;

use super::acked::{digest, Acked};
use super::pump::{describe_status, Pump};
use super::spec::{Rng, ValueSize};
use super::stats::{Row, Stats};

/// How many error messages a run keeps for the report.
const KEPT_ERRORS: usize = 5;
/// `ddl_schema_state` of the DDL binlogs: `StatePublic`, as TiDB writes for a finished job.
const DDL_SCHEMA_STATE_PUBLIC: i32 = 5;
/// Tables the generated rows are spread over.
const TABLES: u64 = 16;
/// First pause between two attempts at a commit or rollback binlog; doubled up to
/// [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Longest pause between two attempts at a commit or rollback binlog.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Paces transactions at a fixed rate across every client: a token bucket one token deep.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer letting `per_sec` transactions start per second.
    pub fn new(per_sec: f64) -> Pacer {
        Pacer {
            interval: Duration::from_secs_f64(1.0 / per_sec),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's turn.
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// What the transactions look like.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Stop after this many transactions.
    pub count: Option<u64>,
    /// Stop when this is over.
    pub duration: Option<Duration>,
    /// Row size of the prewrite values.
    pub value_size: ValueSize,
    /// Every this many transactions one is a DDL (0: never).
    pub ddl_every: u64,
    /// Fraction of the other transactions that roll back.
    pub rollback_fraction: f64,
    /// Keep what was acknowledged, for `--verify` and `--acked-file`.
    pub keep_acked: bool,
    /// How long a commit or rollback binlog is retried before the transaction is given up.
    pub finish_retry: Duration,
}

/// What a transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxnKind {
    Commit,
    Rollback,
    Ddl,
}

impl Plan {
    fn kind(&self, seq: u64, rng: &mut Rng) -> TxnKind {
        if self.ddl_every > 0 && seq % self.ddl_every == self.ddl_every - 1 {
            TxnKind::Ddl
        } else if rng.next_f64() < self.rollback_fraction {
            TxnKind::Rollback
        } else {
            TxnKind::Commit
        }
    }
}

/// What one client did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Its measurements.
    pub stats: Stats,
    /// Acknowledged commits (with [`Plan::keep_acked`]).
    pub acked: Vec<Acked>,
    /// Commits written but never acknowledged (with [`Plan::keep_acked`]): the pump may or may
    /// not have stored them.
    pub unconfirmed: Vec<Acked>,
    /// Start TSs of rolled-back transactions, and of those that failed before their commit
    /// (with [`Plan::keep_acked`]).
    pub rolled_back: Vec<i64>,
}

/// State the clients share.
pub struct Load {
    plan: Plan,
    tso: Arc<dyn Tso>,
    cluster_id: u64,
    pumps: Vec<Pump>,
    pacer: Option<Pacer>,
    seed: u64,
    started: Instant,
    next_seq: AtomicU64,
    stop: AtomicBool,
    /// Transactions finished, successfully or not.
    pub finished: AtomicU64,
    /// Failed writes.
    pub failures: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Load {
    /// A load of `plan` over `pumps`, starting now.
    pub fn new(
        plan: Plan,
        tso: Arc<dyn Tso>,
        cluster_id: u64,
        pumps: Vec<Pump>,
        rate: Option<f64>,
    ) -> Load {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Load {
            plan,
            tso,
            cluster_id,
            pumps,
            pacer: rate.map(Pacer::new),
            seed,
            started: Instant::now(),
            next_seq: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            finished: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            errors: Mutex::new(Vec::new()),
        }
    }

    /// When the load started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Asks every client to stop after its current transaction.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The first few error messages.
    pub fn first_errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Client `index`: writes transactions to pump `index % pumps` until the load is over.
    pub async fn client(self: Arc<Load>, index: usize) -> Outcome {
        let pump_index = index % self.pumps.len();
        let mut client = self.pumps[pump_index].client.clone();
        let mut rng = Rng::new(self.seed ^ (index as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut outcome = Outcome::default();
        while let Some(seq) = self.next_txn().await {
            let kind = self.plan.kind(seq, &mut rng);
            let began = Instant::now();
            let mut txn = Txn {
                load: &self,
                client: &mut client,
                pump: pump_index,
                outcome: &mut outcome,
            };
            let ok = txn.run(kind, seq, &mut rng).await.is_some();
            outcome.stats.record(Row::Txn, began.elapsed(), 0, ok);
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    /// The next transaction's sequence number, after the pacer; `None` when the load is over.
    async fn next_txn(&self) -> Option<u64> {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let over = |load: &Load| {
            load.stop.load(Ordering::Relaxed)
                || load.plan.count.is_some_and(|count| seq >= count)
                || load
                    .plan
                    .duration
                    .is_some_and(|duration| load.started.elapsed() >= duration)
        };
        if over(self) {
            return None;
        }
        if let Some(pacer) = &self.pacer {
            pacer.wait().await;
            if over(self) {
                return None;
            }
        }
        Some(seq)
    }

    fn note_error(&self, message: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        if errors.len() < KEPT_ERRORS {
            errors.push(message);
        }
    }
}

/// One transaction in flight.
struct Txn<'a> {
    load: &'a Load,
    client: &'a mut PumpClient<Channel>,
    pump: usize,
    outcome: &'a mut Outcome,
}

impl Txn<'_> {
    /// Runs the transaction; `None` if a TSO call or a write failed (already recorded).
    async fn run(&mut self, kind: TxnKind, seq: u64, rng: &mut Rng) -> Option<()> {
        let row = if kind == TxnKind::Ddl {
            Row::Ddl
        } else {
            Row::Prewrite
        };
        let start_ts = self.ts(row, "start").await?;
        let table_id = (seq % TABLES + 100) as i64;
        let mut prewrite = Binlog {
            tp: BinlogType::Prewrite as i32,
            start_ts,
            prewrite_key: Some(record_key(table_id, start_ts)),
            ..Binlog::default()
        };
        if kind == TxnKind::Ddl {
            let job_id = seq as i64 + 1;
            prewrite.ddl_job_id = job_id;
            prewrite.ddl_schema_state = DDL_SCHEMA_STATE_PUBLIC;
            prewrite.ddl_query = Some(
                format!("CREATE TABLE binlog_load.t{job_id} (id BIGINT PRIMARY KEY, v BLOB)")
                    .into_bytes(),
            );
        } else {
            let size = self.load.plan.value_size.sample(rng);
            prewrite.prewrite_value = Some(prewrite_value(table_id, rng.bytes(size)));
        }
        if self.write(row, &prewrite).await.is_none() {
            self.roll_back(&prewrite).await;
            return None;
        }
        if kind == TxnKind::Rollback {
            return self.roll_back(&prewrite).await;
        }
        let commit_row = if kind == TxnKind::Ddl {
            Row::Ddl
        } else {
            Row::Commit
        };
        let Some(commit_ts) = self.ts(commit_row, "commit").await else {
            self.roll_back(&prewrite).await;
            return None;
        };
        let written = Acked {
            pump: self.pump,
            start_ts,
            commit_ts,
            digest: digest(&prewrite),
        };
        let commit = Binlog {
            tp: BinlogType::Commit as i32,
            commit_ts,
            prewrite_value: None,
            ..prewrite
        };
        let acknowledged = self.finish(commit_row, &commit).await;
        if self.load.plan.keep_acked {
            match acknowledged {
                Some(()) => self.outcome.acked.push(written),
                None => self.outcome.unconfirmed.push(written),
            }
        }
        acknowledged
    }

    /// Writes the rollback binlog of `prewrite`'s transaction (retried, see [`Txn::finish`]).
    async fn roll_back(&mut self, prewrite: &Binlog) -> Option<()> {
        if self.load.plan.keep_acked {
            self.outcome.rolled_back.push(prewrite.start_ts);
        }
        let rollback = Binlog {
            tp: BinlogType::Rollback as i32,
            prewrite_value: None,
            ..prewrite.clone()
        };
        self.finish(Row::Rollback, &rollback).await
    }

    /// Writes a commit or rollback binlog, retrying with growing pauses for
    /// [`Plan::finish_retry`]: a pump that restarts comes back with the prewrite, and waits for
    /// this binlog before its watermark can move on. Every failed attempt counts as an error.
    async fn finish(&mut self, row: Row, binlog: &Binlog) -> Option<()> {
        let deadline = Instant::now() + self.load.plan.finish_retry;
        let mut pause = FIRST_RETRY_PAUSE;
        loop {
            if self.write(row, binlog).await.is_some() {
                return Some(());
            }
            if Instant::now() + pause > deadline {
                return None;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }

    /// A TS from the TSO; a failure counts as an error of `row`.
    async fn ts(&mut self, row: Row, what: &str) -> Option<i64> {
        match self.load.tso.get_ts().await {
            Ok(ts) => Some(ts as i64),
            Err(e) => {
                self.outcome.stats.record(row, Duration::ZERO, 0, false);
                self.load
                    .note_error(format!("{} {what} TS from the TSO: {e}", row.name()));
                None
            }
        }
    }

    /// Writes `binlog`, recording its latency (or failure) under `row`.
    async fn write(&mut self, row: Row, binlog: &Binlog) -> Option<()> {
        let payload = binlog.encode_to_vec();
        let bytes = payload.len();
        let request = WriteBinlogReq {
            cluster_id: self.load.cluster_id,
            payload,
        };
        let began = Instant::now();
        let result = self.client.write_binlog(request).await;
        let latency = began.elapsed();
        let error = match result {
            Ok(response) if response.get_ref().errmsg.is_empty() => None,
            Ok(response) => Some(response.into_inner().errmsg),
            Err(status) => Some(describe_status(&status)),
        };
        self.outcome
            .stats
            .record(row, latency, bytes, error.is_none());
        match error {
            None => Some(()),
            Some(message) => {
                let addr = &self.load.pumps[self.pump].addr;
                self.load
                    .note_error(format!("{} write to {addr}: {message}", row.name()));
                None
            }
        }
    }
}

/// A TiDB record key: `t{table_id}_r{handle}`, integers as memcomparable big-endian with the
/// sign bit flipped.
fn record_key(table_id: i64, handle: i64) -> Vec<u8> {
    let mut key = Vec::with_capacity(19);
    key.push(b't');
    key.extend_from_slice(&((table_id as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(b"_r");
    key.extend_from_slice(&((handle as u64) ^ (1 << 63)).to_be_bytes());
    key
}

/// A marshalled `PrewriteValue` inserting one row of `row` bytes into `table_id`.
fn prewrite_value(table_id: i64, row: Vec<u8>) -> Vec<u8> {
    PrewriteValue {
        schema_version: 1,
        mutations: vec![TableMutation {
            table_id,
            inserted_rows: vec![row],
            sequence: vec![MutationType::Insert as i32],
            ..TableMutation::default()
        }],
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_plan() {
        let plan = Plan {
            count: Some(100),
            duration: None,
            value_size: "1B".parse().unwrap(),
            ddl_every: 10,
            rollback_fraction: 0.0,
            keep_acked: false,
            finish_retry: Duration::ZERO,
        };
        let mut rng = Rng::new(3);
        let kinds: Vec<TxnKind> = (0..20).map(|seq| plan.kind(seq, &mut rng)).collect();
        assert_eq!(kinds[9], TxnKind::Ddl);
        assert_eq!(kinds[19], TxnKind::Ddl);
        assert_eq!(kinds.iter().filter(|k| **k == TxnKind::Commit).count(), 18);
        let all_rollback = Plan {
            ddl_every: 0,
            rollback_fraction: 1.0,
            ..plan
        };
        assert_eq!(all_rollback.kind(9, &mut rng), TxnKind::Rollback);
    }

    #[test]
    fn values_and_keys_have_the_asked_shape() {
        let value = PrewriteValue::decode(&prewrite_value(7, vec![1; 300])[..]).unwrap();
        assert_eq!(value.mutations[0].table_id, 7);
        assert_eq!(value.mutations[0].inserted_rows[0].len(), 300);
        let key = record_key(1, 2);
        assert_eq!(key.len(), 19);
        assert_eq!(&key[..2], b"t\x80");
    }

    #[tokio::test]
    async fn the_pacer_spaces_turns() {
        let pacer = Pacer::new(100.0);
        let began = Instant::now();
        for _ in 0..11 {
            pacer.wait().await;
        }
        assert!(began.elapsed() >= Duration::from_millis(95));
    }
}
