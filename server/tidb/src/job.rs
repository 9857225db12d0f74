//! TiDB's DDL jobs as its status port serves them (`GET /ddl/history`, `[]*model.Job`), read
//! with serde: only what the schema history needs, every other key ignored. The JSON names
//! follow TiDB v8.1 (`pkg/parser/model/ddl.go` and `model.go`, `pkg/parser/types/field_type.go`;
//! `pkg/meta/model` in later versions, same names).
//!
//! Go writes nil slices and pointers as `null`, so every list here reads `null` as empty.
//! Serialising a [`Job`] writes the same names back (a subset of TiDB's JSON that reads back the
//! same), which is what the drainer persists.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::table::{column_flag, mysql_type, schema_state, Column, TableSchema, UniqueKey};

/// TiDB's `model.ActionType` numbers the history acts on.
pub mod action {
    /// `CREATE DATABASE`.
    pub const CREATE_SCHEMA: u8 = 1;
    /// `DROP DATABASE`.
    pub const DROP_SCHEMA: u8 = 2;
    /// `CREATE TABLE`.
    pub const CREATE_TABLE: u8 = 3;
    /// `DROP TABLE`.
    pub const DROP_TABLE: u8 = 4;
    /// `ADD COLUMN`.
    pub const ADD_COLUMN: u8 = 5;
    /// `DROP COLUMN`.
    pub const DROP_COLUMN: u8 = 6;
    /// `ADD INDEX`.
    pub const ADD_INDEX: u8 = 7;
    /// `DROP INDEX`.
    pub const DROP_INDEX: u8 = 8;
    /// `TRUNCATE TABLE`: the table gets a new ID.
    pub const TRUNCATE_TABLE: u8 = 11;
    /// `MODIFY COLUMN`.
    pub const MODIFY_COLUMN: u8 = 12;
    /// `RENAME TABLE` (one table).
    pub const RENAME_TABLE: u8 = 14;
    /// `ADD PARTITION`.
    pub const ADD_TABLE_PARTITION: u8 = 19;
    /// `DROP PARTITION`.
    pub const DROP_TABLE_PARTITION: u8 = 20;
    /// `CREATE VIEW`.
    pub const CREATE_VIEW: u8 = 21;
    /// `TRUNCATE PARTITION`: the partitions get new IDs.
    pub const TRUNCATE_TABLE_PARTITION: u8 = 23;
    /// `DROP VIEW`.
    pub const DROP_VIEW: u8 = 24;
    /// `RECOVER TABLE` / `FLASHBACK TABLE`: the table comes back with its old ID.
    pub const RECOVER_TABLE: u8 = 25;
    /// `ALTER DATABASE ... CHARSET`: a new `DBInfo`.
    pub const MODIFY_SCHEMA_CHARSET_AND_COLLATE: u8 = 26;
    /// `CREATE SEQUENCE`.
    pub const CREATE_SEQUENCE: u8 = 34;
    /// `ALTER SEQUENCE`.
    pub const ALTER_SEQUENCE: u8 = 35;
    /// `DROP SEQUENCE`.
    pub const DROP_SEQUENCE: u8 = 36;
    /// `EXCHANGE PARTITION`: a partition and a plain table swap IDs.
    pub const EXCHANGE_TABLE_PARTITION: u8 = 42;
    /// `RENAME TABLE a TO b, c TO d`.
    pub const RENAME_TABLES: u8 = 47;
    /// Several tables created in one job (`MultipleTableInfos`).
    pub const CREATE_TABLES: u8 = 60;
    /// `FLASHBACK CLUSTER`: every table may change at once.
    pub const FLASHBACK_CLUSTER: u8 = 62;
    /// `FLASHBACK DATABASE`: the database and its tables come back with their old IDs.
    pub const RECOVER_SCHEMA: u8 = 63;
    /// `LOCK TABLES`.
    pub const LOCK_TABLE: u8 = 27;
    /// `UNLOCK TABLES`.
    pub const UNLOCK_TABLE: u8 = 28;
    /// TiFlash replica availability (internal).
    pub const UPDATE_TIFLASH_REPLICA_STATUS: u8 = 31;
    /// `ALTER TABLE ... ATTRIBUTES`.
    pub const ALTER_TABLE_ATTRIBUTES: u8 = 49;
    /// `ALTER TABLE ... PARTITION ... ATTRIBUTES`.
    pub const ALTER_TABLE_PARTITION_ATTRIBUTES: u8 = 50;
    /// `CREATE PLACEMENT POLICY`.
    pub const CREATE_PLACEMENT_POLICY: u8 = 51;
    /// `ALTER TABLE ... PLACEMENT POLICY`, the last placement action.
    pub const ALTER_TABLE_PLACEMENT: u8 = 56;
    /// `ALTER TABLE ... CACHE`.
    pub const ALTER_CACHE_TABLE: u8 = 57;
    /// `ALTER TABLE ... NOCACHE`.
    pub const ALTER_NO_CACHE_TABLE: u8 = 59;
    /// `CREATE RESOURCE GROUP`.
    pub const CREATE_RESOURCE_GROUP: u8 = 68;
    /// `DROP RESOURCE GROUP`.
    pub const DROP_RESOURCE_GROUP: u8 = 70;
}

/// TiDB's `model.JobState` numbers.
pub mod job_state {
    /// Finished; TiDB writes the DDL binlog in this state.
    pub const DONE: i32 = 4;
    /// Finished and seen by every TiDB server (what history jobs normally hold).
    pub const SYNCED: i32 = 6;
}

/// One DDL job (`model.Job`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Job {
    /// The job ID (from TiDB's global ID allocator, shared with table IDs).
    pub id: i64,
    /// Its [`action`].
    #[serde(rename = "type")]
    pub action: u8,
    /// The database the job runs in (the new one for a rename).
    #[serde(default)]
    pub schema_id: i64,
    /// The table it changes (the old ID for a truncate, the plain table for an exchange).
    #[serde(default)]
    pub table_id: i64,
    /// The database name TiDB recorded (may be empty in old versions).
    #[serde(default, deserialize_with = "null_as_default")]
    pub schema_name: String,
    /// The table name TiDB recorded (may be empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub table_name: String,
    /// Its [`job_state`].
    pub state: i32,
    /// The [`schema_state`] it ended in.
    #[serde(default)]
    pub schema_state: u8,
    /// The DDL statement.
    #[serde(default, deserialize_with = "null_as_default")]
    pub query: String,
    /// What a rename of several tables moves where (read from `raw_args`; `None` for every
    /// other job).
    #[serde(
        default,
        rename = "raw_args",
        deserialize_with = "RenameTablesArgs::from_raw_args",
        skip_serializing_if = "Option::is_none"
    )]
    pub rename_tables: Option<RenameTablesArgs>,
    /// The schema the job left (`HistoryInfo`); `None` for a job that never finished.
    #[serde(default)]
    pub binlog: Option<HistoryInfo>,
}

/// `model.HistoryInfo`: the schema version a finished job produced and the snapshots it left.
/// TiDB gives its fields no JSON tags, so the keys are the Go field names.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct HistoryInfo {
    /// The schema version after the job (0 for a job that failed).
    #[serde(rename = "SchemaVersion", default)]
    pub schema_version: i64,
    /// The database after a database job.
    #[serde(rename = "DBInfo", default)]
    pub db_info: Option<DbInfo>,
    /// The table after a table job.
    #[serde(rename = "TableInfo", default)]
    pub table_info: Option<TableInfo>,
    /// The commit TS of the job's last step.
    #[serde(rename = "FinishedTS", default)]
    pub finished_ts: u64,
    /// Every table after a job on several tables (create tables, rename tables).
    #[serde(
        rename = "MultipleTableInfos",
        default,
        deserialize_with = "null_as_default"
    )]
    pub multiple_table_infos: Vec<TableInfo>,
}

/// `model.DBInfo`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct DbInfo {
    /// Database ID.
    pub id: i64,
    /// Its name.
    pub db_name: CiStr,
    /// Its [`schema_state`].
    #[serde(default)]
    pub state: u8,
}

/// `model.TableInfo`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct TableInfo {
    /// Table ID (the logical one for a partitioned table).
    pub id: i64,
    /// Its name.
    pub name: CiStr,
    /// Columns in offset order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cols: Vec<ColumnInfo>,
    /// Indexes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index_info: Vec<IndexInfo>,
    /// The integer primary key is the row handle.
    #[serde(default)]
    pub pk_is_handle: bool,
    /// The primary key is a clustered (common) handle.
    #[serde(default)]
    pub is_common_handle: bool,
    /// The partitions, for a partitioned table.
    #[serde(default)]
    pub partition: Option<PartitionInfo>,
    /// Its [`schema_state`].
    #[serde(default)]
    pub state: u8,
    /// Set for a view (its definition; the history keeps no views).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<serde_json::Value>,
    /// Set for a sequence (the history keeps no sequences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<serde_json::Value>,
}

/// `model.ColumnInfo`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ColumnInfo {
    /// Column ID.
    pub id: i64,
    /// Its name.
    pub name: CiStr,
    /// Its offset in the table's columns.
    pub offset: usize,
    /// The origin default (any JSON; `null` for none).
    #[serde(default)]
    pub origin_default: Option<serde_json::Value>,
    /// A `BIT` column's origin default as base64 bytes (TiDB's `GetOriginDefaultValue` prefers
    /// it: the plain value is corrupted for `BIT`).
    #[serde(default)]
    pub origin_default_bit: Option<String>,
    /// The generation expression, empty for a stored column.
    #[serde(default, deserialize_with = "null_as_default")]
    pub generated_expr_string: String,
    /// Whether a generated column is stored.
    #[serde(default)]
    pub generated_stored: bool,
    /// Its type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Its [`schema_state`].
    #[serde(default)]
    pub state: u8,
    /// An internal column (expression indexes).
    #[serde(default)]
    pub hidden: bool,
}

/// `types.FieldType`, written through TiDB's `jsonFieldType` (Go field names, no tags).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct FieldType {
    /// [`mysql_type`] code.
    #[serde(rename = "Tp")]
    pub tp: u8,
    /// [`column_flag`] bits.
    #[serde(rename = "Flag", default)]
    pub flag: u32,
    /// Display length / precision.
    #[serde(rename = "Flen", default)]
    pub flen: i64,
    /// Scale / fractional seconds.
    #[serde(rename = "Decimal", default)]
    pub decimal: i64,
    /// Character set.
    #[serde(rename = "Charset", default, deserialize_with = "null_as_default")]
    pub charset: String,
    /// Collation.
    #[serde(rename = "Collate", default, deserialize_with = "null_as_default")]
    pub collate: String,
    /// `ENUM`/`SET` elements.
    #[serde(rename = "Elems", default, deserialize_with = "null_as_default")]
    pub elems: Vec<String>,
    /// An array type (multi-valued indexes): TiDB reports it as `JSON`.
    #[serde(rename = "Array", default)]
    pub array: bool,
}

/// `model.IndexInfo`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct IndexInfo {
    /// Index ID.
    pub id: i64,
    /// Its name.
    pub idx_name: CiStr,
    /// Its columns.
    #[serde(default, deserialize_with = "null_as_default")]
    pub idx_cols: Vec<IndexColumn>,
    /// Its [`schema_state`].
    #[serde(default)]
    pub state: u8,
    /// A unique index.
    #[serde(default)]
    pub is_unique: bool,
    /// The primary key.
    #[serde(default)]
    pub is_primary: bool,
}

/// `model.IndexColumn`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct IndexColumn {
    /// The column's name.
    pub name: CiStr,
    /// The column's offset in the table.
    pub offset: usize,
    /// Prefix length, -1 for the whole column.
    #[serde(default)]
    pub length: i64,
}

/// `model.PartitionInfo`: only the partitions' IDs matter here.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct PartitionInfo {
    /// Partitioning is in effect (rows are written under partition IDs).
    #[serde(default)]
    pub enable: bool,
    /// The partitions.
    #[serde(default, deserialize_with = "null_as_default")]
    pub definitions: Vec<PartitionDefinition>,
}

/// `model.PartitionDefinition`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct PartitionDefinition {
    /// The partition's (physical table) ID.
    pub id: i64,
    /// Its name.
    pub name: CiStr,
}

/// `RENAME TABLE a TO b, c TO d`'s arguments: `raw_args` is `[oldSchemaIDs, newSchemaIDs,
/// tableNames, tableIDs, oldSchemaNames, oldTableNames]` (TiDB's `onRenameTables`), and
/// `MultipleTableInfos` lists the tables in the same order.
#[derive(Clone, Debug, PartialEq)]
pub struct RenameTablesArgs {
    /// The database each table moves to.
    pub new_schema_ids: Vec<i64>,
    /// The tables, in the same order.
    pub table_ids: Vec<i64>,
}

/// `model.CIStr`: TiDB writes `{"O": original, "L": lower}`, and reads a bare string too (old
/// partition names). Only the original is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CiStr(pub String);

impl Job {
    /// Reads `/ddl/history`'s answer.
    pub fn list_from_json(json: &[u8]) -> serde_json::Result<Vec<Job>> {
        serde_json::from_slice(json)
    }

    /// The schema version the job produced (0 when it did not finish).
    pub fn schema_version(&self) -> i64 {
        self.binlog.as_ref().map_or(0, |info| info.schema_version)
    }

    /// Whether the original drainer leaves this job's DDL out of the downstream: cluster-local
    /// statements (TiFlash replica status, table locks, table cache, attributes, placement
    /// policies, resource groups; tidb-binlog `drainer/syncer.go`) and batch `CREATE TABLES`
    /// (written by BR restores, not replayed by the original's SQL destinations).
    pub fn has_no_downstream_effect(&self) -> bool {
        matches!(
            self.action,
            action::LOCK_TABLE
                | action::UNLOCK_TABLE
                | action::UPDATE_TIFLASH_REPLICA_STATUS
                | action::ALTER_TABLE_ATTRIBUTES
                | action::ALTER_TABLE_PARTITION_ATTRIBUTES
                | action::CREATE_PLACEMENT_POLICY..=action::ALTER_TABLE_PLACEMENT
                | action::ALTER_CACHE_TABLE
                | action::ALTER_NO_CACHE_TABLE
                | action::CREATE_TABLES
                | action::CREATE_RESOURCE_GROUP..=action::DROP_RESOURCE_GROUP
        )
    }

    /// Whether the job changed the schema: finished (done or synced) with a schema version
    /// (TiDB leaves 0 for a DDL that failed). The original drainer skips every other job.
    pub fn is_finished(&self) -> bool {
        (self.state == job_state::DONE || self.state == job_state::SYNCED)
            && self.schema_version() > 0
    }
}

impl TableInfo {
    /// Whether this is a view or a sequence: no rows of its own, never in a binlog.
    pub fn is_view_or_sequence(&self) -> bool {
        self.view.is_some() || self.sequence.is_some()
    }

    /// The IDs rows of this table are written under: its own, and each partition's when
    /// partitioned.
    pub fn physical_ids(&self) -> Vec<i64> {
        let mut ids = vec![self.id];
        if let Some(partition) = self.partition.as_ref().filter(|info| info.enable) {
            ids.extend(partition.definitions.iter().map(|definition| definition.id));
        }
        ids
    }

    /// This table as the rows need it, in database `db`, current from `schema_version` on.
    pub fn to_schema(&self, db: &str, schema_version: i64) -> Result<TableSchema> {
        let invalid = |reason: String| Error::TableInfo {
            table_id: self.id,
            schema_version,
            reason,
        };
        let mut columns = Vec::with_capacity(self.cols.len());
        for (position, info) in self.cols.iter().enumerate() {
            if info.offset != position {
                return Err(invalid(format!(
                    "column {} has offset {} at position {position}",
                    info.name.0, info.offset
                )));
            }
            columns.push(info.to_column().map_err(invalid)?);
        }
        let offsets_of = |index: &IndexInfo| -> Result<Vec<usize>> {
            index
                .idx_cols
                .iter()
                .map(|column| {
                    if column.offset < columns.len() {
                        Ok(column.offset)
                    } else {
                        Err(invalid(format!(
                            "index {} names column offset {} of {} columns",
                            index.idx_name.0,
                            column.offset,
                            columns.len()
                        )))
                    }
                })
                .collect()
        };
        let public_indexes = || {
            self.index_info
                .iter()
                .filter(|index| index.state == schema_state::PUBLIC)
        };
        let primary_key = if self.pk_is_handle {
            // TiDB's `GetPkColInfo`: the column flagged as the primary key is the handle.
            columns
                .iter()
                .position(|column| column.flag & column_flag::PRI_KEY != 0)
                .map(|offset| vec![offset])
                .ok_or_else(|| invalid("pk_is_handle without a primary key column".into()))?
        } else {
            match public_indexes().find(|index| index.is_primary) {
                Some(index) => offsets_of(index)?,
                None => Vec::new(),
            }
        };
        let unique_keys = public_indexes()
            .filter(|index| index.is_unique && !index.is_primary)
            .map(|index| {
                Ok(UniqueKey {
                    name: index.idx_name.0.clone(),
                    columns: offsets_of(index)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TableSchema {
            id: self.id,
            schema_version,
            db: db.to_owned(),
            name: self.name.0.clone(),
            columns,
            pk_is_handle: self.pk_is_handle,
            is_common_handle: self.is_common_handle,
            primary_key,
            unique_keys,
        })
    }
}

impl ColumnInfo {
    /// The column as the rows need it; the error says what is wrong.
    fn to_column(&self) -> std::result::Result<Column, String> {
        let field = &self.field_type;
        let tp = if field.array {
            mysql_type::JSON
        } else {
            field.tp
        };
        Ok(Column {
            id: self.id,
            name: self.name.0.clone(),
            offset: self.offset,
            tp,
            flag: field.flag,
            flen: field.flen,
            decimal: field.decimal,
            charset: field.charset.clone(),
            collate: field.collate.clone(),
            elems: field.elems.clone(),
            origin_default: self.origin_default_value(tp)?,
            generated: !self.generated_expr_string.is_empty(),
            state: self.state,
        })
    }

    /// TiDB's `GetOriginDefaultValue`: a `BIT` column's default from its bytes (given here as
    /// the unsigned number they spell, big-endian, as a `BIT` value reads), any other column's
    /// as written.
    fn origin_default_value(
        &self,
        tp: u8,
    ) -> std::result::Result<Option<serde_json::Value>, String> {
        use base64::Engine as _;
        let bits = match (&self.origin_default_bit, tp) {
            (Some(encoded), mysql_type::BIT) => encoded,
            _ => return Ok(self.origin_default.clone().filter(|value| !value.is_null())),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(bits)
            .map_err(|error| format!("column {}: origin_default_bit: {error}", self.name.0))?;
        if bytes.len() > 8 {
            return Err(format!(
                "column {}: origin_default_bit has {} bytes, a BIT holds at most 8",
                self.name.0,
                bytes.len()
            ));
        }
        let value = bytes
            .iter()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte));
        Ok(Some(serde_json::Value::from(value)))
    }
}

impl RenameTablesArgs {
    /// Reads `raw_args` when it has the shape of a rename of several tables (arrays of IDs at
    /// positions 1 and 3) and gives `None` for every other job's arguments.
    fn from_raw_args<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Option<RenameTablesArgs>, D::Error> {
        let raw = Option::<serde_json::Value>::deserialize(deserializer)?;
        let ids_at = |position: usize| -> Option<Vec<i64>> {
            let list = raw.as_ref()?.as_array()?.get(position)?.as_array()?;
            list.iter().map(serde_json::Value::as_i64).collect()
        };
        Ok(ids_at(1)
            .zip(ids_at(3))
            .map(|(new_schema_ids, table_ids)| RenameTablesArgs {
                new_schema_ids,
                table_ids,
            }))
    }
}

// Written back in the shape it is read from: `[[], newSchemaIDs, [], tableIDs]`.
impl Serialize for RenameTablesArgs {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let none: [i64; 0] = [];
        (&none, &self.new_schema_ids, &none, &self.table_ids).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CiStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<CiStr, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Pair {
                #[serde(rename = "O", default)]
                original: String,
            },
            Bare(String),
        }
        Ok(match Shape::deserialize(deserializer)? {
            Shape::Pair { original } | Shape::Bare(original) => CiStr(original),
        })
    }
}

impl Serialize for CiStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Pair<'a> {
            #[serde(rename = "O")]
            original: &'a str,
            #[serde(rename = "L")]
            lower: String,
        }
        Pair {
            original: &self.0,
            lower: self.0.to_lowercase(),
        }
        .serialize(serializer)
    }
}

/// Reads `null` (Go's nil slice or empty pointer) as the type's default.
fn null_as_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests;
