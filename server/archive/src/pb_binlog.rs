//! The original drainer's `pb_binlog.Binlog` (`proto/pb_binlog.proto`): the `file`
//! destination's record payload when it has the table schemas, and what `reparo` reads. One
//! home for both directions: [`encode`] makes one from a translated transaction, [`decode`] turns
//! one back into the [`LoadTxn`] the SQL loader applies.
//!
//! - DML: one `Event` per row change, in the order TiDB made them, `row` holding one serialized
//!   `column` per writable column (public, not generated; the original also lists generated
//!   ones): its name, its type code (one byte), its type name (`int`, `varchar`, ...), and its
//!   value as TiDB's `codec.EncodeValue` writes the datum the original's `formatData` makes
//!   ([`binlog_tidb::codec::encode_value`]): integers as varints, `ENUM`/`SET`/`BIT` as
//!   unsigned ones, decimals, dates, times and JSON as their text (timestamps in UTC), strings
//!   and blobs as their bytes. For an update, `value` is the old value and `changed_value` the
//!   new one.
//! - DDL: ``use `<db>`; <query>;``, or `<query>;` for `CREATE DATABASE` (which has no database
//!   to use yet) and for a statement that names no database.

use std::sync::Arc;

use prost::Message;

use binlog_loader::{creates_database, Ddl, LoadTxn, RowEvent, RowKind, TableRef, TxnBody};
use binlog_node::{Error, Result};
use binlog_tidb::codec::{encode_value, Datum, Reader};
use binlog_tidb::table::mysql_type as tp;
use binlog_tidb::{Column, TableSchema, Value};

/// The generated `pb_binlog` messages.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/pb_binlog.rs"));
}

/// The payload of the transaction `load`, encoded; `schema_of` gives the schema its rows of
/// one [`TableRef`] were decoded with. An error names the commit TS when a row's table has no
/// schema or a row does not match its table.
pub fn encode(
    load: &LoadTxn,
    schema_of: impl Fn(&Arc<TableRef>) -> Option<Arc<TableSchema>>,
) -> Result<Vec<u8>> {
    let commit_ts = load.commit_ts;
    let failed =
        |reason: String| Error::Translate(format!("binlog at commit TS {commit_ts}: {reason}"));
    let mut binlog = proto::Binlog {
        commit_ts: Some(commit_ts as i64),
        ..Default::default()
    };
    match &load.body {
        TxnBody::Ddl(ddl) => {
            binlog.set_tp(proto::BinlogType::Ddl);
            binlog.ddl_query = Some(ddl_query(ddl).into_bytes());
        }
        TxnBody::Rows(events) => {
            binlog.set_tp(proto::BinlogType::Dml);
            let events = events
                .iter()
                .map(|event| row_event(&schema_of, event))
                .collect::<std::result::Result<Vec<_>, String>>()
                .map_err(failed)?;
            binlog.dml_data = Some(proto::DmlData { events });
        }
    }
    Ok(binlog.encode_to_vec())
}

/// The commit TS of an encoded payload.
pub fn commit_ts(payload: &[u8]) -> Result<u64> {
    Ok(proto::Binlog::decode(payload)?
        .commit_ts
        .unwrap_or_default() as u64)
}

/// The statement a DDL is written as: ``use `<db>`; <query>;`` (the original's
/// `TiBinlogToPbBinlog`).
fn ddl_query(ddl: &Ddl) -> String {
    if ddl.db.is_empty() || creates_database(&ddl.query) {
        format!("{};", ddl.query)
    } else {
        format!("use `{}`; {};", ddl.db.replace('`', "``"), ddl.query)
    }
}

/// One row change as an `Event`, its columns described by its table's schema in `tables`.
fn row_event(
    schema_of: &impl Fn(&Arc<TableRef>) -> Option<Arc<TableSchema>>,
    event: &RowEvent,
) -> std::result::Result<proto::Event, String> {
    let schema = schema_of(&event.table).ok_or_else(|| {
        format!(
            "no schema was kept for the rows of {}.{}",
            event.table.db, event.table.table
        )
    })?;
    let columns: Vec<&Column> = schema
        .columns
        .iter()
        .filter(|column| column.is_writable())
        .collect();
    let (kind, values, changed) = match event.kind {
        RowKind::Insert => (proto::EventType::Insert, &event.new, None),
        RowKind::Update => (proto::EventType::Update, &event.old, Some(&event.new)),
        RowKind::Delete => (proto::EventType::Delete, &event.old, None),
    };
    let mismatch = |values: &Vec<Value>| {
        (values.len() != columns.len()).then(|| {
            format!(
                "a row of {} has {} values for {} columns",
                schema.qualified_name(),
                values.len(),
                columns.len()
            )
        })
    };
    if let Some(reason) = mismatch(values).or_else(|| changed.and_then(mismatch)) {
        return Err(reason);
    }
    let row = columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let encoded = |value: &Value| {
                let mut out = Vec::new();
                encode_value(value, &mut out);
                out
            };
            proto::Column {
                name: Some(column.name.clone()),
                tp: Some(vec![column.tp]),
                mysql_type: Some(column.type_name().into()),
                value: Some(encoded(&values[i])),
                changed_value: changed.map(|new| encoded(&new[i])),
            }
            .encode_to_vec()
        })
        .collect();
    let mut out = proto::Event {
        schema_name: Some(schema.db.clone()),
        table_name: Some(schema.name.clone()),
        row,
        ..Default::default()
    };
    out.set_tp(kind);
    Ok(out)
}

/// A payload read back as what the loader applies. Rows keep the column names and values the
/// file holds, typed by each column's type code; a DDL gets its database from its `use`
/// prefix (or the database a `CREATE`/`DROP DATABASE` names) and its table from the
/// statement ([`ddl_target`]). Damage is an error naming what is wrong, never a panic.
pub fn decode(payload: &[u8]) -> Result<LoadTxn> {
    from_message(proto::Binlog::decode(payload)?)
}

/// [`decode`] on a payload already decoded (reparo filters its events first).
pub fn from_message(binlog: proto::Binlog) -> Result<LoadTxn> {
    let commit_ts = binlog.commit_ts.unwrap_or_default() as u64;
    let failed =
        |reason: String| Error::Translate(format!("pb_binlog at commit TS {commit_ts}: {reason}"));
    let body = match binlog.tp() {
        proto::BinlogType::Ddl => {
            let text = String::from_utf8(binlog.ddl_query.unwrap_or_default())
                .map_err(|_| failed("its DDL query is not UTF-8".into()))?;
            TxnBody::Ddl(ddl_from_query(&text))
        }
        proto::BinlogType::Dml => {
            let events = binlog.dml_data.unwrap_or_default().events;
            let mut rows = Vec::with_capacity(events.len());
            let mut last: Option<Arc<TableRef>> = None;
            for event in events {
                rows.push(decode_event(event, &mut last).map_err(failed)?);
            }
            TxnBody::Rows(rows)
        }
    };
    Ok(LoadTxn { commit_ts, body })
}

/// One `Event` as a row change; consecutive rows of one table with the same columns share
/// their [`TableRef`] (`last`).
fn decode_event(
    event: proto::Event,
    last: &mut Option<Arc<TableRef>>,
) -> std::result::Result<RowEvent, String> {
    let db = event.schema_name.clone().unwrap_or_default();
    let table = event.table_name.clone().unwrap_or_default();
    let kind = match event.tp() {
        proto::EventType::Insert => RowKind::Insert,
        proto::EventType::Update => RowKind::Update,
        proto::EventType::Delete => RowKind::Delete,
    };
    let mut names = Vec::with_capacity(event.row.len());
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for bytes in &event.row {
        let column = proto::Column::decode(&bytes[..])
            .map_err(|error| format!("a column of {db}.{table} does not decode: {error}"))?;
        let name = column.name.unwrap_or_default();
        let code = column
            .tp
            .as_deref()
            .and_then(|tp| tp.first().copied())
            .ok_or_else(|| format!("column {name} of {db}.{table} has no type code"))?;
        let value = |bytes: Option<Vec<u8>>, which: &str| {
            column_value(code, bytes.as_deref().unwrap_or_default())
                .map_err(|reason| format!("{which} of column {name} of {db}.{table}: {reason}"))
        };
        first.push(value(column.value, "the value")?);
        if kind == RowKind::Update {
            second.push(value(column.changed_value, "the changed value")?);
        }
        names.push(name);
    }
    let table_ref = match last.take() {
        Some(shared) if shared.db == db && shared.table == table && shared.columns == names => {
            shared
        }
        _ => Arc::new(TableRef {
            db,
            table,
            columns: names,
        }),
    };
    *last = Some(table_ref.clone());
    let (old, new) = match kind {
        RowKind::Insert => (Vec::new(), first),
        RowKind::Update => (first, second),
        RowKind::Delete => (first, Vec::new()),
    };
    Ok(RowEvent {
        table: table_ref,
        kind,
        old,
        new,
    })
}

/// One encoded datum as the value of a column of type `code` (the original reparo's
/// `formatValue`): text for the types written as text, bytes for strings and blobs.
fn column_value(code: u8, bytes: &[u8]) -> std::result::Result<Value, String> {
    let mut reader = Reader::new(bytes);
    let datum = reader.datum().map_err(|error| error.to_string())?;
    if !reader.is_empty() {
        return Err(format!("{} bytes after the datum", reader.rest().len()));
    }
    let as_text = matches!(
        code,
        tp::DATE
            | tp::DATETIME
            | tp::NEWDATE
            | tp::TIMESTAMP
            | tp::DURATION
            | tp::DECIMAL
            | tp::NEWDECIMAL
            | tp::JSON
    );
    Ok(match datum {
        Datum::Null => Value::Null,
        Datum::Int(v) => Value::Int(v),
        Datum::Uint(v) => Value::Uint(v),
        Datum::Float(v) => Value::Float(v),
        Datum::Bytes(bytes) if as_text => Value::Text(
            String::from_utf8(bytes).map_err(|_| "a text value is not UTF-8".to_owned())?,
        ),
        Datum::Bytes(bytes) => Value::Bytes(bytes),
        other => return Err(format!("{} cannot be a column value here", other.kind())),
    })
}

/// A DDL statement as written in a payload, split into its database (the `use` prefix) and
/// the statement itself (trailing `;` removed).
fn ddl_from_query(text: &str) -> Ddl {
    let text = text.trim();
    let (used, query) = match strip_keyword(text, "use") {
        Some(rest) => {
            let (name, rest) = identifier(rest);
            let rest = rest.trim_start();
            let query = rest.strip_prefix(';').unwrap_or(rest);
            (name, query)
        }
        None => (None, text),
    };
    let query = query.trim().trim_end_matches(';').trim_end().to_owned();
    let (named_db, table) = ddl_target(&query);
    Ddl {
        db: named_db.or(used).unwrap_or_default(),
        table,
        query,
    }
}

/// The database and table a DDL statement names, as the original reparo's
/// `parserSchemaTableFromDDL` finds them (a small scanner, not a SQL parser: it reads the
/// leading keywords and the first name after them): `CREATE`/`ALTER`/`DROP
/// DATABASE|SCHEMA name`; `CREATE|ALTER|DROP TABLE`, `TRUNCATE [TABLE]`, `CREATE ... VIEW
/// [db.]name`; `RENAME TABLE a TO [db.]b` (the new name); `CREATE ... INDEX i ON
/// [db.]name`, `DROP INDEX i ON [db.]name`. Anything else names no table.
pub fn ddl_target(query: &str) -> (Option<String>, String) {
    let mut rest = skip_comments(query);
    let mut words = Vec::new();
    // The leading keywords, up to the object kind.
    while let Some((word, after)) = keyword(rest) {
        let upper = word.to_ascii_uppercase();
        rest = after;
        let done = matches!(
            upper.as_str(),
            "DATABASE" | "SCHEMA" | "TABLE" | "VIEW" | "INDEX" | "TRUNCATE"
        );
        words.push(upper);
        if done {
            break;
        }
    }
    let Some(kind) = words.last().cloned() else {
        return (None, String::new());
    };
    let rest = skip_if_exists(rest);
    match kind.as_str() {
        "DATABASE" | "SCHEMA" => (identifier(rest).0, String::new()),
        "TRUNCATE" => {
            let rest = strip_keyword(rest, "table").unwrap_or(rest);
            qualified_name(rest)
        }
        "TABLE" if words.first().map(String::as_str) == Some("RENAME") => {
            let (_, _, after) = qualified(rest);
            match strip_keyword(after, "to") {
                Some(target) => qualified_name(target),
                None => (None, String::new()),
            }
        }
        "TABLE" | "VIEW" => qualified_name(rest),
        "INDEX" => {
            let (_, after) = identifier(rest);
            match strip_keyword(after, "on") {
                Some(target) => qualified_name(target),
                None => (None, String::new()),
            }
        }
        _ => (None, String::new()),
    }
}

/// `[db.]name` at the start of `text`: the database when given, and the name.
fn qualified_name(text: &str) -> (Option<String>, String) {
    let (db, name, _) = qualified(text);
    (db, name.unwrap_or_default())
}

fn qualified(text: &str) -> (Option<String>, Option<String>, &str) {
    let (first, rest) = identifier(text);
    match rest.strip_prefix('.') {
        Some(after) => {
            let (second, rest) = identifier(after);
            (first, second, rest)
        }
        None => (None, first, rest),
    }
}

/// `IF EXISTS` / `IF NOT EXISTS`, skipped.
fn skip_if_exists(text: &str) -> &str {
    let Some(rest) = strip_keyword(text, "if") else {
        return text;
    };
    let rest = strip_keyword(rest, "not").unwrap_or(rest);
    strip_keyword(rest, "exists").unwrap_or(rest)
}

/// Blanks and `/* ... */` comments at the start, skipped.
fn skip_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        match text
            .strip_prefix("/*")
            .and_then(|c| c.find("*/").map(|end| &c[end + 2..]))
        {
            Some(rest) => text = rest,
            None => return text,
        }
    }
}

/// The keyword (letters and `_`) at the start of `text` and what follows it.
fn keyword(text: &str) -> Option<(&str, &str)> {
    let text = skip_comments(text);
    let end = text
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| (&text[..end], &text[end..]))
}

/// `text` after the keyword `word` (any case), if it starts with it.
fn strip_keyword<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let (found, rest) = keyword(text)?;
    found.eq_ignore_ascii_case(word).then_some(rest)
}

/// A name at the start of `text`: `` `quoted` `` (with ``` `` ``` for a backtick) or bare
/// (letters, digits, `_`, `$`, non-ASCII); and what follows it.
fn identifier(text: &str) -> (Option<String>, &str) {
    let text = skip_comments(text);
    if let Some(quoted) = text.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '`' {
                name.push(c);
            } else if quoted[i + 1..].starts_with('`') {
                name.push('`');
                chars.next();
            } else {
                return (Some(name), &quoted[i + 1..]);
            }
        }
        return (None, text);
    }
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(text.len());
    ((end > 0).then(|| text[..end].to_owned()), &text[end..])
}

#[cfg(test)]
mod tests;
