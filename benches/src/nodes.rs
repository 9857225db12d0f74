//! The real binaries as child processes, for the benchmarks and the soak run that drive whole
//! nodes: finding the release binaries, free ports, a plain HTTP/1.1 `GET`, and waiting for a
//! node to answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};

/// How long a node may take to answer after it is started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A child process, killed (SIGKILL) and reaped on drop.
pub struct Process(pub Child);

impl Process {
    /// Waits for the process to end.
    pub fn wait(&mut self) -> Result<std::process::ExitStatus> {
        Ok(self.0.wait()?)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback address `127.0.0.1:PORT` (bound, then released).
pub fn free_addr() -> Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// `GET path` over HTTP/1.1: the body, or `None` when nothing answers (yet).
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Waits until `GET path` on `addr` answers a body containing `ready`; returns that body.
pub fn wait_http(addr: &str, path: &str, ready: &str) -> Result<String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(body) = http_get(addr, path).filter(|b| b.contains(ready)) {
            return Ok(body);
        }
        ensure!(
            Instant::now() < deadline,
            "{addr}{path} did not answer {ready:?} within {READY_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The release binary `name` next to the running one.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    ensure!(
        path.exists(),
        "{} is missing: cargo build --release -p binlog-server -p binlog-tools",
        path.display()
    );
    Ok(path)
}
