//! `<data-dir>/meta`: the GC point and the sorter checkpoint, replaced atomically.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::data_dir::replace_file;
use crate::error::{Error, IoContext, Result};

const META_MAGIC: u64 = u64::from_le_bytes(*b"BLOGMETA");
const META_VERSION: u32 = 1;

/// What the meta file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The last accepted GC TS: pulls from below it get [`Error::Purged`].
    pub gc_ts: u64,
    /// Recovery replays segments from this id on; `sorter` is the state before it.
    pub replay_from: u64,
    /// [`crate::sorter::Sorter::encode`] output as of the end of segment `replay_from - 1`.
    pub sorter: Vec<u8>,
}

impl Default for Meta {
    /// The meta of a new data dir.
    fn default() -> Meta {
        Meta {
            gc_ts: 0,
            replay_from: 1,
            sorter: crate::sorter::Sorter::default().encode(),
        }
    }
}

/// Path of the meta file in `dir`.
pub fn meta_path(dir: &Path) -> PathBuf {
    dir.join("meta")
}

// Format: { magic u64 "BLOGMETA" | version u32 | reserved u32 | gc_ts u64 | replay_from u64
//           | sorter_len u32 | sorter [sorter_len] | crc32 u32 over everything before it }
/// Writes `meta` to `<dir>/meta` through a synced temporary file, a rename and a directory sync.
pub fn write_meta(dir: &Path, meta: &Meta) -> Result<()> {
    let mut bytes = Vec::with_capacity(40 + meta.sorter.len());
    bytes.extend_from_slice(&META_MAGIC.to_le_bytes());
    bytes.extend_from_slice(&META_VERSION.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&meta.gc_ts.to_le_bytes());
    bytes.extend_from_slice(&meta.replay_from.to_le_bytes());
    bytes.extend_from_slice(&(meta.sorter.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&meta.sorter);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());

    let path = meta_path(dir);
    replace_file(&path, &[&bytes]).context(|| format!("write meta file {}", path.display()))
}

/// Reads `<dir>/meta`; `Ok(None)` when it does not exist.
pub fn read_meta(dir: &Path) -> Result<Option<Meta>> {
    let path = meta_path(dir);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context(|| format!("read meta file {}", path.display())),
    };
    decode(&bytes)
        .map(Some)
        .map_err(|reason| Error::Corruption {
            file: path,
            offset: 0,
            reason,
        })
}

fn decode(bytes: &[u8]) -> std::result::Result<Meta, String> {
    if bytes.len() < 40 {
        return Err(format!("meta file is {} bytes, too short", bytes.len()));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err("meta checksum mismatch".into());
    }
    let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let u32_at = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().expect("4 bytes"));
    if u64_at(0) != META_MAGIC {
        return Err("not a meta file (bad magic)".into());
    }
    if u32_at(8) != META_VERSION {
        return Err(format!("unsupported meta version {}", u32_at(8)));
    }
    let sorter_len = u32_at(32) as usize;
    if body.len() != 36 + sorter_len {
        return Err("meta length does not match its sorter checkpoint".into());
    }
    Ok(Meta {
        gc_ts: u64_at(16),
        replay_from: u64_at(24),
        sorter: body[36..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_meta(dir.path()).unwrap(), None);
        let meta = Meta {
            gc_ts: 77,
            replay_from: 3,
            sorter: vec![1, 2, 3],
        };
        write_meta(dir.path(), &meta).unwrap();
        assert_eq!(read_meta(dir.path()).unwrap(), Some(meta));
        let mut bytes = fs::read(meta_path(dir.path())).unwrap();
        bytes[17] ^= 1;
        fs::write(meta_path(dir.path()), bytes).unwrap();
        let error = read_meta(dir.path()).unwrap_err().to_string();
        assert!(error.contains("meta checksum mismatch"), "{error}");
    }
}
