//! The SQL a row change becomes, as the original's loader writes it (spec
//! `original-drainer.md` §4.2): `INSERT INTO`, `UPDATE … SET … WHERE … LIMIT 1` and
//! `DELETE FROM … WHERE … LIMIT 1`; in safe mode an insert is a `REPLACE INTO` and an update a
//! `DELETE` plus a `REPLACE`, so that applying a row twice leaves one row. Names are
//! backquoted; values are bound as parameters, never written into the SQL; a NULL in the WHERE
//! clause is matched with `IS NULL`.

use binlog_tidb::Value;

use crate::row_view::RowView;
use crate::txn::RowKind;

/// One prepared statement and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Statement {
    /// The SQL, values as `?`: also what errors show.
    pub sql: String,
    /// One value per `?`.
    pub params: Vec<mysql_async::Value>,
}

/// `name` backquoted, backquotes in it doubled.
pub(crate) fn quote_name(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `db`.`table` ``.
pub(crate) fn quote_table(db: &str, table: &str) -> String {
    format!("{}.{}", quote_name(db), quote_name(table))
}

/// The statements that apply `view`'s row: one, or two for an update in safe mode.
pub(crate) fn row_statements(view: &RowView<'_>, safe_mode: bool) -> Vec<Statement> {
    match (view.row.kind, safe_mode) {
        (RowKind::Insert, false) => vec![insert(view, "INSERT")],
        (RowKind::Insert, true) => vec![insert(view, "REPLACE")],
        (RowKind::Update, false) => vec![update(view)],
        (RowKind::Update, true) => vec![delete(view), insert(view, "REPLACE")],
        (RowKind::Delete, _) => vec![delete(view)],
    }
}

/// A value as a statement parameter: text (decimals, times, JSON) as its UTF-8 bytes.
pub(crate) fn param(value: &Value) -> mysql_async::Value {
    match value {
        Value::Null => mysql_async::Value::NULL,
        Value::Int(v) => mysql_async::Value::Int(*v),
        Value::Uint(v) => mysql_async::Value::UInt(*v),
        Value::Float(v) => mysql_async::Value::Double(*v),
        Value::Bytes(v) => mysql_async::Value::Bytes(v.clone()),
        Value::Text(v) => mysql_async::Value::Bytes(v.as_bytes().to_vec()),
    }
}

fn table_name(view: &RowView<'_>) -> String {
    quote_table(&view.row.table.db, &view.row.table.table)
}

/// `<verb> INTO t (cols) VALUES (?, …)` with the new image.
fn insert(view: &RowView<'_>, verb: &str) -> Statement {
    let written = view.written();
    let columns: Vec<String> = written
        .iter()
        .map(|&p| quote_name(view.column(p)))
        .collect();
    let holders = vec!["?"; written.len()].join(", ");
    Statement {
        sql: format!(
            "{verb} INTO {} ({}) VALUES ({holders})",
            table_name(view),
            columns.join(", ")
        ),
        params: written.iter().map(|&p| param(&view.row.new[p])).collect(),
    }
}

/// `UPDATE t SET c = ?, … WHERE <old identity> LIMIT 1`.
fn update(view: &RowView<'_>) -> Statement {
    let written = view.written();
    let assignments: Vec<String> = written
        .iter()
        .map(|&p| format!("{} = ?", quote_name(view.column(p))))
        .collect();
    let mut params: Vec<mysql_async::Value> =
        written.iter().map(|&p| param(&view.row.new[p])).collect();
    let mut sql = format!("UPDATE {} SET {}", table_name(view), assignments.join(", "));
    push_where(view, &mut sql, &mut params);
    Statement { sql, params }
}

/// `DELETE FROM t WHERE <old identity> LIMIT 1`.
fn delete(view: &RowView<'_>) -> Statement {
    let mut sql = format!("DELETE FROM {}", table_name(view));
    let mut params = Vec::new();
    push_where(view, &mut sql, &mut params);
    Statement { sql, params }
}

/// ` WHERE a = ? AND b IS NULL LIMIT 1` on the old image's identity.
fn push_where(view: &RowView<'_>, sql: &mut String, params: &mut Vec<mysql_async::Value>) {
    let old = &view.row.old;
    let conditions: Vec<String> = view
        .identity(old)
        .positions
        .into_iter()
        .map(|p| {
            let column = quote_name(view.column(p));
            if old[p].is_null() {
                format!("{column} IS NULL")
            } else {
                params.push(param(&old[p]));
                format!("{column} = ?")
            }
        })
        .collect();
    sql.push_str(" WHERE ");
    sql.push_str(&conditions.join(" AND "));
    sql.push_str(" LIMIT 1");
}
