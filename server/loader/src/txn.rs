//! What the loader applies: one upstream transaction, either rows by column name or one DDL.
//! The loader needs no upstream schema: keys come from the downstream (as the original's
//! loader), so reparo, which reads files without schemas, loads the same way.

use std::sync::Arc;

use binlog_tidb::Value;

/// One upstream transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadTxn {
    /// Its commit TS (transactions arrive in increasing commit TS).
    pub commit_ts: u64,
    /// Its rows or its DDL.
    pub body: TxnBody,
}

/// What a transaction does downstream.
#[derive(Clone, Debug, PartialEq)]
pub enum TxnBody {
    /// Row changes, in the order they happened upstream.
    Rows(Vec<RowEvent>),
    /// One DDL statement.
    Ddl(Ddl),
}

/// A DDL statement and where it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ddl {
    /// The database it runs in (`USE` first, except for `CREATE DATABASE`, which creates it);
    /// empty for statements that name none.
    pub db: String,
    /// The table it changes, empty when none; its cached downstream keys are dropped.
    pub table: String,
    /// The statement as TiDB ran it.
    pub query: String,
}

/// A table and the columns its rows list, shared by all rows of the table in a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRef {
    /// Database name.
    pub db: String,
    /// Table name.
    pub table: String,
    /// Column names, in the order of every row's values.
    pub columns: Vec<String>,
}

/// What a row change is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// A new row (`new` only).
    Insert,
    /// A changed row (`old` and `new`).
    Update,
    /// A removed row (`old` only).
    Delete,
}

/// One row change.
#[derive(Clone, Debug, PartialEq)]
pub struct RowEvent {
    /// Its table and column names.
    pub table: Arc<TableRef>,
    /// Insert, update or delete.
    pub kind: RowKind,
    /// The row before (update, delete), one value per column; empty for an insert.
    pub old: Vec<Value>,
    /// The row after (insert, update), one value per column; empty for a delete.
    pub new: Vec<Value>,
}

/// Whether `query` is `CREATE DATABASE` or `CREATE SCHEMA` (any case, after blanks and
/// `/* ... */` comments, such as TiDB's `/*T! ... */` ones).
pub fn creates_database(query: &str) -> bool {
    let mut rest = query.trim_start();
    while let Some(comment) = rest.strip_prefix("/*") {
        match comment.find("*/") {
            Some(end) => rest = comment[end + 2..].trim_start(),
            None => return false,
        }
    }
    let mut words = rest.split_whitespace().map(str::to_ascii_uppercase);
    words.next().as_deref() == Some("CREATE")
        && matches!(words.next().as_deref(), Some("DATABASE" | "SCHEMA"))
}

#[cfg(test)]
mod tests {
    use super::creates_database;

    #[test]
    fn only_create_database_runs_without_use() {
        for query in [
            "CREATE DATABASE `shop`",
            "  create schema if not exists s",
            "/* a comment */ CREATE\tDATABASE d",
        ] {
            assert!(creates_database(query), "{query}");
        }
        for query in [
            "CREATE TABLE t (a INT)",
            "DROP DATABASE d",
            "ALTER DATABASE d CHARACTER SET utf8mb4",
            "/* unterminated CREATE DATABASE d",
            "",
        ] {
            assert!(!creates_database(query), "{query}");
        }
    }
}
