//! Blocking file I/O (reads, writes, fsyncs) run off the async workers, so a slow disk does not
//! stall the pull streams and the HTTP and gRPC answers that share them.

use binlog_node::Result;

/// Runs `work` on the blocking pool; a panic in it is re-raised here.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}
