//! The secondary binlog (`slave.binlog`, `proto/slave_binlog.proto`): the original drainer's
//! Kafka message, one per transaction, built from a translated [`Txn`] (its rows and the
//! [`TableSchema`] of each table, or its DDL).
//!
//! Values are set by column type as the original's translator does: signed integers in
//! `int64_value`; unsigned ones, `ENUM` and `SET` in `uint64_value`; `FLOAT`/`DOUBLE` in
//! `double_value`; `BIT` (big-endian, `(flen + 7) / 8` bytes), binary strings, blobs and `JSON`
//! (its text) in `bytes_value`; `DECIMAL`, dates, times and text in `string_value`; NULL as
//! `is_null`. Columns are the writable ones (public, not generated), as for `mysql`.

use prost::Message;

use crate::translate::{Txn, TxnTable};
use binlog_loader::{RowEvent, RowKind, TxnBody};
use binlog_node::{Error, Result};
use binlog_tidb::table::mysql_type as tp;
use binlog_tidb::{Column, Value};

/// The generated `slave.binlog` messages.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/slave.binlog.rs"));
}

/// The message of `txn`, encoded; an error names the commit TS when the transaction has no
/// rows or DDL (a destination without row translation) or a row does not match its table.
pub fn encode(txn: &Txn) -> Result<Vec<u8>> {
    Ok(message(txn)?.encode_to_vec())
}

/// The message of `txn`.
pub fn message(txn: &Txn) -> Result<proto::Binlog> {
    let commit_ts = txn.commit_ts;
    let Some(load) = &txn.load else {
        return Err(Error::Translate(format!(
            "binlog at commit TS {commit_ts}: no rows or DDL were translated for the secondary \
             binlog"
        )));
    };
    let mut binlog = proto::Binlog {
        commit_ts: Some(commit_ts as i64),
        ..Default::default()
    };
    match &load.body {
        TxnBody::Ddl(ddl) => {
            binlog.set_type(proto::BinlogType::Ddl);
            binlog.ddl_data = Some(proto::DdlData {
                schema_name: Some(ddl.db.clone()),
                table_name: Some(ddl.table.clone()),
                ddl_query: Some(ddl.query.clone().into_bytes()),
            });
        }
        TxnBody::Rows(events) => {
            binlog.set_type(proto::BinlogType::Dml);
            let tables = txn
                .tables
                .iter()
                .map(|table| table_message(table, events))
                .collect::<std::result::Result<Vec<_>, String>>()
                .map_err(|reason| {
                    Error::Translate(format!("binlog at commit TS {commit_ts}: {reason}"))
                })?;
            binlog.dml_data = Some(proto::DmlData { tables });
        }
    }
    Ok(binlog)
}

/// Splits the DML message `binlog` into messages of at most `max` encoded bytes each, in
/// order, for a transaction too large for one: each is a complete `Binlog` (type DML, the same
/// commit TS) holding a run of consecutive row changes, every table entry repeating its
/// schema and table names, `column_info` and `unique_keys`; the row changes of all parts, in
/// order, are those of `binlog`. Parts are filled greedily, so the split is the same for the
/// same message and limit. Refused (with the reason) for a DDL and for a row change that
/// alone makes a message above `max`.
pub fn split(
    mut binlog: proto::Binlog,
    max: usize,
) -> std::result::Result<Vec<proto::Binlog>, String> {
    let Some(dml) = binlog.dml_data.take() else {
        return Err("a DDL is one message".into());
    };
    // The message without `dml_data`: its type and commit TS, shared by every part.
    let envelope = binlog;
    let part_len = |dml_len: usize| envelope.encoded_len() + field_len(dml_len);
    let part_of = |tables: Vec<proto::Table>| proto::Binlog {
        dml_data: Some(proto::DmlData { tables }),
        ..envelope.clone()
    };
    let mut parts = Vec::new();
    // The part being filled: its tables (each with at least one row change), the encoded
    // length of its `DmlData` and of its last table.
    let (mut tables, mut dml_len, mut table_len): (Vec<proto::Table>, usize, usize) =
        Default::default();
    for mut table in dml.tables {
        let mutations = std::mem::take(&mut table.mutations);
        let header_len = table.encoded_len();
        // Whether the part's last table is this one.
        let mut in_part = false;
        for mutation in mutations {
            let mutation_len = field_len(mutation.encoded_len());
            let (mut new_table_len, mut new_dml_len) = if in_part {
                let grown = table_len + mutation_len;
                (grown, dml_len - field_len(table_len) + field_len(grown))
            } else {
                let fresh = header_len + mutation_len;
                (fresh, dml_len + field_len(fresh))
            };
            if part_len(new_dml_len) > max && !tables.is_empty() {
                parts.push(part_of(std::mem::take(&mut tables)));
                in_part = false;
                new_table_len = header_len + mutation_len;
                new_dml_len = field_len(new_table_len);
            }
            if part_len(new_dml_len) > max {
                return Err(format!(
                    "one row change of {}.{} makes a {}-byte message alone",
                    table.schema_name(),
                    table.table_name(),
                    part_len(new_dml_len)
                ));
            }
            if !in_part {
                tables.push(proto::Table {
                    mutations: Vec::new(),
                    ..table.clone()
                });
                in_part = true;
            }
            tables
                .last_mut()
                .expect("pushed above")
                .mutations
                .push(mutation);
            (table_len, dml_len) = (new_table_len, new_dml_len);
        }
    }
    if !tables.is_empty() {
        parts.push(part_of(tables));
    }
    Ok(parts)
}

/// The encoded length of a length-delimited field of `len` bytes whose number is below 16
/// (every field of `slave.binlog` is): a one-byte tag, the length as a varint, the bytes.
fn field_len(len: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// The commit TS of an encoded message (what the `kafka` sink resumes after).
pub fn commit_ts(value: &[u8]) -> Result<u64> {
    let binlog = proto::Binlog::decode(value)?;
    Ok(binlog.commit_ts.unwrap_or_default() as u64)
}

/// One table's columns, keys and rows (those of `events` that point at `table.rows`).
fn table_message(
    table: &TxnTable,
    events: &[RowEvent],
) -> std::result::Result<proto::Table, String> {
    let schema = &table.schema;
    let columns: Vec<&Column> = schema.columns.iter().filter(|c| c.is_writable()).collect();
    let primary: Vec<&str> = schema
        .primary_key
        .iter()
        .filter_map(|&offset| schema.columns.get(offset))
        .map(|c| c.name.as_str())
        .collect();
    let column_info = columns
        .iter()
        .map(|column| proto::ColumnInfo {
            name: Some(column.name.clone()),
            mysql_type: Some(column.type_name().into()),
            is_primary_key: Some(primary.contains(&column.name.as_str())),
        })
        .collect();
    let mut unique_keys = Vec::new();
    if !primary.is_empty() {
        unique_keys.push(key("PRIMARY", &primary));
    }
    for unique in &schema.unique_keys {
        let names: Vec<&str> = unique
            .columns
            .iter()
            .filter_map(|&offset| schema.columns.get(offset))
            .map(|c| c.name.as_str())
            .collect();
        unique_keys.push(key(&unique.name, &names));
    }
    let row = |values: &[Value]| -> std::result::Result<proto::Row, String> {
        if values.len() != columns.len() {
            return Err(format!(
                "a row of {} has {} values for {} columns",
                schema.qualified_name(),
                values.len(),
                columns.len()
            ));
        }
        let columns = columns.iter().zip(values).map(|(c, v)| column_value(c, v));
        Ok(proto::Row {
            columns: columns.collect(),
        })
    };
    let mut mutations = Vec::new();
    for event in events
        .iter()
        .filter(|event| std::sync::Arc::ptr_eq(&event.table, &table.rows))
    {
        let (kind, after, before) = match event.kind {
            RowKind::Insert => (proto::MutationType::Insert, row(&event.new)?, None),
            RowKind::Update => (
                proto::MutationType::Update,
                row(&event.new)?,
                Some(row(&event.old)?),
            ),
            RowKind::Delete => (proto::MutationType::Delete, row(&event.old)?, None),
        };
        mutations.push(proto::TableMutation {
            r#type: kind as i32,
            row: after,
            change_row: before,
        });
    }
    Ok(proto::Table {
        schema_name: Some(schema.db.clone()),
        table_name: Some(schema.name.clone()),
        column_info,
        mutations,
        unique_keys,
    })
}

fn key(name: &str, columns: &[&str]) -> proto::Key {
    proto::Key {
        name: Some(name.to_owned()),
        column_names: columns.iter().map(|&c| c.to_owned()).collect(),
    }
}

/// One value in the field its column's type selects.
fn column_value(column: &Column, value: &Value) -> proto::Column {
    let mut out = proto::Column::default();
    match value {
        Value::Null => out.is_null = Some(true),
        Value::Int(v) => out.int64_value = Some(*v),
        Value::Uint(v) if column.tp == tp::BIT => {
            let width = usize::try_from((column.flen + 7) / 8)
                .unwrap_or(8)
                .clamp(1, 8);
            out.bytes_value = Some(v.to_be_bytes()[8 - width..].to_vec());
        }
        Value::Uint(v) => out.uint64_value = Some(*v),
        Value::Float(v) => out.double_value = Some(*v),
        Value::Text(v) if column.tp == tp::JSON => out.bytes_value = Some(v.clone().into_bytes()),
        Value::Text(v) => out.string_value = Some(v.clone()),
        Value::Bytes(v) if column.is_binary_string() => out.bytes_value = Some(v.clone()),
        // Text columns hold UTF-8; anything else cannot be a proto string and goes as bytes.
        Value::Bytes(v) => match String::from_utf8(v.clone()) {
            Ok(text) => out.string_value = Some(text),
            Err(error) => out.bytes_value = Some(error.into_bytes()),
        },
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use binlog_loader::{Ddl, LoadTxn, TableRef};
    use binlog_tidb::table::column_flag;
    use binlog_tidb::TableSchema;

    /// A translated transaction at commit TS 42.
    fn txn(body: TxnBody, tables: Vec<TxnTable>) -> Txn {
        Txn {
            commit_ts: 42,
            payload: Bytes::new(),
            binlog: Default::default(),
            load: Some(Box::new(LoadTxn {
                commit_ts: 42,
                body,
            })),
            tables,
        }
    }

    #[test]
    fn rows_are_set_by_column_type_with_the_after_image_in_row() {
        let schema = Arc::new(TableSchema {
            id: 1,
            schema_version: 1,
            db: "d".into(),
            name: "t".into(),
            columns: vec![
                Column::new(0, 1, "id", tp::LONGLONG, column_flag::PRI_KEY, "binary"),
                Column::new(1, 2, "b", tp::BIT, column_flag::UNSIGNED, "binary"),
                Column::new(2, 3, "s", tp::VARCHAR, 0, "utf8mb4"),
                Column::new(3, 4, "j", tp::JSON, 0, "binary"),
                Column::new(4, 5, "blob", tp::BLOB, 0, "binary"),
            ],
            pk_is_handle: true,
            is_common_handle: false,
            primary_key: vec![0],
            unique_keys: vec![binlog_tidb::UniqueKey {
                name: "u".into(),
                columns: vec![2],
            }],
        });
        let rows = Arc::new(TableRef {
            db: "d".into(),
            table: "t".into(),
            columns: vec![
                "id".into(),
                "b".into(),
                "s".into(),
                "j".into(),
                "blob".into(),
            ],
        });
        let values = |id, s: &str| {
            vec![
                Value::Int(id),
                Value::Uint(5),
                Value::Bytes(s.as_bytes().to_vec()),
                Value::Text("{}".into()),
                Value::Null,
            ]
        };
        let event = |kind, old, new| RowEvent {
            table: rows.clone(),
            kind,
            old,
            new,
        };
        let body = TxnBody::Rows(vec![
            event(RowKind::Insert, vec![], values(1, "a")),
            event(RowKind::Update, values(1, "a"), values(1, "b")),
            event(RowKind::Delete, values(1, "b"), vec![]),
        ]);
        let tables = vec![TxnTable { rows, schema }];
        let binlog = message(&txn(body, tables)).unwrap();
        assert_eq!(binlog.r#type(), proto::BinlogType::Dml);
        assert_eq!(binlog.commit_ts, Some(42));
        let table = &binlog.dml_data.unwrap().tables[0];
        let types: Vec<_> = table.column_info.iter().map(|c| c.mysql_type()).collect();
        assert_eq!(types, ["bigint", "bit", "varchar", "json", "blob"]);
        assert!(table.column_info[0].is_primary_key());
        assert_eq!(table.unique_keys[0].column_names, ["id"]);
        assert_eq!(table.unique_keys[1].column_names, ["s"]);
        let update = &table.mutations[1];
        assert_eq!(update.r#type(), proto::MutationType::Update);
        assert_eq!(update.row.columns[2].string_value(), "b");
        assert_eq!(
            update.change_row.as_ref().unwrap().columns[2].string_value(),
            "a"
        );
        let row = &table.mutations[0].row.columns;
        assert_eq!(row[0].int64_value, Some(1));
        assert_eq!(row[1].bytes_value.as_deref(), Some(&[5u8][..]));
        assert_eq!(row[3].bytes_value.as_deref(), Some(&b"{}"[..]));
        assert_eq!(row[4].is_null, Some(true));
        assert_eq!(table.mutations[2].row.columns[2].string_value(), "b");
    }

    /// A DML message of `rows` inserts into `d.t` (id, a 40-byte text), then one into `d.u`.
    fn many_rows(rows: i64) -> proto::Binlog {
        let schema = |name: &str| {
            Arc::new(TableSchema {
                id: 1,
                schema_version: 1,
                db: "d".into(),
                name: name.into(),
                columns: vec![
                    Column::new(0, 1, "id", tp::LONGLONG, column_flag::PRI_KEY, "binary"),
                    Column::new(1, 2, "s", tp::VARCHAR, 0, "utf8mb4"),
                ],
                pk_is_handle: true,
                is_common_handle: false,
                primary_key: vec![0],
                unique_keys: vec![],
            })
        };
        let rows_of = |name: &str| {
            Arc::new(TableRef {
                db: "d".into(),
                table: name.into(),
                columns: vec!["id".into(), "s".into()],
            })
        };
        let (t, u) = (rows_of("t"), rows_of("u"));
        let insert = |table: &Arc<TableRef>, id: i64| RowEvent {
            table: table.clone(),
            kind: RowKind::Insert,
            old: vec![],
            new: vec![Value::Int(id), Value::Text(format!("{id:0>40}"))],
        };
        let mut events: Vec<RowEvent> = (0..rows).map(|id| insert(&t, id)).collect();
        events.push(insert(&u, rows));
        let tables = vec![
            TxnTable {
                rows: t,
                schema: schema("t"),
            },
            TxnTable {
                rows: u,
                schema: schema("u"),
            },
        ];
        message(&txn(TxnBody::Rows(events), tables)).unwrap()
    }

    /// `(table, id)` of every row change, in order.
    fn row_ids(binlogs: &[proto::Binlog]) -> Vec<(String, i64)> {
        binlogs
            .iter()
            .flat_map(|b| &b.dml_data.as_ref().unwrap().tables)
            .flat_map(|t| {
                t.mutations
                    .iter()
                    .map(|m| (t.table_name().to_owned(), m.row.columns[0].int64_value()))
            })
            .collect()
    }

    #[test]
    fn split_parts_are_full_complete_messages_under_the_limit_with_every_row_in_order() {
        let whole = many_rows(300);
        let max = 2_000;
        let parts = split(whole.clone(), max).unwrap();
        assert!(parts.len() > 5, "{} parts", parts.len());
        assert_eq!(row_ids(&parts), row_ids(std::slice::from_ref(&whole)));
        for (index, part) in parts.iter().enumerate() {
            assert!(
                part.encoded_len() <= max,
                "part {index}: {}",
                part.encoded_len()
            );
            assert_eq!(
                (part.commit_ts, part.r#type()),
                (Some(42), proto::BinlogType::Dml)
            );
            for table in &part.dml_data.as_ref().unwrap().tables {
                assert!(!table.mutations.is_empty());
                assert_eq!(table.column_info.len(), 2);
                assert_eq!(table.unique_keys[0].column_names, ["id"]);
                assert_eq!(table.schema_name(), "d");
            }
            // Greedy: the next part's first row change would not have fitted (the size is
            // computed exactly, not estimated).
            if let Some(next) = parts.get(index + 1) {
                let mut grown = part.clone();
                let next_table = &next.dml_data.as_ref().unwrap().tables[0];
                let tables = &mut grown.dml_data.as_mut().unwrap().tables;
                match tables.last_mut() {
                    Some(last) if last.table_name == next_table.table_name => {
                        last.mutations.push(next_table.mutations[0].clone())
                    }
                    _ => tables.push(proto::Table {
                        mutations: vec![next_table.mutations[0].clone()],
                        ..next_table.clone()
                    }),
                }
                assert!(grown.encoded_len() > max, "part {index} was not full");
            }
        }
        // The last part holds the end of `t` and the row of `u`, two table entries.
        let last = &parts.last().unwrap().dml_data.as_ref().unwrap().tables;
        assert_eq!(last.last().unwrap().table_name(), "u");
        assert_eq!(
            split(whole.clone(), max).unwrap(),
            parts,
            "not deterministic"
        );
        assert_eq!(split(whole.clone(), whole.encoded_len()).unwrap(), [whole]);
    }

    #[test]
    fn a_ddl_or_a_row_alone_above_the_limit_is_not_split() {
        let error = split(many_rows(3), 100).unwrap_err();
        assert!(error.contains("one row change of d.t makes a"), "{error}");
        let ddl = message(&txn(
            TxnBody::Ddl(Ddl {
                db: "d".into(),
                table: "t".into(),
                query: "DROP TABLE t".into(),
            }),
            vec![],
        ))
        .unwrap();
        assert_eq!(split(ddl, 1).unwrap_err(), "a DDL is one message");
    }

    #[test]
    fn ddl_and_the_commit_ts_round_trip() {
        let body = TxnBody::Ddl(Ddl {
            db: "d".into(),
            table: "t".into(),
            query: "DROP TABLE t".into(),
        });
        let bytes = encode(&txn(body, vec![])).unwrap();
        assert_eq!(commit_ts(&bytes).unwrap(), 42);
        let binlog = proto::Binlog::decode(&bytes[..]).unwrap();
        assert_eq!(binlog.r#type(), proto::BinlogType::Ddl);
        assert_eq!(binlog.ddl_data.unwrap().ddl_query(), b"DROP TABLE t");
    }
}
