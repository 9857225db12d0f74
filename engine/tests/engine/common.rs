//! Helpers shared by the integration tests.

use std::path::Path;
use std::time::Duration;

use binlog_engine::{Config, Engine, IoBackend, Kind, PulledBinlog, ReadableSize, Record};
use futures_util::StreamExt;

/// Generates one `#[tokio::test]` per I/O backend around `async fn $name(backend: IoBackend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn io_uring() {
                    super::$name(binlog_engine::IoBackend::IoUring).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn pwrite() {
                    super::$name(binlog_engine::IoBackend::Pwrite).await
                }
            }
        )*
    };
}

/// A config for tests: small segments so that rolls happen, no free-space floor.
pub fn test_config(dir: &Path, backend: IoBackend) -> Config {
    Config {
        dir: dir.to_path_buf(),
        io_backend: backend,
        segment_size: ReadableSize(64 << 10),
        max_record_size: ReadableSize(16 << 10),
        stop_write_at_available_space: ReadableSize(0),
        gc_prewrite_margin: Duration::ZERO,
        ..Config::default()
    }
}

/// The payload the tests store for a prewrite with `start_ts`: its size and bytes follow from it.
pub fn prewrite_payload(start_ts: u64) -> Vec<u8> {
    let len = 16 + (start_ts.wrapping_mul(2_654_435_761) % 480) as usize;
    (0..len)
        .map(|i| (start_ts as usize).wrapping_add(i * 31) as u8)
        .collect()
}

/// The payload the tests store for a commit.
pub fn commit_payload(start_ts: u64, commit_ts: u64) -> Vec<u8> {
    format!("commit {start_ts}->{commit_ts}").into_bytes()
}

/// Appends a prewrite with the test payload.
pub async fn prewrite(
    engine: &Engine,
    start_ts: u64,
) -> binlog_engine::Result<binlog_engine::Position> {
    let payload = prewrite_payload(start_ts);
    engine
        .append(Record {
            kind: Kind::Prewrite,
            start_ts,
            commit_ts: 0,
            payload: &payload,
        })
        .await
}

/// Appends a commit with the test payload.
pub async fn commit(
    engine: &Engine,
    start_ts: u64,
    commit_ts: u64,
) -> binlog_engine::Result<binlog_engine::Position> {
    let payload = commit_payload(start_ts, commit_ts);
    engine
        .append(Record {
            kind: Kind::Commit,
            start_ts,
            commit_ts,
            payload: &payload,
        })
        .await
}

/// Appends a fake binlog at `ts` with `payload`.
pub async fn fake(
    engine: &Engine,
    ts: u64,
    payload: &[u8],
) -> binlog_engine::Result<binlog_engine::Position> {
    engine
        .append(Record {
            kind: Kind::Fake,
            start_ts: ts,
            commit_ts: ts,
            payload,
        })
        .await
}

/// Appends a record of `kind` with an empty payload.
pub async fn bare(
    engine: &Engine,
    kind: Kind,
    start_ts: u64,
    commit_ts: u64,
) -> binlog_engine::Result<binlog_engine::Position> {
    engine
        .append(Record {
            kind,
            start_ts,
            commit_ts,
            payload: b"",
        })
        .await
}

/// Pulls after `after` until `count` binlogs arrived (or panics after a while).
pub async fn pull_n(engine: &Engine, after: u64, count: usize) -> Vec<PulledBinlog> {
    let mut stream = Box::pin(engine.pull_commits(after).expect("pull starts"));
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .unwrap_or_else(|_| panic!("pull stalled after {} of {count} binlogs", out.len()));
        out.push(next.expect("stream open").expect("pull item"));
    }
    out
}

/// Pulls everything currently below the watermark after `after`.
pub async fn pull_all(engine: &Engine, after: u64) -> Vec<PulledBinlog> {
    let watermark = engine.max_commit_ts();
    let mut stream = Box::pin(engine.pull_commits(after).expect("pull starts"));
    let mut out: Vec<PulledBinlog> = Vec::new();
    if watermark <= after {
        return out;
    }
    while out.last().is_none_or(|b| b.commit_ts < watermark) {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("pull stalled below the watermark");
        out.push(next.expect("stream open").expect("pull item"));
    }
    out
}

/// Checks that pulled binlogs are strictly increasing and carry the test payloads.
pub fn check_pulled(pulled: &[PulledBinlog]) {
    for pair in pulled.windows(2) {
        assert!(
            pair[0].commit_ts < pair[1].commit_ts,
            "not strictly increasing: {} then {}",
            pair[0].commit_ts,
            pair[1].commit_ts
        );
    }
    for binlog in pulled {
        match binlog.kind {
            Kind::Commit => {
                assert_eq!(
                    binlog.payload,
                    commit_payload(binlog.start_ts, binlog.commit_ts)
                );
                assert_eq!(
                    binlog.prewrite_payload.as_deref(),
                    Some(&prewrite_payload(binlog.start_ts)[..])
                );
            }
            Kind::Fake => assert_eq!(binlog.prewrite_payload, None),
            other => panic!("pull served a {other:?}"),
        }
    }
}

/// A command running one (ignored) entry point of this test binary in a child process with
/// `envs` set, so tests can use a second process: to be killed, or to contend for the lock.
pub fn child_test(test_path: &str, envs: &[(&str, String)]) -> std::process::Command {
    let mut command =
        std::process::Command::new(std::env::current_exe().expect("test binary path"));
    command.args([
        test_path,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ]);
    for (key, value) in envs {
        command.env(key, value);
    }
    command
}
