//! The real binaries as child processes, for the benchmarks and the soak run that drive whole
//! nodes: the release binaries, free ports and HTTP from the test kit, and waiting for a node to
//! answer.

use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use binlog_testkit::http::http_request;

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

/// `GET path` over HTTP/1.1: the body, or `None` when nothing answers (yet).
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    http_request(addr, "GET", path).ok().map(|(_, body)| body)
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
