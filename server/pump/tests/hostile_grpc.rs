//! Hostile gRPC input against the real `pump`: random and truncated payloads, a message above
//! the limit, a thousand pull streams opened at once and dropped mid-stream, raw HTTP/2 garbage
//! on the port. Every call gets a clear status, nothing panics, memory stays bounded, and the
//! pump keeps serving.

use std::io::Write;
use std::time::Duration;

use binlog_node::proto::{Binlog, BinlogType, PullBinlogReq, WriteBinlogReq};
use binlog_testkit::cluster::{backend, pull, write_pairs};
use binlog_testkit::pump::{PumpOptions, PumpProcess};
use futures_util::StreamExt;
use prost::Message;

/// `VmRSS` of the pump, in KiB.
fn rss_kib(pump: &PumpProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pump.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_get_clear_statuses_and_the_pump_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend("file", &dir.path().join("registry")).await;
    let cluster_id = backend.registry.cluster_id().await.unwrap();
    let pump = PumpProcess::start(&PumpOptions {
        data_dir: &dir.path().join("pump"),
        registry_dir: &dir.path().join("registry"),
        pd_urls: "",
        extra: &["-max-message-size", "65536"],
        storage: None,
    });
    let written = write_pairs(&pump, &backend, cluster_id, 2, 20).await;
    let mut client = pump.client().await;

    // Random bytes and truncated valid binlogs: a decode error or a refusal, never a crash.
    let valid = Binlog {
        tp: BinlogType::Prewrite as i32,
        start_ts: 1,
        prewrite_value: Some(vec![9; 300]),
        ..Default::default()
    }
    .encode_to_vec();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..300 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let payload = if round % 2 == 0 {
            let len = (state % 2000) as usize + 1;
            (0..len).map(|i| (state >> (i % 56)) as u8).collect()
        } else {
            valid[..(state as usize % valid.len()).max(1)].to_vec()
        };
        // An empty or all-default payload is a probe, which succeeds; anything else that
        // decodes is a binlog with bad TSs or type, which is refused.
        if let Err(status) = client
            .write_binlog(WriteBinlogReq {
                cluster_id,
                payload,
            })
            .await
        {
            assert_eq!(status.code(), tonic::Code::Unknown, "{status:?}");
            assert!(!status.message().is_empty());
        }
    }

    // Above -max-message-size: refused by the transport with grpc-go's status and words.
    let status = client
        .write_binlog(WriteBinlogReq {
            cluster_id,
            payload: vec![0; 100_000],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("grpc: received message larger than max ("),
        "{status:?}"
    );

    // A thousand pull streams at once (ten connections of a hundred: HTTP/2 caps the streams
    // of one connection), the first of each connection read a little, all dropped mid-stream.
    let before = rss_kib(&pump);
    let mut channels = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..10 {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", pump.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        for _ in 0..100 {
            let mut client = binlog_node::proto::pump_client::PumpClient::new(channel.clone());
            let request = PullBinlogReq {
                cluster_id,
                start_from: None,
            };
            let stream =
                tokio::time::timeout(Duration::from_secs(20), client.pull_binlogs(request))
                    .await
                    .expect("opening a pull stream stalled")
                    .unwrap()
                    .into_inner();
            streams.push(stream);
        }
        channels.push(channel);
    }
    for stream in streams.iter_mut().step_by(100) {
        let first = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("a pull stalled")
            .expect("stream ended")
            .unwrap();
        assert!(first.entity.is_some());
    }
    let during = rss_kib(&pump);
    drop(streams);
    drop(channels);
    assert!(
        during < before + 256 * 1024,
        "1000 pull streams took {} MiB",
        (during - before) / 1024
    );

    // Raw garbage on the port, then an HTTP/2 preface cut off.
    for garbage in [
        &b"\x00\x01\x02 not http at all\r\n\r\n"[..],
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"[..],
    ] {
        let mut stream = std::net::TcpStream::connect(&pump.addr).unwrap();
        let _ = stream.write_all(garbage);
    }

    // Still serving: everything written is pulled back in order, and a new write works.
    let mut client = pump.client().await;
    let mut stream = pull(&mut client, cluster_id, None).await;
    let last = written.values().map(|(commit, _)| *commit).max().unwrap();
    let mut seen = 0;
    while let Some(response) = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("pull stalled")
    {
        let binlog = Binlog::decode(&response.unwrap().entity.unwrap().payload[..]).unwrap();
        // Random payloads that happen to decode as binlogs may be stored too: count ours.
        seen += usize::from(written.contains_key(&binlog.start_ts));
        if binlog.commit_ts >= last {
            break;
        }
    }
    assert_eq!(seen, written.len());
    assert!(pump.http("GET", "/status").1.contains("\"online\""));
}
