//! The writer's I/O: a small trait with two backends (io_uring and `pwrite`), the choice between
//! them at open, and the loop that turns possibly-short writes into a durable write of a buffer.

use std::fs::File;
use std::io;
use std::time::Duration;

/// The page the engine aligns I/O to: the page cache's unit, and a multiple of every logical
/// block size `O_DIRECT` may require.
pub const PAGE_SIZE: u64 = 4096;

/// How much of a buffer one [`LogIo::write_at`] call wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Bytes written from the start of the buffer.
    pub bytes: usize,
    /// Whether the data (all of the buffer) was also made durable.
    pub synced: bool,
    /// Time spent in `fdatasync` alone, when the backend can tell it apart from the write
    /// (io_uring cannot: write and sync complete as one linked submission).
    pub sync_time: Option<Duration>,
}

/// A failed I/O call. A failed sync is fatal for the writer; a failed write is not.
#[derive(Debug)]
pub enum IoFailure {
    /// The write itself failed (e.g. `ENOSPC`); nothing of the buffer is durable.
    Write(io::Error),
    /// `fdatasync` failed: what the kernel held may be lost, so the writer must stop.
    Sync(io::Error),
}

impl IoFailure {
    /// The underlying OS error.
    pub fn into_io_error(self) -> io::Error {
        match self {
            IoFailure::Write(error) | IoFailure::Sync(error) => error,
        }
    }
}

/// Positional writes and data syncs on a segment file, as the writer thread issues them.
pub trait LogIo: Send {
    /// The backend's name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Writes a prefix of `buf` (possibly all of it) at `offset`. If all of `buf` was written
    /// and `sync` is set, also makes it durable (`fdatasync`) before returning.
    fn write_at(
        &mut self,
        file: &File,
        offset: u64,
        buf: &[u8],
        sync: bool,
    ) -> Result<Written, IoFailure>;

    /// Makes everything written to `file` durable (`fdatasync`).
    fn sync(&mut self, file: &File) -> io::Result<()>;
}

/// Writes all of `buf` at `offset`, repeating after short writes, and syncs it if `sync`.
/// Returns the time spent in `fdatasync` alone when the backend could measure it.
pub fn write_all_at(
    io: &mut dyn LogIo,
    file: &File,
    offset: u64,
    buf: &[u8],
    sync: bool,
) -> Result<Option<Duration>, IoFailure> {
    let mut done = 0;
    while done < buf.len() {
        let written = io.write_at(file, offset + done as u64, &buf[done..], sync)?;
        if written.bytes == 0 {
            return Err(IoFailure::Write(io::Error::new(
                io::ErrorKind::WriteZero,
                "write returned 0 bytes",
            )));
        }
        done += written.bytes;
        if done == buf.len() && (written.synced || !sync) {
            return Ok(written.sync_time);
        }
    }
    if !sync {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    io.sync(file).map_err(IoFailure::Sync)?;
    Ok(Some(started.elapsed()))
}
