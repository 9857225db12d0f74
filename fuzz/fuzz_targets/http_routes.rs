//! A request line (method and target) against the pump's and the drainer's whole HTTP/gRPC
//! apps, as they serve them on one port: path parameters (`/state/{nodeID}/{action}`,
//! `/debug/binlog/{ts}`), queries, percent-escapes, unknown routes, wrong methods, gRPC paths
//! without a gRPC body. Every request must get an answer below 500 in time; a panic is a bug.
//!
//! Input: `selector | target`; the selector's bit 0 picks the pump (0) or the drainer (1), bits
//! 1-3 the method, bit 4 adds `content-type: application/grpc`.

#![no_main]

#[path = "support.rs"]
mod support;

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Uri};
use axum::Router;
use binlog_drainer::collector::Collector;
use binlog_drainer::merge::SourceCommand;
use binlog_drainer::service::CisternGrpc;
use binlog_drainer::{Drainer, DrainerSettings};
use binlog_node::proto::{Binlog, BinlogType};
use binlog_pump::service::PumpGrpc;
use binlog_node::serve::one_port_app;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use support::{test_pump, TestPump};
use tower::ServiceExt;

/// How long one request may take before it counts as a hang.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

const METHODS: [Method; 8] = [
    Method::GET,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::TRACE,
];

/// The apps, built once per fuzzing process over a real pump and a drainer on its registry.
struct Apps {
    test: TestPump,
    pump: Router,
    drainer: Router,
    /// The drainer's source commands (nobody merges here; kept so that sends succeed).
    _commands: tokio::sync::mpsc::UnboundedReceiver<Vec<SourceCommand>>,
}

fn apps() -> &'static Apps {
    static APPS: OnceLock<Apps> = OnceLock::new();
    APPS.get_or_init(|| {
        let test = test_pump(true);
        let pump = test.pump.clone();
        test.runtime.block_on(async {
            // Something for /debug/binlog/{ts} to find: TSs 100 (prewrite) and 101 (commit).
            for (tp, commit_ts) in [(BinlogType::Prewrite, 0), (BinlogType::Commit, 101)] {
                let binlog = Binlog {
                    tp: tp as i32,
                    start_ts: 100,
                    commit_ts,
                    prewrite_key: Some(b"t\x80_r\x01".to_vec()),
                    prewrite_value: Some(b"value".to_vec()),
                    ..Binlog::default()
                };
                pump.write_binlog(&binlog.encode_to_vec()).await.unwrap();
            }
        });
        let (commands, receiver) = tokio::sync::mpsc::unbounded_channel();
        let drainer = Drainer::new(
            test.registry.clone(),
            test.tso.clone(),
            1,
            DrainerSettings {
                node_id: "drainer-1".into(),
                advertise_host: "127.0.0.1:8249".into(),
                detect_interval: Duration::from_secs(5),
                gzip: false,
                stream_buffer: 8,
            },
            0,
        );
        let collector = Collector::new(drainer.clone(), commands);
        let pump_app = one_port_app(
            tonic::service::Routes::new(PumpGrpc::server(pump.clone(), 1 << 20)),
            binlog_pump::http::router(pump),
        );
        let drainer_app = one_port_app(
            tonic::service::Routes::new(CisternGrpc::server(drainer.clone(), collector)),
            binlog_drainer::http::router(drainer),
        );
        Apps {
            test,
            pump: pump_app,
            drainer: drainer_app,
            _commands: receiver,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, target)) = data.split_first() else {
        return;
    };
    let Ok(uri) = Uri::try_from(target) else {
        return; // hyper rejects it before any route sees it
    };
    let apps = apps();
    let app = if selector & 1 == 0 { &apps.pump } else { &apps.drainer };
    let mut request = Request::builder()
        .method(METHODS[usize::from(selector >> 1) & 7].clone())
        .uri(uri);
    if selector & 0x10 != 0 {
        request = request.header("content-type", "application/grpc");
    }
    let request = request.body(Body::empty()).expect("a request");
    let answered = apps.test.runtime.block_on(async {
        tokio::time::timeout(ANSWER_TIMEOUT, async {
            let response = app.clone().oneshot(request).await.expect("infallible");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 16 << 20).await;
            (status, body.map(|b| b.len()))
        })
        .await
    });
    let (status, body) = answered.unwrap_or_else(|_| panic!("no answer within {ANSWER_TIMEOUT:?}"));
    assert!(!status.is_server_error(), "status {status}");
    assert!(body.is_ok(), "the body failed: {body:?}");
});
