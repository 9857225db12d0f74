//! Many concurrent writers: group commit, ordering and prewrite payloads, before and after reopen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use binlog_engine::{Config, Engine, IoBackend, ReadableSize};

use crate::both_backends;
use crate::common::*;

both_backends!(concurrent_pairs_pull_back_in_commit_order);

const WRITERS: u64 = 64;
/// 64 x 1563 = 100 032 transactions.
const PAIRS: u64 = WRITERS * 1563;

async fn concurrent_pairs_pull_back_in_commit_order(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        segment_size: ReadableSize(4 << 20),
        ..test_config(dir.path(), backend)
    };
    let engine = Arc::new(Engine::open(config.clone()).unwrap());
    let tso = Arc::new(AtomicU64::new(1));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let engine = engine.clone();
            let tso = tso.clone();
            tokio::spawn(async move {
                for _ in 0..PAIRS / WRITERS {
                    let start = tso.fetch_add(1, Ordering::SeqCst);
                    prewrite(&engine, start).await.unwrap();
                    // Like TiDB: the commit TS is taken after the prewrite is acknowledged.
                    let commit_ts = tso.fetch_add(1, Ordering::SeqCst);
                    commit(&engine, start, commit_ts).await.unwrap();
                }
                writer
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let metrics = engine.metrics();
    assert_eq!(metrics.appended_records, 2 * PAIRS);
    assert!(
        metrics.group_records.mean() > 2.0,
        "64 writers must be group-committed, mean group {}",
        metrics.group_records.mean()
    );
    assert!(engine.pending_prewrites().is_empty());
    assert_eq!(engine.max_commit_ts(), tso.load(Ordering::SeqCst) - 1);
    assert!(
        engine.segment_ids().len() > 3,
        "the test needs sealed segments"
    );

    let pulled = pull_all(&engine, 0).await;
    assert_eq!(pulled.len() as u64, PAIRS);
    check_pulled(&pulled);
    // A pull from the middle starts right after its TS.
    let middle = pulled[pulled.len() / 2].commit_ts;
    assert_eq!(
        pull_n(&engine, middle, 3).await[..],
        pulled[pulled.len() / 2 + 1..pulled.len() / 2 + 4]
    );
    engine.close();
    drop(engine);

    let engine = Engine::open(config).unwrap();
    assert_eq!(engine.max_commit_ts(), tso.load(Ordering::SeqCst) - 1);
    assert_eq!(pull_all(&engine, 0).await, pulled);
}
