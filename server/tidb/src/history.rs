//! The schema history: TiDB's finished DDL jobs replayed in schema-version order, keeping every
//! shape every table had, so that a binlog of any past schema version finds its table.
//!
//! A binlog names the **physical** table its rows were written under (a partition's ID for a
//! partitioned table) and the schema version its transaction ran at. Two maps answer it:
//! - what each physical ID names from which schema version on (a logical table, or nothing
//!   once dropped, truncated away or exchanged): IDs change meaning over time (a truncate gives
//!   a new ID, an exchange swaps a partition's ID with a plain table's);
//! - every shape of each logical table, by the schema version it became current at. A job that
//!   changes nothing rows need (an auto-ID rebase, a comment, a plain index) adds no shape: the
//!   previous one stays shared.
//!
//! Jobs are replayed as the original drainer's `drainer/schema.go` does (`handleDDL`): database
//! jobs from their `DBInfo`, table jobs from their `TableInfo` snapshot (any job carrying one
//! replaces the table), views and sequences ignored. Unfinished jobs and jobs with schema
//! version 0 (failed DDL) change nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::job::{action, HistoryInfo, Job, TableInfo};
use crate::table::TableSchema;

/// The `mysql` database: created by TiDB's bootstrap without a DDL job, so no history creates
/// it, yet system tables are created in it by jobs (the original's `defaultMySQLSchemaInfo`).
const MYSQL_DATABASE_ID: i64 = 1;

/// Every table shape TiDB's DDL history produced, by schema version.
#[derive(Debug)]
pub struct SchemaHistory {
    /// The newest schema version applied.
    schema_version: i64,
    /// The highest job ID applied.
    max_job_id: i64,
    /// Every job applied, so that one seen again is ignored.
    applied_jobs: HashSet<i64>,
    /// Every database ever created, by ID (kept after a drop: the drop's DDL names it).
    database_names: HashMap<i64, String>,
    /// Every shape of each logical table, oldest first.
    shapes: HashMap<i64, Vec<Arc<TableSchema>>>,
    /// What each physical ID names from which schema version on, oldest first.
    bindings: HashMap<i64, Vec<Binding>>,
    /// The tables that exist now, by logical ID.
    live_tables: HashMap<i64, LiveTable>,
    /// Tables dropped with their database, by database ID, for `FLASHBACK DATABASE`.
    dropped_with_database: HashMap<i64, Vec<(i64, LiveTable)>>,
}

/// From `from_version` on, a physical ID names `logical_id` (`None`: nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Binding {
    from_version: i64,
    logical_id: Option<i64>,
}

/// A table that exists now: its database and the physical IDs its rows are written under.
#[derive(Clone, Debug)]
struct LiveTable {
    database_id: i64,
    physical_ids: Vec<i64>,
}

impl Default for SchemaHistory {
    fn default() -> SchemaHistory {
        SchemaHistory::new()
    }
}

impl SchemaHistory {
    /// An empty history (only the `mysql` database, which TiDB creates without a job).
    pub fn new() -> SchemaHistory {
        SchemaHistory {
            schema_version: 0,
            max_job_id: 0,
            applied_jobs: HashSet::new(),
            database_names: HashMap::from([(MYSQL_DATABASE_ID, "mysql".to_owned())]),
            shapes: HashMap::new(),
            bindings: HashMap::new(),
            live_tables: HashMap::new(),
            dropped_with_database: HashMap::new(),
        }
    }

    /// Applies one job (jobs must come in increasing schema version; a job already applied —
    /// same id — is ignored). A job older than the newest applied (one that finished while a
    /// newer one was already fetched) is replayed in place when no newer job touched its tables,
    /// and is an error otherwise: its shapes would come out wrong. On an error the history may
    /// hold part of the job: the caller stops.
    pub fn apply(&mut self, job: &Job) -> Result<()> {
        if self.applied_jobs.contains(&job.id) {
            tracing::debug!(job_id = job.id, "DDL job already in the schema history");
            return Ok(());
        }
        let Some(info) = job.binlog.as_ref().filter(|_| job.is_finished()) else {
            tracing::debug!(
                job_id = job.id,
                state = job.state,
                "DDL job did not finish: it changed no schema"
            );
            return Ok(());
        };
        let version = info.schema_version;
        if version <= self.schema_version {
            // A job that finished while a newer one was already fetched (concurrent DDL): it
            // replays in place as long as no newer job touched its tables (else an error).
            tracing::info!(
                job_id = job.id,
                schema_version = version,
                history_schema_version = self.schema_version,
                "DDL job older than the history's newest"
            );
        }
        self.replay(job, info, version)?;
        self.schema_version = self.schema_version.max(version);
        self.max_job_id = self.max_job_id.max(job.id);
        self.applied_jobs.insert(job.id);
        Ok(())
    }

    /// The newest schema version applied (0 when empty).
    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    /// Whether job `job_id` is in the history.
    pub fn has_job(&self, job_id: i64) -> bool {
        self.applied_jobs.contains(&job_id)
    }

    /// The highest job ID applied.
    pub fn max_job_id(&self) -> i64 {
        self.max_job_id
    }

    /// The table a binlog mutation's table ID names at `schema_version` (a partition ID resolves
    /// to its table): the shape current at that version. Rows written while a DDL was in
    /// progress may carry a column this shape does not have yet, or lack one being dropped.
    pub fn table(&self, table_id: i64, schema_version: i64) -> Result<Arc<TableSchema>> {
        let unknown = || Error::UnknownTable {
            table_id,
            schema_version,
        };
        let bindings = self.bindings.get(&table_id).ok_or_else(unknown)?;
        let bound = bindings.partition_point(|binding| binding.from_version <= schema_version);
        let logical_id = bound
            .checked_sub(1)
            .and_then(|at| bindings[at].logical_id)
            .ok_or_else(unknown)?;
        let shapes = self.shapes.get(&logical_id).ok_or_else(unknown)?;
        let current = shapes.partition_point(|shape| shape.schema_version <= schema_version);
        current
            .checked_sub(1)
            .map(|at| Arc::clone(&shapes[at]))
            .ok_or_else(unknown)
    }

    /// For a DDL binlog: the database and table names its query runs in (after the job
    /// applied), for `USE`. The table is empty for a database job.
    pub fn ddl_target(&self, job: &Job) -> (String, String) {
        let info = job.binlog.as_ref();
        let database = info
            .and_then(|info| info.db_info.as_ref())
            .map(|db| db.db_name.0.clone())
            .or_else(|| self.database_names.get(&job.schema_id).cloned())
            .unwrap_or_else(|| job.schema_name.clone());
        if is_database_job(job.action) {
            return (database, String::new());
        }
        let table = info
            .and_then(|info| {
                info.table_info
                    .as_ref()
                    .or_else(|| info.multiple_table_infos.last())
            })
            .map(|table| table.name.0.clone())
            .or_else(|| {
                let shapes = self.shapes.get(&job.table_id)?;
                Some(shapes.last()?.name.clone())
            })
            .unwrap_or_else(|| job.table_name.clone());
        (database, table)
    }

    /// Replays one finished job at `version`.
    fn replay(&mut self, job: &Job, info: &HistoryInfo, version: i64) -> Result<()> {
        match job.action {
            action::CREATE_SCHEMA | action::MODIFY_SCHEMA_CHARSET_AND_COLLATE => {
                self.put_database(job, info)?;
            }
            action::DROP_SCHEMA => {
                let dropped = self.drop_tables_of(job, job.schema_id, version)?;
                self.dropped_with_database.insert(job.schema_id, dropped);
            }
            action::RECOVER_SCHEMA => {
                let database_id = self.put_database(job, info)?;
                let recovered = self
                    .dropped_with_database
                    .remove(&database_id)
                    .unwrap_or_default();
                for (logical_id, table) in recovered {
                    for physical_id in &table.physical_ids {
                        self.bind(job, *physical_id, Some(logical_id), version)?;
                    }
                    self.live_tables.insert(logical_id, table);
                }
            }
            action::CREATE_VIEW
            | action::DROP_VIEW
            | action::CREATE_SEQUENCE
            | action::ALTER_SEQUENCE
            | action::DROP_SEQUENCE => {
                tracing::debug!(job_id = job.id, "views and sequences hold no rows");
            }
            action::DROP_TABLE => {
                let dropped = self.live_tables.remove(&job.table_id).ok_or_else(|| {
                    job_error(job, format!("table {} is not in the history", job.table_id))
                })?;
                self.unbind_all(job, &dropped, version)?;
            }
            action::CREATE_TABLE | action::RECOVER_TABLE => {
                let table = snapshot(job, info)?;
                self.put_table(job, None, table, job.schema_id, version)?;
            }
            action::CREATE_TABLES => {
                for table in &info.multiple_table_infos {
                    self.put_table(job, None, table, job.schema_id, version)?;
                }
            }
            action::RENAME_TABLES => self.rename_tables(job, info, version)?,
            action::EXCHANGE_TABLE_PARTITION => self.exchange_partition(job, info, version)?,
            action::FLASHBACK_CLUSTER => {
                return Err(job_error(
                    job,
                    "FLASHBACK CLUSTER rewinds every table; the history cannot follow it".into(),
                ));
            }
            _ => match (&info.table_info, &info.db_info) {
                (Some(table), _) => {
                    // `job.schema_id` is the table's database (the new one for a rename).
                    let previous = self.live_id(job.table_id, table.id);
                    self.put_table(job, Some(previous), table, job.schema_id, version)?;
                }
                (None, Some(_)) => {
                    self.put_database(job, info)?;
                }
                (None, None) => {
                    tracing::debug!(
                        job_id = job.id,
                        action = job.action,
                        "DDL job left no snapshot: no table shape changed"
                    );
                }
            },
        }
        Ok(())
    }

    /// Records the job's `DBInfo`; gives the database's ID.
    fn put_database(&mut self, job: &Job, info: &HistoryInfo) -> Result<i64> {
        let db = info
            .db_info
            .as_ref()
            .ok_or_else(|| job_error(job, "it carries no DBInfo".into()))?;
        self.database_names.insert(db.id, db.db_name.0.clone());
        Ok(db.id)
    }

    /// Makes `table` (from a snapshot) the current shape of its ID in database `database_id`.
    /// `previous` is the logical ID it replaces (a truncate's or repartition's old ID, or its
    /// own); `None` creates it. Physical IDs the previous table had and this one has not stop
    /// naming anything.
    fn put_table(
        &mut self,
        job: &Job,
        previous: Option<i64>,
        table: &TableInfo,
        database_id: i64,
        version: i64,
    ) -> Result<()> {
        if table.is_view_or_sequence() {
            tracing::debug!(job_id = job.id, table_id = table.id, "not a base table");
            return Ok(());
        }
        let database = self.database_names.get(&database_id).ok_or_else(|| {
            job_error(job, format!("database {database_id} is not in the history"))
        })?;
        let shape = table.to_schema(database, version)?;
        let old_physical_ids = match previous {
            Some(previous) => {
                let replaced = self.live_tables.remove(&previous).ok_or_else(|| {
                    job_error(job, format!("table {previous} is not in the history"))
                })?;
                replaced.physical_ids
            }
            None if self.live_tables.contains_key(&table.id) => {
                return Err(job_error(
                    job,
                    format!("table {} is already in the history", table.id),
                ));
            }
            None => Vec::new(),
        };
        let physical_ids = table.physical_ids();
        for gone in old_physical_ids
            .iter()
            .filter(|id| !physical_ids.contains(id))
        {
            self.bind(job, *gone, None, version)?;
        }
        for physical_id in &physical_ids {
            self.bind(job, *physical_id, Some(table.id), version)?;
        }
        self.push_shape(job, shape)?;
        self.live_tables.insert(
            table.id,
            LiveTable {
                database_id,
                physical_ids,
            },
        );
        Ok(())
    }

    /// `RENAME TABLE a TO b, c TO d`: each table of `MultipleTableInfos` moves to the database
    /// its `raw_args` give.
    fn rename_tables(&mut self, job: &Job, info: &HistoryInfo, version: i64) -> Result<()> {
        let args = job.rename_tables.as_ref().ok_or_else(|| {
            job_error(job, "its raw_args do not name the tables' databases".into())
        })?;
        for (position, table) in info.multiple_table_infos.iter().enumerate() {
            let moved = args.table_ids.get(position) == Some(&table.id);
            let database_id = args
                .new_schema_ids
                .get(position)
                .filter(|_| moved)
                .ok_or_else(|| {
                    job_error(
                        job,
                        format!(
                            "raw_args do not list table {} at position {position}",
                            table.id
                        ),
                    )
                })?;
            self.put_table(job, Some(table.id), table, *database_id, version)?;
        }
        Ok(())
    }

    /// `ALTER TABLE pt EXCHANGE PARTITION p WITH TABLE nt`: the snapshot is `pt`, whose
    /// partition `p` now has `nt`'s old ID (`job.table_id`), while `nt` takes `p`'s old ID (the
    /// one `pt` lost) with its shape unchanged (TiDB's `onExchangeTablePartition`).
    fn exchange_partition(&mut self, job: &Job, info: &HistoryInfo, version: i64) -> Result<()> {
        let partitioned = snapshot(job, info)?;
        let not_in_history = |id: i64| job_error(job, format!("table {id} is not in the history"));
        let plain = self
            .live_tables
            .remove(&job.table_id)
            .ok_or_else(|| not_in_history(job.table_id))?;
        let partitioned_before = self
            .live_tables
            .get(&partitioned.id)
            .ok_or_else(|| not_in_history(partitioned.id))?;
        let new_physical_ids = partitioned.physical_ids();
        let lost: Vec<i64> = partitioned_before
            .physical_ids
            .iter()
            .copied()
            .filter(|id| !new_physical_ids.contains(id))
            .collect();
        let [partition_id] = lost[..] else {
            return Err(job_error(
                job,
                format!("table {} lost partitions {lost:?}, not one", partitioned.id),
            ));
        };
        let database_id = partitioned_before.database_id;
        self.put_table(job, Some(partitioned.id), partitioned, database_id, version)?;
        let mut plain_shape = self
            .shapes
            .get(&job.table_id)
            .and_then(|shapes| shapes.last())
            .map(|shape| TableSchema::clone(shape))
            .ok_or_else(|| not_in_history(job.table_id))?;
        plain_shape.id = partition_id;
        plain_shape.schema_version = version;
        self.bind(job, partition_id, Some(partition_id), version)?;
        self.push_shape(job, plain_shape)?;
        self.live_tables.insert(
            partition_id,
            LiveTable {
                database_id: plain.database_id,
                physical_ids: vec![partition_id],
            },
        );
        Ok(())
    }

    /// Drops every table of database `database_id`; gives them, for a later recovery.
    fn drop_tables_of(
        &mut self,
        job: &Job,
        database_id: i64,
        version: i64,
    ) -> Result<Vec<(i64, LiveTable)>> {
        let ids: Vec<i64> = self
            .live_tables
            .iter()
            .filter(|(_, table)| table.database_id == database_id)
            .map(|(id, _)| *id)
            .collect();
        let mut dropped = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(table) = self.live_tables.remove(&id) {
                self.unbind_all(job, &table, version)?;
                dropped.push((id, table));
            }
        }
        Ok(dropped)
    }

    /// From `version` on, none of `table`'s physical IDs names anything.
    fn unbind_all(&mut self, job: &Job, table: &LiveTable, version: i64) -> Result<()> {
        for physical_id in &table.physical_ids {
            self.bind(job, *physical_id, None, version)?;
        }
        Ok(())
    }

    /// From `version` on, `physical_id` names `logical_id`. A later job already changed what
    /// it names: this job comes too late to be replayed.
    fn bind(
        &mut self,
        job: &Job,
        physical_id: i64,
        logical_id: Option<i64>,
        version: i64,
    ) -> Result<()> {
        let bindings = self.bindings.entry(physical_id).or_default();
        match bindings.last() {
            Some(last) if last.from_version > version => Err(out_of_order(
                job,
                format!("table ID {physical_id}"),
                last.from_version,
            )),
            Some(last) if last.logical_id == logical_id => Ok(()),
            _ => {
                bindings.push(Binding {
                    from_version: version,
                    logical_id,
                });
                Ok(())
            }
        }
    }

    /// Adds `shape` to its table's shapes, unless it equals the current one but for its
    /// version: then the current one stays (shared by every later lookup). A later job already
    /// changed the table: this job comes too late to be replayed.
    fn push_shape(&mut self, job: &Job, mut shape: TableSchema) -> Result<()> {
        let shapes = self.shapes.entry(shape.id).or_default();
        if let Some(current) = shapes.last() {
            let version = shape.schema_version;
            if current.schema_version > version {
                let table = format!("table {}", shape.id);
                return Err(out_of_order(job, table, current.schema_version));
            }
            shape.schema_version = current.schema_version;
            if shape == **current {
                return Ok(());
            }
            shape.schema_version = version;
        }
        shapes.push(Arc::new(shape));
        Ok(())
    }

    /// The logical table a table job changes: `job_table_id` when it exists now (a truncate's
    /// old ID), else the snapshot's own.
    fn live_id(&self, job_table_id: i64, snapshot_id: i64) -> i64 {
        if self.live_tables.contains_key(&job_table_id) {
            job_table_id
        } else {
            snapshot_id
        }
    }
}

/// The job's `TableInfo`, which it must carry.
fn snapshot<'a>(job: &Job, info: &'a HistoryInfo) -> Result<&'a TableInfo> {
    info.table_info
        .as_ref()
        .ok_or_else(|| job_error(job, "it carries no TableInfo".into()))
}

/// Jobs on a database as a whole: their DDL runs with no table.
fn is_database_job(job_action: u8) -> bool {
    matches!(
        job_action,
        action::CREATE_SCHEMA
            | action::DROP_SCHEMA
            | action::MODIFY_SCHEMA_CHARSET_AND_COLLATE
            | action::RECOVER_SCHEMA
    )
}

/// The error for a job replayed after a newer one changed `what` (at `newer_version`).
fn out_of_order(job: &Job, what: String, newer_version: i64) -> Error {
    job_error(
        job,
        format!("{what} was already changed at schema version {newer_version}: too late to replay"),
    )
}

/// An [`Error::Job`] naming the job, its type and schema version.
fn job_error(job: &Job, reason: String) -> Error {
    Error::Job {
        job_id: job.id,
        reason: format!(
            "type {} at schema version {}: {reason}",
            job.action,
            job.schema_version()
        ),
    }
}

#[cfg(test)]
mod tests;
