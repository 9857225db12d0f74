//! Zero-filling a spare segment file one chunk at a time, so that the housekeeper can spread
//! the work over the moments the writer is idle, or run it to the end paced when the writer
//! needs the file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::data_dir::sync_dir;
use crate::log_io::PAGE_SIZE;

/// Bytes the zero-fill writes (and waits for) at a time.
pub const ZERO_FILL_CHUNK: usize = 1 << 20;

/// A spare file being zero-filled at `<path>.tmp`, renamed to `path` once whole and synced, so
/// that a crash never leaves a half-prepared spare (the temporary file is removed when the fill
/// is dropped unfinished, and at the next open otherwise).
///
/// The zeros go around the page cache (`O_DIRECT`): copying 512 MiB of zeros into the cache
/// took a quarter of the CPU of a 2-core machine at high append rates, and left pages for the
/// kernel to write back in front of the writer's `fdatasync`s. The writer pads every group to
/// its last page's end, so it never has to read one of these uncached pages back. Where
/// `O_DIRECT` is refused (some filesystems), each chunk is written through the cache and
/// written back (`sync_file_range`) before the next.
pub struct ZeroFill {
    path: PathBuf,
    temporary: PathBuf,
    file: File,
    direct: bool,
    size: u64,
    /// `size` rounded up to whole pages under `O_DIRECT` (cut back to `size` at the end).
    fill_len: u64,
    offset: u64,
    /// Zeros, with a page-aligned window of [`ZERO_FILL_CHUNK`] bytes at `align`.
    buffer: Vec<u8>,
    align: usize,
    finished: bool,
}

impl ZeroFill {
    /// Creates the temporary file of a spare that will hold `size` zeros at `path`.
    pub fn start(path: &Path, size: u64) -> io::Result<ZeroFill> {
        let temporary = path.with_extension("tmp");
        let (file, direct) = match create_truncated(&temporary, libc::O_DIRECT) {
            Ok(file) => (file, true),
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                (create_truncated(&temporary, 0)?, false)
            }
            Err(error) => return Err(error),
        };
        let buffer = vec![0u8; ZERO_FILL_CHUNK + PAGE_SIZE as usize];
        let align = buffer.as_ptr().align_offset(PAGE_SIZE as usize);
        Ok(ZeroFill {
            path: path.to_path_buf(),
            temporary,
            file,
            direct,
            size,
            fill_len: if direct {
                size.next_multiple_of(PAGE_SIZE)
            } else {
                size
            },
            offset: 0,
            buffer,
            align,
            finished: false,
        })
    }

    /// The spare's path once finished.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether every zero has been written (and [`ZeroFill::finish`] is what is left).
    pub fn is_written(&self) -> bool {
        self.offset >= self.fill_len
    }

    /// Writes the next chunk to the device and returns the time it took.
    pub fn step(&mut self) -> io::Result<Duration> {
        use std::os::fd::AsRawFd;
        let started = Instant::now();
        let n = (self.fill_len - self.offset).min(ZERO_FILL_CHUNK as u64) as usize;
        let zeros = &self.buffer[self.align..self.align + n];
        self.file.write_all_at(zeros, self.offset)?;
        if !self.direct {
            let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER;
            // SAFETY: sync_file_range on a valid descriptor we own, within the written range.
            let result = unsafe {
                libc::sync_file_range(self.file.as_raw_fd(), self.offset as i64, n as i64, flags)
            };
            if result != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        self.offset += n as u64;
        Ok(started.elapsed())
    }

    /// Writes what is left, each chunk followed by a pause as long as it took (the device is
    /// then free half the time for the writer, at the price of a fill about twice as long),
    /// and finishes.
    pub fn run_paced(mut self) -> io::Result<PathBuf> {
        while !self.is_written() {
            let took = self.step()?;
            std::thread::sleep(took);
        }
        self.finish()
    }

    /// Cuts the file to its size, syncs it, and renames it to its spare path (durably).
    pub fn finish(mut self) -> io::Result<PathBuf> {
        if self.fill_len != self.size {
            self.file.set_len(self.size)?;
        }
        self.file.sync_all()?;
        std::fs::rename(&self.temporary, &self.path)?;
        self.finished = true;
        sync_dir(self.path.parent().unwrap_or(Path::new(".")))?;
        Ok(self.path.clone())
    }
}

impl Drop for ZeroFill {
    /// An unfinished fill must not keep the space it took (on a full disk above all).
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Creates (or empties) `path` for writing, with extra `open` flags.
pub fn create_truncated(path: &Path, custom_flags: i32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(custom_flags)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abandoned_fill_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spare-1");
        let mut fill = ZeroFill::start(&path, 3 * ZERO_FILL_CHUNK as u64).unwrap();
        fill.step().unwrap();
        assert!(!fill.is_written());
        drop(fill);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
