//! Binlogs an operator chose to skip (`drainer -skip-commit-ts TS -skip-reason WHY`), kept in
//! `<data-dir>/skip-commit-ts` so that the choice, who made it and why outlive restarts until the
//! drainer has passed that commit TS.
//!
//! This is the way past a binlog the downstream rejects (a DDL MySQL refuses) without editing
//! `ignore-txn-commit-ts` blind: the record says who skipped what and why, the drainer logs it
//! when it starts and again when it passes the binlog, and
//! `binlog_drainer_skipped_binlogs_total{reason="skip-commit-ts"}` counts it.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use binlog_node::{Error, Result};

/// The file's name in the data dir.
pub const SKIP_FILE: &str = "skip-commit-ts";

/// One recorded skip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RecordedSkip {
    /// The commit TS of the binlog not to write.
    pub commit_ts: u64,
    /// Why, as the operator gave it.
    pub reason: String,
    /// Who: `$USER@<hostname>` (`$LOGNAME` without `$USER`) of the process that recorded it.
    pub by: String,
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
}

impl RecordedSkip {
    /// A skip of `commit_ts` for `reason`, recorded now by this process's user and host.
    pub fn now(commit_ts: u64, reason: String) -> RecordedSkip {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        RecordedSkip {
            commit_ts,
            reason,
            by: format!("{user}@{}", binlog_node::config::address::hostname()),
            at: jiff::Timestamp::now().to_string(),
        }
    }
}

/// A binlog skipped on purpose, and on whose word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlannedSkip {
    /// Listed in `[syncer] ignore-txn-commit-ts`.
    Configured,
    /// Recorded by an operator with `-skip-commit-ts`.
    Recorded(RecordedSkip),
}

impl PlannedSkip {
    /// The `reason` label of `binlog_drainer_skipped_binlogs_total`.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            PlannedSkip::Configured => "ignore-txn-commit-ts",
            PlannedSkip::Recorded(_) => "skip-commit-ts",
        }
    }
}

/// Every skip by commit TS: `ignore-txn-commit-ts` and the recorded ones (a recorded skip wins,
/// for its who and why).
pub fn planned(ignored: &[i64], recorded: Vec<RecordedSkip>) -> HashMap<u64, PlannedSkip> {
    let configured = ignored
        .iter()
        .map(|&ts| (ts as u64, PlannedSkip::Configured));
    let recorded = recorded
        .into_iter()
        .map(|skip| (skip.commit_ts, PlannedSkip::Recorded(skip)));
    configured.chain(recorded).collect()
}

fn skip_file(data_dir: &Path) -> PathBuf {
    data_dir.join(SKIP_FILE)
}

/// The skips recorded in `data_dir`, oldest first; none when the file does not exist.
// Format: one JSON object per line: {"commit-ts":N,"reason":"..","by":"user@host","at":"RFC 3339"}
pub fn load(data_dir: &Path) -> Result<Vec<RecordedSkip>> {
    let path = skip_file(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Error::io("cannot read the recorded skips", &path, error)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|error| {
                Error::InvalidConfig(format!(
                    "{} line {}: not a recorded skip ({error}); fix or remove the line",
                    path.display(),
                    index + 1
                ))
            })
        })
        .collect()
}

/// Appends `skip` to the skips of `data_dir`, durably.
pub fn append(data_dir: &Path, skip: &RecordedSkip) -> Result<()> {
    let path = skip_file(data_dir);
    let mut line = serde_json::to_string(skip).expect("a recorded skip serializes");
    line.push('\n');
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(line.as_bytes())?;
        file.sync_all()
    };
    write().map_err(|error| Error::io("cannot record the skip", &path, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_are_appended_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        let first = RecordedSkip::now(7, "DDL rejected by MySQL 8".into());
        let second = RecordedSkip::now(9, "duplicate".into());
        append(dir.path(), &first).unwrap();
        append(dir.path(), &second).unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec![first, second]);
    }

    #[test]
    fn a_damaged_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SKIP_FILE), "{\"commit-ts\":1}\n").unwrap();
        let error = load(dir.path()).unwrap_err().to_string();
        assert!(error.contains("skip-commit-ts line 1"), "{error}");
    }
}
