//! The drainer's file checkpoint: `<data-dir>/savepoint`, a TOML file as the original's
//! `drainer/checkpoint/file.go` writes it:
//!
//! ```toml
//! consistent = false
//! commitTS = 412361808537191540
//! schema-version = 57
//! ```
//!
//! `binlogctl -cmd generate_meta` writes the same file to pre-seed a drainer. [`read`] is strict
//! about keys (an unknown key is an error naming the file) but lets any of the three be absent,
//! as the original's decoder does: the original `generate_meta` writes `commitTS` alone. A
//! missing file reads as `None`, and so does a `commitTS` of 0 for the drainer ("use
//! `initial-commit-ts`"), which is the caller's decision. Comment lines (`# ...`) are allowed,
//! so [`write_annotated`] can add human-readable notes and keep the file valid TOML.
//!
//! [`write`](fn@write) replaces the file atomically: a temporary file in the same directory, fsync,
//! rename over `savepoint`, fsync of the directory. A crash leaves the old or the new savepoint,
//! never a partial one.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The savepoint's file name in the data directory.
pub const FILE_NAME: &str = "savepoint";

/// A drainer checkpoint, with the original's TOML keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Savepoint {
    /// Whether the downstream is consistent at `commit_ts` (the drainer saved it on a clean
    /// shutdown). Key `consistent`.
    pub consistent: bool,
    /// Every binlog at or below this commit TS has been applied downstream. Key `commitTS`.
    #[serde(rename = "commitTS")]
    pub commit_ts: i64,
    /// The schema version of the last applied binlog. Key `schema-version`.
    #[serde(rename = "schema-version")]
    pub schema_version: i64,
}

/// The savepoint's path in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Reads the savepoint in `data_dir`: `None` when there is no file.
pub fn read(data_dir: &Path) -> Result<Option<Savepoint>> {
    let path = path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::io("cannot read savepoint", path, error)),
    };
    toml::from_str(&text).map(Some).map_err(|error| {
        Error::io(
            "cannot parse savepoint",
            path,
            io::Error::new(io::ErrorKind::InvalidData, error.message().to_owned()),
        )
    })
}

/// Writes `savepoint` into `data_dir` atomically, creating the directory if it is missing.
pub fn write(data_dir: &Path, savepoint: &Savepoint) -> Result<()> {
    write_annotated(data_dir, savepoint, &[])
}

/// [`write`](fn@write), followed by each of `notes` as a comment line (`# <note>`), which [`read`]
/// ignores. A note holding a line break is written as several comment lines.
pub fn write_annotated(data_dir: &Path, savepoint: &Savepoint, notes: &[String]) -> Result<()> {
    let mut text = toml::to_string(savepoint).map_err(|error| {
        Error::io(
            "cannot serialise savepoint",
            path(data_dir),
            io::Error::other(error),
        )
    })?;
    for line in notes.iter().flat_map(|note| note.lines()) {
        text.push_str("# ");
        text.push_str(line);
        text.push('\n');
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|error| Error::io("cannot create data directory", data_dir, error))?;
    binlog_engine::data_dir::replace_file(&path(data_dir), &[text.as_bytes()])
        .map_err(|error| Error::io("cannot write savepoint", path(data_dir), error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_the_original_format() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let savepoint = Savepoint {
            consistent: true,
            commit_ts: 412_361_808_537_191_540,
            schema_version: 57,
        };
        write(dir.path(), &savepoint).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(savepoint));
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(
            text,
            "consistent = true\ncommitTS = 412361808537191540\nschema-version = 57\n"
        );
        assert!(!dir.path().join("savepoint.tmp").exists());
    }

    #[test]
    fn creates_the_directory_and_keeps_notes_as_comments() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("a/b");
        let savepoint = Savepoint {
            commit_ts: 7,
            ..Savepoint::default()
        };
        let notes = ["UTC: 1970-01-01".to_owned(), "x\ny".to_owned()];
        write_annotated(&data_dir, &savepoint, &notes).unwrap();
        let text = std::fs::read_to_string(path(&data_dir)).unwrap();
        assert!(text.ends_with("# UTC: 1970-01-01\n# x\n# y\n"), "{text}");
        assert_eq!(read(&data_dir).unwrap(), Some(savepoint));
    }

    #[test]
    fn missing_keys_default_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path(dir.path()), "commitTS = 42\n").unwrap();
        let savepoint = read(dir.path()).unwrap().unwrap();
        assert_eq!(
            savepoint,
            Savepoint {
                consistent: false,
                commit_ts: 42,
                schema_version: 0
            }
        );

        std::fs::write(path(dir.path()), "commitTS = 42\nts-map = 1\n").unwrap();
        let error = read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("ts-map"), "{error}");
        assert!(error.contains("savepoint"), "{error}");

        std::fs::write(path(dir.path()), "commitTS = \"x\"\n").unwrap();
        assert!(read(dir.path()).is_err());
    }
}
