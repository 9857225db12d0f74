//! SIGKILL under load: a child process appends prewrite/commit pairs and reports each
//! acknowledgement; the parent kills it at a random moment, reopens, and checks that every
//! acknowledged record is there exactly once and that nothing served fails its CRC.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binlog_engine::{Engine, IoBackend, Kind};
use rand::Rng;

use crate::both_backends;
use crate::common::*;

both_backends!(sigkill_under_load_loses_no_acknowledged_record);

const DIR_ENV: &str = "BINLOG_ENGINE_CRASH_DIR";
const BACKEND_ENV: &str = "BINLOG_ENGINE_CRASH_BACKEND";
const ROUNDS: usize = 20;

async fn sigkill_under_load_loses_no_acknowledged_record(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), backend);
    let mut acked_prewrites = BTreeSet::new();
    let mut acked_commits = BTreeMap::new();
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        let mut child = child_test(
            "crash::crash_child",
            &[
                (DIR_ENV, dir.path().display().to_string()),
                (BACKEND_ENV, format!("{backend:?}")),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (line_tx, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        // Kill at a random point once the child is writing (its first acknowledgement is in;
        // the test harness prints its own lines first).
        let mut received = Vec::new();
        while !received.iter().any(|line: &String| line.starts_with("P ")) {
            match lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => received.push(line),
                Err(_) => panic!("round {round}: the child acknowledged nothing: {received:?}"),
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        received.extend(lines.try_iter());
        for line in &received {
            let fields: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            match (line.split_whitespace().next(), fields.as_slice()) {
                (Some("P"), [start]) => {
                    acked_prewrites.insert(*start);
                }
                (Some("C"), [start, commit]) => {
                    acked_commits.insert(*commit, *start);
                }
                _ => {}
            }
        }

        let engine = Engine::open(config.clone())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        for &start in &acked_prewrites {
            let stored = engine
                .get(start)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged prewrite {start} lost"));
            assert_eq!(
                (stored.kind, stored.payload),
                (Kind::Prewrite, prewrite_payload(start))
            );
        }
        for (&commit_ts, &start) in &acked_commits {
            let stored = engine
                .get(commit_ts)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged commit {commit_ts} lost"));
            assert_eq!((stored.kind, stored.start_ts), (Kind::Commit, start));
        }
        // Resolve transactions the kill interrupted, as the pump's resolver would, then pull
        // everything: each acknowledged commit exactly once, in order, with its prewrite.
        for start in engine.pending_prewrites() {
            bare(&engine, Kind::Rollback, start, 0).await.unwrap();
        }
        let pulled = pull_all(&engine, 0).await;
        check_pulled(&pulled);
        let pulled_commits: BTreeSet<u64> = pulled.iter().map(|b| b.commit_ts).collect();
        assert_eq!(
            pulled_commits.len(),
            pulled.len(),
            "a commit was served twice"
        );
        for commit_ts in acked_commits.keys() {
            assert!(
                pulled_commits.contains(commit_ts),
                "round {round}: acknowledged commit {commit_ts} not pulled"
            );
        }
    }
    assert!(
        acked_commits.len() > 100,
        "the child barely wrote: {}",
        acked_commits.len()
    );
}

/// The child: 16 tasks appending prewrite/commit pairs until killed, printing each acknowledgement.
#[test]
#[ignore = "child process of sigkill_under_load_loses_no_acknowledged_record; runs only when spawned by it"]
fn crash_child() {
    let dir =
        std::env::var(DIR_ENV).expect("spawned by sigkill_under_load_loses_no_acknowledged_record");
    let backend = match std::env::var(BACKEND_ENV).as_deref() {
        Ok("Pwrite") => IoBackend::Pwrite,
        _ => IoBackend::IoUring,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let engine = Arc::new(Engine::open(test_config(dir.as_ref(), backend)).unwrap());
        // TSOs above every earlier run's: physical milliseconds in the high bits, as PD does.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let tso = Arc::new(AtomicU64::new(now << 18));
        let out = Arc::new(Mutex::new(std::io::stdout()));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (engine, tso, out) = (engine.clone(), tso.clone(), out.clone());
                tokio::spawn(async move {
                    loop {
                        let start = tso.fetch_add(1, Ordering::SeqCst);
                        prewrite(&engine, start).await.unwrap();
                        writeln!(out.lock().unwrap(), "P {start}").unwrap();
                        let commit_ts = tso.fetch_add(1, Ordering::SeqCst);
                        commit(&engine, start, commit_ts).await.unwrap();
                        writeln!(out.lock().unwrap(), "C {start} {commit_ts}").unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}
