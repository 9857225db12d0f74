//! Damaged files: a torn tail recovers, damage before the tail refuses to open (naming the file
//! and offset) or, with skipping enabled, serves only valid records.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use binlog_engine::index::{idx_path, IdxFile};
use binlog_engine::record::RECORD_HEADER_LEN;
use binlog_engine::segment::{segment_path, SEGMENT_HEADER_LEN};
use binlog_engine::{Config, Engine, Error, IoBackend, Kind, Position};
use rand::Rng;

use crate::both_backends;
use crate::common::*;

both_backends!(
    truncated_tail_recovers_every_complete_record,
    flipped_bit_before_the_tail_refuses_or_skips,
    flipped_bit_in_a_sealed_segment_is_caught_on_read,
    truncated_sealed_segment_refuses_or_reseals,
    missing_or_damaged_index_files_are_rebuilt,
    reseal_keeps_records_after_a_skipped_one,
    bad_header_over_valid_records_refuses_or_keeps_them,
    stale_checkpoint_is_replayed_and_renewed,
);

struct Written {
    ts: u64,
    position: Position,
    /// Bytes from the record's offset to the end of its payload (padding excluded).
    len: u64,
}

/// Writes fake binlogs (one per group) until there are 3 sealed segments plus an active one.
async fn fill(dir: &Path, backend: IoBackend) -> Vec<Written> {
    let engine = Engine::open(test_config(dir, backend)).unwrap();
    let mut written = Vec::new();
    let mut ts = 1;
    while engine.segment_ids().len() < 4 || in_segment(&written, 4).len() < 40 {
        let payload = prewrite_payload(ts);
        let position = fake(&engine, ts, &payload).await.unwrap();
        written.push(Written {
            ts,
            position,
            len: (RECORD_HEADER_LEN + payload.len()) as u64,
        });
        ts += 1;
    }
    written
}

/// The records written to segment `id`, in order.
fn in_segment(written: &[Written], id: u64) -> Vec<&Written> {
    written
        .iter()
        .filter(|w| w.position.segment_id == id)
        .collect()
}

/// Opens `dir` with `skip-corrupt-records`.
fn open_skipping(dir: &Path, backend: IoBackend) -> Engine {
    Engine::open(Config {
        skip_corrupt_records: true,
        ..test_config(dir, backend)
    })
    .unwrap()
}

/// Checks that every written record can be read back, except those `lost` picks.
fn assert_present_unless(engine: &Engine, written: &[Written], lost: impl Fn(&Written) -> bool) {
    for w in written {
        assert_eq!(
            engine.get(w.ts).unwrap().is_some(),
            !lost(w),
            "record {} at {:?}",
            w.ts,
            w.position
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("log")).unwrap();
    fs::copy(from.join("meta"), to.join("meta")).unwrap();
    for entry in fs::read_dir(from.join("log")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join("log").join(entry.file_name())).unwrap();
    }
}

fn seg(dir: &Path, id: u64) -> PathBuf {
    segment_path(&dir.join("log"), id)
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x20;
    fs::write(path, bytes).unwrap();
}

async fn truncated_tail_recovers_every_complete_record(backend: IoBackend) {
    let original = tempfile::tempdir().unwrap();
    let written = fill(original.path(), backend).await;
    let active = in_segment(&written, 4);
    let data_end = active
        .last()
        .map(|w| w.position.offset as u64 + w.len)
        .unwrap();
    let mut rng = rand::rng();
    for _ in 0..12 {
        let cut = rng.random_range(SEGMENT_HEADER_LEN as u64..=data_end);
        let dir = tempfile::tempdir().unwrap();
        copy_dir(original.path(), dir.path());
        OpenOptions::new()
            .write(true)
            .open(seg(dir.path(), 4))
            .unwrap()
            .set_len(cut)
            .unwrap();

        let engine = Engine::open(test_config(dir.path(), backend))
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        for w in &written {
            let complete = w.position.segment_id < 4 || w.position.offset as u64 + w.len <= cut;
            let stored = engine.get(w.ts).unwrap();
            assert_eq!(
                stored.is_some(),
                complete,
                "cut at {cut}: record {} at {:?}",
                w.ts,
                w.position
            );
        }
        // The log continues after the tail, and that survives another reopen.
        let next = written.last().unwrap().ts + 1;
        bare(&engine, Kind::Fake, next, next).await.unwrap();
        drop(engine);
        let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
        assert!(engine.get(next).unwrap().is_some());
        let pulled = pull_all(&engine, 0).await;
        assert_eq!(pulled.last().unwrap().commit_ts, next);
        assert!(pulled.windows(2).all(|p| p[0].commit_ts < p[1].commit_ts));
    }
}

async fn flipped_bit_before_the_tail_refuses_or_skips(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), backend).await;
    let victim = in_segment(&written, 4)[5];
    let path = seg(dir.path(), 4);
    flip_byte(&path, victim.position.offset as u64 + 40);

    let error = Engine::open(test_config(dir.path(), backend))
        .err()
        .expect("open must refuse");
    match &error {
        Error::Corruption { file, offset, .. } => {
            assert_eq!(
                (file, *offset),
                (&path, victim.position.offset as u64),
                "{error}"
            );
        }
        other => panic!("unexpected error {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("skip-corrupt-records"),
        "{message}"
    );

    let engine = open_skipping(dir.path(), backend);
    assert_present_unless(&engine, &written, |w| w.ts == victim.ts);
    let pulled = pull_all(&engine, 0).await;
    assert_eq!(pulled.len(), written.len() - 1);
    assert!(pulled.iter().all(|b| b.commit_ts != victim.ts));
}

async fn flipped_bit_in_a_sealed_segment_is_caught_on_read(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), backend).await;
    let victim = written.iter().find(|w| w.position.segment_id == 2).unwrap();
    let path = seg(dir.path(), 2);
    flip_byte(&path, victim.position.offset as u64 + 36);

    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    let error = engine
        .get(victim.ts)
        .expect_err("a corrupt record is never served");
    assert!(
        matches!(&error, Error::Corruption { file, offset, .. } if *file == path && *offset == victim.position.offset as u64),
        "{error}"
    );
    let mut stream = Box::pin(engine.pull_commits(0).unwrap());
    let mut served = 0;
    let failure = loop {
        use futures_util::StreamExt;
        match stream.next().await.unwrap() {
            Ok(binlog) => {
                assert!(binlog.commit_ts < victim.ts);
                served += 1;
            }
            Err(error) => break error,
        }
    };
    assert!(matches!(failure, Error::Corruption { .. }), "{failure}");
    assert_eq!(served, written.iter().filter(|w| w.ts < victim.ts).count());
    drop(stream);
    drop(engine);

    let engine = open_skipping(dir.path(), backend);
    let pulled = pull_all(&engine, 0).await;
    assert_eq!(pulled.len(), written.len() - 1);
}

async fn truncated_sealed_segment_refuses_or_reseals(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), backend).await;
    let in_two = in_segment(&written, 2);
    let keep = &in_two[..in_two.len() / 2];
    let cut = keep
        .last()
        .map(|w| w.position.offset as u64 + w.len)
        .unwrap()
        + 3;
    let path = seg(dir.path(), 2);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();

    let error = Engine::open(test_config(dir.path(), backend))
        .err()
        .expect("open must refuse");
    assert!(
        matches!(&error, Error::Corruption { file, .. } if *file == path),
        "{error}"
    );
    assert!(
        error.to_string().contains("later segments exist"),
        "{error}"
    );

    let engine = open_skipping(dir.path(), backend);
    assert_present_unless(&engine, &written, |w| {
        w.position.segment_id == 2 && !keep.iter().any(|k| k.ts == w.ts)
    });
    drop(engine);
    // Re-sealed: it opens cleanly without skipping now.
    Engine::open(test_config(dir.path(), backend)).unwrap();
}

async fn missing_or_damaged_index_files_are_rebuilt(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), backend).await;
    let log_dir = dir.path().join("log");
    fs::remove_file(idx_path(&log_dir, 2)).unwrap();
    let idx3 = idx_path(&log_dir, 3);
    let mut bytes = fs::read(&idx3).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&idx3, bytes).unwrap();

    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    assert_present_unless(&engine, &written, |_| false);
    assert_eq!(pull_all(&engine, 0).await.len(), written.len());
    // The files are written again, whole and valid.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for id in [2, 3] {
        let count = in_segment(&written, id).len() as u64;
        while IdxFile::open(&log_dir, id, count).unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "index of segment {id} not rebuilt"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

async fn reseal_keeps_records_after_a_skipped_one(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), backend).await;
    let in_two = in_segment(&written, 2);
    let victim = in_two[in_two.len() / 2];
    let path = seg(dir.path(), 2);
    flip_byte(&path, victim.position.offset as u64 + 40);
    // Footer gone too: segment 2 must be re-sealed from its valid records.
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 10)
        .unwrap();

    let engine = open_skipping(dir.path(), backend);
    assert_present_unless(&engine, &written, |w| w.ts == victim.ts);
    drop(engine);
    let engine = Engine::open(test_config(dir.path(), backend)).unwrap();
    assert_eq!(pull_all(&engine, 0).await.len(), written.len() - 1);
}

async fn bad_header_over_valid_records_refuses_or_keeps_them(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let written = fill(dir.path(), backend).await;
    let path = seg(dir.path(), 4);
    flip_byte(&path, 3);

    let error = Engine::open(test_config(dir.path(), backend))
        .err()
        .expect("open must refuse");
    assert!(
        matches!(&error, Error::Corruption { file, offset: 0, .. } if *file == path),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("may have been acknowledged follow (at offset 32)"),
        "{error}"
    );

    let engine = open_skipping(dir.path(), backend);
    assert_eq!(pull_all(&engine, 0).await.len(), written.len());
    drop(engine);
    Engine::open(test_config(dir.path(), backend)).unwrap();
}

async fn stale_checkpoint_is_replayed_and_renewed(backend: IoBackend) {
    use binlog_engine::meta::{read_meta, write_meta};
    use binlog_engine::sorter::Sorter;

    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), backend);
    let (watermark, pending, active) = {
        let engine = Engine::open(config.clone()).unwrap();
        prewrite(&engine, 5).await.unwrap(); // stays pending in segment 1
        for ts in (10..1500).step_by(2) {
            prewrite(&engine, ts).await.unwrap();
            if ts < 1400 || ts % 10 != 0 {
                commit(&engine, ts, ts + 1).await.unwrap();
            }
        }
        bare(&engine, Kind::Rollback, 5, 0).await.unwrap();
        (
            engine.max_commit_ts(),
            engine.pending_prewrites(),
            *engine.segment_ids().last().unwrap(),
        )
    };
    assert!(active > 3 && watermark > 0 && !pending.is_empty());
    // As if the checkpoints of every roll had been lost: replay must start at segment 1.
    let meta = read_meta(dir.path()).unwrap().unwrap();
    let stale = binlog_engine::meta::Meta {
        replay_from: 1,
        sorter: Sorter::default().encode(),
        ..meta
    };
    write_meta(dir.path(), &stale).unwrap();
    {
        let engine = Engine::open(config.clone()).unwrap();
        assert_eq!(
            (engine.max_commit_ts(), engine.pending_prewrites()),
            (watermark, pending.clone())
        );
    }
    let renewed = read_meta(dir.path()).unwrap().unwrap();
    assert_eq!(
        renewed.replay_from, active,
        "open saves a checkpoint at the active segment"
    );
    let engine = Engine::open(config.clone()).unwrap();
    assert_eq!(
        (engine.max_commit_ts(), engine.pending_prewrites()),
        (watermark, pending)
    );
    drop(engine);

    // A segment the checkpoint needs is gone: refuse rather than rebuild a wrong watermark.
    write_meta(dir.path(), &stale).unwrap();
    fs::remove_file(seg(dir.path(), 2)).unwrap();
    let error = Engine::open(config).err().expect("open must refuse");
    assert!(
        error.to_string().contains("one it needs is missing"),
        "{error}"
    );
}
