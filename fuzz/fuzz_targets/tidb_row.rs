//! Arbitrary bytes as a binlog's inserted, updated and deleted row of three fixed tables: one
//! with an int primary key handle and a column of every type (IDs 1..=30, some with origin
//! defaults, some NOT NULL), a clustered (common handle) one, and one without keys that has
//! generated and non-public columns. An error is fine; a panic (or a hang) is a bug.

#![no_main]

use std::sync::OnceLock;

use binlog_tidb::table::{column_flag, mysql_type as tp, schema_state, Column, TableSchema};
use binlog_tidb::{decode_delete, decode_insert, decode_update, Value};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fn col(id: i64, tp: u8) -> Column {
    Column {
        id,
        name: format!("c{id}"),
        offset: 0,
        tp,
        flag: 0,
        flen: -1,
        decimal: -1,
        charset: "utf8mb4".into(),
        collate: "utf8mb4_bin".into(),
        elems: Vec::new(),
        origin_default: None,
        generated: false,
        state: schema_state::PUBLIC,
    }
}

fn with(mut column: Column, change: impl FnOnce(&mut Column)) -> Column {
    change(&mut column);
    column
}

fn table(name: &str, mut columns: Vec<Column>) -> TableSchema {
    for (offset, column) in columns.iter_mut().enumerate() {
        column.offset = offset;
    }
    TableSchema {
        id: 1,
        schema_version: 1,
        db: "fuzz".into(),
        name: name.into(),
        columns,
        pk_is_handle: false,
        is_common_handle: false,
        primary_key: Vec::new(),
        unique_keys: Vec::new(),
    }
}

fn tables() -> &'static [TableSchema] {
    static TABLES: OnceLock<Vec<TableSchema>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let unsigned = |c: &mut Column| c.flag |= column_flag::UNSIGNED;
        let not_null = |c: &mut Column| c.flag |= column_flag::NOT_NULL;
        let binary = |c: &mut Column| c.charset = "binary".into();
        let mut all = table(
            "all_types",
            vec![
                with(col(1, tp::LONGLONG), |c| {
                    c.flag |= column_flag::PRI_KEY | column_flag::NOT_NULL
                }),
                col(2, tp::TINY),
                with(col(3, tp::TINY), unsigned),
                col(4, tp::SHORT),
                with(col(5, tp::SHORT), unsigned),
                col(6, tp::INT24),
                with(col(7, tp::INT24), |c| {
                    c.flag |= column_flag::UNSIGNED | column_flag::NOT_NULL
                }),
                with(col(8, tp::LONG), |c| c.origin_default = Some(json!("42"))),
                with(col(9, tp::LONG), unsigned),
                col(10, tp::LONGLONG),
                with(col(11, tp::LONGLONG), unsigned),
                col(12, tp::FLOAT),
                with(col(13, tp::DOUBLE), not_null),
                with(col(14, tp::NEWDECIMAL), |c| {
                    c.flen = 10;
                    c.decimal = 3;
                    c.origin_default = Some(json!("1.5"));
                }),
                with(col(15, tp::NEWDECIMAL), |c| {
                    c.flen = 65;
                    c.decimal = 30;
                    c.flag |= column_flag::NOT_NULL;
                }),
                with(col(16, tp::DATE), |c| c.origin_default = Some(json!("2020-01-01"))),
                with(col(17, tp::DATETIME), |c| c.decimal = 6),
                with(col(18, tp::TIMESTAMP), |c| {
                    c.decimal = 3;
                    c.origin_default = Some(json!("2020-01-01 00:00:00.5"));
                }),
                with(col(19, tp::DURATION), |c| {
                    c.decimal = 2;
                    c.flag |= column_flag::NOT_NULL;
                }),
                col(20, tp::YEAR),
                with(col(21, tp::ENUM), |c| {
                    c.elems = vec!["a".into(), "b".into(), "c".into()];
                    c.flag |= column_flag::NOT_NULL;
                }),
                with(col(22, tp::SET), |c| {
                    c.elems = vec!["x".into(), "y".into(), "z".into()];
                    c.origin_default = Some(json!("x,z"));
                }),
                with(col(23, tp::BIT), |c| {
                    c.flen = 10;
                    c.origin_default = Some(json!("\u{1}"));
                }),
                with(col(24, tp::JSON), not_null),
                with(col(25, tp::STRING), |c| c.flen = 10),
                with(col(26, tp::VARCHAR), |c| c.flen = 20),
                col(27, tp::BLOB),
                with(col(28, tp::BLOB), binary),
                with(col(29, tp::STRING), |c| {
                    c.flen = 4;
                    c.charset = "binary".into();
                    c.flag |= column_flag::NOT_NULL;
                }),
                with(col(30, tp::VARCHAR), binary),
            ],
        );
        all.pk_is_handle = true;
        all.primary_key = vec![0];

        let mut clustered = table(
            "clustered",
            vec![
                col(1, tp::BLOB),
                with(col(2, tp::VARCHAR), binary),
                col(3, tp::LONG),
                with(col(4, tp::NEWDECIMAL), |c| {
                    c.flen = 5;
                    c.decimal = 2;
                }),
                with(col(5, tp::DATETIME), |c| c.decimal = 3),
                with(col(6, tp::DURATION), |c| c.decimal = 1),
                with(col(7, tp::DOUBLE), not_null),
                with(col(8, tp::ENUM), |c| c.elems = vec!["e".into()]),
            ],
        );
        clustered.is_common_handle = true;
        clustered.primary_key = vec![2, 1, 3, 4, 5, 6, 7];

        let no_keys = table(
            "no_keys",
            vec![
                col(1, tp::LONG),
                with(col(2, tp::LONG), |c| c.generated = true),
                with(col(3, tp::VARCHAR), |c| c.state = schema_state::WRITE_ONLY),
                with(col(4, tp::JSON), |c| c.state = schema_state::DELETE_ONLY),
                with(col(5, tp::SET), |c| {
                    c.elems = (0..64).map(|i| format!("s{i}")).collect();
                    c.flag |= column_flag::NOT_NULL;
                }),
                with(col(6, tp::BIT), |c| c.flen = 64),
                with(col(7, tp::ENUM), |c| {
                    c.flag |= column_flag::NOT_NULL;
                }),
            ],
        );
        vec![all, clustered, no_keys]
    })
}

/// Formats what came out, as logs would.
fn touch(values: &[Value]) -> usize {
    values.iter().map(|value| value.to_string().len()).sum()
}

fuzz_target!(|data: &[u8]| {
    for table in tables() {
        match decode_insert(table, data) {
            Ok(values) => {
                assert_eq!(values.len(), table.columns.len());
                touch(&values);
            }
            Err(error) => drop(error.to_string()),
        }
        match decode_update(table, data) {
            Ok((old, new)) => {
                assert_eq!(old.len(), table.columns.len());
                assert_eq!(new.len(), table.columns.len());
                touch(&old);
                touch(&new);
            }
            Err(error) => drop(error.to_string()),
        }
        match decode_delete(table, data) {
            Ok(values) => {
                assert_eq!(values.len(), table.columns.len());
                touch(&values);
            }
            Err(error) => drop(error.to_string()),
        }
    }
});
