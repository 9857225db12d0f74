//! A real MariaDB server for tests: Debian `mariadb-server` (`mariadb-install-db`, `mariadbd`)
//! with a fresh data directory in a temp dir, on a free loopback port, killed (and its data
//! deleted) when dropped.
//!
//! Users: `root@localhost` over the socket (unix_socket authentication, as Debian sets it up)
//! and `root@127.0.0.1` over TCP with the password [`ROOT_PASSWORD`], created at start by an
//! `--init-file`, so later tests can create users and grant privileges. Started with TLS
//! ([`MariaDb::start_tls`]), it also has [`TLS_USER`], which may only connect over TLS with a
//! client certificate (`REQUIRE X509`).

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::certs::Issued;
use crate::ports::free_port;
use crate::server::{start_with_retries, wait_ready};

/// The password of `root@127.0.0.1`.
pub const ROOT_PASSWORD: &str = "binlog";
/// A user of a server started with TLS who must connect over TLS with a client certificate
/// the test CA signed; its password is [`ROOT_PASSWORD`] and it has every privilege.
pub const TLS_USER: &str = "tls";

/// How long the server may take to answer on its port.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// What to install when the binaries are missing.
const INSTALL_HINT: &str = "the MariaDB tests need Debian's MariaDB server and client: \
                            apt-get install mariadb-server mariadb-client";

/// A running MariaDB server; killed (and its data deleted) on drop.
pub struct MariaDb {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl MariaDb {
    /// Creates a data directory with `mariadb-install-db`, starts `mariadbd` on a free loopback
    /// port and waits until it greets a client. Panics (never skips) when MariaDB is not
    /// installed or does not come up.
    pub fn start() -> MariaDb {
        MariaDb::start_with(None)
    }

    /// [`MariaDb::start`] with TLS: `server`'s certificate, clients checked against `ca`, and
    /// the user [`TLS_USER`], who must connect over TLS with a client certificate.
    pub fn start_tls(ca: &Path, server: &Issued) -> MariaDb {
        MariaDb::start_with(Some((ca, server)))
    }

    fn start_with(tls: Option<(&Path, &Issued)>) -> MariaDb {
        let dir = tempfile::tempdir().expect("tempdir");
        install_db(dir.path());
        let init = dir.path().join("init.sql");
        let mut users = format!(
            "CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '{ROOT_PASSWORD}';\n\
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
        );
        let mut args = Vec::new();
        if let Some((ca, server)) = tls {
            users.push_str(&format!(
                "CREATE USER '{TLS_USER}'@'127.0.0.1' IDENTIFIED BY '{ROOT_PASSWORD}' \
                 REQUIRE X509;\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{TLS_USER}'@'127.0.0.1';\n"
            ));
            args = vec![
                format!("--ssl-ca={}", ca.display()),
                format!("--ssl-cert={}", server.cert.display()),
                format!("--ssl-key={}", server.key.display()),
            ];
        }
        std::fs::write(&init, users).expect("write init.sql");
        // Each attempt gets the installed data dir; a failed one hands it back.
        let mut dir = Some(dir);
        start_with_retries("mariadbd", || {
            Self::try_start(dir.take().expect("data dir"), &args).map_err(|(failure, back)| {
                dir = Some(back);
                failure
            })
        })
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's Unix socket (root logs in there without a password).
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// The server's error log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// A `mariadb` command-line client logged in as `root@127.0.0.1` over TCP, in batch mode
    /// without column names, in `utf8mb4`; add `-e <sql>` and run it.
    pub fn client(&self) -> Command {
        let mut command = Command::new("mariadb");
        command
            .arg("--no-defaults")
            .arg("--protocol=TCP")
            .arg("--host=127.0.0.1")
            .arg(format!("--port={}", self.port))
            .arg("--user=root")
            .arg(format!("--password={ROOT_PASSWORD}"))
            .args(["--batch", "--skip-column-names"])
            .arg("--default-character-set=utf8mb4")
            .stdin(Stdio::null());
        command
    }

    /// Runs `sql` with [`MariaDb::client`] and returns its standard output; panics with the
    /// client's error when it fails.
    pub fn query(&self, sql: &str) -> String {
        self.try_query(sql)
            .unwrap_or_else(|error| panic!("mariadb -e {sql:?} failed: {error}"))
    }

    /// Runs `sql` with [`MariaDb::client`]: its standard output, or the client's exit status
    /// and error output when it fails (e.g. a table that does not exist yet).
    pub fn try_query(&self, sql: &str) -> Result<String, String> {
        let output = self
            .client()
            .arg("-e")
            .arg(sql)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the mariadb client ({e}); {INSTALL_HINT}"));
        if !output.status.success() {
            return Err(format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8(output.stdout).expect("UTF-8 from mariadb"))
    }

    fn try_start(
        dir: tempfile::TempDir,
        args: &[String],
    ) -> Result<MariaDb, (String, tempfile::TempDir)> {
        let port = free_port();
        let path = dir.path();
        let _ = std::fs::remove_file(path.join("error.log"));
        let child = Command::new(server_binary())
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", path.join("data").display()))
            .arg(format!("--socket={}", path.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", path.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", path.join("error.log").display()))
            .arg(format!("--init-file={}", path.join("init.sql").display()))
            .arg(format!("--tmpdir={}", path.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--skip-name-resolve")
            .arg("--innodb-buffer-pool-size=32M")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run mariadbd ({e}); {INSTALL_HINT}"));
        let mut server = MariaDb { child, port, dir };
        match wait_ready(&mut server.child, START_TIMEOUT, || greets(port)) {
            Ok(()) => Ok(server),
            Err(failure) => {
                let failure = format!("{failure}: {}", server.log());
                Err((failure, server.into_dir()))
            }
        }
    }

    /// Stops the server and hands back its directory, for another attempt.
    fn into_dir(mut self) -> tempfile::TempDir {
        self.kill();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, dir)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `mariadbd` (MariaDB ≥ 10.5) or `mysqld`, on `PATH` or in `/usr/sbin`, which a non-root
/// `PATH` lacks.
fn server_binary() -> PathBuf {
    for name in ["mariadbd", "mysqld"] {
        let candidates = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default();
        for dir in candidates
            .iter()
            .map(PathBuf::as_path)
            .chain([Path::new("/usr/sbin")])
        {
            let binary = dir.join(name);
            if binary.is_file() {
                return binary;
            }
        }
    }
    panic!("neither mariadbd nor mysqld found; {INSTALL_HINT}");
}

/// Runs `mariadb-install-db` for a data directory `<dir>/data` owned by root. Its bootstrap
/// server keeps temporary tables in `TMPDIR`: each install gets its own, since concurrent
/// installs sharing `/tmp` collide on those tables' names ("Unknown table
/// 'mysql.tmp_user_sys'").
fn install_db(dir: &Path) {
    let output = Command::new("mariadb-install-db")
        .env("TMPDIR", dir)
        .arg("--no-defaults")
        .arg("--user=root")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg("--skip-test-db")
        .arg("--auth-root-authentication-method=socket")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run mariadb-install-db ({e}); {INSTALL_HINT}"));
    assert!(
        output.status.success(),
        "mariadb-install-db failed with {}:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether the server sends its handshake packet (protocol version 10) on connect.
fn greets(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    // 3 bytes payload length, 1 byte sequence number, then the protocol version.
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && head[4] == 10
}
