//! Every MySQL column type TiDB has, end to end into MariaDB (real pump, real drainer, TiDB's
//! row encoding from the test kit's stand-ins): `shop.all_types` holds each type at its limits
//! and odd values, a row of only NULLs (left out of the row, as TiDB leaves NULLs without a
//! default), an update and an update to NULL in every column, and a delete.
//!
//! The comparison shows binary strings through `HEX()`, `BIT` as a number, JSON parsed (MariaDB
//! keeps it as text) and timestamps in UTC, while MariaDB's own time zone is not UTC.

use std::time::Duration;

use binlog_testkit::mysql_pipeline::{DrainerToml, Expected, MysqlPipeline};
use binlog_testkit::tidb_jobs::{
    binary_string, column_flag, column_info, create_schema, create_table, mysql_type, table_info,
    with_elems, with_length, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{delete_row, insert_row, update_row, Handle, TidbDatum, TidbTime};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};
use serde_json::{json, Value};

/// Database ID of `shop`.
const SHOP: i64 = 1;
/// Table ID of `shop.all_types`.
const ALL_TYPES: i64 = 10;

/// How long MariaDB may take to catch up.
const CATCH_UP: Duration = Duration::from_secs(30);

/// How the `mariadb` client shows a column's value for the comparison.
#[derive(Clone, Copy)]
enum Shown {
    /// As it is.
    Plain,
    /// `HEX(column)`: binary strings.
    Hex,
    /// `column + 0`: `BIT`.
    Number,
    /// `HEX(column)`, parsed as JSON text and printed canonically.
    Json,
}

/// One column of `all_types`: TiDB's `ColumnInfo` and MariaDB's type.
struct TypeColumn {
    name: &'static str,
    sql: &'static str,
    tp: u8,
    flag: u32,
    flen: i64,
    decimal: i64,
    binary: bool,
    elems: &'static [&'static str],
    shown: Shown,
}

const fn typed(name: &'static str, sql: &'static str, tp: u8, flag: u32) -> TypeColumn {
    TypeColumn {
        name,
        sql,
        tp,
        flag,
        flen: -1,
        decimal: -1,
        binary: false,
        elems: &[],
        shown: Shown::Plain,
    }
}

const UNSIGNED: u32 = column_flag::UNSIGNED;

/// `all_types` after `id BIGINT PRIMARY KEY` (column IDs from 2, offsets from 1).
fn type_columns() -> Vec<TypeColumn> {
    use mysql_type::*;
    let sized = |column: TypeColumn, flen, decimal| TypeColumn {
        flen,
        decimal,
        ..column
    };
    let binary = |column: TypeColumn, flen| TypeColumn {
        flen,
        binary: true,
        shown: Shown::Hex,
        ..column
    };
    let datetime = |name, sql, fsp| sized(typed(name, sql, DATETIME, 0), 19, fsp);
    vec![
        sized(typed("i8", "TINYINT", TINY, 0), 4, 0),
        sized(typed("u8", "TINYINT UNSIGNED", TINY, UNSIGNED), 3, 0),
        sized(typed("i16", "SMALLINT", SHORT, 0), 6, 0),
        sized(typed("u16", "SMALLINT UNSIGNED", SHORT, UNSIGNED), 5, 0),
        sized(typed("i24", "MEDIUMINT", INT24, 0), 9, 0),
        sized(typed("u24", "MEDIUMINT UNSIGNED", INT24, UNSIGNED), 8, 0),
        sized(typed("i32", "INT", LONG, 0), 11, 0),
        sized(typed("u32", "INT UNSIGNED", LONG, UNSIGNED), 10, 0),
        sized(typed("i64", "BIGINT", LONGLONG, 0), 20, 0),
        sized(typed("u64", "BIGINT UNSIGNED", LONGLONG, UNSIGNED), 20, 0),
        sized(typed("f", "FLOAT", FLOAT, 0), 12, -1),
        sized(typed("d", "DOUBLE", DOUBLE, 0), 22, -1),
        sized(typed("dec", "DECIMAL(65,30)", NEWDECIMAL, 0), 65, 30),
        sized(typed("dt", "DATE", DATE, 0), 10, 0),
        datetime("dt0", "DATETIME", 0),
        datetime("dt1", "DATETIME(1)", 1),
        datetime("dt2", "DATETIME(2)", 2),
        datetime("dt3", "DATETIME(3)", 3),
        datetime("dt4", "DATETIME(4)", 4),
        datetime("dt5", "DATETIME(5)", 5),
        datetime("dt6", "DATETIME(6)", 6),
        sized(typed("ts", "TIMESTAMP(6) NULL", TIMESTAMP, 0), 26, 6),
        sized(typed("tm", "TIME(6)", DURATION, 0), 17, 6),
        sized(typed("yr", "YEAR", YEAR, UNSIGNED), 4, 0),
        sized(typed("ch", "CHAR(10)", STRING, 0), 10, 0),
        sized(typed("vc", "VARCHAR(64)", VARCHAR, 0), 64, 0),
        sized(typed("tx", "TEXT", BLOB, 0), 65535, 0),
        binary(typed("bn", "BINARY(4)", STRING, 0), 4),
        binary(typed("vb", "VARBINARY(16)", VARCHAR, 0), 16),
        binary(typed("bl", "BLOB", BLOB, 0), 65535),
        TypeColumn {
            elems: &["a", "b", "c"],
            ..sized(typed("en", "ENUM('a','b','c')", ENUM, 0), 1, 0)
        },
        TypeColumn {
            elems: &["x", "y", "z"],
            ..sized(typed("st", "SET('x','y','z')", SET, 0), 5, 0)
        },
        TypeColumn {
            shown: Shown::Number,
            ..sized(typed("bt", "BIT(64)", BIT, UNSIGNED), 64, 0)
        },
        TypeColumn {
            shown: Shown::Json,
            ..sized(typed("js", "JSON", JSON, column_flag::BINARY), 0, 0)
        },
    ]
}

/// TiDB's `TableInfo` of `all_types`.
fn all_types_info(columns: &[TypeColumn]) -> Value {
    let mut infos = vec![column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS)];
    for (at, column) in columns.iter().enumerate() {
        let mut info = column_info(at as i64 + 2, column.name, at + 1, column.tp, column.flag);
        info = with_length(info, column.flen, column.decimal);
        if column.binary {
            info = binary_string(info);
        }
        if !column.elems.is_empty() {
            info = with_elems(info, column.elems);
        }
        infos.push(info);
    }
    table_info(ALL_TYPES, "all_types", infos)
}

/// MariaDB's `CREATE TABLE` of `all_types`.
fn all_types_sql(columns: &[TypeColumn]) -> String {
    let columns: Vec<String> = columns
        .iter()
        .map(|column| format!("`{}` {}", column.name, column.sql))
        .collect();
    format!(
        "CREATE TABLE `all_types` (`id` BIGINT PRIMARY KEY, {}) DEFAULT CHARSET = utf8mb4",
        columns.join(", ")
    )
}

/// The `SELECT` printing `all_types` as [`Shown`] says, by `id`.
fn all_types_select(columns: &[TypeColumn]) -> String {
    let shown: Vec<String> = columns
        .iter()
        .map(|column| match column.shown {
            Shown::Plain => format!("`{}`", column.name),
            Shown::Hex | Shown::Json => format!("HEX(`{}`)", column.name),
            Shown::Number => format!("`{}` + 0", column.name),
        })
        .collect();
    // The session in UTC, as the timestamps TiDB wrote are.
    format!(
        "SET time_zone = '+00:00'; SELECT id, {} FROM shop.all_types ORDER BY id",
        shown.join(", ")
    )
}

/// The `all_types` output with the JSON column (the last) parsed from hex and printed
/// canonically, so that JSON compares by meaning, not by MariaDB's spacing.
fn canonical_json_column(output: &str) -> String {
    output
        .lines()
        .map(|line| {
            let (head, json) = line.rsplit_once('\t').expect("a JSON column");
            let json = if json == "NULL" {
                json.to_owned()
            } else {
                let bytes: Vec<u8> = (0..json.len())
                    .step_by(2)
                    .map(|at| u8::from_str_radix(&json[at..at + 2], 16).expect("hex"))
                    .collect();
                let text = String::from_utf8(bytes).expect("UTF-8 JSON");
                serde_json::from_str::<Value>(&text)
                    .unwrap_or_else(|error| panic!("MariaDB holds invalid JSON {text:?}: {error}"))
                    .to_string()
            };
            format!("{head}\t{json}\n")
        })
        .collect()
}

/// A value of `all_types` as TiDB writes it and as the comparison shows it.
type Cell = (TidbDatum, String);

fn cell(datum: TidbDatum, shown: impl Into<String>) -> Cell {
    (datum, shown.into())
}

fn int(value: i64) -> Cell {
    cell(TidbDatum::Int(value), value.to_string())
}

fn uint(value: u64) -> Cell {
    cell(TidbDatum::Uint(value), value.to_string())
}

fn text(value: &str) -> Cell {
    cell(TidbDatum::bytes(value), value)
}

fn bytes(value: &[u8]) -> Cell {
    let hex: String = value.iter().map(|byte| format!("{byte:02X}")).collect();
    cell(TidbDatum::bytes(value), hex)
}

fn decimal(digits: &str, shown: &str) -> Cell {
    cell(TidbDatum::decimal(digits, 65, 30), shown)
}

fn json_cell(value: Value) -> Cell {
    cell(TidbDatum::json(&value), value.to_string())
}

fn null() -> Cell {
    cell(TidbDatum::Null, "NULL")
}

/// `DATETIME(0..6)` of one instant: its microseconds cut to each precision, as TiDB rounds
/// them before writing (values here need no rounding).
fn datetimes(time: TidbTime, shown: &str) -> Vec<Cell> {
    (0..=6u32)
        .map(|fsp| {
            let cut = 10u32.pow(6 - fsp);
            let time = TidbTime {
                microsecond: time.microsecond / cut * cut,
                ..time
            };
            let shown = if fsp == 0 {
                shown[..19].to_owned()
            } else {
                shown[..20 + fsp as usize].to_owned()
            };
            cell(TidbDatum::Time(time), shown)
        })
        .collect()
}

/// A `TIME` of `sign`, hours, minutes, seconds, microseconds.
fn time(negative: bool, h: i64, m: i64, s: i64, micro: i64, shown: &str) -> Cell {
    let nanos = ((h * 3600 + m * 60 + s) * 1_000_000 + micro) * 1000;
    cell(
        TidbDatum::Duration(if negative { -nanos } else { nanos }),
        shown,
    )
}

/// Rows 1 (minimums), 2 (maximums) and 4 (zeros, odd values) of `all_types`, one cell per
/// column of [`type_columns`].
fn all_types_rows() -> Vec<(i64, Vec<Cell>)> {
    let mut minimums = vec![
        int(-128),
        uint(0),
        int(-32768),
        uint(0),
        int(-8_388_608),
        uint(0),
        int(i64::from(i32::MIN)),
        uint(0),
        int(i64::MIN),
        uint(0),
        cell(TidbDatum::Float(-3.25), "-3.25"),
        cell(TidbDatum::Float(-2.5e-300), "-2.5e-300"),
        decimal(
            "-12345678901234567890123456789012345.123456789012345678901234567890",
            "-12345678901234567890123456789012345.123456789012345678901234567890",
        ),
        cell(TidbDatum::Time(TidbTime::date(1000, 1, 1)), "1000-01-01"),
    ];
    minimums.extend(datetimes(
        TidbTime::datetime(1000, 1, 1, 0, 0, 0, 0),
        "1000-01-01 00:00:00.000000",
    ));
    minimums.extend([
        cell(
            TidbDatum::Time(TidbTime::datetime(2001, 2, 3, 4, 5, 6, 654_321)),
            "2001-02-03 04:05:06.654321",
        ),
        time(true, 838, 59, 59, 0, "-838:59:59.000000"),
        int(1901),
        text("äöü✓"),
        text("日本語のテキスト"),
        text("emoji 😀 and ß"),
        bytes(&[0xFF, 0x00, 0x80, 0xFE]),
        bytes(&[0xC3, 0x28]),
        bytes(&[0x00, 0xFF, 0x00]),
        cell(TidbDatum::Enum(1), "a"),
        cell(TidbDatum::Set(0), ""),
        cell(TidbDatum::Bit(0), "0"),
        json_cell(json!({"a": [1, -2, 1.5, "x"], "b": {"c": null, "d": true}, "ü": "✓"})),
    ]);

    let mut maximums = vec![
        int(127),
        uint(255),
        int(32767),
        uint(65535),
        int(8_388_607),
        uint(16_777_215),
        int(i64::from(i32::MAX)),
        uint(u64::from(u32::MAX)),
        int(i64::MAX),
        uint(u64::MAX),
        cell(TidbDatum::Float(f64::from(0.1f32)), "0.1"),
        cell(
            TidbDatum::Float(1.797_693_134_862_315_7e308),
            "1.7976931348623157e308",
        ),
        decimal(
            "99999999999999999999999999999999999.999999999999999999999999999999",
            "99999999999999999999999999999999999.999999999999999999999999999999",
        ),
        cell(TidbDatum::Time(TidbTime::date(9999, 12, 31)), "9999-12-31"),
    ];
    maximums.extend(datetimes(
        TidbTime::datetime(9999, 12, 31, 23, 59, 59, 999_999),
        "9999-12-31 23:59:59.999999",
    ));
    maximums.extend([
        cell(
            TidbDatum::Time(TidbTime::datetime(2038, 1, 19, 3, 14, 7, 999_999)),
            "2038-01-19 03:14:07.999999",
        ),
        time(false, 838, 59, 59, 0, "838:59:59.000000"),
        int(2155),
        text("ñññññññññ✓"),
        text(&"€".repeat(64)),
        text("mixed: ascii, ελληνικά, 中文"),
        bytes(&[0x80, 0x81, 0x82, 0x83]),
        bytes(&[]),
        bytes(&(0..=255).collect::<Vec<u8>>()),
        cell(TidbDatum::Enum(3), "c"),
        cell(TidbDatum::Set(7), "x,y,z"),
        cell(TidbDatum::Bit(u64::MAX), u64::MAX.to_string()),
        json_cell(json!([
            18_446_744_073_709_551_615u64,
            -9_223_372_036_854_775_808i64,
            [],
            {}
        ])),
    ]);

    let mut odd = vec![
        int(0),
        uint(0),
        int(0),
        uint(0),
        int(0),
        uint(0),
        int(0),
        uint(0),
        int(0),
        uint(0),
        cell(TidbDatum::Float(0.0), "0"),
        cell(TidbDatum::Float(0.0), "0"),
        decimal(
            "-0.000000000000000000000000000001",
            "-0.000000000000000000000000000001",
        ),
        cell(TidbDatum::Time(TidbTime::date(2024, 2, 29)), "2024-02-29"),
    ];
    odd.extend(datetimes(
        TidbTime::datetime(2024, 2, 29, 12, 30, 45, 123_456),
        "2024-02-29 12:30:45.123456",
    ));
    odd.extend([
        cell(
            TidbDatum::Time(TidbTime::datetime(1970, 1, 1, 0, 0, 1, 0)),
            "1970-01-01 00:00:01.000000",
        ),
        time(true, 0, 0, 0, 1, "-00:00:00.000001"),
        int(2000),
        text(""),
        text("0"),
        text("'quoted' \"double\""),
        bytes(&[0, 0, 0, 0]),
        bytes(&[0x5C, 0x27, 0x00]),
        bytes(&[0xF0, 0x9F]),
        cell(TidbDatum::Enum(2), "b"),
        cell(TidbDatum::Set(5), "x,z"),
        cell(TidbDatum::Bit(0x8000_0000_0000_0001), "9223372036854775809"),
        json_cell(json!("just a string")),
    ]);
    vec![(1, minimums), (2, maximums), (4, odd)]
}

/// What the comparison shows for `id` and `cells`.
fn shown_row(id: i64, cells: &[Cell]) -> String {
    let values: Vec<&str> = cells.iter().map(|(_, shown)| shown.as_str()).collect();
    format!("{id}\t{}\n", values.join("\t"))
}

/// Writes `all_types`: the rows, one of only NULLs (TiDB leaves NULLs without a default out of
/// the row), an update of row 2, row 4 updated to NULL in every column, and row 5 deleted;
/// returns the expected output.
async fn write_all_types(tidb: &mut TidbWriter, columns: &[TypeColumn]) -> String {
    let ids: Vec<i64> = (1..=columns.len() as i64 + 1).collect();
    let rows = all_types_rows();
    let insert = |id: i64, cells: &[Cell]| {
        let values: Vec<(i64, TidbDatum)> = cells
            .iter()
            .enumerate()
            .map(|(at, (datum, _))| (at as i64 + 2, datum.clone()))
            .collect();
        insert_row(&Handle::Int(id), &values)
    };
    let image = |id: i64, cells: &[Cell]| {
        let mut values = vec![TidbDatum::Int(id)];
        values.extend(cells.iter().map(|(datum, _)| datum.clone()));
        values
    };
    let mut mutation = Mutation::new(ALL_TYPES);
    for (id, cells) in &rows {
        mutation = mutation.insert(insert(*id, cells));
    }
    // Row 3: every column NULL, none in the row; row 5: a copy of row 1, deleted below.
    mutation = mutation
        .insert(insert_row(&Handle::Int(3), &[]))
        .insert(insert(5, &rows[0].1));
    tidb.dml(vec![mutation]).await;

    let (_, maximums) = &rows[1];
    let mut updated = maximums.clone();
    updated[25] = text("updated ✓");
    updated[33] = json_cell(json!({"updated": [true, false]}));
    let nulls: Vec<Cell> = columns.iter().map(|_| null()).collect();
    let (_, odd) = &rows[2];
    let mut delete: Vec<(i64, TidbDatum)> = vec![(1, TidbDatum::Int(5))];
    delete.extend(
        rows[0]
            .1
            .iter()
            .enumerate()
            .map(|(at, (datum, _))| (at as i64 + 2, datum.clone())),
    );
    tidb.dml(vec![Mutation::new(ALL_TYPES)
        .update(update_row(
            &ids,
            &image(2, maximums),
            &image(2, &updated),
            None,
        ))
        .update(update_row(&ids, &image(4, odd), &image(4, &nulls), None))
        .delete(delete_row(&delete, None))])
        .await;

    [
        shown_row(1, &rows[0].1),
        shown_row(2, &updated),
        shown_row(3, &nulls),
        shown_row(4, &nulls),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_column_type_reaches_mariadb_as_tidb_committed_it() {
    let mut pipeline = MysqlPipeline::start().await;
    // Timestamps must be written in UTC whatever the downstream's own time zone.
    pipeline.mariadb.query("SET GLOBAL time_zone = '+05:00'");
    let drainer = pipeline.start_drainer(DrainerToml::default());
    let tidb = &mut pipeline.tidb;
    tidb.run_ddl("CREATE DATABASE `shop`", |job, version| {
        create_schema(job, version, SHOP, "shop")
    })
    .await;
    let columns = type_columns();
    let info = all_types_info(&columns);
    tidb.run_ddl(&all_types_sql(&columns), |job, version| {
        create_table(job, version, SHOP, "shop", info)
    })
    .await;
    let expected = Expected {
        sql: all_types_select(&columns),
        output: write_all_types(tidb, &columns).await,
        normalize: canonical_json_column,
    };
    pipeline.wait_identical(&drainer, &[expected], CATCH_UP);
    let log = drainer.log();
    assert!(!log.contains("panicked"), "the drainer panicked:\n{log}");
}
