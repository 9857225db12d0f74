//! Starts the real `pump` binary (built next to the tools) for a test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free port")
        .port()
}

/// The `pump` binary the workspace build put next to the tools.
fn pump_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_binlog-load")).with_file_name("pump");
    assert!(
        path.exists(),
        "{} is missing: build the workspace (cargo build --workspace) so the pump binary exists",
        path.display()
    );
    path
}

/// A running pump, killed on drop unless it was stopped.
pub struct Pump {
    child: Option<Child>,
    /// `127.0.0.1:<port>`, gRPC and HTTP.
    pub addr: String,
    /// Its data dir.
    pub data_dir: PathBuf,
    log_file: PathBuf,
    registry: PathBuf,
}

impl Pump {
    /// Starts a pump with its data in `dir/<name>` on the file registry `registry`, and waits
    /// until it is online.
    pub fn start(dir: &Path, name: &str, registry: &Path) -> Pump {
        let addr = format!("127.0.0.1:{}", free_port());
        Pump::spawn(addr, dir.join(name), registry.to_path_buf())
    }

    /// Starts a pump on `addr` with its data in `data_dir`, and waits until it is online.
    fn spawn(addr: String, data_dir: PathBuf, registry: PathBuf) -> Pump {
        let log_file = data_dir.with_extension("log");
        let config = data_dir.with_extension("toml");
        std::fs::write(
            &config,
            "[storage]\nstop-write-at-available-space = \"1 MiB\"\nsegment-size = \"8 MiB\"\n\
             max-record-size = \"4 MiB\"\n",
        )
        .expect("write the pump config");
        let child = Command::new(pump_binary())
            .args([
                "-addr",
                &addr,
                "-heartbeat-interval",
                "1",
                "-fake-binlog-interval",
                "1",
            ])
            .arg("-data-dir")
            .arg(&data_dir)
            .arg("-registry-dir")
            .arg(&registry)
            .arg("-log-file")
            .arg(&log_file)
            .arg("-config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the pump binary");
        let mut pump = Pump {
            child: Some(child),
            addr,
            data_dir,
            log_file,
            registry,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pump.online() {
            if let Some(status) = pump.child_mut().try_wait().expect("poll the pump") {
                panic!("pump exited at start with {status}; log:\n{}", pump.log());
            }
            assert!(
                Instant::now() < deadline,
                "pump did not start; log:\n{}",
                pump.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        pump
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the pump was stopped")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the pump was stopped").id()
    }

    /// Whether `GET /status` says the pump is online.
    fn online(&self) -> bool {
        http_get(&self.addr, "/status").is_ok_and(|body| body.contains("\"online\""))
    }

    /// The body of `GET path`.
    pub fn get(&self, path: &str) -> String {
        http_get(&self.addr, path).unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// The pump's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// Kills the pump with SIGKILL, then starts it again on the same address and data dir
    /// after `down` (its log keeps growing in the same file).
    pub fn kill_and_restart(&mut self, down: Duration) {
        let mut child = self.child.take().expect("the pump was stopped");
        child.kill().expect("SIGKILL the pump");
        child.wait().expect("reap the pump");
        std::thread::sleep(down);
        *self = Pump::spawn(
            self.addr.clone(),
            self.data_dir.clone(),
            self.registry.clone(),
        );
    }

    /// Stops the pump with SIGTERM (it closes its storage and ends `paused`) and waits for it.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the pump was stopped");
        // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("poll the pump") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("pump did not stop on SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The body of an HTTP/1.1 `GET` (one request per connection; the pump answers small bodies
/// with a `Content-Length`, so the body is everything after the header block).
fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header end in {response:?}")))
}
