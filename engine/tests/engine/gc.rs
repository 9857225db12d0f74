//! GC: whole segments below the GC point minus the margin go; the rest stays; pulls from below fail.

use std::time::Duration;

use binlog_engine::{Config, Engine, Error, GcOutcome, IoBackend};

use crate::both_backends;
use crate::common::*;

both_backends!(
    gc_drops_whole_segments_and_purges_old_pulls,
    gc_keeps_the_prewrite_margin
);

async fn gc_drops_whole_segments_and_purges_old_pulls(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), backend);
    let engine = Engine::open(config.clone()).unwrap();
    for ts in (10..4000).step_by(2) {
        prewrite(&engine, ts).await.unwrap();
        commit(&engine, ts, ts + 1).await.unwrap();
    }
    let before = engine.segment_ids();
    assert!(before.len() > 4);
    assert_eq!(engine.gc(0).unwrap(), GcOutcome::NotNewer { gc_ts: 0 });
    assert_eq!(
        engine.gc(5000).unwrap(),
        GcOutcome::AboveWatermark { watermark: 3999 }
    );

    let gc_ts = 2001;
    let GcOutcome::Collected { segments } = engine.gc(gc_ts).unwrap() else {
        panic!("gc ran")
    };
    assert!(segments >= 1);
    let after = engine.segment_ids();
    assert_eq!(after.len(), before.len() - segments);
    assert_eq!(engine.gc(gc_ts).unwrap(), GcOutcome::NotNewer { gc_ts });
    // Everything above the GC point is still there; the oldest binlogs are gone.
    for ts in (2002..4000).step_by(2) {
        assert!(engine.get(ts).unwrap().is_some(), "prewrite {ts} lost");
        assert!(
            engine.get(ts + 1).unwrap().is_some(),
            "commit {} lost",
            ts + 1
        );
    }
    assert_eq!(engine.get(10).unwrap(), None);
    let pulled = pull_all(&engine, gc_ts).await;
    check_pulled(&pulled);
    assert_eq!(pulled.first().map(|b| b.commit_ts), Some(2003));
    let error = engine
        .pull_commits(gc_ts - 1)
        .err()
        .expect("pull below the GC point fails");
    assert!(
        matches!(
            error,
            Error::Purged {
                requested: 2000,
                gc_ts: 2001
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("purged"), "{error}");
    drop(engine);

    // The GC point survives a reopen; recycled files serve as later segments.
    let engine = Engine::open(config).unwrap();
    assert_eq!(engine.gc_ts(), gc_ts);
    assert!(matches!(
        engine.pull_commits(100),
        Err(Error::Purged { .. })
    ));
    for ts in (4000..8000).step_by(2) {
        prewrite(&engine, ts).await.unwrap();
        commit(&engine, ts, ts + 1).await.unwrap();
    }
    let pulled = pull_all(&engine, gc_ts).await;
    check_pulled(&pulled);
    assert_eq!(pulled.len(), (8000 - 2002) / 2);
}

async fn gc_keeps_the_prewrite_margin(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        gc_prewrite_margin: Duration::from_secs(600),
        ..test_config(dir.path(), backend)
    };
    let engine = Engine::open(config).unwrap();
    // TSOs one second apart: 2000 transactions span 2000 s of physical time.
    let tso = |second: u64| (1_700_000_000_000 + second * 1000) << 18;
    for second in 0..2000 {
        prewrite(&engine, tso(second)).await.unwrap();
        commit(&engine, tso(second), tso(second) + 1).await.unwrap();
    }
    engine.gc(tso(1500)).unwrap();
    // Everything from 1500 s - 600 s on must survive.
    for second in 900..2000 {
        assert!(
            engine.get(tso(second)).unwrap().is_some(),
            "prewrite at {second} s lost"
        );
    }
    assert_eq!(
        engine.get(tso(0)).unwrap(),
        None,
        "old segments were collected"
    );
}
