//! A node process (`pump`, `drainer`) a test started: ready when `/status` says so, spoken to
//! over gRPC and HTTP, signalled, restarted on the same address and data dir, and always killed
//! when the test ends.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use binlog_node::proto::pump_client::PumpClient;
use tonic::transport::Channel;

use binlog_node::tls::{grpc_endpoint, Tls};

use crate::http::https_request;
use crate::poll::wait_for;

/// How long a node may take to answer `/status` as ready, or to exit when told to.
const NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// The command line every test node starts with: listen on `addr`, data in `data_dir`, the
/// file registry in `registry_dir` (or etcd at `pd_urls` when not empty), debug logs in
/// `<data_dir>.log` (returned), no standard input or output.
pub(crate) fn node_command(
    binary: PathBuf,
    addr: &str,
    data_dir: &Path,
    registry_dir: &Path,
    pd_urls: &str,
) -> (Command, PathBuf) {
    let log_file = data_dir.with_extension("log");
    let mut command = Command::new(binary);
    command
        .arg("-addr")
        .arg(addr)
        .arg("-data-dir")
        .arg(data_dir)
        .arg("-registry-dir")
        .arg(registry_dir)
        .args(["-L", "debug"])
        .arg("-log-file")
        .arg(&log_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if !pd_urls.is_empty() {
        command.arg("-pd-urls").arg(pd_urls);
    }
    (command, log_file)
}

/// Writes `toml` as the node's config file, next to its data dir (`<data-dir>.toml`), and adds
/// `-config` for it to `command`.
pub(crate) fn use_config_file(command: &mut Command, data_dir: &Path, toml: &str) {
    let config = data_dir.with_extension("toml");
    std::fs::write(&config, toml).expect("write the test config");
    command.arg("-config").arg(&config);
}

/// A running `pump` or `drainer` process, killed on drop if it is still running.
pub struct NodeProcess {
    child: Option<Child>,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Its log file.
    pub log_file: PathBuf,
    /// How it was started, for [`NodeProcess::kill_and_restart`].
    program: OsString,
    args: Vec<OsString>,
    ready: String,
    /// The client TLS its HTTP and gRPC are spoken with, when it serves TLS.
    tls: Option<Tls>,
}

impl NodeProcess {
    /// Spawns `command` (a node listening on `addr`) and waits until its `/status` body
    /// contains `ready`.
    pub fn spawn(
        command: Command,
        addr: String,
        data_dir: &Path,
        log_file: PathBuf,
        ready: &str,
    ) -> NodeProcess {
        NodeProcess::spawn_tls(command, addr, data_dir, log_file, ready, None)
    }

    /// [`NodeProcess::spawn`] for a node whose HTTP is spoken over TLS with `tls` when given.
    pub fn spawn_tls(
        mut command: Command,
        addr: String,
        data_dir: &Path,
        log_file: PathBuf,
        ready: &str,
        tls: Option<Tls>,
    ) -> NodeProcess {
        let child = command.spawn().unwrap_or_else(|error| {
            panic!("cannot spawn {}: {error}", command.get_program().display())
        });
        let mut node = NodeProcess {
            child: Some(child),
            addr,
            data_dir: data_dir.to_path_buf(),
            log_file,
            program: command.get_program().to_owned(),
            args: command.get_args().map(ToOwned::to_owned).collect(),
            ready: ready.to_owned(),
            tls,
        };
        node.wait_ready();
        node
    }

    fn wait_ready(&mut self) {
        let log_file = self.log_file.clone();
        let log = move || std::fs::read_to_string(&log_file).unwrap_or_default();
        wait_for(
            "the node to answer /status",
            NODE_TIMEOUT,
            || {
                let child = self.child.as_mut().expect("running");
                if let Some(status) = child.try_wait().expect("poll the node") {
                    panic!("node exited at start with {status}; log:\n{}", log());
                }
                match https_request(&self.addr, "GET", "/status", self.tls.as_ref()) {
                    Ok((200, body)) if body.contains(&self.ready) => Some(()),
                    _ => None,
                }
            },
            || format!("log:\n{}", log()),
        );
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// A gRPC client (over TLS when the node serves it).
    pub async fn client(&self) -> PumpClient<Channel> {
        let channel = grpc_endpoint(&self.addr, self.tls.as_ref())
            .expect("the pump's endpoint")
            .connect()
            .await
            .expect("connect to the pump");
        PumpClient::new(channel).max_decoding_message_size(usize::MAX)
    }

    /// An HTTP/1.1 request; `(status code, body)`.
    pub fn http(&self, method: &str, path: &str) -> (u16, String) {
        https_request(&self.addr, method, path, self.tls.as_ref())
            .unwrap_or_else(|error| panic!("{method} {path}: {error}; log:\n{}", self.log()))
    }

    /// The body of `GET path`, whatever its status.
    pub fn get(&self, path: &str) -> String {
        self.http("GET", path).1
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("node already reaped");
        let status = wait_for(
            "the node to exit",
            timeout,
            || child.try_wait().expect("poll the node"),
            || {
                format!(
                    "log:\n{}",
                    std::fs::read_to_string(&self.log_file).unwrap_or_default()
                )
            },
        );
        self.child = None;
        status
    }

    /// The exit status when the process has exited (reaping it), `None` while it runs.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let status = self.child.as_mut()?.try_wait().expect("poll the node")?;
        self.child = None;
        Some(status)
    }

    /// Stops the node with SIGTERM (a clean shutdown) and waits for it to exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(NODE_TIMEOUT)
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        let pid = self.pid() as i32;
        // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the node with SIGKILL, then starts it again with the same command line (same
    /// address, data dir and log file) after `down`, and waits until it is ready. Its standard
    /// output goes nowhere after a restart.
    pub fn kill_and_restart(&mut self, down: Duration) {
        self.kill();
        std::thread::sleep(down);
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        self.child = Some(command.spawn().expect("respawn the node"));
        self.wait_ready();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
