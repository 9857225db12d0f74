//! Disk full, end to end: the real `pump` with its data dir on a small tmpfs (mounted by the
//! test; it runs as root, as `.ci/run` does). Writes are refused with the stop-write error
//! before the filesystem is full and the client sees its text; fake binlogs are still stored;
//! every acknowledged binlog is still served intact; once space is freed, writes succeed again
//! without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use binlog_node::proto::{Binlog, BinlogType};
use binlog_testkit::cluster::{backend, pull, write};
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use futures_util::StreamExt;
use prost::Message;

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            output.status.success(),
            "this test mounts a tmpfs and needs root (as .ci/run runs): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_fakes_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    let tmpfs = Tmpfs::mount(&mount, "96m");
    let backend = backend("file", &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    // Ballast that the test frees later.
    let ballast = mount.join("ballast");
    std::fs::write(&ballast, vec![1u8; 40 << 20]).unwrap();
    let pump = PumpProcess::start(&PumpOptions {
        data_dir: &mount.join("pump"),
        registry_dir: &dir.path().join("registry"),
        pd_urls: "",
        extra: &[],
        storage: Some(
            "stop-write-at-available-space = \"24 MiB\"\nsegment-size = \"4 MiB\"\nmax-record-size = \"1 MiB\"\n",
        ),
    });
    let mut client = pump.client().await;

    // Write pairs with 64 KiB values until the pump refuses one (a prewrite or a commit).
    let value = vec![7u8; 64 << 10];
    let mut acknowledged = Vec::new();
    let mut refused_commit = None;
    let refusal = 'fill: loop {
        assert!(acknowledged.len() < 2000, "the pump never refused a write");
        let start_ts = backend.tso.get_ts().await.unwrap() as i64;
        let prewrite = pair_binlog(BinlogType::Prewrite, start_ts, 0, &value);
        if let Err(status) = write(&mut client, cluster_id, &prewrite).await {
            break 'fill status;
        }
        let commit_ts = backend.tso.get_ts().await.unwrap() as i64;
        let commit = pair_binlog(BinlogType::Commit, start_ts, commit_ts, &value);
        if let Err(status) = write(&mut client, cluster_id, &commit).await {
            refused_commit = Some(commit);
            break 'fill status;
        }
        acknowledged.push((start_ts, commit_ts));
    };
    let refused_at = backend.tso.get_ts().await.unwrap() as i64;
    assert!(!acknowledged.is_empty(), "refused from the first write");
    assert_eq!(refusal.code(), tonic::Code::Unknown);
    assert!(
        refusal
            .message()
            .starts_with("no available space, available: "),
        "{refusal:?}"
    );
    assert!(
        refusal
            .message()
            .ends_with("StopWriteAtAvailableSpace: 25165824"),
        "{refusal:?}"
    );
    let free = fs_free(&mount);
    assert!(
        free > 8 << 20,
        "refused while {free} bytes were still free: too late"
    );

    // Refused for as long as the space is short, while fake binlogs keep being stored.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let probe = pair_binlog(
        BinlogType::Prewrite,
        backend.tso.get_ts().await.unwrap() as i64,
        0,
        &value,
    );
    assert!(
        write(&mut client, cluster_id, &probe).await.is_err(),
        "accepted while full"
    );
    let freed_at = backend.tso.get_ts().await.unwrap() as i64;

    // Free space: writes succeed again without a restart (the refused commit retried, as TiDB
    // retries, and one more pair).
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut retry = refused_commit;
    loop {
        let binlog = match &retry {
            Some(commit) => commit.clone(),
            None => {
                let start_ts = backend.tso.get_ts().await.unwrap() as i64;
                pair_binlog(BinlogType::Prewrite, start_ts, 0, &value)
            }
        };
        match write(&mut client, cluster_id, &binlog).await {
            Ok(()) if retry.is_some() => {
                acknowledged.push((binlog.start_ts, binlog.commit_ts));
                retry = None;
            }
            Ok(()) => {
                let commit_ts = backend.tso.get_ts().await.unwrap() as i64;
                let commit = pair_binlog(BinlogType::Commit, binlog.start_ts, commit_ts, &value);
                write(&mut client, cluster_id, &commit).await.unwrap();
                acknowledged.push((binlog.start_ts, commit_ts));
                break;
            }
            Err(status) => {
                assert!(
                    Instant::now() < deadline,
                    "still refused after freeing space: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    // Every acknowledged binlog is served intact, in order, and fake binlogs were stored while
    // writes were refused.
    let mut stream = pull(&mut client, cluster_id, None).await;
    let last_commit = acknowledged.last().unwrap().1;
    let (mut served, mut fakes_while_full) = (Vec::new(), 0);
    while let Some(response) = stream.next().await {
        let binlog = Binlog::decode(&response.unwrap().entity.unwrap().payload[..]).unwrap();
        if binlog.is_fake() {
            fakes_while_full +=
                usize::from(binlog.commit_ts > refused_at && binlog.commit_ts < freed_at);
        } else {
            assert_eq!(binlog.prewrite_value.as_deref(), Some(&value[..]));
            served.push((binlog.start_ts, binlog.commit_ts));
        }
        if binlog.commit_ts >= last_commit {
            break;
        }
    }
    assert_eq!(served, acknowledged);
    assert!(
        fakes_while_full >= 1,
        "no fake binlog stored while the disk was full"
    );
    drop(pump);
    drop(tmpfs);
}

fn pair_binlog(tp: BinlogType, start_ts: i64, commit_ts: i64, value: &[u8]) -> Binlog {
    Binlog {
        tp: tp as i32,
        start_ts,
        commit_ts,
        prewrite_value: (tp == BinlogType::Prewrite).then(|| value.to_vec()),
        ..Default::default()
    }
}

/// Free bytes of the filesystem holding `path`.
fn fs_free(path: &Path) -> u64 {
    binlog_engine::data_dir::space(path).unwrap().available
}
