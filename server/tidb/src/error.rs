//! The crate's one error type: each variant names what an operator needs to find the input that
//! failed (the table, column, job or byte offset).

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading TiDB's formats.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Datum bytes that do not decode (the codec's own error, before any column is known).
    #[error("malformed datum at byte {offset}: {reason}")]
    Datum {
        /// Byte offset in the encoded row.
        offset: usize,
        /// What is wrong there.
        reason: String,
    },
    /// A row whose column does not decode or does not fit the column's type.
    #[error("table {table}, column {column}: {reason}")]
    Column {
        /// `db.table`.
        table: String,
        /// The column's name (or `#<id>` when the ID is unknown).
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// A row that does not fit its table as a whole (a missing handle, a truncated update).
    #[error("table {table}: {reason}")]
    Row {
        /// `db.table`.
        table: String,
        /// What is wrong.
        reason: String,
    },
    /// A DDL job that cannot be read or replayed.
    #[error("DDL job {job_id}: {reason}")]
    Job {
        /// The job's ID.
        job_id: i64,
        /// What is wrong.
        reason: String,
    },
    /// A table ID the schema history does not hold at a schema version.
    #[error("table ID {table_id} is unknown at schema version {schema_version}")]
    UnknownTable {
        /// The (physical) table ID the binlog names.
        table_id: i64,
        /// The schema version the binlog carries.
        schema_version: i64,
    },
    /// A `TableInfo` snapshot that does not describe a usable table.
    #[error("table ID {table_id} at schema version {schema_version}: {reason}")]
    TableInfo {
        /// The table's ID.
        table_id: i64,
        /// The schema version the snapshot belongs to.
        schema_version: i64,
        /// What is wrong.
        reason: String,
    },
}
