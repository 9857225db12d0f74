//! Starts the real `drainer` binary for a test.

use std::path::Path;
use std::process::{Output, Stdio};

use binlog_archive::binlog_file::{decode_records, list_files};
use binlog_node::proto::Binlog;
use prost::Message;

use crate::binary::binary;
use crate::ports::free_addr;
use crate::process::{node_command, use_config_file, NodeProcess};
use crate::pump::NodeTls;

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
    /// Its config file's text, if any (with TLS, the `[security]` section is added).
    pub config: Option<&'a str>,
}

/// Starts a drainer (file destination, 1 s pump detection) and waits until `/status` answers.
pub fn start_drainer(options: &DrainerOptions<'_>) -> NodeProcess {
    start_drainer_tls(options, None)
}

/// [`start_drainer`], serving TLS and pulling over it with `tls` when given.
pub fn start_drainer_tls(options: &DrainerOptions<'_>, tls: Option<&NodeTls>) -> NodeProcess {
    let addr = free_addr();
    let (mut command, log_file) = node_command(
        binary("drainer"),
        &addr,
        options.data_dir,
        options.registry_dir,
        options.pd_urls,
    );
    command
        .args(["-node-id", options.node_id, "-detect-interval", "1"])
        .args(options.extra);
    if let Some(path) = options.stdout {
        command.stdout(std::fs::File::create(path).expect("create the stdout file"));
    }
    let sections: Vec<&str> = options
        .config
        .into_iter()
        .chain(tls.map(|tls| tls.toml.as_str()))
        .collect();
    if !sections.is_empty() {
        use_config_file(&mut command, options.data_dir, &sections.join("\n"));
    }
    NodeProcess::spawn_tls(
        command,
        addr,
        options.data_dir,
        log_file,
        "PumpPos",
        tls.map(|tls| tls.client.clone()),
    )
}

/// Runs the drainer binary with `options` and `args`, as the drainer at `addr`, until it exits
/// (a one-shot action such as `-set-checkpoint-ts`, or a run with `-stop-at-commit-ts`), and
/// returns what it printed and how it exited.
pub fn run_drainer_until_exit(options: &DrainerOptions<'_>, addr: &str, args: &[&str]) -> Output {
    let (mut command, _) = node_command(
        binary("drainer"),
        addr,
        options.data_dir,
        options.registry_dir,
        options.pd_urls,
    );
    command
        .args(["-node-id", options.node_id])
        .args(options.extra)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .expect("run the drainer binary")
}

/// Every binlog in the `file` destination in `dir`, in file order; panics on a damaged record
/// anywhere but at the end of the newest file.
pub fn read_destination(dir: &Path) -> Vec<Binlog> {
    let files = list_files(dir).expect("list the binlog files");
    let mut binlogs = Vec::new();
    for (position, (_, path)) in files.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let (records, valid) = decode_records(&bytes);
        if position + 1 < files.len() {
            assert_eq!(
                valid,
                bytes.len() as u64,
                "damage inside {}",
                path.display()
            );
        }
        binlogs.extend(
            records
                .iter()
                .map(|record| Binlog::decode(&record.payload[..]).expect("a binlog payload")),
        );
    }
    binlogs
}
