//! The file TSO: the embedded default, one file `<dir>/tso` shared by every process on the host.
//!
//! Each TS is taken under `flock(LOCK_EX)`: read the last TS issued, issue
//! `max(now, last + 1)`, write it back. Syncing every TS would cost a disk flush per binlog, so
//! the file also keeps a high-water mark that is synced before any TS passes it and is then set
//! 3 s of TSO ahead: at most one sync every 3 s under load. After a machine crash the unsynced
//! `last` may be lost, but every TS issued was at most the synced high-water mark. A crash is
//! recognised by the kernel's boot ID stored with the state: when it differs, issuing continues
//! above the high-water mark.
//!
//! A process only relies on a high-water mark it synced itself: its first TS syncs (the mark in
//! the file may have been written by a process that died before syncing it), and after a failed
//! sync it issues no TS until a sync succeeds. A failed sync also puts the previous state back,
//! so other processes do not rely on the unsynced mark either.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::sync::atomic::AtomicU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::tso::{add_duration, now_ts, Tso};
use crate::{Error, Result};

/// The TSO file's name in the directory.
const TSO_FILE: &str = "tso";
/// Where Linux publishes the ID of the current boot.
const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";
/// How far ahead of the TS that forced a sync the high-water mark is set.
const HIGH_WATER_AHEAD: Duration = Duration::from_secs(3);
/// Identifies a TSO file.
const MAGIC: [u8; 4] = *b"BLTS";
/// The layout version of [`State::encode`].
const VERSION: u32 = 1;
/// The encoded size of [`State`].
const STATE_LEN: usize = 44;

/// The TSO file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    /// The last TS issued.
    last: u64,
    /// No TS above this was issued before the file was synced with a larger one.
    high_water: u64,
    /// The boot during which `last` was written.
    boot_id: [u8; 16],
}

impl State {
    // Format: { "BLTS" | version u32 | last u64 | high_water u64 | boot_id [u8; 16] | crc32 u32 }
    // 44 bytes, integers little-endian; the CRC-32 (IEEE) covers every byte before it.
    fn encode(&self) -> [u8; STATE_LEN] {
        let mut buf = [0u8; STATE_LEN];
        buf[0..4].copy_from_slice(&MAGIC);
        buf[4..8].copy_from_slice(&VERSION.to_le_bytes());
        buf[8..16].copy_from_slice(&self.last.to_le_bytes());
        buf[16..24].copy_from_slice(&self.high_water.to_le_bytes());
        buf[24..40].copy_from_slice(&self.boot_id);
        let crc = crc32(&buf[..40]);
        buf[40..44].copy_from_slice(&crc.to_le_bytes());
        buf
    }

    /// The state in `buf`, or what is wrong with it.
    fn decode(buf: &[u8]) -> std::result::Result<State, String> {
        let buf: &[u8; STATE_LEN] = buf
            .try_into()
            .map_err(|_| format!("{} bytes long, not {STATE_LEN}", buf.len()))?;
        let u32_at = |at: usize| {
            let mut bytes = [0u8; 4];
            bytes.copy_from_slice(&buf[at..at + 4]);
            u32::from_le_bytes(bytes)
        };
        let u64_at = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&buf[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        if buf[0..4] != MAGIC {
            return Err("not a TSO file (bad magic)".into());
        }
        if u32_at(40) != crc32(&buf[..40]) {
            return Err("checksum mismatch".into());
        }
        if u32_at(4) != VERSION {
            return Err(format!("unknown version {}", u32_at(4)));
        }
        let mut boot_id = [0u8; 16];
        boot_id.copy_from_slice(&buf[24..40]);
        let state = State {
            last: u64_at(8),
            high_water: u64_at(16),
            boot_id,
        };
        if state.last > state.high_water {
            return Err("last TS above the high-water mark".into());
        }
        Ok(state)
    }
}

/// CRC-32 (IEEE, reflected), bitwise: the state is 40 bytes, so a table would not pay off.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The TSO in one directory, shared with every other process that opens it.
#[derive(Clone)]
pub struct FileTso {
    inner: Arc<Inner>,
}

/// The state of a [`FileTso`], shared by its clones.
struct Inner {
    /// `<dir>/tso`, for messages.
    path: PathBuf,
    /// The one fd; the mutex serialises this process's callers, because `flock` locks per open
    /// file and so does not exclude two threads sharing it.
    file: Mutex<File>,
    /// The current boot's ID, written with every state.
    boot_id: [u8; 16],
    /// Whether the high-water mark in the file was synced by this process. False at first and
    /// after a failed sync: the next TS then re-writes the state and syncs it before it is
    /// issued, so no TS up to an unsynced mark is handed out. Only used with `file` locked.
    high_water_synced: AtomicBool,
    /// Tests: how many of the next syncs fail.
    #[cfg(test)]
    fail_syncs: AtomicU32,
}

impl FileTso {
    /// Opens (creating if missing) `<dir>/tso`; fails naming the file if it is corrupt.
    pub fn open(dir: &Path) -> Result<FileTso> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("cannot create TSO directory", dir, e))?;
        let path = dir.join(TSO_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            // Its content is the state every TS so far relies on.
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io("cannot open TSO file", &path, e))?;
        // The file may be new: make its name durable before any TS relies on it.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("cannot sync TSO directory", dir, e))?;
        let inner = Inner {
            path,
            file: Mutex::new(file),
            boot_id: current_boot_id()?,
            high_water_synced: AtomicBool::new(false),
            #[cfg(test)]
            fail_syncs: AtomicU32::new(0),
        };
        // Fail at startup, not at the first binlog, if the file is corrupt.
        inner.locked(|_, _| Ok(()))?;
        Ok(FileTso {
            inner: Arc::new(inner),
        })
    }
}

#[async_trait::async_trait]
impl Tso for FileTso {
    async fn get_ts(&self) -> Result<u64> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.next_ts())
            .await
            .map_err(|e| Error::Tso(format!("TSO file task failed: {e}")))?
    }
}

impl Inner {
    /// Runs `f` on the file and its state (`None` for a new, empty file) with the file locked
    /// against every other user.
    fn locked<T>(&self, f: impl FnOnce(&File, Option<State>) -> Result<T>) -> Result<T> {
        // The file holds the whole state, so a panic of another holder leaves nothing to repair.
        let file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _lock = Flock::exclusive(&file, &self.path)?;
        let len = file
            .metadata()
            .map_err(|e| Error::io("cannot stat TSO file", &self.path, e))?
            .len();
        let state = match len {
            0 => None,
            len if len == STATE_LEN as u64 => {
                let mut buf = [0u8; STATE_LEN];
                file.read_exact_at(&mut buf, 0)
                    .map_err(|e| Error::io("cannot read TSO file", &self.path, e))?;
                Some(State::decode(&buf).map_err(|why| self.corrupt(&why))?)
            }
            len => return Err(self.corrupt(&format!("{len} bytes long, not {STATE_LEN}"))),
        };
        f(&file, state)
    }

    /// The error for a TSO file whose content is not a valid state (`why` says how).
    fn corrupt(&self, why: &str) -> Error {
        Error::Tso(format!(
            "{} is corrupt ({why}); not guessing the last TS issued: remove it only when no \
             process uses it and the clock is past every TS it gave",
            self.path.display()
        ))
    }

    /// Issues the next TS.
    fn next_ts(&self) -> Result<u64> {
        self.locked(|file, old| {
            let state = old.unwrap_or(State {
                last: 0,
                high_water: 0,
                boot_id: self.boot_id,
            });
            let last = if state.boot_id == self.boot_id {
                state.last
            } else {
                // The machine rebooted since `last` was written, and TSs issued after the last
                // sync may have been lost with the page cache: they were all at most the
                // high-water mark.
                tracing::info!(
                    path = %self.path.display(),
                    high_water = state.high_water,
                    "TSO file was written before a reboot; continuing above its high-water mark"
                );
                state.high_water
            };
            let ts = last
                .checked_add(1)
                .ok_or_else(|| self.corrupt("the last TS is u64::MAX"))?
                .max(now_ts());
            // Past the mark, or this process has not synced the mark it would rely on.
            let sync = ts > state.high_water || !self.high_water_synced.load(Ordering::Relaxed);
            let next = State {
                last: ts,
                high_water: if sync {
                    // Never lower: other processes may have issued TSs up to the current mark.
                    add_duration(ts, HIGH_WATER_AHEAD).max(state.high_water)
                } else {
                    state.high_water
                },
                boot_id: self.boot_id,
            };
            file.write_all_at(&next.encode(), 0)
                .map_err(|e| Error::io("cannot write TSO file", &self.path, e))?;
            if sync {
                if let Err(e) = self.sync(file) {
                    // `ts` is not issued. Rely on no mark until a sync succeeds, and put the
                    // previous state back so other processes sync before passing it too.
                    self.high_water_synced.store(false, Ordering::Relaxed);
                    self.restore(file, old);
                    return Err(e);
                }
                self.high_water_synced.store(true, Ordering::Relaxed);
            }
            Ok(ts)
        })
    }

    /// Syncs the file's data; the error names the file.
    fn sync(&self, file: &File) -> Result<()> {
        #[cfg(test)]
        if self
            .fail_syncs
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::io(
                "cannot sync TSO file",
                &self.path,
                io::Error::other("injected failure"),
            ));
        }
        file.sync_data()
            .map_err(|e| Error::io("cannot sync TSO file", &self.path, e))
    }

    /// Puts `old` (the state before a failed sync; `None`: the file was empty) back. Best
    /// effort: if this fails too, other processes may rely on the unsynced mark, but this one
    /// does not (`high_water_synced` is false).
    fn restore(&self, file: &File, old: Option<State>) {
        let restored = match old {
            Some(state) => file.write_all_at(&state.encode(), 0),
            None => file.set_len(0),
        };
        if let Err(e) = restored {
            tracing::warn!(
                path = %self.path.display(),
                error = %e,
                "cannot put the TSO file's state back after a failed sync"
            );
        }
    }
}

/// An exclusive `flock` on a file, released on drop.
struct Flock<'a> {
    file: &'a File,
}

impl<'a> Flock<'a> {
    /// Takes the lock, waiting for other holders; the error names `path`.
    fn exclusive(file: &'a File, path: &Path) -> Result<Flock<'a>> {
        loop {
            // `File::lock` is `flock(LOCK_EX)` on Linux, but does not retry a signal's EINTR.
            match file.lock() {
                Ok(()) => return Ok(Flock { file }),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(Error::io("cannot lock TSO file", path, err)),
            }
        }
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        // Unlocking a held lock cannot fail; closing the fd would release it anyway.
        let _ = self.file.unlock();
    }
}

/// The current boot's ID, from the kernel's UUID text.
fn current_boot_id() -> Result<[u8; 16]> {
    let text = std::fs::read_to_string(BOOT_ID_PATH)
        .map_err(|e| Error::io("cannot read the boot id", BOOT_ID_PATH, e))?;
    parse_boot_id(&text).ok_or_else(|| {
        Error::Tso(format!(
            "{BOOT_ID_PATH} does not hold a UUID: {:?}",
            text.trim()
        ))
    })
}

/// The 16 bytes of a UUID's text (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
fn parse_boot_id(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.trim().bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (byte, pair) in id.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_state(dir: &Path) -> State {
        State::decode(&std::fs::read(dir.join(TSO_FILE)).unwrap()).unwrap()
    }

    fn write_state(dir: &Path, state: State) {
        std::fs::write(dir.join(TSO_FILE), state.encode()).unwrap();
    }

    #[test]
    fn crc32_is_ieee() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn state_round_trip_and_corruption() {
        let state = State {
            last: 1,
            high_water: 2,
            boot_id: [7; 16],
        };
        let buf = state.encode();
        assert_eq!(State::decode(&buf), Ok(state));
        for at in 0..STATE_LEN {
            let mut bad = buf;
            bad[at] ^= 0x10;
            assert!(State::decode(&bad).is_err(), "flip at {at}");
        }
        assert!(State::decode(&buf[..STATE_LEN - 1]).is_err());
    }

    #[test]
    fn boot_id_parses() {
        let id = parse_boot_id("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n").unwrap();
        assert_eq!(id[0], 0x0f);
        assert_eq!(id[15], 0xf0);
        assert_eq!(parse_boot_id("0f1e"), None);
        assert_eq!(parse_boot_id("zz1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"), None);
        current_boot_id().unwrap();
    }

    #[tokio::test]
    async fn syncs_only_past_the_high_water_mark() {
        let dir = tempfile::tempdir().unwrap();
        let tso = FileTso::open(dir.path()).unwrap();
        let first = tso.get_ts().await.unwrap();
        let high_water = read_state(dir.path()).high_water;
        assert_eq!(high_water, add_duration(first, HIGH_WATER_AHEAD));
        let mut prev = first;
        for _ in 0..100 {
            let ts = tso.get_ts().await.unwrap();
            assert!(ts > prev);
            prev = ts;
        }
        let state = read_state(dir.path());
        assert_eq!((state.last, state.high_water), (prev, high_water));
    }

    #[tokio::test]
    async fn never_goes_back_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let tso = FileTso::open(dir.path()).unwrap();
        let boot_id = tso.inner.boot_id;
        drop(tso);
        // A last TS an hour ahead of the clock (e.g. the clock was stepped back).
        let last = add_duration(now_ts(), Duration::from_secs(3600));
        write_state(
            dir.path(),
            State {
                last,
                high_water: add_duration(last, HIGH_WATER_AHEAD),
                boot_id,
            },
        );
        let tso = FileTso::open(dir.path()).unwrap();
        assert_eq!(tso.get_ts().await.unwrap(), last + 1);
        drop(tso);
        let tso = FileTso::open(dir.path()).unwrap();
        assert_eq!(tso.get_ts().await.unwrap(), last + 2);
    }

    #[tokio::test]
    async fn reboot_continues_above_the_high_water_mark() {
        let dir = tempfile::tempdir().unwrap();
        let last = add_duration(now_ts(), Duration::from_secs(3600));
        let high_water = add_duration(last, HIGH_WATER_AHEAD);
        write_state(
            dir.path(),
            State {
                last,
                high_water,
                boot_id: [0xAB; 16],
            },
        );
        let tso = FileTso::open(dir.path()).unwrap();
        assert_eq!(tso.get_ts().await.unwrap(), high_water + 1);
        let state = read_state(dir.path());
        assert_eq!(state.boot_id, tso.inner.boot_id);
        assert_eq!(
            state.high_water,
            add_duration(high_water + 1, HIGH_WATER_AHEAD)
        );
        // The new boot ID is recorded: the next TS follows `last` again.
        assert_eq!(tso.get_ts().await.unwrap(), high_water + 2);
    }

    #[tokio::test]
    async fn no_ts_up_to_an_unsynced_high_water_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TSO_FILE).display().to_string();
        let tso = FileTso::open(dir.path()).unwrap();
        let first = tso.get_ts().await.unwrap();
        let boot_id = tso.inner.boot_id;

        // The next TS passes the mark, and its sync fails: no TS, and the state is put back.
        let at_mark = State {
            last: first,
            high_water: first,
            boot_id,
        };
        write_state(dir.path(), at_mark);
        tso.inner.fail_syncs.store(1, Ordering::Relaxed);
        let err = tso.get_ts().await.unwrap_err().to_string();
        assert!(err.contains(&path) && err.contains("sync"), "{err}");
        assert_eq!(read_state(dir.path()), at_mark);

        // As if putting it back had failed too: an unsynced mark an hour ahead. Though the next
        // TS is below it, the mark is synced first, and while that fails no TS is issued.
        let unsynced = State {
            last: first,
            high_water: add_duration(first, Duration::from_secs(3600)),
            boot_id,
        };
        write_state(dir.path(), unsynced);
        tso.inner.fail_syncs.store(2, Ordering::Relaxed);
        for _ in 0..2 {
            let err = tso.get_ts().await.unwrap_err().to_string();
            assert!(err.contains(&path), "{err}");
        }
        let ts = tso.get_ts().await.unwrap();
        assert!(ts > first);
        assert_eq!(read_state(dir.path()).high_water, unsynced.high_water);

        // Synced again: TSs below the mark need no sync.
        tso.inner.fail_syncs.store(1, Ordering::Relaxed);
        assert!(tso.get_ts().await.unwrap() > ts);
        tso.inner.fail_syncs.store(0, Ordering::Relaxed);

        // A new instance syncs before its first TS, whatever the file says.
        let other = FileTso::open(dir.path()).unwrap();
        other.inner.fail_syncs.store(1, Ordering::Relaxed);
        assert!(other.get_ts().await.is_err());
        assert!(other.get_ts().await.is_ok());
    }

    #[tokio::test]
    async fn corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let tso = FileTso::open(dir.path()).unwrap();
        tso.get_ts().await.unwrap();
        let path = dir.path().join(TSO_FILE);
        let mut buf = std::fs::read(&path).unwrap();
        buf[10] ^= 1;
        std::fs::write(&path, &buf).unwrap();
        let err = tso.get_ts().await.unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains("corrupt"),
            "{err}"
        );
        let err = FileTso::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("checksum"), "{err}");
        std::fs::write(&path, b"12345").unwrap();
        let err = FileTso::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("5 bytes long"), "{err}");
        // Nothing was silently reset.
        assert_eq!(std::fs::read(&path).unwrap(), b"12345");
    }
}
