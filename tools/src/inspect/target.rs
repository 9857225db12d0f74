//! What a command works on: a pump data dir (`<dir>/log/*.seg`) or one `.seg` file, with the
//! data dir lock taken (or, with `--read-only`, read around a running pump).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use binlog_engine::data_dir::DirLock;
use binlog_engine::inspect::{inspect_segment, load_segment, SegmentItem, SegmentReport};
use binlog_engine::recovery::scan_log_dir;
use binlog_engine::segment::{parse_segment_file_name, segment_path};
use indicatif::{ProgressBar, ProgressStyle};

/// How a command may touch the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only: a held lock is refused unless `read_only` (`--read-only`) is set.
    Read {
        /// Read even while a pump holds the lock.
        read_only: bool,
    },
    /// `repair`, dry run or not: the lock is always required.
    Repair,
}

/// The segments a command works on, with the lock that keeps a pump away.
pub struct Target {
    /// The directory holding the segments and their `.idx` files.
    pub log_dir: PathBuf,
    /// The data dir, when the segments are in one.
    pub data_dir: Option<PathBuf>,
    /// The segments to work on, ascending.
    pub ids: Vec<u64>,
    /// `.idx` files in the log dir whose segment is gone (only when working on a data dir).
    pub orphan_indexes: Vec<PathBuf>,
    /// The newest segment of the log dir: the only one that may be active.
    last_id: Option<u64>,
    /// The one segment asked for, when given a `.seg` file rather than a data dir.
    single: Option<u64>,
    /// Copy segments into memory rather than map them: a pump may be changing them.
    copy: bool,
    /// Held for the life of the command.
    _lock: Option<DirLock>,
}

impl Target {
    /// Opens `path`, a data dir or a `.seg` file, taking the data dir lock as `access` needs.
    pub fn open(path: &Path, access: Access) -> anyhow::Result<Target> {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let (log_dir, data_dir, single) = if meta.is_dir() {
            let log_dir = path.join("log");
            if !log_dir.is_dir() {
                bail!(
                    "{} is not a pump data dir (it has no log/ directory); give a data dir or a .seg file",
                    path.display()
                );
            }
            (log_dir, Some(path.to_path_buf()), None)
        } else {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(id) = name.as_deref().and_then(parse_segment_file_name) else {
                bail!(
                    "{} is not a segment file (expected a name of 20 digits and .seg)",
                    path.display()
                );
            };
            let log_dir = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            };
            // A segment inside a data dir is guarded by that dir's lock; elsewhere there is none.
            let data_dir = log_dir
                .parent()
                .filter(|_| log_dir.file_name().is_some_and(|n| n == "log"))
                .filter(|dir| dir.join(".lock").exists())
                .map(Path::to_path_buf);
            (log_dir, data_dir, Some(id))
        };
        let lock = match &data_dir {
            Some(dir) => take_lock(dir, access)?,
            None => None,
        };
        let copy = lock.is_none() && data_dir.is_some();
        let mut target = Target {
            log_dir,
            data_dir,
            ids: Vec::new(),
            orphan_indexes: Vec::new(),
            last_id: None,
            single,
            copy,
            _lock: lock,
        };
        target.rescan()?;
        Ok(target)
    }

    /// Lists the segments and orphan indexes of the log dir (again, after a repair changed it).
    pub fn rescan(&mut self) -> anyhow::Result<()> {
        let listing = scan_log_dir(&self.log_dir)
            .with_context(|| format!("cannot list segments in {}", self.log_dir.display()))?;
        self.last_id = listing.ids.last().copied();
        (self.ids, self.orphan_indexes) = match self.single {
            Some(id) => (vec![id], Vec::new()),
            None => (listing.ids, listing.orphan_indexes),
        };
        Ok(())
    }

    /// Whether `id` is the newest segment of its log dir (the only one that may be active).
    pub fn is_newest(&self, id: u64) -> bool {
        Some(id) == self.last_id
    }

    /// Total bytes of the segment files, for progress bars.
    pub fn total_bytes(&self) -> u64 {
        self.ids
            .iter()
            .filter_map(|&id| std::fs::metadata(segment_path(&self.log_dir, id)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Inspects segment `id`, calling `visit` for each record and damaged stretch in order.
    pub fn inspect(
        &self,
        id: u64,
        visit: impl for<'a> FnMut(&SegmentItem<'a>),
    ) -> anyhow::Result<SegmentReport> {
        let path = segment_path(&self.log_dir, id);
        let data = load_segment(&path, self.copy)
            .with_context(|| format!("cannot read {}", path.display()))?;
        inspect_segment(&self.log_dir, id, self.is_newest(id), &data, visit)
            .with_context(|| format!("cannot inspect {}", path.display()))
    }

    /// Inspects every segment, advancing `progress` by each file's size.
    pub fn inspect_all(
        &self,
        progress: &ProgressBar,
        mut visit: impl for<'a> FnMut(u64, &SegmentItem<'a>),
    ) -> anyhow::Result<Vec<SegmentReport>> {
        let mut reports = Vec::with_capacity(self.ids.len());
        for &id in &self.ids {
            progress.set_message(format!("segment {id}"));
            let report = self.inspect(id, |item| visit(id, item))?;
            progress.inc(report.file_len);
            reports.push(report);
        }
        progress.finish_and_clear();
        Ok(reports)
    }
}

/// Takes the lock of `dir`, or decides to read without it.
fn take_lock(dir: &Path, access: Access) -> anyhow::Result<Option<DirLock>> {
    let error = match DirLock::acquire(dir) {
        Ok(lock) => return Ok(Some(lock)),
        Err(_) if access == (Access::Read { read_only: true }) => return Ok(None),
        Err(error) => error,
    };
    // What to do about a held lock, and about a lock that cannot be taken at all.
    let (when_held, when_failed) = match access {
        Access::Read { .. } => (
            "use --read-only to read it anyway (the active segment may be mid-write)",
            "use --read-only to read without it",
        ),
        Access::Repair => ("stop it before repairing", "repairs need it"),
    };
    match error {
        binlog_engine::Error::Locked { holder, .. } => bail!(
            "data dir {} is locked by a running pump{holder}; {when_held}",
            dir.display()
        ),
        error => Err(error).with_context(|| {
            format!(
                "cannot take the lock of data dir {} ({when_failed})",
                dir.display()
            )
        }),
    }
}

/// A progress bar over `total` bytes with throughput, drawn on stderr when it is a terminal and
/// `shown`.
pub fn byte_progress(total: u64, shown: bool) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}
