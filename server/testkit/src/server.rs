//! Starting a third-party server (etcd, MariaDB, Kafka) for a test: each attempt probes fresh
//! ports and waits until the server is ready, and a failed attempt is retried a few times,
//! since another process may take a probed port between probing and binding.

use std::process::Child;
use std::time::{Duration, Instant};

/// Attempts with fresh ports.
const START_ATTEMPTS: usize = 3;
/// Pause between two readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);

/// Runs `attempt` until it succeeds, at most [`START_ATTEMPTS`] times; panics (never skips)
/// with the last failure, naming `what`.
pub(crate) fn start_with_retries<T>(
    what: &str,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> T {
    let mut last_failure = String::new();
    for _ in 0..START_ATTEMPTS {
        match attempt() {
            Ok(server) => return server,
            Err(failure) => last_failure = failure,
        }
    }
    panic!("{what} did not start: {last_failure}");
}

/// Waits until `ready` says the server `child` answers; fails when the child exits first or
/// `timeout` passes, saying which (the caller adds the server's log).
pub(crate) fn wait_ready(
    child: &mut Child,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status}"));
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not ready after {timeout:?}"));
        }
        std::thread::sleep(PROBE_INTERVAL);
    }
}
