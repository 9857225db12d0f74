//! The workspace's node binaries (`pump`, `drainer`, the tools) for tests of any crate, and for
//! the benchmarks that drive whole processes.
//!
//! Cargo hands a test only the binaries of its own package (`CARGO_BIN_EXE_*`). A drainer or a
//! tools test also needs the pump, so the kit builds the workspace's binaries, once per process,
//! with the same cargo, profile and target selection that built the caller: a test runs
//! `cargo build --workspace --tests` (what `cargo nextest run --workspace` builds), a benchmark
//! `cargo build --workspace --bins`. The same selection matters: cargo unifies the features of
//! shared dependencies over what it builds, so `cargo build -p binlog-pump` alone would resolve
//! other features, compile a second copy of half the dependency tree and swap the binary under
//! the other tests. After the workspace build this is a no-op; when the caller's crate was built
//! alone (`cargo nextest run -p binlog-tools`), it builds what is missing once. A failed build
//! fails the caller with cargo's output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The variables cargo sets for one package's run (besides `CARGO_PKG_*` and
/// `CARGO_BIN_EXE_*`), which a nested build must not inherit.
const PER_PACKAGE_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// The directory holding the binaries, once this process has built them.
static BUILT: OnceLock<PathBuf> = OnceLock::new();

/// The path of binary `name` of the workspace, built if it is missing or stale.
pub fn binary(name: &str) -> PathBuf {
    let path = BUILT.get_or_init(build_workspace).join(name);
    assert!(
        path.is_file(),
        "the workspace has no binary {name} ({} is missing)",
        path.display()
    );
    path
}

/// Builds the workspace's binaries as the running executable was built; returns their
/// directory.
fn build_workspace() -> PathBuf {
    let (target_dir, profile, is_test) = target_dir_and_profile();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let selection = if is_test { "--tests" } else { "--bins" };
    let mut command = Command::new(&cargo);
    command
        .current_dir(&workspace)
        .args(["build", "--quiet", "--workspace", selection])
        .arg("--target-dir")
        .arg(&target_dir);
    if profile == "release" {
        command.arg("--release");
    }
    // Cargo gives a running test its package's variables; build scripts that watch them (ring's
    // does) would see a change from the shell's build and rerun, rebuilding half the tree twice.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if PER_PACKAGE_VARIABLES.contains(&key.as_ref())
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
        {
            command.env_remove(key.as_ref());
        }
    }
    let output = command.output().unwrap_or_else(|error| {
        panic!(
            "cannot run {} to build the workspace's binaries: {error}",
            Path::new(&cargo).display()
        )
    });
    assert!(
        output.status.success(),
        "cargo build --workspace {selection} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir.join(profile)
}

/// The target directory, the profile directory name, and whether the running executable is a
/// test (`<target>/<profile>/deps/<test>-<hash>`) rather than a binary
/// (`<target>/<profile>/<name>`).
fn target_dir_and_profile() -> (PathBuf, String, bool) {
    let exe = std::env::current_exe().expect("the running executable's path");
    let parent = exe.parent().expect("the executable's directory");
    let is_test = parent.ends_with("deps");
    let profile_dir = if is_test {
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
    (target, profile, is_test)
}
