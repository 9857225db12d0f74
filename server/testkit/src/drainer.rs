//! Starts the real `drainer` binary for a test.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::binary::binary;
use crate::ports::free_addr;
use crate::process::NodeProcess;

/// Options of a test drainer.
pub struct DrainerOptions<'a> {
    /// Data dir (the savepoint and the binlog files).
    pub data_dir: &'a Path,
    /// File registry (and TSO) dir; ignored when `pd_urls` is set.
    pub registry_dir: &'a Path,
    /// etcd URL, or empty for the file registry.
    pub pd_urls: &'a str,
    /// Node ID (stable across restarts).
    pub node_id: &'a str,
    /// Extra flags.
    pub extra: &'a [&'a str],
    /// Where its stdout goes (the `print` destination), or nowhere.
    pub stdout: Option<&'a Path>,
}

/// Starts a drainer (file destination, 1 s pump detection) and waits until `/status` answers.
pub fn start_drainer(options: &DrainerOptions<'_>) -> NodeProcess {
    let addr = free_addr();
    let log_file = options.data_dir.with_extension("log");
    let mut command = Command::new(binary("binlog-drainer", "drainer"));
    command
        .arg("-addr")
        .arg(&addr)
        .arg("-data-dir")
        .arg(options.data_dir)
        .arg("-registry-dir")
        .arg(options.registry_dir)
        .args([
            "-node-id",
            options.node_id,
            "-detect-interval",
            "1",
            "-L",
            "debug",
        ])
        .arg("-log-file")
        .arg(&log_file)
        .args(options.extra)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    match options.stdout {
        Some(path) => command.stdout(std::fs::File::create(path).expect("create the stdout file")),
        None => command.stdout(Stdio::null()),
    };
    if !options.pd_urls.is_empty() {
        command.arg("-pd-urls").arg(options.pd_urls);
    }
    NodeProcess::spawn(command, addr, options.data_dir, log_file, "PumpPos")
}
