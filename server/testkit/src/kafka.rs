//! A real Apache Kafka broker for tests: one KRaft node (broker and controller) run from the
//! jars `scripts/testbed.sh build` fetched from Maven Central into the test bed cache, on free
//! loopback ports with its logs and data in a temp dir, killed when dropped; it can be killed
//! and started again on the same ports and data (a broker crash and restart). Its client
//! listener can require TLS client certificates and SASL ([`KafkaSecurity`], in [`security`]).

pub mod security;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::ports::free_port;
use crate::server::{start_with_retries, wait_ready};
pub use security::{KafkaSecurity, KafkaTls};

/// The Kafka version the test bed fetches; keep in step with `KAFKA_VERSION` in
/// `scripts/testbed.sh`.
pub const KAFKA_VERSION: &str = "4.1.1";

/// How long the broker may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Any fixed cluster ID does: every broker has its own temp dir.
const CLUSTER_ID: &str = "dGlkYi1iaW5sb2ctcnMtdA";
/// What KafkaRaftServer logs when it is up.
const STARTED: &str = "Kafka Server started";

/// The test bed cache: `$BINLOG_TESTBED_CACHE`, else `$HOME/.cache/tidb-binlog-rs`.
pub fn testbed_cache() -> PathBuf {
    match std::env::var_os("BINLOG_TESTBED_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let home = std::env::var_os("HOME").expect("HOME or BINLOG_TESTBED_CACHE must be set");
            Path::new(&home).join(".cache/tidb-binlog-rs")
        }
    }
}

/// The directory with Kafka's jars; panics with how to get them when they are missing.
pub fn kafka_libs() -> PathBuf {
    let dir = testbed_cache().join(format!("kafka-{KAFKA_VERSION}"));
    assert!(
        dir.join("complete").is_file(),
        "Kafka {KAFKA_VERSION} is not in the test bed cache ({}): run scripts/testbed.sh build \
         (needs Maven: apt-get install maven default-jre-headless)",
        dir.display()
    );
    dir.join("libs")
}

/// A running Kafka broker; killed (and its data deleted) on drop.
pub struct Kafka {
    child: Child,
    port: u16,
    libs: PathBuf,
    dir: tempfile::TempDir,
    /// The client properties file the tools need, when the client listener is secured.
    client_properties: Option<PathBuf>,
}

impl Kafka {
    /// Writes a one-node KRaft configuration, formats the storage, starts `kafka.Kafka` and
    /// waits until the broker listens and reports it has started. Panics (never skips) when
    /// the jars or Java are missing or the broker does not come up.
    pub fn start() -> Kafka {
        Kafka::start_with(&KafkaSecurity::default())
    }

    /// [`Kafka::start`] with the client listener secured by `security`.
    pub fn start_with(security: &KafkaSecurity) -> Kafka {
        let libs = kafka_libs();
        start_with_retries("Kafka", || Self::try_start(&libs, security))
    }

    /// The bootstrap server, `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The client properties (security protocol, key and trust stores, SASL login) a Kafka
    /// tool needs to reach a secured broker (`--consumer.config`, `--command-config`); `None`
    /// for a PLAINTEXT one.
    pub fn client_properties(&self) -> Option<&Path> {
        self.client_properties.as_deref()
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kafka.log")).unwrap_or_default()
    }

    /// `java` running `class` (e.g. `org.apache.kafka.tools.TopicCommand`) on Kafka's
    /// classpath with a small heap, its log4j output in the temp dir; add the tool's arguments.
    pub fn tool(&self, class: &str) -> Command {
        java(
            &self.libs,
            &self.dir.path().join("tools-log4j2.properties"),
            "256m",
            class,
        )
    }

    /// Runs `command` (from [`Kafka::tool`]) with `input` on its standard input; panics with its
    /// output when it fails.
    pub fn run(&self, mut command: Command, input: &str) -> Output {
        use std::io::Write;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run java ({e}); apt-get install default-jre-headless")
            });
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write the tool's input");
        let output = child.wait_with_output().expect("wait for the tool");
        assert!(
            output.status.success(),
            "{:?} failed with {}:\n{}\n{}",
            command.get_args().collect::<Vec<_>>(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn try_start(libs: &Path, security: &KafkaSecurity) -> Result<Kafka, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path();
        let (port, internal_port, controller_port) = (free_port(), free_port(), free_port());
        let config = path.join("server.properties");
        let listeners = security.listener_properties(path, port, internal_port, controller_port);
        std::fs::write(
            &config,
            server_properties(path, controller_port, &listeners),
        )
        .expect("write server.properties");
        let client_properties = security.client_properties(path).map(|properties| {
            let file = path.join("client.properties");
            std::fs::write(&file, properties).expect("write client.properties");
            file
        });
        let log = path.join("kafka.log");
        let broker_log4j = path.join("log4j2.properties");
        std::fs::write(&broker_log4j, log4j2(&log, "INFO")).expect("write log4j2.properties");
        let tools_log4j = path.join("tools-log4j2.properties");
        std::fs::write(&tools_log4j, log4j2(&path.join("tools.log"), "INFO"))
            .expect("write tools-log4j2.properties");

        // What `kafka-storage.sh format -t <id> -c server.properties` runs.
        let format = java(libs, &tools_log4j, "256m", "kafka.tools.StorageTool")
            .args(["format", "--ignore-formatted", "-t", CLUSTER_ID, "-c"])
            .arg(&config)
            .args(security.format_args())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run java ({e}); apt-get install default-jre-headless")
            });
        if !format.status.success() {
            return Err(format!(
                "formatting the storage failed with {}:\n{}\n{}",
                format.status,
                String::from_utf8_lossy(&format.stdout),
                String::from_utf8_lossy(&format.stderr)
            ));
        }

        let mut kafka = Kafka {
            child: spawn_broker(libs, path),
            port,
            libs: libs.to_path_buf(),
            dir,
            client_properties,
        };
        kafka.wait_started(0).map(|()| kafka)
    }

    /// Kills the broker with SIGKILL (a crash: no clean shutdown), keeping its data.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the broker again after [`Kafka::kill`], on the same ports with the same data,
    /// and waits until it is up; panics with its log when it does not come up.
    pub fn restart(&mut self) {
        self.kill();
        let starts = self.log().matches(STARTED).count();
        self.child = spawn_broker(&self.libs, self.dir.path());
        if let Err(failure) = self.wait_started(starts) {
            panic!("Kafka did not restart: {failure}");
        }
    }

    /// Waits until the log reports more than `starts` starts and the port listens.
    fn wait_started(&mut self, starts: usize) -> Result<(), String> {
        let (log, port) = (self.dir.path().join("kafka.log"), self.port);
        let started = || {
            std::fs::read_to_string(&log).is_ok_and(|log| log.matches(STARTED).count() > starts)
                && TcpStream::connect(("127.0.0.1", port)).is_ok()
        };
        wait_ready(&mut self.child, START_TIMEOUT, started)
            .map_err(|failure| format!("{failure}: {}", self.failure()))
    }

    /// The broker's log and standard error, for a failure message.
    fn failure(&self) -> String {
        let stderr =
            std::fs::read_to_string(self.dir.path().join("kafka.stderr")).unwrap_or_default();
        format!("log:\n{}\nstderr:\n{stderr}", self.log())
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `kafka.Kafka` on the configuration and data `Kafka::try_start` wrote in `dir`, its
/// standard error appended to `kafka.stderr` there.
fn spawn_broker(libs: &Path, dir: &Path) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("kafka.stderr"))
        .expect("kafka stderr file");
    java(libs, &dir.join("log4j2.properties"), "512m", "kafka.Kafka")
        .arg(dir.join("server.properties"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run java ({e}); apt-get install default-jre-headless"))
}

/// `java -Xmx<heap> -cp '<libs>/*' <class>` logging through `log4j2`.
fn java(libs: &Path, log4j2: &Path, heap: &str, class: &str) -> Command {
    let mut command = Command::new("java");
    command
        .arg(format!("-Xmx{heap}"))
        .arg("-XX:+UseSerialGC")
        .arg("-Djava.awt.headless=true")
        .arg(format!("-Dlog4j2.configurationFile={}", log4j2.display()))
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg(class);
    command
}

/// A one-node KRaft cluster (broker and controller) on loopback, data in `dir`, the
/// controller on `controller_port`, its listeners as [`KafkaSecurity::listener_properties`]
/// wrote them.
fn server_properties(dir: &Path, controller_port: u16, listeners: &str) -> String {
    format!(
        "process.roles=broker,controller\n\
         node.id=1\n\
         controller.quorum.voters=1@127.0.0.1:{controller_port}\n\
         controller.listener.names=CONTROLLER\n\
         {listeners}\
         log.dirs={}\n\
         num.partitions=1\n\
         offsets.topic.replication.factor=1\n\
         offsets.topic.num.partitions=1\n\
         transaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\n\
         share.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\n\
         group.initial.rebalance.delay.ms=0\n",
        dir.join("data").display()
    )
}

/// A log4j2 configuration writing everything at `level` and above to `file`.
fn log4j2(file: &Path, level: &str) -> String {
    format!(
        "status = warn\n\
         appender.file.type = File\n\
         appender.file.name = file\n\
         appender.file.fileName = {}\n\
         appender.file.layout.type = PatternLayout\n\
         appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
         rootLogger.level = {level}\n\
         rootLogger.appenderRef.file.ref = file\n",
        file.display()
    )
}
