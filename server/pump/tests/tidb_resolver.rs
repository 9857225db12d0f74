//! Integration tests of the real `pump` binary settling prewrites whose commit never came
//! through TiDB's status API (`-tidb-status-addr`, `GET /mvcc/hex/{key}`), against the test
//! kit's stand-in for TiDB's status port: TiDB itself cannot be built here (the Go module proxy
//! refuses it), so no test runs against a real TiDB.
//!
//! A prewrite counts as stuck once its start TS is 10 minutes old; these tests write prewrites
//! whose start TS is already 20 minutes old, so the pump's first look (every 10 s) settles them.

use std::path::Path;
use std::time::Duration;

use binlog_node::proto::{Binlog, BinlogType};
use binlog_node::tso::{compose_ts, now_ts, physical_ms};
use binlog_testkit::cluster::{backend, metric_value, prewrite_value, pull, write, Backend};
use binlog_testkit::poll::wait_for;
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use binlog_testkit::tidb_status::{MvccState, TidbStatusStandIn};
use futures_util::StreamExt;
use prost::Message;
use serde_json::Value;

/// The primary key the stuck transaction wrote (a record key of table 5, handle 1).
const KEY: &[u8] = b"t\x80\x00\x00\x00\x00\x00\x00\x05_r\x80\x00\x00\x00\x00\x00\x00\x01";
const KEY_HEX: &str = "7480000000000000055F728000000000000001";

/// The pump, its cluster and the TiDB status stand-in it asks.
struct Setup {
    _dir: tempfile::TempDir,
    backend: Backend,
    stand_in: TidbStatusStandIn,
    pump: PumpProcess,
    cluster_id: u64,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let stand_in = TidbStatusStandIn::start(Vec::new());
    let pump = start_pump(dir.path(), &backend, stand_in.addr());
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    Setup {
        _dir: dir,
        backend,
        stand_in,
        pump,
        cluster_id,
    }
}

fn start_pump(dir: &Path, backend: &Backend, tidb: &str) -> PumpProcess {
    PumpProcess::start(&PumpOptions {
        data_dir: &dir.join("pump"),
        registry_dir: &dir.join("registry"),
        pd_urls: &backend.pd_urls,
        extra: &["-tidb-status-addr", tidb],
        storage: None,
    })
}

/// A start TS of 20 minutes ago.
fn stuck_start_ts() -> i64 {
    compose_ts(physical_ms(now_ts()) - 20 * 60 * 1000, 7) as i64
}

/// Writes a prewrite of `KEY` at `start_ts` with no commit. The stand-in already says what
/// became of it, so that no look of the pump finds it unknown first.
async fn write_stuck_prewrite(setup: &Setup, start_ts: i64) {
    let prewrite = Binlog {
        tp: BinlogType::Prewrite as i32,
        start_ts,
        prewrite_key: Some(KEY.to_vec()),
        prewrite_value: Some(prewrite_value(start_ts as u64)),
        ..Binlog::default()
    };
    let mut client = setup.pump.client().await;
    write(&mut client, setup.cluster_id, &prewrite)
        .await
        .unwrap();
}

/// A commit TS as TiDB would have got it from PD when it committed.
async fn fresh_ts(setup: &Setup) -> u64 {
    setup.backend.tso.get_ts().await.unwrap()
}

/// The first binlog a pull from the start serves that is not fake (skipping fakes), or `None`
/// when a fake at or past `until` comes first.
async fn first_real_binlog(setup: &Setup, until: i64) -> Option<Binlog> {
    let mut client = setup.pump.client().await;
    let mut stream = pull(&mut client, setup.cluster_id, Some(0)).await;
    loop {
        let response = tokio::time::timeout(Duration::from_secs(40), stream.next())
            .await
            .expect("pull stalled")
            .expect("stream ended")
            .unwrap();
        let binlog = Binlog::decode(&response.entity.unwrap().payload[..]).unwrap();
        if !binlog.is_fake() {
            return Some(binlog);
        }
        if binlog.commit_ts >= until {
            return None;
        }
    }
}

fn metric(pump: &PumpProcess, series: &str) -> f64 {
    metric_value(&pump.get("/metrics"), series).unwrap_or(-1.0)
}

/// Waits until the pump holds no pending prewrite.
fn wait_until_settled(pump: &PumpProcess) {
    wait_for(
        "the stuck prewrite to be settled",
        Duration::from_secs(40),
        || (metric(pump, "binlog_pump_storage_pending_prewrites") == 0.0).then_some(()),
        || pump.log(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prewrite_tidb_reports_committed_gets_its_commit_binlog() {
    let setup = setup().await;
    let commit_ts = fresh_ts(&setup).await;
    let start_ts = stuck_start_ts();
    setup.stand_in.set_mvcc(
        KEY,
        MvccState::Committed {
            start_ts: start_ts as u64,
            commit_ts,
        },
    );
    write_stuck_prewrite(&setup, start_ts).await;
    let commit = first_real_binlog(&setup, i64::MAX)
        .await
        .expect("a commit binlog");
    assert_eq!(commit.tp, BinlogType::Commit as i32);
    assert_eq!(
        (commit.start_ts, commit.commit_ts),
        (start_ts, commit_ts as i64)
    );
    assert_eq!(
        commit.prewrite_value,
        Some(prewrite_value(start_ts as u64)),
        "served with its prewrite's value"
    );
    wait_until_settled(&setup.pump);
    assert!(setup
        .stand_in
        .mvcc_requests()
        .iter()
        .all(|key| key == KEY_HEX));
    assert!(metric(&setup.pump, "binlog_pump_storage_query_tikv_count") >= 1.0);

    // `/debug/binlog` shows TiDB's MVCC record of the primary key, text and JSON.
    let text = setup.pump.get(&format!("/debug/binlog/{start_ts}"));
    let (_, record) = text
        .split_once("\n\n GetMvccByEncodedKey: \n")
        .unwrap_or_else(|| panic!("no MVCC part: {text}"));
    let record: Value = serde_json::from_str(record).unwrap();
    assert_eq!(record["info"]["writes"][0]["commit_ts"], commit_ts);
    let json: Value = serde_json::from_str(
        &setup
            .pump
            .get(&format!("/debug/binlog/{commit_ts}?format=json")),
    )
    .unwrap();
    assert_eq!(json["tp"], "Commit");
    assert_eq!(
        json["mvcc"],
        Value::Null,
        "a commit binlog has no primary key"
    );
    let json: Value = serde_json::from_str(
        &setup
            .pump
            .get(&format!("/debug/binlog/{start_ts}?format=json")),
    )
    .unwrap();
    assert_eq!(json["mvcc"], record);
    assert_eq!(
        setup.pump.log().matches("settled a stuck prewrite").count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prewrite_tidb_reports_rolled_back_gets_a_rollback_and_frees_the_watermark() {
    let setup = setup().await;
    let start_ts = stuck_start_ts();
    setup.stand_in.set_mvcc(
        KEY,
        MvccState::RolledBack {
            start_ts: start_ts as u64,
        },
    );
    write_stuck_prewrite(&setup, start_ts).await;
    wait_until_settled(&setup.pump);
    // Fake binlogs after it flow again, and no commit of it comes first.
    let after = fresh_ts(&setup).await as i64;
    assert_eq!(first_real_binlog(&setup, after).await, None);
    assert!(
        setup.pump.log().contains("RolledBack"),
        "{}",
        setup.pump.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_prewrite_is_asked_about_again_and_reported_once_until_it_commits() {
    let setup = setup().await;
    let start_ts = stuck_start_ts();
    setup.stand_in.set_mvcc(
        KEY,
        MvccState::Locked {
            start_ts: start_ts as u64,
        },
    );
    write_stuck_prewrite(&setup, start_ts).await;
    // Two looks 10 s apart, both finding the lock: one log line, still pending.
    wait_for(
        "the pump to ask twice",
        Duration::from_secs(40),
        || (setup.stand_in.mvcc_requests().len() >= 2).then_some(()),
        || setup.pump.log(),
    );
    let log = setup.pump.log();
    assert_eq!(log.matches("still holds its lock").count(), 1, "{log}");
    assert_eq!(
        metric(&setup.pump, "binlog_pump_storage_pending_prewrites"),
        1.0
    );
    assert!(metric(&setup.pump, "binlog_pump_storage_query_tikv_count") >= 2.0);

    let commit_ts = fresh_ts(&setup).await;
    setup.stand_in.set_mvcc(
        KEY,
        MvccState::Committed {
            start_ts: start_ts as u64,
            commit_ts,
        },
    );
    let commit = first_real_binlog(&setup, i64::MAX)
        .await
        .expect("a commit binlog");
    assert_eq!(
        (commit.start_ts, commit.commit_ts),
        (start_ts, commit_ts as i64)
    );
    wait_until_settled(&setup.pump);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_transaction_stays_pending_and_without_tidb_debug_binlog_says_so() {
    let setup = setup().await;
    let start_ts = stuck_start_ts();
    write_stuck_prewrite(&setup, start_ts).await;
    wait_for(
        "the pump to ask",
        Duration::from_secs(40),
        || (!setup.stand_in.mvcc_requests().is_empty()).then_some(()),
        || setup.pump.log(),
    );
    wait_for(
        "the pump to report it",
        Duration::from_secs(10),
        || {
            setup
                .pump
                .log()
                .contains("TiDB knows nothing yet of a stuck prewrite")
                .then_some(())
        },
        || setup.pump.log(),
    );
    assert_eq!(
        metric(&setup.pump, "binlog_pump_storage_pending_prewrites"),
        1.0
    );

    // Another pump, with no TiDB to ask: /debug/binlog names what is missing.
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let plain = PumpProcess::start(&PumpOptions {
        data_dir: &dir.path().join("pump"),
        registry_dir: &dir.path().join("registry"),
        pd_urls: &backend.pd_urls,
        extra: &[],
        storage: None,
    });
    let prewrite = Binlog {
        tp: BinlogType::Prewrite as i32,
        start_ts,
        prewrite_key: Some(KEY.to_vec()),
        ..Binlog::default()
    };
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    write(&mut plain.client().await, cluster_id, &prewrite)
        .await
        .unwrap();
    let text = plain.get(&format!("/debug/binlog/{start_ts}"));
    assert!(
        text.ends_with(
            "GetMvccByEncodedKey failed: no TiDB status address is configured (set \
             tidb-status-addr to look the primary key up through TiDB's /mvcc/hex API)"
        ),
        "{text}"
    );
}
