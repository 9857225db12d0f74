//! A real etcd server for tests: `/usr/bin/etcd` (Debian `etcd-server`) on free loopback ports
//! with a temporary data directory, killed when dropped; in plain text, or serving its clients
//! over TLS and requiring a client certificate from the test CA.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::certs::Issued;
use crate::ports::free_port;
use crate::server::{start_with_retries, wait_ready};

/// How long etcd may take to answer its health check.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running etcd; killed (and its data deleted) on drop.
pub struct EtcdServer {
    child: Child,
    url: String,
    data: tempfile::TempDir,
}

impl EtcdServer {
    /// Starts etcd and waits until it reports healthy. Panics (never skips) when etcd is not
    /// installed or does not come up.
    pub fn start() -> EtcdServer {
        start_with_retries("etcd", || Self::try_start(None))
    }

    /// [`EtcdServer::start`] serving clients over TLS with `server`'s certificate, and
    /// accepting only clients with a certificate `ca` signed (`--client-cert-auth`).
    pub fn start_tls(ca: &Path, server: &Issued) -> EtcdServer {
        start_with_retries("etcd", || Self::try_start(Some((ca, server))))
    }

    /// The client URL, `http://127.0.0.1:<port>` (`https://` with TLS).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn try_start(tls: Option<(&Path, &Issued)>) -> Result<EtcdServer, String> {
        let data = tempfile::tempdir().expect("tempdir");
        let (client_port, peer_port, health_port) = (free_port(), free_port(), free_port());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(data.path().join("etcd.log")).expect("etcd log file");
        let mut command = Command::new("etcd");
        if let Some((ca, server)) = tls {
            command
                .arg(format!("--trusted-ca-file={}", ca.display()))
                .arg(format!("--cert-file={}", server.cert.display()))
                .arg(format!("--key-file={}", server.key.display()))
                .arg("--client-cert-auth");
        }
        let child = command
            .arg("--name=test")
            .arg(format!("--data-dir={}", data.path().join("data").display()))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            // `/health` in plain text whatever the client port speaks.
            .arg(format!(
                "--listen-metrics-urls=http://127.0.0.1:{health_port}"
            ))
            .arg("--logger=zap")
            .arg("--log-level=error")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("etcd log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run etcd ({e}); the etcd tests need it: install etcd-server \
                     (apt-get install etcd-server)"
                )
            });
        let mut server = EtcdServer { child, url, data };
        match wait_ready(&mut server.child, START_TIMEOUT, || healthy(health_port)) {
            Ok(()) => Ok(server),
            Err(failure) => Err(format!("{failure}: {}", server.log())),
        }
    }

    fn log(&self) -> String {
        let path: &Path = self.data.path();
        std::fs::read_to_string(path.join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether etcd's `/health` says it is healthy (a leader is elected).
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let mut reply = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut reply).is_ok()
        && reply.contains("\"health\":\"true\"")
}
