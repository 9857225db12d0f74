//! The drainer's checkpoint in the downstream, as the original keeps it (spec
//! `original-drainer.md` §3.2): one row per cluster in `<schema>.<table>` (by default
//! `tidb_binlog.checkpoint`), `(clusterID bigint unsigned primary key, checkPoint MEDIUMTEXT)`,
//! the checkpoint as JSON, byte for byte the original's:
//! `{"consistent":false,"commitTS":412361808537191540,"ts-map":{},"schema-version":57}`.

use serde::Deserialize;

use crate::config::{ConnectionConfig, DbType};
use crate::db_error::DbError;
use crate::error::{LoaderError, Result};
use crate::session::{with_retries, RetryPolicy, Session, ROW_RETRY};
use crate::statement::{quote_name, quote_table};

/// Saving: 5 retries 1 s apart whatever the error, as the original.
const SAVE_RETRY: RetryPolicy = RetryPolicy {
    attempts: 6,
    first_wait: std::time::Duration::from_secs(1),
    max_wait: std::time::Duration::from_secs(1),
    any_error: true,
};

/// A saved checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Everything at or below this commit TS is applied downstream.
    pub commit_ts: u64,
    /// Whether the downstream was consistent when it was saved (relay log).
    pub consistent: bool,
    /// The schema version of the last applied binlog.
    pub schema_version: i64,
}

/// The stored JSON; `ts-map` is not used.
#[derive(Deserialize)]
struct StoredCheckpoint {
    #[serde(default)]
    consistent: bool,
    #[serde(rename = "commitTS")]
    commit_ts: u64,
    #[serde(rename = "schema-version", default)]
    schema_version: i64,
}

/// Where the checkpoint table is.
struct TableName {
    schema: String,
    table: String,
    /// `<schema>.<table>` quoted.
    quoted: String,
}

impl TableName {
    /// Turns the server's answer to `sql` into the error naming this table.
    fn failed<'a>(&'a self, sql: &'a str) -> impl FnOnce(DbError) -> LoaderError + 'a {
        move |server| LoaderError::Checkpoint {
            schema: self.schema.clone(),
            table: self.table.clone(),
            sql: sql.to_owned(),
            server,
        }
    }
}

/// The checkpoint table of one cluster.
pub struct CheckpointTable {
    session: Session,
    name: TableName,
    cluster_id: u64,
    /// The highest schema version saved or loaded: it only ever grows.
    schema_version: Option<i64>,
}

impl CheckpointTable {
    /// Connects and creates the schema and table when missing. Cluster ID 0 (unknown, relay
    /// recovery without PD) takes the ID of the table's only row on [`CheckpointTable::load`].
    pub async fn open(
        config: &ConnectionConfig,
        schema: &str,
        table: &str,
        cluster_id: u64,
    ) -> Result<CheckpointTable> {
        let mut checkpoint = CheckpointTable {
            session: Session::new(config.clone(), DbType::Mysql),
            name: TableName {
                schema: schema.to_owned(),
                table: table.to_owned(),
                quoted: quote_table(schema, table),
            },
            cluster_id,
            schema_version: None,
        };
        let statements = [
            format!("CREATE DATABASE IF NOT EXISTS {}", quote_name(schema)),
            format!(
                "CREATE TABLE IF NOT EXISTS {}(clusterID bigint unsigned primary key, checkPoint MEDIUMTEXT)",
                checkpoint.name.quoted
            ),
        ];
        let name = &checkpoint.name;
        with_retries!(&mut checkpoint.session, &ROW_RETRY, |session, _attempt| {
            for sql in &statements {
                session.query_drop(sql).await.map_err(name.failed(sql))?;
            }
            Ok(())
        })?;
        Ok(checkpoint)
    }

    /// The saved checkpoint, `None` when the cluster has none.
    pub async fn load(&mut self) -> Result<Option<Checkpoint>> {
        let sql = format!("SELECT clusterID, checkPoint FROM {}", self.name.quoted);
        let (sql, params) = if self.cluster_id == 0 {
            (sql, vec![])
        } else {
            (
                format!("{sql} WHERE clusterID = ?"),
                vec![mysql_async::Value::UInt(self.cluster_id)],
            )
        };
        let name = &self.name;
        let mut rows: Vec<(u64, String)> =
            with_retries!(&mut self.session, &ROW_RETRY, |session, _attempt| {
                session
                    .exec(&sql, params.clone())
                    .await
                    .map_err(name.failed(&sql))
            })?;
        if rows.len() > 1 {
            return Err(LoaderError::CheckpointAmbiguous {
                schema: self.name.schema.clone(),
                table: self.name.table.clone(),
                rows: rows.len(),
            });
        }
        let Some((cluster_id, text)) = rows.pop() else {
            return Ok(None);
        };
        let stored: StoredCheckpoint =
            serde_json::from_str(&text).map_err(|error| LoaderError::CheckpointUnreadable {
                cluster_id,
                text: text.clone(),
                reason: error.to_string(),
            })?;
        self.cluster_id = cluster_id;
        self.schema_version = self.schema_version.max(Some(stored.schema_version));
        Ok(Some(Checkpoint {
            commit_ts: stored.commit_ts,
            consistent: stored.consistent,
            schema_version: stored.schema_version,
        }))
    }

    /// Saves a checkpoint (the schema version saved is the highest seen), trying 5 more times
    /// 1 s apart on any error.
    pub async fn save(
        &mut self,
        commit_ts: u64,
        consistent: bool,
        schema_version: i64,
    ) -> Result<()> {
        let schema_version = self
            .schema_version
            .map_or(schema_version, |v| v.max(schema_version));
        let json = format!(
            r#"{{"consistent":{consistent},"commitTS":{commit_ts},"ts-map":{{}},"schema-version":{schema_version}}}"#
        );
        let sql = format!("REPLACE INTO {} VALUES(?, ?)", self.name.quoted);
        let (cluster_id, name) = (self.cluster_id, &self.name);
        with_retries!(&mut self.session, &SAVE_RETRY, |session, _attempt| {
            session
                .exec_drop(&sql, (cluster_id, json.as_str()))
                .await
                .map_err(name.failed(&sql))
        })?;
        self.schema_version = Some(schema_version);
        Ok(())
    }
}
