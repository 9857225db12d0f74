//! The data directory itself: its exclusive lock, its free space, and the durable file
//! replacement every crate's small state files go through ([`replace_file`]).

use std::ffi::CString;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// An exclusive `flock` on `<data-dir>/.lock`, held until dropped.
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock without waiting; fails with [`Error::Locked`] if another process has it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(".lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .context(|| format!("open lock file {}", path.display()))?;
        // `File::try_lock` is `flock(LOCK_EX | LOCK_NB)` on Linux: the lock earlier builds took,
        // so a new and an old binary still exclude each other.
        if let Err(error) = file.try_lock() {
            if let TryLockError::Error(error) = error {
                return Err(error).context(|| format!("lock {}", path.display()));
            }
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::Locked {
                dir: dir.to_path_buf(),
                holder: if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                },
            });
        }
        let record_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "{}", std::process::id())
        };
        record_pid(&mut file).context(|| format!("write pid to {}", path.display()))?;
        Ok(DirLock { _file: file })
    }
}

/// Space on the filesystem holding a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// Bytes available to unprivileged writers (`f_bavail * f_frsize`, as the original pump).
    pub available: u64,
    /// Size of the filesystem (`f_blocks * f_frsize`).
    pub capacity: u64,
}

/// The space of the filesystem holding `dir` (`statvfs`).
pub fn space(dir: &Path) -> Result<Space> {
    let c_path = CString::new(dir.as_os_str().as_bytes()).map_err(|_| Error::Io {
        context: format!("statvfs {}", dir.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context(|| format!("statvfs {}", dir.display()));
    }
    let block = if stat.f_frsize > 0 {
        stat.f_frsize
    } else {
        stat.f_bsize
    } as u64;
    Ok(Space {
        available: (stat.f_bavail as u64).saturating_mul(block),
        capacity: (stat.f_blocks as u64).saturating_mul(block),
    })
}

/// Syncs a directory so that renames and new files in it are durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` atomically with the concatenation of `parts`, through `<path>.tmp` (see
/// [`replace_file_with`]). Parts are written one after the other, so a header and a large body
/// need not be copied into one buffer first.
pub fn replace_file(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    replace_file_with(path, Path::new(&temporary), |temporary| {
        let mut file = File::create(temporary)?;
        for part in parts {
            file.write_all(part)?;
        }
        Ok(file)
    })
}

/// Replaces `path` atomically with the file `fill` creates at `temporary` (in the same
/// directory): the file is synced, renamed over `path`, and the directory synced, so a crash
/// leaves either the old file or the whole new one, never a partial one. A temporary file left
/// by a failure is removed: on a full disk it must not keep the space it took.
pub fn replace_file_with(
    path: &Path,
    temporary: &Path,
    fill: impl FnOnce(&Path) -> std::io::Result<File>,
) -> std::io::Result<()> {
    let replaced = fill(temporary)
        .and_then(|file| file.sync_all())
        .and_then(|()| std::fs::rename(temporary, path));
    if replaced.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    replaced?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_with_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let error = DirLock::acquire(dir.path()).err().unwrap().to_string();
        assert!(error.contains("is locked by another process"), "{error}");
        assert!(
            error.contains(&format!("pid {}", std::process::id())),
            "{error}"
        );
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn replace_file_leaves_only_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        replace_file(&path, &[b"old"]).unwrap();
        replace_file(&path, &[b"ne", b"w"]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let error = replace_file(&dir.path().join("missing/state"), &[b"x"]).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn free_space_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let space = space(dir.path()).unwrap();
        assert!(space.available > 0 && space.capacity >= space.available);
    }
}
