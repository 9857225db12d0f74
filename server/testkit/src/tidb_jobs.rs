//! DDL job JSON in TiDB's exact shape, for tests that script a DDL history (served by
//! [`crate::tidb_status`]): every key TiDB v8.1 writes for `model.Job`, `HistoryInfo`,
//! `DBInfo`, `TableInfo`, `ColumnInfo`, `IndexInfo` and `PartitionInfo`
//! (`pkg/parser/model/ddl.go`, `model.go`, `pkg/parser/types/field_type.go`), with the values a
//! plain DDL leaves in the keys the drainer does not read.

use serde_json::{json, Value};

/// TiDB's `model.ActionType` numbers the builders use.
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
    /// `TRUNCATE TABLE`.
    pub const TRUNCATE_TABLE: u8 = 11;
    /// `MODIFY COLUMN`.
    pub const MODIFY_COLUMN: u8 = 12;
    /// `RENAME TABLE`.
    pub const RENAME_TABLE: u8 = 14;
}

/// MySQL type codes (TiDB's `mysql.Type*`, `pkg/parser/mysql/type.go`).
pub mod mysql_type {
    /// `TINYINT`.
    pub const TINY: u8 = 1;
    /// `SMALLINT`.
    pub const SHORT: u8 = 2;
    /// `INT`.
    pub const LONG: u8 = 3;
    /// `FLOAT`.
    pub const FLOAT: u8 = 4;
    /// `DOUBLE`.
    pub const DOUBLE: u8 = 5;
    /// `TIMESTAMP`.
    pub const TIMESTAMP: u8 = 7;
    /// `BIGINT`.
    pub const LONGLONG: u8 = 8;
    /// `MEDIUMINT`.
    pub const INT24: u8 = 9;
    /// `DATE`.
    pub const DATE: u8 = 10;
    /// `TIME`.
    pub const DURATION: u8 = 11;
    /// `DATETIME`.
    pub const DATETIME: u8 = 12;
    /// `YEAR`.
    pub const YEAR: u8 = 13;
    /// `VARCHAR` and `VARBINARY`.
    pub const VARCHAR: u8 = 15;
    /// `BIT`.
    pub const BIT: u8 = 16;
    /// `JSON`.
    pub const JSON: u8 = 245;
    /// `DECIMAL`.
    pub const NEWDECIMAL: u8 = 246;
    /// `ENUM`.
    pub const ENUM: u8 = 247;
    /// `SET`.
    pub const SET: u8 = 248;
    /// `TEXT` and `BLOB`.
    pub const BLOB: u8 = 252;
    /// `CHAR` and `BINARY`.
    pub const STRING: u8 = 254;
}

/// Column flags (TiDB's `mysql.*Flag`, `pkg/parser/mysql/type.go`).
pub mod column_flag {
    /// `NOT NULL`.
    pub const NOT_NULL: u32 = 1;
    /// Part of the primary key.
    pub const PRI_KEY: u32 = 1 << 1;
    /// Part of a unique key.
    pub const UNIQUE_KEY: u32 = 1 << 2;
    /// Part of a non-unique key.
    pub const MULTIPLE_KEY: u32 = 1 << 3;
    /// `UNSIGNED`.
    pub const UNSIGNED: u32 = 1 << 5;
    /// Binary string (`charset binary`).
    pub const BINARY: u32 = 1 << 7;
}

/// `NOT NULL` and primary key flags: an `INT PRIMARY KEY` column.
pub const PK_FLAGS: u32 = 1 | 2;

/// `model.JobStateSynced`: what a finished job in the history holds.
const JOB_STATE_SYNCED: u8 = 6;

/// `model.StatePublic`.
const STATE_PUBLIC: u8 = 5;

/// `{"O": name, "L": lower-case name}` (`model.CIStr`).
pub fn ci_str(name: &str) -> Value {
    json!({"O": name, "L": name.to_lowercase()})
}

/// Whether TiDB gives a column of type `tp` a text charset (`types.HasCharset`): strings,
/// blobs, `ENUM` and `SET` (a `BINARY` flag makes a string binary: [`binary_string`]).
fn has_charset(tp: u8) -> bool {
    matches!(
        tp,
        mysql_type::VARCHAR
            | mysql_type::STRING
            | mysql_type::BLOB
            | mysql_type::ENUM
            | mysql_type::SET
    )
}

/// A public column (`model.ColumnInfo`) of type `tp` with `flag`s; text types get
/// `utf8mb4_bin`, the others `binary`.
pub fn column_info(id: i64, name: &str, offset: usize, tp: u8, flag: u32) -> Value {
    let (charset, collate) = if has_charset(tp) {
        ("utf8mb4", "utf8mb4_bin")
    } else {
        ("binary", "binary")
    };
    let flen = if tp == mysql_type::VARCHAR { 64 } else { 11 };
    json!({
        "id": id, "name": ci_str(name), "offset": offset, "origin_default": null,
        "origin_default_bit": null, "default": null, "default_bit": null,
        "default_is_expr": false, "generated_expr_string": "", "generated_stored": false,
        "dependences": null,
        "type": {"Tp": tp, "Flag": flag, "Flen": flen, "Decimal": 0, "Charset": charset,
                 "Collate": collate, "Elems": null, "ElemsIsBinaryLit": null, "Array": false},
        "state": STATE_PUBLIC, "comment": "", "hidden": false, "change_state_info": null,
        "version": 2
    })
}

/// `column` with display length / precision `flen` and scale / fsp `decimal` (`Flen`,
/// `Decimal`; TiDB writes -1 for `Decimal` when unspecified).
pub fn with_length(mut column: Value, flen: i64, decimal: i64) -> Value {
    column["type"]["Flen"] = json!(flen);
    column["type"]["Decimal"] = json!(decimal);
    column
}

/// `column` as a binary string (`BINARY`, `VARBINARY`, `BLOB`): charset and collation
/// `binary` and the `BINARY` flag, as TiDB's `setCharsetCollationFlenDecimal` leaves them.
pub fn binary_string(mut column: Value) -> Value {
    column["type"]["Charset"] = json!("binary");
    column["type"]["Collate"] = json!("binary");
    let flag = column["type"]["Flag"].as_u64().unwrap_or(0) as u32;
    column["type"]["Flag"] = json!(flag | column_flag::BINARY);
    column
}

/// `column` (an `ENUM` or `SET`) with its elements.
pub fn with_elems(mut column: Value, elems: &[&str]) -> Value {
    column["type"]["Elems"] = json!(elems);
    column["type"]["ElemsIsBinaryLit"] = json!(vec![false; elems.len()]);
    column
}

/// `column` with a literal `DEFAULT` (as TiDB's JSON holds it: a string), which is also its
/// origin default when the column is added to a table that has rows.
pub fn with_default(mut column: Value, default: &str) -> Value {
    column["default"] = json!(default);
    column["origin_default"] = json!(default);
    column
}

/// A public index (`model.IndexInfo`) on `columns` (name and offset each).
pub fn index_info(
    id: i64,
    name: &str,
    columns: &[(&str, usize)],
    unique: bool,
    primary: bool,
) -> Value {
    let idx_cols: Vec<Value> = columns
        .iter()
        .map(|(column, offset)| json!({"name": ci_str(column), "offset": offset, "length": -1}))
        .collect();
    json!({
        "id": id, "idx_name": ci_str(name), "tbl_name": ci_str(""), "idx_cols": idx_cols,
        "state": STATE_PUBLIC, "backfill_state": 0, "comment": "", "index_type": 1,
        "is_unique": unique, "is_primary": primary, "is_invisible": false, "is_global": false,
        "mv_index": false
    })
}

/// A table (`model.TableInfo`) with `columns` and no index; its integer primary key column, if
/// any (flagged [`PK_FLAGS`]), is the handle.
pub fn table_info(id: i64, name: &str, columns: Vec<Value>) -> Value {
    let pk_is_handle = columns
        .iter()
        .any(|column| column["type"]["Flag"].as_u64().unwrap_or(0) & 2 != 0);
    let max_col_id = columns
        .iter()
        .filter_map(|column| column["id"].as_i64())
        .max()
        .unwrap_or(0);
    json!({
        "id": id, "name": ci_str(name), "charset": "utf8mb4", "collate": "utf8mb4_bin",
        "cols": columns, "index_info": null, "constraint_info": null, "fk_info": null,
        "state": STATE_PUBLIC, "pk_is_handle": pk_is_handle, "is_common_handle": false,
        "common_handle_version": 0, "comment": "", "auto_inc_id": 0, "auto_id_cache": 0,
        "auto_rand_id": 0, "max_col_id": max_col_id, "max_idx_id": 0, "max_fk_id": 0,
        "max_cst_id": 0, "update_timestamp": 0, "ShardRowIDBits": 0,
        "max_shard_row_id_bits": 0, "auto_random_bits": 0, "auto_random_range_bits": 0,
        "pre_split_regions": 0, "partition": null, "compression": "", "view": null,
        "sequence": null, "Lock": null, "version": 5, "tiflash_replica": null,
        "is_columnar": false, "temp_table_type": 0, "cache_table_status": 0,
        "policy_ref_info": null, "stats_options": null, "exchange_partition_info": null,
        "ttl_info": null, "revision": 1
    })
}

/// `table` with `indexes` (from [`index_info`]).
pub fn with_indexes(mut table: Value, indexes: Vec<Value>) -> Value {
    let max_id = indexes
        .iter()
        .filter_map(|index| index["id"].as_i64())
        .max();
    table["max_idx_id"] = json!(max_id.unwrap_or(0));
    table["index_info"] = Value::Array(indexes);
    table
}

/// `table` with a clustered primary key on `columns` (name and offset each): a common handle
/// (`is_common_handle`, `common_handle_version` 1, the `PRIMARY` index), not an int one.
pub fn clustered(mut table: Value, columns: &[(&str, usize)]) -> Value {
    table["pk_is_handle"] = json!(false);
    table["is_common_handle"] = json!(true);
    table["common_handle_version"] = json!(1);
    let mut indexes = table["index_info"].as_array().cloned().unwrap_or_default();
    let id = indexes.len() as i64 + 1;
    indexes.push(index_info(id, "PRIMARY", columns, true, true));
    table["max_idx_id"] = json!(id);
    table["index_info"] = Value::Array(indexes);
    table
}

/// `table` partitioned by hash into `partitions` (ID and name each; `model.PartitionInfo`).
pub fn with_partitions(mut table: Value, partitions: &[(i64, &str)]) -> Value {
    let definitions: Vec<Value> = partitions
        .iter()
        .map(|(id, name)| {
            json!({"id": id, "name": ci_str(name), "less_than": null, "in_values": null,
                   "policy_ref_info": null})
        })
        .collect();
    table["partition"] = json!({
        "type": 2, "expr": "`id`", "columns": null, "enable": true, "is_empty_columns": false,
        "definitions": definitions, "adding_definitions": null, "dropping_definitions": null,
        "NewPartitionIDs": null, "states": null, "num": partitions.len(), "ddl_state": 0,
        "new_table_id": 0, "ddl_type": 0, "ddl_expr": "", "ddl_columns": null,
        "ddl_update_indexes": null
    });
    table
}

/// A synced job (`model.Job`) whose `binlog` holds `db_info` or `table_info` at
/// `schema_version`.
#[allow(clippy::too_many_arguments)]
pub fn job(
    id: i64,
    job_action: u8,
    schema_version: i64,
    schema_id: i64,
    table_id: i64,
    schema_name: &str,
    table_name: &str,
    query: &str,
    db_info: Value,
    table_info: Value,
) -> Value {
    json!({
        "id": id, "type": job_action, "schema_id": schema_id, "table_id": table_id,
        "schema_name": schema_name, "table_name": table_name, "state": JOB_STATE_SYNCED,
        "warning": null, "err": null, "err_count": 0, "row_count": 0, "raw_args": null,
        "schema_state": STATE_PUBLIC, "snapshot_ver": 0, "real_start_ts": 0, "start_ts": 0,
        "dependency_id": 0, "query": query,
        "binlog": {"SchemaVersion": schema_version, "DBInfo": db_info, "TableInfo": table_info,
                   "FinishedTS": 0, "MultipleTableInfos": null},
        "version": 1, "reorg_meta": null, "multi_schema_info": null, "priority": 0,
        "seq_num": id, "charset": "utf8mb4", "collate": "utf8mb4_bin",
        "involving_schema_info": null, "admin_operator": 0, "trace_info": null
    })
}

/// `CREATE DATABASE <name>` creating database `db_id`.
pub fn create_schema(id: i64, schema_version: i64, db_id: i64, name: &str) -> Value {
    let db = json!({"id": db_id, "db_name": ci_str(name), "charset": "utf8mb4",
                    "collate": "utf8mb4_bin", "state": STATE_PUBLIC, "policy_ref_info": null});
    let query = format!("CREATE DATABASE `{name}`");
    job(
        id,
        action::CREATE_SCHEMA,
        schema_version,
        db_id,
        0,
        name,
        "",
        &query,
        db,
        Value::Null,
    )
}

/// `CREATE TABLE` of `table` (from [`table_info`]) in database `db_id`.
pub fn create_table(id: i64, schema_version: i64, db_id: i64, db: &str, table: Value) -> Value {
    table_job(
        id,
        action::CREATE_TABLE,
        schema_version,
        db_id,
        db,
        table,
        "CREATE TABLE",
    )
}

/// `ALTER TABLE ... ADD COLUMN`: `table` is the table after it.
pub fn add_column(id: i64, schema_version: i64, db_id: i64, db: &str, table: Value) -> Value {
    table_job(
        id,
        action::ADD_COLUMN,
        schema_version,
        db_id,
        db,
        table,
        "ALTER TABLE ADD COLUMN",
    )
}

/// `ALTER TABLE ... DROP COLUMN`: `table` is the table after it.
pub fn drop_column(id: i64, schema_version: i64, db_id: i64, db: &str, table: Value) -> Value {
    table_job(
        id,
        action::DROP_COLUMN,
        schema_version,
        db_id,
        db,
        table,
        "ALTER TABLE DROP COLUMN",
    )
}

/// `RENAME TABLE` into database `db_id`: `table` carries the new name.
pub fn rename_table(id: i64, schema_version: i64, db_id: i64, db: &str, table: Value) -> Value {
    table_job(
        id,
        action::RENAME_TABLE,
        schema_version,
        db_id,
        db,
        table,
        "RENAME TABLE",
    )
}

/// `TRUNCATE TABLE` of table `old_table_id`: `table` is the new table, with its new ID.
pub fn truncate_table(
    id: i64,
    schema_version: i64,
    db_id: i64,
    db: &str,
    old_table_id: i64,
    table: Value,
) -> Value {
    let mut truncate = table_job(
        id,
        action::TRUNCATE_TABLE,
        schema_version,
        db_id,
        db,
        table,
        "TRUNCATE TABLE",
    );
    truncate["table_id"] = json!(old_table_id);
    truncate
}

/// `DROP TABLE` of table `table_id` (TiDB leaves no snapshot).
pub fn drop_table(
    id: i64,
    schema_version: i64,
    db_id: i64,
    db: &str,
    table_id: i64,
    name: &str,
) -> Value {
    let query = format!("DROP TABLE `{db}`.`{name}`");
    job(
        id,
        action::DROP_TABLE,
        schema_version,
        db_id,
        table_id,
        db,
        name,
        &query,
        Value::Null,
        Value::Null,
    )
}

/// `DROP DATABASE` of database `db_id`: TiDB's `onDropSchema` finishes the job with the
/// database's `DBInfo` in state none (its tables are dropped with it).
pub fn drop_schema(id: i64, schema_version: i64, db_id: i64, name: &str) -> Value {
    let db = json!({"id": db_id, "db_name": ci_str(name), "charset": "utf8mb4",
                    "collate": "utf8mb4_bin", "state": 0, "policy_ref_info": null});
    let mut drop = job(
        id,
        action::DROP_SCHEMA,
        schema_version,
        db_id,
        0,
        name,
        "",
        &format!("DROP DATABASE `{name}`"),
        db,
        Value::Null,
    );
    drop["schema_state"] = json!(0);
    drop
}

/// `ALTER TABLE ... ADD INDEX`: `table` is the table after it.
pub fn add_index(id: i64, schema_version: i64, db_id: i64, db: &str, table: Value) -> Value {
    table_job(
        id,
        action::ADD_INDEX,
        schema_version,
        db_id,
        db,
        table,
        "ALTER TABLE ADD INDEX",
    )
}

/// `ALTER TABLE ... DROP INDEX`: `table` is the table after it.
pub fn drop_index(id: i64, schema_version: i64, db_id: i64, db: &str, table: Value) -> Value {
    table_job(
        id,
        action::DROP_INDEX,
        schema_version,
        db_id,
        db,
        table,
        "ALTER TABLE DROP INDEX",
    )
}

/// `ALTER TABLE ... MODIFY COLUMN` without reorganisation (the column keeps its ID, as TiDB
/// does when the data need not change, e.g. `INT` to `BIGINT`): `table` is the table after it.
pub fn modify_column(id: i64, schema_version: i64, db_id: i64, db: &str, table: Value) -> Value {
    table_job(
        id,
        action::MODIFY_COLUMN,
        schema_version,
        db_id,
        db,
        table,
        "ALTER TABLE MODIFY COLUMN",
    )
}

/// A job on one table whose snapshot is `table`; the query is `<statement> <db>.<table>`.
fn table_job(
    id: i64,
    job_action: u8,
    schema_version: i64,
    db_id: i64,
    db: &str,
    table: Value,
    statement: &str,
) -> Value {
    let table_id = table["id"].as_i64().unwrap_or(0);
    let name = table["name"]["O"].as_str().unwrap_or("").to_owned();
    let query = format!("{statement} `{db}`.`{name}`");
    job(
        id,
        job_action,
        schema_version,
        db_id,
        table_id,
        db,
        &name,
        &query,
        Value::Null,
        table,
    )
}
