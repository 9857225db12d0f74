//! Starts the real `pump` binary for a test.

use std::path::Path;

use crate::binary::binary;
use crate::ports::free_addr;
use crate::process::{node_command, use_config_file, NodeProcess};

/// Options of a test pump.
pub struct PumpOptions<'a> {
    /// Data dir.
    pub data_dir: &'a Path,
    /// File registry (and TSO) dir; ignored when `pd_urls` is set.
    pub registry_dir: &'a Path,
    /// etcd URL, or empty for the file registry.
    pub pd_urls: &'a str,
    /// Extra flags.
    pub extra: &'a [&'a str],
    /// The `[storage]` section of its config file; `None` for the tests' default (8 MiB
    /// segments, no free-space floor).
    pub storage: Option<&'a str>,
}

/// A node's TLS in a test: its `[security]` TOML, and the client TLS the test speaks HTTP to it
/// with.
#[derive(Clone)]
pub struct NodeTls {
    /// The node's `[security]` section.
    pub toml: String,
    /// The test's client TLS (it presents a certificate the node allows).
    pub client: binlog_node::tls::Tls,
}

/// A running `pump`.
pub type PumpProcess = NodeProcess;

impl NodeProcess {
    /// Starts a pump and waits until `/status` answers.
    pub fn start(options: &PumpOptions<'_>) -> PumpProcess {
        PumpProcess::start_tls(options, None)
    }

    /// [`NodeProcess::start`], serving TLS with `tls` when given.
    pub fn start_tls(options: &PumpOptions<'_>, tls: Option<&NodeTls>) -> PumpProcess {
        let addr = free_addr();
        let (mut command, log_file) = node_command(
            binary("pump"),
            &addr,
            options.data_dir,
            options.registry_dir,
            options.pd_urls,
        );
        command
            .args(["-heartbeat-interval", "1", "-fake-binlog-interval", "1"])
            .args(options.extra);
        // Small segments keep test data dirs small; no free-space floor on test machines.
        let storage = options.storage.unwrap_or(
            "stop-write-at-available-space = \"1 MiB\"\nsegment-size = \"8 MiB\"\nmax-record-size = \"4 MiB\"\n",
        );
        let security = tls.map(|tls| tls.toml.as_str()).unwrap_or_default();
        use_config_file(
            &mut command,
            options.data_dir,
            &format!("[storage]\n{storage}{security}"),
        );
        NodeProcess::spawn_tls(
            command,
            addr,
            options.data_dir,
            log_file,
            "\"online\"",
            tls.map(|tls| tls.client.clone()),
        )
    }
}

/// Starts a pump with its data in `data_dir` on the file registry (and TSO) in `registry_dir`,
/// with the tests' defaults, and waits until it is online.
pub fn start_pump(data_dir: &Path, registry_dir: &Path) -> PumpProcess {
    PumpProcess::start(&PumpOptions {
        data_dir,
        registry_dir,
        pd_urls: "",
        extra: &[],
        storage: None,
    })
}
