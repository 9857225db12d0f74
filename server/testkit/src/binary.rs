//! The workspace's node binaries (`pump`, `drainer`, the tools) for tests of any crate, and for
//! the benchmarks that drive whole processes.
//!
//! Cargo hands a test only the binaries of its own package (`CARGO_BIN_EXE_*`). A drainer or a
//! tools test also needs the pump, so the kit builds the binary it asks for with the same cargo
//! and profile the test was built with (a no-op when `cargo nextest run --workspace` already
//! built it), once per test process, and returns its path. A failed build fails the test with
//! cargo's output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Binaries this process has built (or found up to date) already.
static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);

/// The path of binary `name` of workspace package `package`, built if it is missing or stale.
pub fn binary(package: &str, name: &str) -> PathBuf {
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(name) {
        return path.clone();
    }
    let (target_dir, profile) = target_dir_and_profile();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(&workspace)
        .args(["build", "--quiet", "-p", package, "--bin", name])
        .arg("--target-dir")
        .arg(&target_dir);
    if profile == "release" {
        command.arg("--release");
    }
    let output = command.output().unwrap_or_else(|error| {
        panic!(
            "cannot run {} to build the {name} binary: {error}",
            Path::new(&cargo).display()
        )
    });
    assert!(
        output.status.success(),
        "cargo build -p {package} --bin {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = target_dir.join(profile).join(name);
    assert!(
        path.is_file(),
        "cargo built {name} but {} is missing",
        path.display()
    );
    built
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), path.clone());
    path
}

/// The target directory and profile directory name of the running executable: a test
/// (`<target>/<profile>/deps/<test>-<hash>`) or a benchmark binary (`<target>/<profile>/<name>`).
fn target_dir_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("the running executable's path");
    let parent = exe.parent().expect("the executable's directory");
    let profile_dir = if parent.ends_with("deps") {
        parent.parent().expect("a profile directory above deps/")
    } else {
        parent
    };
    let profile = profile_dir
        .file_name()
        .expect("a profile directory")
        .to_string_lossy()
        .into_owned();
    let target = profile_dir
        .parent()
        .expect("a target directory")
        .to_path_buf();
    (target, profile)
}
