//! The translation stage between the merge and the sink: a [`PulledBinlog`] becomes what a sink
//! consumes, a [`Txn`], or is [`Translated::Skip`]ped (a fake binlog, one listed in
//! `ignore-txn-commit-ts` or recorded with `-skip-commit-ts`, or one whose tables the filter leaves out), which only moves the
//! checkpoint.
//!
//! Destinations that write rows (`mysql`, `tidb`, `file` with `pb` payloads) get the binlog as
//! a [`LoadTxn`]: its rows decoded against the schema history at the binlog's schema version,
//! only the writable columns by name, in the order TiDB made them (each mutation's
//! `sequence`); or its DDL with the database it runs in. The others (`print`, `file` with
//! `tipb` payloads) get the payload as the pump sent it.
//! `kafka` gets the same rows plus, next to each table's rows, the [`TableSchema`] they were
//! decoded with ([`Txn::tables`]): its message describes the columns and keys.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use crate::pulled::PulledBinlog;
use crate::schema::Schema;
use crate::skip_list::PlannedSkip;
use crate::Drainer;
use binlog_archive::filter::TableFilter;
use binlog_loader::{Ddl, LoadTxn, RowEvent, RowKind, TableRef, TxnBody};
use binlog_node::proto::{Binlog, MutationType, PrewriteValue, TableMutation};
use binlog_node::{Error, Result};
use binlog_tidb::{row, TableSchema, Value};

/// A transaction for a sink, in commit-TS order.
#[derive(Clone, Debug)]
pub struct Txn {
    /// Its commit TS.
    pub commit_ts: u64,
    /// The encoded binlog as the pump sent it (what the `file` sink writes).
    pub payload: Bytes,
    /// The decoded binlog (what `print` shows and the metrics count rows from).
    pub binlog: Binlog,
    /// Its rows or DDL, for the destinations that write rows; `None` for the others.
    pub load: Option<Box<LoadTxn>>,
    /// The schema of each table the rows of `load` name (one entry per [`TableRef`] they
    /// share, in the order the rows are); empty for DDL and for the other destinations.
    pub tables: Vec<TxnTable>,
}

/// A table of a transaction's rows and the schema they were decoded with.
#[derive(Clone, Debug)]
pub struct TxnTable {
    /// What the rows of this table point at (compare with [`Arc::ptr_eq`]).
    pub rows: Arc<TableRef>,
    /// Its schema at the binlog's schema version.
    pub schema: Arc<TableSchema>,
}

/// What the translation makes of one binlog.
#[derive(Debug)]
pub enum Translated {
    /// A transaction for the sink.
    Txn(Txn),
    /// Nothing for the sink; the checkpoint still moves past it.
    Skip,
}

/// The row translation of the destinations that write rows.
pub struct RowTranslation {
    /// The schema history.
    pub schema: Schema,
    /// Which tables go downstream.
    pub filter: TableFilter,
    /// Whether DDL goes downstream (`[syncer] sync-ddl`).
    pub sync_ddl: bool,
}

/// The translation stage.
#[derive(Default)]
pub struct Translator {
    /// Commit TSs never to write (`[syncer] ignore-txn-commit-ts`, `-skip-commit-ts`).
    skips: HashMap<u64, PlannedSkip>,
    /// Present for the destinations that write rows.
    rows: Option<RowTranslation>,
}

impl Translator {
    /// A translator skipping the binlogs committed at the TSs of `skips`, turning binlogs into
    /// rows when `rows` is given.
    pub fn new(skips: HashMap<u64, PlannedSkip>, rows: Option<RowTranslation>) -> Translator {
        Translator { skips, rows }
    }

    /// Translates one merged binlog. A payload, row or DDL that cannot be translated is an
    /// error (the drainer stops, as the original's): skipping it would lose a transaction.
    pub async fn translate(
        &mut self,
        drainer: &Drainer,
        binlog: &PulledBinlog,
    ) -> Result<Translated> {
        let decoded = match Binlog::decode(&binlog.payload[..]) {
            Ok(decoded) => decoded,
            Err(error) => {
                drainer.metrics.unmarshal_errors.inc();
                tracing::error!(commit_ts = binlog.commit_ts, %error, "a pulled binlog does not decode");
                return Err(error.into());
            }
        };
        if decoded.is_fake() {
            return Ok(Translated::Skip);
        }
        if let Some(skip) = self.skips.get(&binlog.commit_ts) {
            let commit_ts = binlog.commit_ts;
            match skip {
                PlannedSkip::Configured => {
                    tracing::info!(commit_ts, "skipped: listed in ignore-txn-commit-ts")
                }
                PlannedSkip::Recorded(skip) => tracing::warn!(
                    commit_ts,
                    reason = %skip.reason,
                    by = %skip.by,
                    at = %skip.at,
                    "skipped on purpose: recorded with -skip-commit-ts"
                ),
            }
            drainer.metrics.count_skip(skip.metric_reason());
            return Ok(Translated::Skip);
        }
        let (load, tables) = match &mut self.rows {
            None => (None, Vec::new()),
            Some(rows) => match rows.translate(binlog.commit_ts, &decoded).await? {
                Some((body, tables)) => {
                    let load = LoadTxn {
                        commit_ts: binlog.commit_ts,
                        body,
                    };
                    (Some(Box::new(load)), tables)
                }
                None => return Ok(Translated::Skip),
            },
        };
        Ok(Translated::Txn(Txn {
            commit_ts: binlog.commit_ts,
            payload: binlog.payload.clone(),
            binlog: decoded,
            load,
            tables,
        }))
    }
}

impl RowTranslation {
    /// The rows or DDL of `binlog` and the tables of its rows, or `None` when nothing of it
    /// goes downstream.
    async fn translate(
        &mut self,
        commit_ts: u64,
        binlog: &Binlog,
    ) -> Result<Option<(TxnBody, Vec<TxnTable>)>> {
        if binlog.ddl_job_id > 0 {
            let ddl = self.ddl(commit_ts, binlog).await?;
            return Ok(ddl.map(|body| (body, Vec::new())));
        }
        let value = binlog.prewrite_value.as_deref().unwrap_or_default();
        let prewrite = PrewriteValue::decode(value).map_err(|error| {
            Error::Translate(format!(
                "binlog at commit TS {commit_ts}: its prewrite value does not decode: {error}"
            ))
        })?;
        let mut events = Vec::new();
        let mut tables = Vec::new();
        for mutation in &prewrite.mutations {
            let table = self
                .schema
                .table(commit_ts, mutation.table_id, prewrite.schema_version)
                .await?;
            if self.filter.skips(&table.db, &table.name) {
                continue;
            }
            let rows = mutation_rows(&table, mutation, &mut events).map_err(|error| {
                Error::Translate(format!("binlog at commit TS {commit_ts}: {error}"))
            })?;
            tables.push(TxnTable {
                rows,
                schema: table,
            });
        }
        Ok((!events.is_empty()).then_some((TxnBody::Rows(events), tables)))
    }

    /// A DDL binlog's statement, unless the original leaves it out (failed DDL, a filtered
    /// table, `sync-ddl = false`, statements with no downstream meaning).
    async fn ddl(&mut self, commit_ts: u64, binlog: &Binlog) -> Result<Option<TxnBody>> {
        let job = self.schema.ddl_job(commit_ts, binlog.ddl_job_id).await?;
        let (db, table) = self.schema.ddl_target(&job);
        let query = String::from_utf8_lossy(binlog.ddl_query.as_deref().unwrap_or_default());
        let skip_reason = if job.schema_version() == 0 {
            Some("a failed DDL (schema version 0)")
        } else if job.has_no_downstream_effect() {
            Some("a DDL with no downstream effect")
        } else if !self.sync_ddl {
            Some("sync-ddl is false")
        } else if self.filter.skips(&db, &table) {
            Some("its table is filtered out")
        } else {
            None
        };
        if let Some(reason) = skip_reason {
            tracing::info!(commit_ts, job_id = job.id, %query, reason, "DDL not replicated");
            return Ok(None);
        }
        Ok(Some(TxnBody::Ddl(Ddl {
            db,
            table,
            query: query.into_owned(),
        })))
    }
}

/// Appends the rows of `mutation` to `events`, in TiDB's order (`sequence`); returns the
/// [`TableRef`] they share.
fn mutation_rows(
    table: &TableSchema,
    mutation: &TableMutation,
    events: &mut Vec<RowEvent>,
) -> binlog_tidb::Result<Arc<TableRef>> {
    let writable: Vec<usize> = (0..table.columns.len())
        .filter(|&i| table.columns[i].is_writable())
        .collect();
    let table_ref = Arc::new(TableRef {
        db: table.db.clone(),
        table: table.name.clone(),
        columns: writable
            .iter()
            .map(|&i| table.columns[i].name.clone())
            .collect(),
    });
    let pick = |values: Vec<Value>| -> Vec<Value> {
        let mut values: Vec<Option<Value>> = values.into_iter().map(Some).collect();
        writable
            .iter()
            .map(|&i| values[i].take().unwrap_or(Value::Null))
            .collect()
    };
    let (mut inserted, mut updated, mut deleted) = (
        mutation.inserted_rows.iter(),
        mutation.updated_rows.iter(),
        mutation.deleted_rows.iter(),
    );
    let missing = |kind: &str| binlog_tidb::Error::Row {
        table: table.qualified_name(),
        reason: format!("its sequence lists more {kind} rows than the mutation holds"),
    };
    for step in mutation.sequence() {
        let event = |kind, old, new| RowEvent {
            table: table_ref.clone(),
            kind,
            old,
            new,
        };
        events.push(match step {
            MutationType::Insert => {
                let row = inserted.next().ok_or_else(|| missing("inserted"))?;
                event(
                    RowKind::Insert,
                    Vec::new(),
                    pick(row::decode_insert(table, row)?),
                )
            }
            MutationType::Update => {
                let row = updated.next().ok_or_else(|| missing("updated"))?;
                let (old, new) = row::decode_update(table, row)?;
                event(RowKind::Update, pick(old), pick(new))
            }
            MutationType::DeleteRow => {
                let row = deleted.next().ok_or_else(|| missing("deleted"))?;
                event(
                    RowKind::Delete,
                    pick(row::decode_delete(table, row)?),
                    Vec::new(),
                )
            }
            MutationType::DeleteId | MutationType::DeletePk => {
                return Err(binlog_tidb::Error::Row {
                    table: table.qualified_name(),
                    reason: format!(
                        "a {step:?} mutation (written by TiDB before v2.0, without the row) \
                         cannot be replicated"
                    ),
                })
            }
        });
    }
    Ok(table_ref)
}
