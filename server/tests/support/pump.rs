//! Starts the real `pump` binary for a test and talks to it over gRPC and HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use binlog_server::proto::pump_client::PumpClient;
use tonic::transport::Channel;

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A running `pump` or `drainer` process, killed on drop if it is still running.
pub struct NodeProcess {
    child: Option<Child>,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Its log file.
    pub log_file: PathBuf,
}

/// Options of a test pump.
pub struct PumpOptions<'a> {
    /// Data dir.
    pub data_dir: &'a Path,
    /// File registry (and TSO) dir; ignored when `pd_urls` is set.
    pub registry_dir: &'a Path,
    /// etcd URL, or empty for the file registry.
    pub pd_urls: &'a str,
    /// Extra flags.
    pub extra: &'a [&'a str],
    /// The `[storage]` section of its config file; `None` for the tests' default (8 MiB
    /// segments, no free-space floor).
    pub storage: Option<&'a str>,
}

/// A running `pump`.
pub type PumpProcess = NodeProcess;

impl NodeProcess {
    /// Starts a pump and waits until `/status` answers.
    pub fn start(options: &PumpOptions<'_>) -> PumpProcess {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let log_file = options.data_dir.with_extension("log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pump"));
        command
            .arg("-addr")
            .arg(&addr)
            .arg("-data-dir")
            .arg(options.data_dir)
            .arg("-registry-dir")
            .arg(options.registry_dir)
            .args([
                "-heartbeat-interval",
                "1",
                "-fake-binlog-interval",
                "1",
                "-L",
                "debug",
            ])
            .arg("-log-file")
            .arg(&log_file)
            .args(options.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        // Small segments keep test data dirs small; no free-space floor on test machines.
        let config = options.data_dir.with_extension("toml");
        let storage = options.storage.unwrap_or(
            "stop-write-at-available-space = \"1 MiB\"\nsegment-size = \"8 MiB\"\nmax-record-size = \"4 MiB\"\n",
        );
        std::fs::write(&config, format!("[storage]\n{storage}")).expect("write the test config");
        command.arg("-config").arg(&config);
        if !options.pd_urls.is_empty() {
            command.arg("-pd-urls").arg(options.pd_urls);
        }
        NodeProcess::spawn(command, addr, options.data_dir, log_file, "\"online\"")
    }

    /// Spawns `command` (a node listening on `addr`) and waits until its `/status` body
    /// contains `ready`.
    pub fn spawn(
        mut command: Command,
        addr: String,
        data_dir: &Path,
        log_file: PathBuf,
        ready: &str,
    ) -> NodeProcess {
        let child = command.spawn().expect("spawn the node binary");
        let mut node = NodeProcess {
            child: Some(child),
            addr,
            data_dir: data_dir.to_path_buf(),
            log_file,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = node.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("node exited at start with {status}; log:\n{}", node.log());
            }
            if let Ok((200, body)) = node.try_http("GET", "/status") {
                if body.contains(ready) {
                    return node;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node did not start; log:\n{}",
                node.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// A gRPC client.
    pub async fn client(&self) -> PumpClient<Channel> {
        PumpClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connect to the pump")
            .max_decoding_message_size(usize::MAX)
    }

    /// An HTTP/1.1 request; `(status code, body)`.
    pub fn http(&self, method: &str, path: &str) -> (u16, String) {
        self.try_http(method, path)
            .expect("HTTP request to the pump")
    }

    fn try_http(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        http_request(&self.addr, method, path)
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().expect("node already reaped");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.as_ref().expect("running").id() as i32;
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }
}

impl NodeProcess {
    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal HTTP/1.1 client (one request per connection).
pub fn http_request(addr: &str, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header end in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// The header block of a response, for content-type checks.
pub fn http_headers(addr: &str, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase()
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
