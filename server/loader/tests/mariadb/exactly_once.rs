//! Exactly once: a loader stopped without flushing (its workers aborted mid-batch) and opened
//! again, then given transactions again from an older commit TS, ends with every row applied
//! once, a table without keys and with duplicate rows included; also when the worker count
//! changed in between.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use binlog_loader::{LoadTxn, Loader, LoaderConfig};
use binlog_testkit::mariadb::MariaDb;

use crate::support::{ddl, delete, insert, int, load_all, rows, start, table, text, update, Dones};

/// Transactions over an account table (by key) and a log table (no key, many identical rows),
/// with a DDL in the middle, and the contents they leave.
struct Workload {
    txns: Vec<LoadTxn>,
    accounts: String,
    log: String,
}

const TXNS: u64 = 60;
/// The DDL's place among the transactions.
const DDL_AT: u64 = 25;

fn commit_ts(index: u64) -> u64 {
    (index + 1) * 10
}

fn workload() -> Workload {
    let accounts_table = table("d", "acct", &["id", "bal"]);
    let log_table = table("d", "log", &["k", "note"]);
    let mut accounts: BTreeMap<i64, i64> = BTreeMap::new();
    let mut log: BTreeMap<(i64, String), usize> = BTreeMap::new();
    let mut txns = Vec::new();
    for index in 0..TXNS {
        let ts = commit_ts(index);
        if index == DDL_AT {
            txns.push(ddl(
                ts,
                "d",
                "log",
                "ALTER TABLE log ADD COLUMN extra INT NULL",
            ));
            continue;
        }
        let i = index as i64;
        let mut changes = Vec::new();
        for copy in 0..2 {
            let entry = (i % 4, format!("n{}", (i + copy) % 3));
            changes.push(insert(&log_table, vec![int(entry.0), text(&entry.1)]));
            *log.entry(entry).or_default() += 1;
        }
        if index % 5 == 4 {
            let entry = log.keys().next().cloned().expect("log rows were inserted");
            changes.push(delete(&log_table, vec![int(entry.0), text(&entry.1)]));
            let count = log.get_mut(&entry).expect("present");
            *count -= 1;
            if *count == 0 {
                log.remove(&entry);
            }
        }
        let id = i % 6;
        match accounts.get(&id).copied() {
            Some(balance) if index % 7 == 6 => {
                changes.push(delete(&accounts_table, vec![int(id), int(balance)]));
                accounts.remove(&id);
            }
            Some(balance) => {
                changes.push(update(
                    &accounts_table,
                    vec![int(id), int(balance)],
                    vec![int(id), int(balance + i)],
                ));
                accounts.insert(id, balance + i);
            }
            None => {
                changes.push(insert(&accounts_table, vec![int(id), int(i)]));
                accounts.insert(id, i);
            }
        }
        txns.push(rows(ts, changes));
    }
    Workload {
        txns,
        accounts: accounts
            .iter()
            .map(|(id, bal)| format!("{id}\t{bal}\n"))
            .collect(),
        log: log
            .iter()
            .map(|((k, note), count)| format!("{k}\t{note}\t{count}\n"))
            .collect(),
    }
}

fn create_tables(db: &MariaDb) {
    db.query("CREATE DATABASE d; CREATE TABLE d.acct (id INT PRIMARY KEY, bal INT); CREATE TABLE d.log (k INT, note VARCHAR(10))");
}

fn assert_contents(db: &MariaDb, workload: &Workload) {
    assert_eq!(
        db.query("SELECT id, bal FROM d.acct ORDER BY id"),
        workload.accounts
    );
    assert_eq!(
        db.query("SELECT k, note, COUNT(*) FROM d.log GROUP BY k, note ORDER BY k, note"),
        workload.log
    );
}

fn range(workload: &Workload, from: u64, to: u64) -> Vec<LoadTxn> {
    workload.txns[from as usize..to as usize].to_vec()
}

/// Loads `[from, to)` and drops the loader without flushing, a moment later (some batches
/// committed, some not).
async fn load_and_abort(config: &LoaderConfig, workload: &Workload, from: u64, to: u64) {
    let mut loader = Loader::open(config.clone()).await.unwrap();
    load_all(&mut loader, &Dones::default(), range(workload, from, to)).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(loader);
}

/// Loads `[from, TXNS)`, flushes, and checks each `done` was called once, in order.
async fn replay_to_the_end(config: &LoaderConfig, workload: &Workload, from: u64) -> Loader {
    let mut loader = Loader::open(config.clone()).await.unwrap();
    let dones = Dones::default();
    load_all(&mut loader, &dones, range(workload, from, TXNS)).await;
    loader.flush().await.unwrap();
    assert_eq!(
        dones.calls(),
        (from..TXNS).map(commit_ts).collect::<Vec<_>>()
    );
    assert_eq!(loader.applied_ts(), Some(commit_ts(TXNS - 1)));
    loader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_after_aborted_runs_apply_every_row_once() {
    let (db, config) = start();
    create_tables(&db);
    let workload = workload();

    let mut loader = Loader::open(config.clone()).await.unwrap();
    assert_eq!(loader.applied_ts(), None);
    load_all(&mut loader, &Dones::default(), range(&workload, 0, 20)).await;
    loader.flush().await.unwrap();
    drop(loader);
    load_and_abort(&config, &workload, 20, 40).await;
    // The second run replays from before the first run's flush and is aborted too.
    let reopened = Loader::open(config.clone()).await.unwrap();
    assert!(
        reopened.applied_ts() >= Some(commit_ts(DDL_AT)),
        "{:?}",
        reopened.applied_ts()
    );
    drop(reopened);
    load_and_abort(&config, &workload, 10, 50).await;
    replay_to_the_end(&config, &workload, 5).await;
    assert_contents(&db, &workload);

    // Everything is applied: a replay of it all changes nothing.
    let loader = replay_to_the_end(&config, &workload, 0).await;
    assert_eq!(loader.applied_ts(), Some(commit_ts(TXNS - 1)));
    assert_contents(&db, &workload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_worker_count_replays_with_the_stored_one_then_switches() {
    let (db, config) = start();
    create_tables(&db);
    let workload = workload();

    let mut loader = Loader::open(config.clone()).await.unwrap();
    load_all(&mut loader, &Dones::default(), range(&workload, 0, 20)).await;
    loader.flush().await.unwrap();
    drop(loader);
    load_and_abort(&config, &workload, 20, 24).await;

    let two = LoaderConfig {
        worker_count: 2,
        ..config.clone()
    };
    load_and_abort(&two, &workload, 15, 45).await;
    let three = LoaderConfig {
        worker_count: 3,
        ..config.clone()
    };
    replay_to_the_end(&three, &workload, 10).await;
    assert_contents(&db, &workload);
    assert_eq!(
        db.query("SELECT DISTINCT workers FROM tidb_binlog.loader_progress WHERE worker >= 0"),
        "3\n"
    );
}

/// Kills every loader connection every 10 ms, on a thread, until stopped (also when the test
/// fails: the thread then lets go of the server, which is stopped in turn).
struct Killer {
    killing: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Killer {
    fn start(db: &Arc<MariaDb>) -> Killer {
        let killing = Arc::new(AtomicBool::new(true));
        let thread = {
            let (db, killing) = (Arc::clone(db), Arc::clone(&killing));
            std::thread::spawn(move || {
                let mut kills = 0;
                while killing.load(Ordering::SeqCst) {
                    let ids = db.query(
                        "SELECT id FROM information_schema.processlist \
                         WHERE user = 'root' AND id != CONNECTION_ID()",
                    );
                    for id in ids.lines() {
                        // The connection may be gone already.
                        let _ = db.client().arg("-e").arg(format!("KILL {id}")).output();
                        kills += 1;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                kills
            })
        };
        Killer {
            killing,
            thread: Some(thread),
        }
    }

    /// Stops killing; how many connections were killed.
    fn stop(mut self) -> usize {
        self.killing.store(false, Ordering::SeqCst);
        self.thread
            .take()
            .map_or(0, |thread| thread.join().unwrap())
    }
}

impl Drop for Killer {
    fn drop(&mut self) {
        self.killing.store(false, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Connections killed by the server while loading (as a failover would) are opened again and
/// their batch tried again; a batch whose commit may have gone through before the kill is
/// checked against the progress row first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_retried_without_applying_twice() {
    let (db, config) = start();
    create_tables(&db);
    let db = Arc::new(db);
    let workload = workload();
    let killer = Killer::start(&db);
    let mut loader = Loader::open(config.clone()).await.unwrap();
    let dones = Dones::default();
    // Slowly, so that kills land among the batches.
    for txn in workload.txns.clone() {
        load_all(&mut loader, &dones, [txn]).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    loader.flush().await.unwrap();
    let kills = killer.stop();
    assert!(kills >= 10, "only {kills} connections were killed");
    assert_contents(&db, &workload);
    assert_eq!(dones.calls(), (0..TXNS).map(commit_ts).collect::<Vec<_>>());
}
