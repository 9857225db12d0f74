//! `[syncer]`: the destination and what the SQL and Kafka destinations would read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use binlog_archive::filter::TableFilter;
pub use binlog_archive::filter::TableName;
use binlog_node::config::security::SecurityConfig;
use binlog_node::tls::Tls;
use binlog_node::Result;

/// Default of `[syncer] txn-batch`.
const DEFAULT_TXN_BATCH: i64 = 20;
/// Default of `[syncer] worker-count`.
const DEFAULT_WORKER_COUNT: i64 = 16;
/// Default of `[syncer] ignore-schemas`.
const DEFAULT_IGNORE_SCHEMAS: &str = "INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql";
/// Default of `[syncer.relay] max-file-size`.
const DEFAULT_RELAY_MAX_FILE_SIZE: i64 = 10 << 20;

/// `[syncer]`, the original's keys. Only `db-type`, `ignore-txn-commit-ts` and `[syncer.to]`'s
/// `dir` and `retention-time` are used by the destinations this build has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct SyncerConfig {
    /// Destination: `file`/`pb` or `print` (see [`super`]'s doc). Flag `-dest-db-type`. Default
    /// `file`.
    pub db_type: String,
    /// Commit TSs of binlogs to skip. Default empty.
    pub ignore_txn_commit_ts: Vec<i64>,
    /// Comma list of schemas the SQL destinations skip. Flag `-ignore-schemas`. Default
    /// `INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql`.
    pub ignore_schemas: String,
    /// Tables the SQL destinations skip (`{db-name, tbl-name}`). Default empty.
    pub ignore_table: Vec<TableName>,
    /// Statements per downstream transaction. Flag `-txn-batch`. Default 20.
    pub txn_batch: i64,
    /// Loopback control for bidirectional replication (SQL destinations). Default false.
    pub loopback_control: bool,
    /// Replicate DDL (SQL destinations). Default true.
    pub sync_ddl: bool,
    /// Loopback channel ID. Default 0.
    pub channel_id: i64,
    /// Downstream workers. Flag `-c`. Default 16.
    pub worker_count: i64,
    /// Tables to replicate only (SQL destinations). Default empty.
    pub replicate_do_table: Vec<TableName>,
    /// Databases to replicate only (SQL destinations). Default empty.
    pub replicate_do_db: Vec<String>,
    /// Safe mode (SQL destinations). Flag `-safe-mode`. Default false.
    pub safe_mode: bool,
    /// Dispatch (SQL destinations). Default none (on).
    pub enable_dispatch: Option<bool>,
    /// Turns dispatch off; wins over `enable-dispatch`. Default none.
    pub disable_dispatch: Option<bool>,
    /// Causality detection (SQL destinations). Default none (on).
    pub enable_detect: Option<bool>,
    /// Turns detection off; wins over `enable-detect`. Default none.
    pub disable_detect: Option<bool>,
    /// Downstream SQL mode. Default none.
    pub sql_mode: Option<String>,
    /// Load the schema snapshot at the checkpoint (needs TiKV). Default false.
    pub load_schema_snapshot: bool,
    /// Case-sensitive filters. Default false.
    pub case_sensitive: bool,
    /// The original's table migrate rules, type-checked as TOML only. Default empty.
    pub table_migrate_rule: Vec<toml::Table>,
    /// The original's binlog filter rules, type-checked as TOML only. Default empty.
    pub binlog_filter_rule: BTreeMap<String, toml::Table>,
    /// `[syncer.relay]`.
    pub relay: RelayConfig,
    /// `[syncer.to]`.
    pub to: ToConfig,
}

impl Default for SyncerConfig {
    fn default() -> SyncerConfig {
        SyncerConfig {
            db_type: "file".into(),
            ignore_txn_commit_ts: Vec::new(),
            ignore_schemas: DEFAULT_IGNORE_SCHEMAS.into(),
            ignore_table: Vec::new(),
            txn_batch: DEFAULT_TXN_BATCH,
            loopback_control: false,
            sync_ddl: true,
            channel_id: 0,
            worker_count: DEFAULT_WORKER_COUNT,
            replicate_do_table: Vec::new(),
            replicate_do_db: Vec::new(),
            safe_mode: false,
            enable_dispatch: None,
            disable_dispatch: None,
            enable_detect: None,
            disable_detect: None,
            sql_mode: None,
            load_schema_snapshot: false,
            case_sensitive: false,
            table_migrate_rule: Vec::new(),
            binlog_filter_rule: BTreeMap::new(),
            relay: RelayConfig::default(),
            to: ToConfig::default(),
        }
    }
}

impl SyncerConfig {
    /// The table filter `[syncer]` describes; an invalid pattern is a configuration error
    /// naming it.
    pub fn table_filter(&self) -> Result<TableFilter> {
        let ignore_dbs: Vec<String> = self.ignore_schemas.split(',').map(str::to_owned).collect();
        TableFilter::from_rules(
            ("[syncer] replicate-do-db", &self.replicate_do_db),
            ("[syncer] replicate-do-table", &self.replicate_do_table),
            ("[syncer] ignore-schemas", &ignore_dbs),
            ("[syncer] ignore-table", &self.ignore_table),
        )
    }

    /// Whether any table rule beyond the default `ignore-schemas` is set (what a destination
    /// without schemas cannot apply).
    pub fn names_tables(&self) -> bool {
        !self.replicate_do_db.is_empty()
            || !self.replicate_do_table.is_empty()
            || !self.ignore_table.is_empty()
            || self.ignore_schemas != DEFAULT_IGNORE_SCHEMAS
    }
}

/// `[syncer.relay]`: the SQL destinations' relay log (not built yet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RelayConfig {
    /// Relay log directory; empty disables it. Default empty.
    pub log_dir: String,
    /// Relay segment size in bytes. Default 10 MiB.
    pub max_file_size: i64,
}

impl Default for RelayConfig {
    fn default() -> RelayConfig {
        RelayConfig {
            log_dir: String::new(),
            max_file_size: DEFAULT_RELAY_MAX_FILE_SIZE,
        }
    }
}

/// `[syncer.to]`: the destination. `dir`, `retention-time` and `file-payload` are the `file`
/// destination's;
/// the rest belongs to the SQL and Kafka destinations and is accepted for compatibility.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ToConfig {
    /// `file`: directory of the binlog files. Default: `data-dir`.
    pub dir: Option<PathBuf>,
    /// `file`: days after which files other than the newest are removed, 0 keeping them all.
    /// Default 0.
    pub retention_time: i64,
    /// `file` (ours): the records' payload, `"pb"` (the original's `pb_binlog.Binlog`, rows
    /// with column names and types, which `reparo` reads; needs `tidb-status-addr`) or
    /// `"tipb"` (the binlog as TiDB wrote it, no schemas needed). Default: `"pb"` when
    /// `tidb-status-addr` is set, else `"tipb"`.
    pub file_payload: Option<String>,
    /// SQL: host. Default none.
    pub host: Option<String>,
    /// SQL: user. Default none.
    pub user: Option<String>,
    /// SQL: password. Default none.
    pub password: Option<String>,
    /// SQL: encrypted password. Default none.
    #[serde(rename = "encrypted_password")]
    pub encrypted_password: Option<String>,
    /// SQL: port. Default none.
    pub port: Option<i64>,
    /// SQL: sync mode. Default none.
    pub sync_mode: Option<i64>,
    /// SQL: merge DMLs per key. Default none.
    pub merge: Option<bool>,
    /// SQL: read timeout. Default none.
    pub read_timeout: Option<String>,
    /// SQL: session parameters. Default empty.
    pub params: BTreeMap<String, String>,
    /// Kafka: ZooKeeper addresses. Default none.
    pub zookeeper_addrs: Option<String>,
    /// Kafka: broker addresses. Default none.
    pub kafka_addrs: Option<String>,
    /// Kafka: version. Default none.
    pub kafka_version: Option<String>,
    /// Kafka: messages per flush. Default none.
    pub kafka_max_messages: Option<i64>,
    /// Kafka: largest message. Default none.
    pub kafka_max_message_size: Option<i64>,
    /// Kafka (ours): send a DML transaction above `kafka-max-message-size` as ordered parts
    /// instead of stopping. Default false.
    pub kafka_split_large_txn: bool,
    /// Kafka: client ID. Default none.
    pub kafka_client_id: Option<String>,
    /// Kafka (ours, after TiCDC's sasl-mechanism): SASL mechanism, `PLAIN`, `SCRAM-SHA-256` or
    /// `SCRAM-SHA-512` (any case); needs `kafka-sasl-user` and `kafka-sasl-password`. Default
    /// none (no SASL).
    pub kafka_sasl_mechanism: Option<String>,
    /// Kafka (ours, after TiCDC's sasl-user): SASL user. Default none.
    pub kafka_sasl_user: Option<String>,
    /// Kafka (ours, after TiCDC's sasl-password): SASL password, never logged. Default none.
    pub kafka_sasl_password: Option<String>,
    /// Kafka: topic. Default none.
    pub topic_name: Option<String>,
    /// `[syncer.to.checkpoint]`: where an SQL destination keeps its checkpoint. Default none.
    pub checkpoint: Option<toml::Table>,
    /// `[syncer.to.security]`: TLS to the destination (MySQL/TiDB, Kafka): `ssl-ca` (on iff
    /// set), `ssl-cert`, `ssl-key`. Default none.
    pub security: Option<SecurityConfig>,
}

impl ToConfig {
    /// `[syncer.to.security]`, its files read and checked now: `None` when `ssl-ca` is unset.
    pub fn tls(&self) -> Result<Option<Tls>> {
        match &self.security {
            Some(security) => Tls::from_section(security, "[syncer.to.security]"),
            None => Ok(None),
        }
    }
}
