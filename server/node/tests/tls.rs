//! TLS on a node's one port ([`binlog_node::serve::serve_port`]) with certificates from the
//! test kit's CA: good clients served, other CAs, unlisted CNs and plain text refused, the
//! server certificate rotated on disk without a restart, bad files refused naming them.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use binlog_node::config::security::SecurityConfig;
use binlog_node::serve::serve_port;
use binlog_node::tls::{ReloadingServerConfig, Tls};
use binlog_testkit::certs::{Issued, TestCa};

fn security(ca: &TestCa, issued: &Issued, allowed_cn: &[&str]) -> SecurityConfig {
    SecurityConfig {
        ssl_ca: Some(ca.ca.clone()),
        ssl_cert: Some(issued.cert.clone()),
        ssl_key: Some(issued.key.clone()),
        cert_allowed_cn: allowed_cn.iter().map(|cn| cn.to_string()).collect(),
    }
}

/// `GET /status` over TLS as the client `client`; the body, and the server certificate's CNs.
async fn get_status(
    addr: std::net::SocketAddr,
    client: &SecurityConfig,
) -> Result<(String, Vec<String>), String> {
    let tls = Tls::from_config(client)
        .map_err(|e| e.to_string())?
        .expect("TLS");
    let connector =
        tokio_rustls::TlsConnector::from(Arc::new(tls.client_config().map_err(|e| e.to_string())?));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let server_cns = binlog_node::tls::allowed_cn::common_names(
        &stream.get_ref().1.peer_certificates().unwrap()[0],
    );
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    // TLS 1.3 reports a refused client certificate on the first read.
    stream
        .read_to_end(&mut reply)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let reply = String::from_utf8_lossy(&reply).into_owned();
    match reply.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok((body.to_owned(), server_cns)),
        _ => Err(format!("unexpected reply {reply:?}")),
    }
}

#[tokio::test]
async fn good_clients_are_served_others_refused_and_rotation_needs_no_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let other_ca = TestCa::new(dir.path(), "other-ca");
    let server = ca.issue("pump-1", "server");
    let server_config = security(&ca, &server, &["drainer", "binlogctl"]);
    let tls = Tls::for_server(&server_config).unwrap().expect("TLS on");
    let reloading = Arc::new(ReloadingServerConfig::new(tls).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/status", get(|| async { "ok" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(serve_port(listener, Some(reloading), app, async {
        let _ = stopped.await;
    }));

    let drainer = security(&ca, &ca.issue("drainer", "drainer"), &[]);
    let (body, server_cns) = get_status(addr, &drainer).await.unwrap();
    assert_eq!(
        (body.as_str(), server_cns),
        ("ok", vec!["pump-1".to_owned()])
    );

    // Signed by another CA; a CN not in cert-allowed-cn: refused at the handshake.
    let stranger = security(&ca, &other_ca.issue("drainer", "stranger"), &[]);
    let error = get_status(addr, &stranger).await.unwrap_err();
    assert!(!error.contains("unexpected reply"), "refused: {error}");
    let unlisted = security(&ca, &ca.issue("intruder", "intruder"), &[]);
    let error = get_status(addr, &unlisted).await.unwrap_err();
    assert!(!error.contains("unexpected reply"), "refused: {error}");

    // Plain text: no HTTP answer, the connection is closed.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), plain.read_to_end(&mut reply))
        .await
        .expect("the server closes a plain-text connection");
    assert!(
        !String::from_utf8_lossy(&reply).contains("200"),
        "{reply:?}"
    );

    // The good client is still served.
    assert!(get_status(addr, &drainer).await.is_ok());

    // Rotation: a new certificate on disk; new connections get it, no restart.
    std::thread::sleep(Duration::from_millis(20));
    ca.issue("pump-1-rotated", "server");
    let (_, server_cns) = get_status(addr, &drainer).await.unwrap();
    assert_eq!(server_cns, ["pump-1-rotated"]);
    // A broken rotation (a key that is not the certificate's) keeps the previous pair.
    let unrelated = ca.issue("unrelated", "unrelated");
    std::fs::copy(&unrelated.key, &server.key).unwrap();
    let (_, server_cns) = get_status(addr, &drainer).await.unwrap();
    assert_eq!(
        server_cns,
        ["pump-1-rotated"],
        "the previous certificate serves"
    );

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

#[test]
fn bad_files_are_startup_errors_naming_the_file_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let good = ca.issue("pump", "pump");
    let error = |config: SecurityConfig| Tls::for_server(&config).unwrap_err().to_string();

    let mut missing = security(&ca, &good, &[]);
    missing.ssl_cert = Some(dir.path().join("nope.pem"));
    let text = error(missing);
    assert!(text.contains("nope.pem"), "{text}");

    let other = ca.issue("other", "other");
    let mut mismatched = security(&ca, &good, &[]);
    mismatched.ssl_key = Some(other.key.clone());
    let text = error(mismatched);
    assert!(
        text.contains("other-key.pem") && text.contains("does not go with the certificate"),
        "{text}"
    );

    let expired = ca.issue_expired("old", "old");
    let text = error(security(&ca, &expired, &[]));
    assert!(
        text.contains("old.pem") && text.contains("expired"),
        "{text}"
    );

    let mut no_key = security(&ca, &good, &[]);
    no_key.ssl_key = None;
    let text = error(no_key);
    assert!(text.contains("set ssl-cert and ssl-key"), "{text}");

    std::fs::write(dir.path().join("garbage.pem"), "not a certificate").unwrap();
    let mut garbage = security(&ca, &good, &[]);
    garbage.ssl_ca = Some(dir.path().join("garbage.pem"));
    let text = error(garbage);
    assert!(
        text.contains("garbage.pem") && text.contains("no PEM certificate"),
        "{text}"
    );
}
