//! `binlog-testkit`: what every crate's tests use to run real processes, and nothing else.
//!
//! Module map:
//! - [`ports`]: free loopback ports.
//! - [`binary`]: the workspace's binaries, built on demand for tests of any crate.
//! - [`process`]: a node process a test started: readiness, HTTP, gRPC, signals, always killed.
//! - [`pump`], [`drainer`]: start the real `pump` and `drainer` with test settings (over TLS
//!   too); [`certs`]: a test CA issuing their certificates.
//! - [`etcd`]: a real etcd (Debian `etcd-server`) on free ports in a temp dir.
//! - [`mariadb`]: a real MariaDB (Debian `mariadb-server`) on a free port in a temp dir, root
//!   over TCP with a known password, queried with the `mariadb` client.
//! - [`mysql_pipeline`]: pump, TiDB writer, MariaDB and the drainer's `mysql` destination
//!   between them, and waiting until MariaDB answers as a model says.
//! - [`kafka`]: a real one-node KRaft Kafka broker on free ports in a temp dir, from the jars
//!   `scripts/testbed.sh build` puts in the test bed cache; Kafka's own tools on its classpath.
//! - `server`: starting a third-party server: retries with fresh ports, readiness waits.
//! - [`cluster`]: a test cluster's registry and TSO, TiDB-style writes, pulls, `promtool`.
//! - [`config`]: a node's configuration loaded from lists in a unit test.
//! - [`http`]: a minimal HTTP/1.1 client that shows exactly what a node answered.
//! - [`poll`]: waiting for a condition with a deadline.
//! - [`killer`]: a node SIGKILLed and restarted on a period while a test writes.
//! - [`rng`]: a deterministic generator for test workloads.
//! - Stand-ins for TiDB, which cannot be built here (`scripts/testbed.sh`): [`tidb_rows`],
//!   binlog rows as TiDB writes them (datums, decimals, packed times, binary JSON), written from
//!   TiDB's encode side; [`tidb_jobs`], DDL job JSON in TiDB's shape; [`tidb_status`], TiDB's
//!   status port serving them (`/ddl/history` with TiDB's paging); [`tidb_writer`], binlogs
//!   written to a pump as TiDB writes them, DDL included.

pub mod binary;
pub mod certs;
pub mod cluster;
pub mod config;
pub mod drainer;
pub mod etcd;
pub mod http;
pub mod kafka;
pub mod killer;
pub mod mariadb;
pub mod mysql_pipeline;
pub mod poll;
pub mod ports;
pub mod process;
pub mod pump;
pub mod rng;
mod server;
pub mod tidb_jobs;
pub mod tidb_rows;
pub mod tidb_status;
pub mod tidb_writer;

pub use binary::binary;
pub use ports::{free_addr, free_port};
pub use process::NodeProcess;
