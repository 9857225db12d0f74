//! The file registry: the embedded default, one JSON file per node in a directory shared by
//! every process on the host.
//!
//! Layout: `<dir>/pumps/<id>.json`, `<dir>/drainers/<id>.json` (the node ID escaped into one
//! safe file name, see [`encode_node_id`]) and `<dir>/cluster_id` (decimal text). A value is the
//! compact JSON of [`NodeStatus`], byte for byte what the etcd backend stores.
//!
//! Every write goes to a temporary file in the same directory, is synced, then renamed (update)
//! or hard-linked (create) over the final name, and the directory is synced: readers never see
//! a half-written entry, and a crash leaves either the old or the new one. Hard-linking gives
//! create the original's revision check: of two processes creating the same new entry, exactly
//! one succeeds.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::registry::{parse_entry, serialize, NodeKind, NodeStatus, Registry};
use crate::{Error, Result};

/// The file holding the cluster ID, in the registry directory.
const CLUSTER_ID_FILE: &str = "cluster_id";
/// The extension of an entry's file.
const ENTRY_SUFFIX: &str = ".json";
/// The prefix of temporary files; entries never start with a dot (see [`encode_node_id`]).
const TEMP_PREFIX: &str = ".tmp.";
/// Temporary files older than this were left by a process that died while writing.
const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Makes temporary file names unique within the process (the PID makes them unique on the host).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The file registry in one directory.
#[derive(Clone, Debug)]
pub struct FileRegistry {
    /// The registry directory, holding `pumps/`, `drainers/` and `cluster_id`.
    dir: PathBuf,
}

impl FileRegistry {
    /// Opens the registry in `dir`, creating it (mode 0700) and its `pumps`/`drainers`
    /// subdirectories if they are missing.
    pub fn open(dir: &Path) -> Result<FileRegistry> {
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        for path in [
            dir.to_path_buf(),
            dir.join(NodeKind::Pump.prefix()),
            dir.join(NodeKind::Drainer.prefix()),
        ] {
            builder
                .create(&path)
                .map_err(|e| Error::io("cannot create registry directory", &path, e))?;
            // The directory may have existed already, so creating it proves nothing about
            // whether this process may write there: find out now, not at the first heartbeat.
            check_writable(&path)?;
            remove_stale_temps(&path);
        }
        Ok(FileRegistry {
            dir: dir.to_path_buf(),
        })
    }

    /// Creates the entry of `status.node_id`; fails with `key ... already exists` if there is one
    /// (the original's `Create`: a revision check, so of two racing creators exactly one wins).
    pub async fn create_node(&self, kind: NodeKind, status: &NodeStatus) -> Result<()> {
        let path = self.entry_path(kind, &status.node_id)?;
        let value = serialize(status)?;
        blocking(move || create_entry(&path, &value)).await
    }

    /// The path of the entry of `node_id`.
    fn entry_path(&self, kind: NodeKind, node_id: &str) -> Result<PathBuf> {
        if node_id.is_empty() {
            return Err(Error::Registry(format!(
                "cannot store a {} with an empty node id in {}",
                kind.name(),
                self.dir.display()
            )));
        }
        Ok(self
            .dir
            .join(kind.prefix())
            .join(format!("{}{ENTRY_SUFFIX}", encode_node_id(node_id))))
    }
}

#[async_trait::async_trait]
impl Registry for FileRegistry {
    async fn node(&self, kind: NodeKind, node_id: &str) -> Result<Option<NodeStatus>> {
        let path = self.entry_path(kind, node_id)?;
        blocking(move || read_entry(&path)).await
    }

    async fn nodes(&self, kind: NodeKind) -> Result<Vec<NodeStatus>> {
        let dir = self.dir.join(kind.prefix());
        blocking(move || read_entries(&dir)).await
    }

    async fn update_node(&self, kind: NodeKind, status: &NodeStatus) -> Result<()> {
        let path = self.entry_path(kind, &status.node_id)?;
        let value = serialize(status)?;
        blocking(move || {
            if exists(&path)? {
                replace_entry(&path, &value)
            } else {
                create_entry(&path, &value)
            }
        })
        .await
    }

    async fn cluster_id(&self) -> Result<u64> {
        let path = self.dir.join(CLUSTER_ID_FILE);
        blocking(move || cluster_id(&path)).await
    }

    fn describe(&self) -> String {
        format!("file registry {}", self.dir.display())
    }
}

/// Escapes a node ID into one file name: ASCII letters, digits and `-_.:@` stay, every other
/// byte (`/`, `%`, spaces, non-ASCII) becomes `%XX`, and so does a leading `.`, so no ID maps to
/// `.`, `..` or a temporary file's name.
pub fn encode_node_id(node_id: &str) -> String {
    let mut name = String::with_capacity(node_id.len());
    for (i, byte) in node_id.bytes().enumerate() {
        let plain =
            byte.is_ascii_alphanumeric() || b"-_:@".contains(&byte) || (byte == b'.' && i > 0);
        if plain {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// The node ID a file name (without `.json`) encodes; `None` if [`encode_node_id`] would not
/// have made it.
pub fn decode_node_id(name: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    let node_id = String::from_utf8(bytes).ok()?;
    // Only the canonical spelling: another one would be an entry `node()` can never find.
    (encode_node_id(&node_id) == name).then_some(node_id)
}

/// A random non-zero `u64` from the kernel.
pub(crate) fn random_nonzero_u64() -> Result<u64> {
    loop {
        let mut buf = [0u8; 8];
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Registry(format!("getrandom failed: {err}")));
        }
        // Short reads cannot happen for 8 bytes, but a partly filled buffer is still random.
        let value = u64::from_ne_bytes(buf);
        if value != 0 {
            return Ok(value);
        }
    }
}

/// Runs registry file work off the async runtime: the syncs may take milliseconds.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Registry(format!("registry file task failed: {e}")))?
}

/// Whether anything (a file, or even a dangling symlink) is at `path`; an error other than
/// "not found" fails naming the path.
fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("cannot stat registry entry", path, e)),
    }
}

/// The entry in the file at `path`, `None` if there is no such file; a file that is not a
/// valid entry fails naming it.
fn read_entry(path: &Path) -> Result<Option<NodeStatus>> {
    match fs::read(path) {
        Ok(value) => parse_entry(path.display(), &value).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read registry entry", path, e)),
    }
}

/// Every entry in one kind's directory, sorted by node ID.
fn read_entries(dir: &Path) -> Result<Vec<NodeStatus>> {
    let listing =
        fs::read_dir(dir).map_err(|e| Error::io("cannot list registry directory", dir, e))?;
    let mut nodes = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| Error::io("cannot list registry directory", dir, e))?;
        let file_name = entry.file_name();
        let path = entry.path();
        let Some(name) = file_name.to_str() else {
            return Err(Error::Registry(format!(
                "registry entry {} does not have a node id as its name",
                path.display()
            )));
        };
        // Temporary files of writers in progress, and anything that is not an entry.
        if name.starts_with('.') {
            continue;
        }
        let Some(stem) = name.strip_suffix(ENTRY_SUFFIX) else {
            continue;
        };
        if decode_node_id(stem).is_none() {
            return Err(Error::Registry(format!(
                "registry entry {} does not have a node id as its name",
                path.display()
            )));
        }
        // A file that vanished since the listing would be a deleted entry; nothing deletes them.
        if let Some(status) = read_entry(&path)? {
            nodes.push(status);
        }
    }
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    Ok(nodes)
}

/// Deletes a temporary file when dropped, whether or not it was renamed or linked away.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Writes `value` into a new temporary file in `dir` and syncs it.
    fn write(dir: &Path, value: &[u8]) -> Result<TempFile> {
        let path = temp_path(dir);
        let file = create_temp(&path, value)
            .map_err(|e| Error::io("cannot create registry file", &path, e))?;
        let temp = TempFile { path };
        file.sync_data()
            .map_err(|e| Error::io("cannot write registry file", &temp.path, e))?;
        Ok(temp)
    }
}

/// A temporary file name in `dir` no other writer on the host uses: processes share the
/// directory, and two writers through one name could rename each other's half-written file.
fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!(
        "{TEMP_PREFIX}{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Creates the temporary file `path` (mode 0600) holding `value`, unsynced.
fn create_temp(path: &Path, value: &[u8]) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(value)?;
    Ok(file)
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // After a rename there is nothing left to remove; any other failure only leaks a small
        // file that `remove_stale_temps` deletes later.
        let _ = fs::remove_file(&self.path);
    }
}

/// The directory holding `path` (`.` for a bare file name), where its temporary files go and
/// which is synced after it changes.
fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Creates `path` with `value` iff it does not exist: `link(2)` fails with `EEXIST` if another
/// writer got there first.
fn create_entry(path: &Path, value: &[u8]) -> Result<()> {
    let dir = parent(path);
    let temp = TempFile::write(dir, value)?;
    match fs::hard_link(&temp.path, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::Registry(format!(
                "key {} already exists",
                path.display()
            )));
        }
        Err(e) => return Err(Error::io("cannot create registry entry", path, e)),
    }
    drop(temp);
    sync_dir(dir)
}

/// Replaces `path` with `value` atomically.
fn replace_entry(path: &Path, value: &[u8]) -> Result<()> {
    binlog_engine::data_dir::replace_file_with(path, &temp_path(parent(path)), |temp| {
        create_temp(temp, value)
    })
    .map_err(|e| Error::io("cannot replace registry entry", path, e))
}

/// Syncs the directory `dir`, making the names created or renamed in it durable.
fn sync_dir(dir: &Path) -> Result<()> {
    binlog_engine::data_dir::sync_dir(dir)
        .map_err(|e| Error::io("cannot sync registry directory", dir, e))
}

/// Fails naming `dir` if this process cannot create files in it.
fn check_writable(dir: &Path) -> Result<()> {
    TempFile::write(dir, b"").map(drop).map_err(|e| match e {
        Error::Io { source, .. } => Error::io("registry directory is not writable", dir, source),
        other => other,
    })
}

/// Deletes temporary files that writers which died mid-write left in `dir`. Best effort: a
/// failure here costs a few bytes of disk, never correctness.
fn remove_stale_temps(dir: &Path) {
    let Ok(listing) = fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if stale && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            tracing::debug!(path = %entry.path().display(), "removing a stale registry temp file");
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The cluster ID in `path`, made first (a random non-zero ID) if there is none. Of processes
/// making it at the same time one wins the `link(2)`; every one then reads the winner's ID.
fn cluster_id(path: &Path) -> Result<u64> {
    if !exists(path)? {
        let id = random_nonzero_u64()?;
        let dir = parent(path);
        let temp = TempFile::write(dir, format!("{id}\n").as_bytes())?;
        match fs::hard_link(&temp.path, path) {
            Ok(()) => {
                tracing::info!(cluster_id = id, path = %path.display(), "made a new cluster id");
                drop(temp);
                sync_dir(dir)?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("cannot create cluster id file", path, e)),
        }
    }
    let text =
        fs::read_to_string(path).map_err(|e| Error::io("cannot read cluster id file", path, e))?;
    match text.trim().parse::<u64>() {
        Ok(id) if id != 0 => Ok(id),
        _ => Err(Error::Registry(format!(
            "cluster id file {} does not hold a non-zero decimal number: {:?}",
            path.display(),
            text
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_escape_to_one_safe_name_and_back() {
        for id in [
            "host:8250",
            "a/b",
            "../x",
            ".",
            "..",
            ".hidden",
            "100%",
            "%41",
            "sp ace",
            "ünï/cödé",
            "a.b.c",
        ] {
            let name = encode_node_id(id);
            assert!(
                !name.contains('/') && !name.starts_with('.'),
                "{id:?} -> {name:?}"
            );
            assert_eq!(decode_node_id(&name).as_deref(), Some(id), "{name:?}");
        }
        assert_eq!(encode_node_id("host:8250"), "host:8250");
        // Non-canonical spellings are not node IDs.
        for name in ["%", "%4", "%zz", "%41", "%2f", ".x", "a/b", "%FF"] {
            assert_eq!(decode_node_id(name), None, "{name:?}");
        }
    }
}
