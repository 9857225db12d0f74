//! Waiting for a condition with a deadline, and saying what was awaited when it never came.

use std::time::{Duration, Instant};

/// Polls `probe` every 50 ms until it returns `Some`, and returns that; panics naming `what`
/// (and whatever `context` says then, e.g. a node's log) after `timeout`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
