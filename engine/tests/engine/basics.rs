//! Round trips, the sorter cases through the engine, reopen, limits and the data dir lock.

use binlog_engine::{Engine, Error, IoBackend, Kind, ReadableSize, Record};
use futures_util::StreamExt;

use crate::both_backends;
use crate::common::*;

both_backends!(
    round_trip_every_kind,
    original_sorter_cases,
    reopen_keeps_watermark_and_pending_prewrites,
    stop_write_refuses_all_but_fake_binlogs,
    oversized_records_fail_before_any_io,
    largest_record_fits_an_empty_segment,
    other_storage_settings_round_trip,
    second_process_cannot_open_the_data_dir,
);

async fn round_trip_every_kind(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    assert_eq!(
        engine.io_backend(),
        if backend == IoBackend::Pwrite {
            "pwrite"
        } else {
            "io-uring"
        }
    );
    let p = prewrite(&engine, 10).await.unwrap();
    let c = commit(&engine, 10, 11).await.unwrap();
    assert!(c.offset > p.offset);
    prewrite(&engine, 12).await.unwrap();
    engine
        .append(Record {
            kind: Kind::Rollback,
            start_ts: 12,
            commit_ts: 0,
            payload: b"rb",
        })
        .await
        .unwrap();
    engine
        .append(Record {
            kind: Kind::Fake,
            start_ts: 13,
            commit_ts: 13,
            payload: b"fake",
        })
        .await
        .unwrap();

    let stored = engine.get(10).unwrap().unwrap();
    assert_eq!(
        (stored.kind, stored.payload),
        (Kind::Prewrite, prewrite_payload(10))
    );
    assert_eq!(stored.position, p);
    let stored = engine.get(11).unwrap().unwrap();
    assert_eq!(
        (stored.kind, stored.start_ts, stored.commit_ts),
        (Kind::Commit, 10, 11)
    );
    assert_eq!(engine.get(0).unwrap().unwrap().kind, Kind::Rollback);
    assert_eq!(engine.get(13).unwrap().unwrap().payload, b"fake");
    assert_eq!(engine.get(99).unwrap(), None);

    assert_eq!(engine.max_commit_ts(), 13);
    let pulled = pull_n(&engine, 0, 2).await;
    check_pulled(&pulled);
    assert_eq!(
        pulled
            .iter()
            .map(|b| (b.kind, b.commit_ts))
            .collect::<Vec<_>>(),
        [(Kind::Commit, 11), (Kind::Fake, 13)]
    );
    assert!(engine.pending_prewrites().is_empty());
    assert_eq!(engine.oldest_pending_prewrite(), None);
}

async fn original_sorter_cases(backend: IoBackend) {
    // P1,C1(2) emits 2.
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    prewrite(&engine, 1).await.unwrap();
    assert_eq!(engine.max_commit_ts(), 0);
    commit(&engine, 1, 2).await.unwrap();
    assert_eq!(engine.max_commit_ts(), 2);
    drop(engine);

    // P1,P2,C2(3),C1(10) emits 3 then 10: nothing before C1 arrives.
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    let mut watch = engine.watch_max_commit_ts();
    prewrite(&engine, 1).await.unwrap();
    prewrite(&engine, 2).await.unwrap();
    commit(&engine, 2, 3).await.unwrap();
    assert_eq!(engine.max_commit_ts(), 0);
    assert_eq!(engine.pending_prewrites(), [1]);
    assert_eq!(engine.oldest_pending_prewrite(), Some(1));
    commit(&engine, 1, 10).await.unwrap();
    watch.changed().await.unwrap();
    assert_eq!(*watch.borrow_and_update(), 10);
    let pulled = pull_n(&engine, 0, 2).await;
    assert_eq!(
        pulled.iter().map(|b| b.commit_ts).collect::<Vec<_>>(),
        [3, 10]
    );
    drop(engine);

    // P1,P2,C1(10),C2(9) emits 10 only; the watermark never goes back to 9.
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    prewrite(&engine, 1).await.unwrap();
    prewrite(&engine, 2).await.unwrap();
    commit(&engine, 1, 10).await.unwrap();
    assert_eq!(engine.max_commit_ts(), 0);
    commit(&engine, 2, 9).await.unwrap();
    assert_eq!(engine.max_commit_ts(), 10);
}

async fn reopen_keeps_watermark_and_pending_prewrites(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), backend);
    let mut ts = 100;
    let (watermark, pending, segments) = {
        let engine = Engine::open(config.clone()).unwrap();
        // A prewrite that stays pending while many segments roll past it.
        prewrite(&engine, 50).await.unwrap();
        for i in 0..600 {
            prewrite(&engine, ts).await.unwrap();
            if i % 7 != 0 {
                commit(&engine, ts, ts + 1).await.unwrap();
            }
            ts += 2;
        }
        assert!(
            engine.segment_ids().len() > 3,
            "the test needs several segments"
        );
        (
            engine.max_commit_ts(),
            engine.pending_prewrites(),
            engine.segment_ids(),
        )
    };
    assert_eq!(watermark, 0, "prewrite 50 holds the watermark");
    assert_eq!(pending.len(), 1 + 600 / 7 + 1);

    let engine = Engine::open(config.clone()).unwrap();
    assert_eq!(engine.max_commit_ts(), watermark);
    assert_eq!(engine.pending_prewrites(), pending);
    assert_eq!(
        engine.segment_ids()[..segments.len() - 1],
        segments[..segments.len() - 1]
    );
    // Resolve everything; the watermark reaches the last commit and survives another reopen.
    for start in pending {
        bare(&engine, Kind::Rollback, start, 0).await.unwrap();
    }
    assert_eq!(engine.max_commit_ts(), ts - 1);
    let pulled = pull_all(&engine, 0).await;
    check_pulled(&pulled);
    assert_eq!(pulled.len(), 600 - (600 / 7 + 1));
    drop(engine);
    let engine = Engine::open(config).unwrap();
    assert_eq!(engine.max_commit_ts(), ts - 1);
    assert!(engine.pending_prewrites().is_empty());
    assert_eq!(pull_all(&engine, 0).await, pulled);
}

async fn stop_write_refuses_all_but_fake_binlogs(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let config = binlog_engine::Config {
        stop_write_at_available_space: ReadableSize(u64::MAX / 2),
        ..test_config(dir.path(), backend)
    };
    let engine = Engine::open(config).unwrap();
    let error = prewrite(&engine, 5).await.unwrap_err();
    assert!(
        matches!(error, Error::NoSpace { required, .. } if required == u64::MAX / 2),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("no available space, available: "),
        "{message}"
    );
    assert!(
        message.contains(&format!("StopWriteAtAvailableSpace: {}", u64::MAX / 2)),
        "{message}"
    );
    bare(&engine, Kind::Fake, 6, 6).await.unwrap();
    assert_eq!(engine.max_commit_ts(), 6);
}

async fn oversized_records_fail_before_any_io(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    // The record is encoded (and checked) by `append` itself; the future only awaits the ack.
    let prewrite_of = |len: usize| {
        engine.append(Record {
            kind: Kind::Prewrite,
            start_ts: 1,
            commit_ts: 0,
            payload: &vec![0u8; len],
        })
    };
    let error = prewrite_of((16 << 10) + 1).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "binlog of {} bytes exceeds max-record-size of {} bytes",
            (16 << 10) + 1,
            16 << 10
        )
    );
    assert_eq!(engine.metrics().appended_records, 0);
    prewrite_of(16 << 10).await.unwrap();
}

const LOCK_DIR_ENV: &str = "BINLOG_ENGINE_LOCK_TEST_DIR";

async fn second_process_cannot_open_the_data_dir(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    let output = child_test(
        "basics::lock_contender",
        &[(LOCK_DIR_ENV, dir.path().display().to_string())],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "contender failed: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = format!(
        "data dir {} is locked by another process (pid {}): only one pump may use a data dir at a time",
        dir.path().display(),
        std::process::id()
    );
    assert!(stdout.contains(&expected), "{stdout}");
    drop(engine);
    Engine::open(test_config(dir.path(), backend)).unwrap();
}

/// Runs in the child process of `second_process_cannot_open_the_data_dir`.
#[test]
#[ignore = "child process of second_process_cannot_open_the_data_dir; runs only when spawned by it"]
fn lock_contender() {
    let dir =
        std::env::var(LOCK_DIR_ENV).expect("spawned by second_process_cannot_open_the_data_dir");
    let error = Engine::open(test_config(dir.as_ref(), IoBackend::Pwrite))
        .err()
        .expect("the second open must fail");
    assert!(matches!(error, Error::Locked { .. }));
    println!("{error}");
}

#[tokio::test]
async fn the_default_backend_opens_pwrite() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(test_config(dir.path(), IoBackend::Auto)).unwrap();
    assert_eq!(engine.io_backend(), "pwrite");
}

#[tokio::test]
async fn pull_below_nothing_waits_for_new_binlogs() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        std::sync::Arc::new(Engine::open(test_config(dir.path(), IoBackend::Auto)).unwrap());
    let mut stream = Box::pin(engine.pull_commits(0).unwrap());
    let writer = engine.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        bare(&writer, Kind::Fake, 7, 7).await.unwrap();
    });
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!((first.kind, first.commit_ts), (Kind::Fake, 7));
    task.await.unwrap();
    engine.close();
    assert!(
        stream.next().await.is_none(),
        "a closed engine ends its pulls"
    );
}

async fn largest_record_fits_an_empty_segment(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    // An odd segment size: the largest accepted payload must still fit, padding included.
    let largest = (4100 - 136) / 8 * 8;
    let config = binlog_engine::Config {
        segment_size: ReadableSize(4100),
        max_record_size: ReadableSize(largest + 1),
        ..test_config(dir.path(), backend)
    };
    let error = Engine::open(config.clone())
        .err()
        .expect("one byte too many");
    assert!(
        error
            .to_string()
            .contains(&format!("between 1 byte and {largest} bytes")),
        "{error}"
    );
    let engine = Engine::open(binlog_engine::Config {
        max_record_size: ReadableSize(largest),
        ..config
    })
    .unwrap();
    let payload = vec![7u8; largest as usize];
    for ts in 1..=3 {
        fake(&engine, ts, &payload).await.unwrap();
    }
    assert_eq!(engine.segment_ids().len(), 3, "one record per segment");
    assert_eq!(
        pull_n(&engine, 0, 3)
            .await
            .iter()
            .map(|b| b.payload.len())
            .sum::<usize>(),
        3 * payload.len()
    );
}

async fn other_storage_settings_round_trip(backend: IoBackend) {
    use binlog_engine::{Config, Preallocate};
    let variants = [
        (false, Preallocate::ZeroFill, true),
        (true, Preallocate::Fallocate, false),
        (false, Preallocate::Fallocate, true),
    ];
    for (sync_log, preallocate, recycle_segments) in variants {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            sync_log,
            preallocate,
            recycle_segments,
            ..test_config(dir.path(), backend)
        };
        let engine = Engine::open(config.clone()).unwrap();
        for ts in (2..1200).step_by(2) {
            prewrite(&engine, ts).await.unwrap();
            commit(&engine, ts, ts + 1).await.unwrap();
        }
        assert!(engine.segment_ids().len() >= 3, "rolls happened");
        engine.gc(800).unwrap();
        let pulled = pull_all(&engine, 800).await;
        check_pulled(&pulled);
        drop(engine);
        let engine = Engine::open(config).unwrap();
        assert_eq!(
            pull_all(&engine, 800).await,
            pulled,
            "{sync_log} {preallocate:?} {recycle_segments}"
        );
        for ts in (1200..2400).step_by(2) {
            prewrite(&engine, ts).await.unwrap();
            commit(&engine, ts, ts + 1).await.unwrap();
        }
        assert_eq!(pull_all(&engine, 800).await.len(), (2400 - 800) / 2);
    }
}
