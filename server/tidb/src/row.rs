//! The rows of a binlog's `TableMutation` (`inserted_rows`, `updated_rows`, `deleted_rows`)
//! read into one [`Value`] per column of the table.
//!
//! TiDB writes them in `pkg/table/tables/tables.go` with `tablecodec.EncodeOldRow`: a row is
//! `(column ID, value)` datum pairs ([`crate::codec`]), the values flattened first (times to
//! their packed uint, durations to nanoseconds, enum/set/bit to their uint), and a single
//! `NilFlag` byte for a row of no columns.
//!
//! - **Insert** (`addInsertBinlog`): `codec.EncodeValue(h.Data()...)` then the pairs of
//!   `AddRecord`'s row. The handle is one int datum (the int primary key when `pk_is_handle`,
//!   else `_tidb_rowid`), or, for a clustered (common handle) table, one datum per
//!   primary-key column: `EncodeKey`'s memcomparable datums decoded by `CommonHandle.Data()` and
//!   re-encoded by `EncodeValue`. The pairs skip (`CanSkip`) the `pk_is_handle` column, the
//!   common-handle columns whose key holds their whole value (not prefixed, no collation
//!   restore data), NULLs of columns with neither a default nor an origin default, and virtual
//!   generated columns.
//! - **Update** (`addUpdateBinlog`): the old row's pairs then the new row's, the same column
//!   IDs in both (every column but delete-only ones and virtual generated ones), plus a column
//!   -1 holding the int handle when the table has no int or common handle.
//! - **Delete** (`addDeleteBinlog`): the pairs of every column, plus the column -1 holding the
//!   int handle when the table has no int or common handle.
//!
//! The reading follows the original drainer (`drainer/translator/translator.go`
//! `insertRowToDatums`, `DecodeOldAndNewRow`, `mysql.go` `genDBDelete`): unknown column IDs
//! (-1 among them) are skipped; for `pk_is_handle` the handle gives the key column's value
//! (as unsigned for an `UNSIGNED` column, `fixType`), for a common handle a column's own pair
//! wins over the handle's datum (its full value when the key holds only a prefix or a sort
//! key). A column in neither gets `getDefaultOrZeroValue`: its origin default, else NULL when
//! nullable, else the first enum element or the type's zero value. In an update the first pair
//! of a column is its old value and the second its new one; a column in one of the two images
//! only is an error. Columns that are not written downstream (not public, or generated) are
//! [`Value::Null`] placeholders.
//!
//! Values take the shape MySQL accepts, exactly (`formatData`, spec `original-drainer.md`
//! §4.1): see [`Value`]. Timestamps stay in UTC (the loader's session runs at `+00:00`).

use std::collections::HashMap;

use crate::codec::{Datum, Reader, NIL_FLAG};
use crate::decimal::{Decimal, MAX_SCALE};
use crate::error::{Error, Result};
use crate::json;
use crate::table::{column_flag, mysql_type as tp, Column, TableSchema};
use crate::time::{self, DateTime};
use crate::value::Value;

/// One value per `table.columns` entry (same index), non-writable columns as Value::Null.
// Format: { handle: one int datum, or one datum per primary-key column |
//           (column ID datum, value datum)* or a lone NilFlag }
pub fn decode_insert(table: &TableSchema, row: &[u8]) -> Result<Vec<Value>> {
    let ids = ColumnIds::new(table);
    let mut reader = Reader::new(row);
    let mut from_handle: Vec<Option<Value>> = vec![None; table.columns.len()];
    if table.is_common_handle {
        if table.primary_key.is_empty() {
            return Err(row_error(
                table,
                "a clustered (common handle) table without a primary key",
            ));
        }
        for &offset in &table.primary_key {
            let column = table.columns.get(offset).ok_or_else(|| {
                row_error(
                    table,
                    format!("primary key offset {offset} is not a column"),
                )
            })?;
            let datum = reader.datum()?;
            from_handle[offset] = Some(convert(table, column, datum)?);
        }
    } else {
        let at = reader.offset();
        let handle = reader.datum()?;
        if !matches!(handle, Datum::Int(_) | Datum::Uint(_)) {
            return Err(Error::Datum {
                offset: at,
                reason: format!("the row handle must be an int, found {}", handle.kind()),
            });
        }
        if table.pk_is_handle {
            let offset = int_handle_column(table)?;
            from_handle[offset] = Some(convert(table, &table.columns[offset], handle)?);
        }
    }
    let mut found = read_row(table, &ids, &mut reader)?;
    table
        .columns
        .iter()
        .enumerate()
        .map(|(offset, column)| {
            if !column.is_writable() {
                return Ok(Value::Null);
            }
            // `insertRowToDatums`: an int handle replaces the column's value; a common
            // handle's datum only fills a column the row does not carry.
            let value = if table.pk_is_handle && !table.is_common_handle {
                from_handle[offset].take().or_else(|| found[offset].take())
            } else {
                found[offset].take().or_else(|| from_handle[offset].take())
            };
            match value {
                Some(value) => Ok(value),
                None => missing_value(table, column),
            }
        })
        .collect()
}

/// (old, new)
// Format: { old image (column ID, value)* | new image (column ID, value)* }, the same IDs in
//         both, -1 (the int handle) in both for tables without an int or common handle
pub fn decode_update(table: &TableSchema, row: &[u8]) -> Result<(Vec<Value>, Vec<Value>)> {
    let ids = ColumnIds::new(table);
    let mut old: Vec<Option<Value>> = vec![None; table.columns.len()];
    let mut new: Vec<Option<Value>> = vec![None; table.columns.len()];
    // `DecodeOldAndNewRow` takes a row starting with `NilFlag` as no columns at all (two
    // empty images are `00 00`).
    if row.first() != Some(&NIL_FLAG) {
        let mut reader = Reader::new(row);
        read_pairs(table, &ids, &mut reader, |offset, value| {
            if old[offset].is_none() {
                old[offset] = Some(value);
            } else if new[offset].is_none() {
                new[offset] = Some(value);
            } else {
                return Err(column_error(
                    table,
                    &table.columns[offset],
                    "appears more than twice in the update (old and new images)",
                ));
            }
            Ok(())
        })?;
    }
    let mut old_values = Vec::with_capacity(table.columns.len());
    let mut new_values = Vec::with_capacity(table.columns.len());
    for (offset, column) in table.columns.iter().enumerate() {
        if !column.is_writable() {
            old_values.push(Value::Null);
            new_values.push(Value::Null);
            continue;
        }
        match (old[offset].take(), new[offset].take()) {
            (Some(old), Some(new)) => {
                old_values.push(old);
                new_values.push(new);
            }
            (None, None) => {
                let value = missing_value(table, column)?;
                old_values.push(value.clone());
                new_values.push(value);
            }
            (Some(_), None) => {
                return Err(row_error(
                    table,
                    format!(
                        "column {} is in the old image of the update but not in the new one",
                        column.name
                    ),
                ))
            }
            (None, Some(_)) => unreachable!("a column's first pair is its old value"),
        }
    }
    Ok((old_values, new_values))
}

/// The deleted row: one value per `table.columns` entry, non-writable columns as Value::Null.
// Format: { (column ID datum, value datum)* | (-1, int handle) for tables without an int or
//           common handle }
pub fn decode_delete(table: &TableSchema, row: &[u8]) -> Result<Vec<Value>> {
    let ids = ColumnIds::new(table);
    let mut found = read_row(table, &ids, &mut Reader::new(row))?;
    table
        .columns
        .iter()
        .enumerate()
        .map(|(offset, column)| {
            if !column.is_writable() {
                return Ok(Value::Null);
            }
            match found[offset].take() {
                Some(value) => Ok(value),
                None => missing_value(table, column),
            }
        })
        .collect()
}

/// Column ID → index in `table.columns`, for the columns written downstream.
struct ColumnIds(HashMap<i64, usize>);

impl ColumnIds {
    fn new(table: &TableSchema) -> Self {
        ColumnIds(
            table
                .columns
                .iter()
                .enumerate()
                .filter(|(_, column)| column.is_writable())
                .map(|(offset, column)| (column.id, offset))
                .collect(),
        )
    }
}

/// One row image to its end: each writable column's value, at most once.
fn read_row(
    table: &TableSchema,
    ids: &ColumnIds,
    reader: &mut Reader<'_>,
) -> Result<Vec<Option<Value>>> {
    let mut found: Vec<Option<Value>> = vec![None; table.columns.len()];
    read_pairs(table, ids, reader, |offset, value| {
        if found[offset].is_some() {
            return Err(column_error(
                table,
                &table.columns[offset],
                "appears twice in the row",
            ));
        }
        found[offset] = Some(value);
        Ok(())
    })?;
    Ok(found)
}

/// Reads the `(column ID, value)` pairs to the end of the row, handing each writable column's
/// value to `found`; other columns' values are only framed, as `CutOne` does.
fn read_pairs(
    table: &TableSchema,
    ids: &ColumnIds,
    reader: &mut Reader<'_>,
    mut found: impl FnMut(usize, Value) -> Result<()>,
) -> Result<()> {
    // `EncodeOldRow` writes one `NilFlag` for a row of no columns.
    if reader.rest() == [NIL_FLAG] {
        return Ok(());
    }
    while !reader.is_empty() {
        let at = reader.offset();
        let id = match reader.datum()? {
            Datum::Int(id) => id,
            Datum::Uint(id) => id as i64,
            other => {
                return Err(Error::Datum {
                    offset: at,
                    reason: format!("a column ID must be an int, found {}", other.kind()),
                })
            }
        };
        let datum = reader.datum()?;
        if let Some(&offset) = ids.0.get(&id) {
            found(offset, convert(table, &table.columns[offset], datum)?)?;
        }
    }
    Ok(())
}

/// The offset of the int primary key column that is the row handle.
fn int_handle_column(table: &TableSchema) -> Result<usize> {
    table
        .primary_key
        .first()
        .copied()
        .filter(|&offset| offset < table.columns.len())
        .or_else(|| {
            table
                .columns
                .iter()
                .position(|column| column.flag & column_flag::PRI_KEY != 0)
        })
        .ok_or_else(|| row_error(table, "pk_is_handle, but no primary key column"))
}

fn convert(table: &TableSchema, column: &Column, datum: Datum<'_>) -> Result<Value> {
    column_value(column, datum).map_err(|reason| column_error(table, column, reason))
}

fn column_error(table: &TableSchema, column: &Column, reason: impl Into<String>) -> Error {
    Error::Column {
        table: table.qualified_name(),
        column: column.name.clone(),
        reason: reason.into(),
    }
}

fn row_error(table: &TableSchema, reason: impl Into<String>) -> Error {
    Error::Row {
        table: table.qualified_name(),
        reason: reason.into(),
    }
}

/// The column's decimal scale, when it has one.
fn scale(column: &Column) -> Option<usize> {
    (0..=i64::from(MAX_SCALE))
        .contains(&column.decimal)
        .then_some(column.decimal as usize)
}

fn type_name(tp: u8) -> &'static str {
    match tp {
        tp::DECIMAL | tp::NEWDECIMAL => "DECIMAL",
        tp::TINY => "TINYINT",
        tp::SHORT => "SMALLINT",
        tp::LONG => "INT",
        tp::FLOAT => "FLOAT",
        tp::DOUBLE => "DOUBLE",
        tp::NULL => "NULL",
        tp::TIMESTAMP => "TIMESTAMP",
        tp::LONGLONG => "BIGINT",
        tp::INT24 => "MEDIUMINT",
        tp::DATE | tp::NEWDATE => "DATE",
        tp::DURATION => "TIME",
        tp::DATETIME => "DATETIME",
        tp::YEAR => "YEAR",
        tp::VARCHAR | tp::VAR_STRING => "VARCHAR",
        tp::BIT => "BIT",
        tp::TIDB_VECTOR_FLOAT32 => "VECTOR",
        tp::JSON => "JSON",
        tp::ENUM => "ENUM",
        tp::SET => "SET",
        tp::TINY_BLOB | tp::MEDIUM_BLOB | tp::LONG_BLOB | tp::BLOB => "BLOB/TEXT",
        tp::STRING => "CHAR",
        tp::GEOMETRY => "GEOMETRY",
        _ => "an unknown type",
    }
}

/// A datum of a row (or handle) as the column's value (`tablecodec.Unflatten`, then
/// `formatData`).
fn column_value(column: &Column, datum: Datum<'_>) -> Result<Value, String> {
    if datum == Datum::Null {
        return Ok(Value::Null);
    }
    let mismatch = |datum: Datum<'_>| {
        Err(format!(
            "a {} column cannot hold {} datum",
            type_name(column.tp),
            datum.kind()
        ))
    };
    let value = match column.tp {
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG => match datum {
            Datum::Int(v) => integer(column, v as u64),
            Datum::Uint(v) => integer(column, v),
            other => return mismatch(other),
        },
        tp::YEAR => match datum {
            Datum::Int(v) => Value::Int(v),
            Datum::Uint(v) => Value::Int(v as i64),
            other => return mismatch(other),
        },
        tp::FLOAT | tp::DOUBLE => match datum {
            Datum::Float(f) if column.tp == tp::FLOAT => Value::Float(f64::from(f as f32)),
            Datum::Float(f) => Value::Float(f),
            other => return mismatch(other),
        },
        tp::NEWDECIMAL | tp::DECIMAL => match datum {
            Datum::Decimal {
                precision,
                frac,
                bin,
            } => Value::Text(Decimal::from_bin(precision, frac, bin)?.to_text(scale(column))),
            other => return mismatch(other),
        },
        tp::DATE | tp::NEWDATE | tp::DATETIME | tp::TIMESTAMP => match datum {
            Datum::Uint(packed) => {
                let time = DateTime::from_packed(packed)?;
                Value::Text(if matches!(column.tp, tp::DATE | tp::NEWDATE) {
                    time.date_text()
                } else {
                    time.datetime_text(time::fsp(column.decimal))
                })
            }
            other => return mismatch(other),
        },
        tp::DURATION => match datum {
            Datum::Int(nanos) | Datum::Duration(nanos) => {
                Value::Text(time::duration_text(nanos, time::fsp(column.decimal)))
            }
            other => return mismatch(other),
        },
        tp::ENUM | tp::SET | tp::BIT => {
            let bits = match datum {
                Datum::Uint(v) => v,
                Datum::Int(v) => v as u64,
                other => return mismatch(other),
            };
            match column.tp {
                tp::ENUM => enum_value(column, bits),
                tp::SET => set_value(column, bits)?,
                _ => bit_value(column, bits),
            }
        }
        tp::JSON => match datum {
            Datum::Json { type_code, value } => Value::Text(
                json::to_text(type_code, value).map_err(|reason| format!("JSON: {reason}"))?,
            ),
            other => return mismatch(other),
        },
        tp::VARCHAR
        | tp::VAR_STRING
        | tp::STRING
        | tp::TINY_BLOB
        | tp::MEDIUM_BLOB
        | tp::LONG_BLOB
        | tp::BLOB
        | tp::GEOMETRY => match datum {
            Datum::Bytes(bytes) => Value::Bytes(bytes),
            other => return mismatch(other),
        },
        tp::NULL => Value::Null,
        tp::TIDB_VECTOR_FLOAT32 => return Err("VECTOR columns are not supported".into()),
        other => return Err(format!("unsupported column type code {other}")),
    };
    Ok(value)
}

/// An integer by the column's `UNSIGNED` flag (the bits reinterpreted, as Go's `GetInt64` and
/// the original's `fixType` for an unsigned int handle).
fn integer(column: &Column, bits: u64) -> Value {
    if column.is_unsigned() {
        Value::Uint(bits)
    } else {
        Value::Int(bits as i64)
    }
}

/// An enum's 1-based index; an index outside the elements reads as 0 (the empty error value),
/// as `Unflatten` turns a failed `ParseEnumValue` into `Enum{}`.
fn enum_value(column: &Column, index: u64) -> Value {
    if index == 0 || index > column.elems.len() as u64 {
        Value::Uint(0)
    } else {
        Value::Uint(index)
    }
}

/// A set's bits; bits beyond the elements are an error (`ParseSetValue`).
fn set_value(column: &Column, bits: u64) -> Result<Value, String> {
    let allowed = if column.elems.len() >= 64 {
        u64::MAX
    } else {
        (1u64 << column.elems.len()) - 1
    };
    if bits & !allowed != 0 {
        return Err(format!(
            "set value {bits:#x} has bits beyond its {} elements",
            column.elems.len()
        ));
    }
    Ok(Value::Uint(bits))
}

/// A bit value cut to the column's width in bytes (`NewBinaryLiteralFromUint(v, (flen+7)/8)`,
/// then `ToInt`).
fn bit_value(column: &Column, bits: u64) -> Value {
    let bytes = (column.flen + 7) >> 3;
    if (1..8).contains(&bytes) {
        Value::Uint(bits & ((1u64 << (bytes * 8)) - 1))
    } else {
        Value::Uint(bits)
    }
}

/// A column the row does not carry (`getDefaultOrZeroValue`).
fn missing_value(table: &TableSchema, column: &Column) -> Result<Value> {
    match &column.origin_default {
        Some(default) if !default.is_null() => origin_default(column, default)
            .map_err(|reason| column_error(table, column, format!("origin default: {reason}"))),
        _ if !column.is_not_null() => Ok(Value::Null),
        _ => Ok(zero_value(column)),
    }
}

/// An origin default (as TiDB's JSON has it: a string for nearly every type, timestamps in UTC)
/// as the column's value.
fn origin_default(column: &Column, default: &serde_json::Value) -> Result<Value, String> {
    let text = match default {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) => number.to_string(),
        serde_json::Value::Bool(flag) => u8::from(*flag).to_string(),
        other => return Err(format!("{other} is not a value")),
    };
    let not = |what: &str| format!("{text:?} is not {what}");
    let value = match column.tp {
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG if column.is_unsigned() => {
            Value::Uint(
                text.trim()
                    .parse()
                    .map_err(|_| not("an unsigned integer"))?,
            )
        }
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG | tp::YEAR => {
            Value::Int(text.trim().parse().map_err(|_| not("an integer"))?)
        }
        tp::FLOAT => {
            let f: f64 = text.trim().parse().map_err(|_| not("a number"))?;
            Value::Float(f64::from(f as f32))
        }
        tp::DOUBLE => Value::Float(text.trim().parse().map_err(|_| not("a number"))?),
        tp::NEWDECIMAL | tp::DECIMAL => Value::Text(Decimal::parse(&text)?.to_text(scale(column))),
        tp::DATE | tp::NEWDATE => Value::Text(DateTime::parse(&text)?.date_text()),
        tp::DATETIME | tp::TIMESTAMP => {
            Value::Text(DateTime::parse(&text)?.datetime_text(time::fsp(column.decimal)))
        }
        tp::DURATION => Value::Text(time::duration_text(
            time::parse_duration(&text)?,
            time::fsp(column.decimal),
        )),
        tp::ENUM => Value::Uint(enum_index(column, &text)?),
        tp::SET => Value::Uint(set_bits(column, &text)?),
        tp::BIT => Value::Uint(bit_default(&text)?),
        tp::JSON => Value::Text(text),
        tp::NULL => Value::Null,
        tp::VARCHAR
        | tp::VAR_STRING
        | tp::STRING
        | tp::TINY_BLOB
        | tp::MEDIUM_BLOB
        | tp::LONG_BLOB
        | tp::BLOB
        | tp::GEOMETRY => Value::Bytes(text.into_bytes()),
        other => return Err(format!("unsupported column type code {other}")),
    };
    Ok(value)
}

/// `ParseEnumName`: the element's 1-based index (exact, then ignoring ASCII case), else a
/// number that is an index.
fn enum_index(column: &Column, name: &str) -> Result<u64, String> {
    if let Some(position) = element_position(column, name) {
        return Ok(position as u64 + 1);
    }
    match name.trim().parse::<u64>() {
        Ok(index) if (1..=column.elems.len() as u64).contains(&index) => Ok(index),
        _ => Err(format!(
            "{name:?} is not an element of ENUM{:?}",
            column.elems
        )),
    }
}

/// The position of an enum/set element by name: exact, then ignoring ASCII case (the
/// collation's comparison for the usual `_ci` and `_bin` ones).
fn element_position(column: &Column, name: &str) -> Option<usize> {
    let elems = &column.elems;
    elems.iter().position(|elem| elem == name).or_else(|| {
        elems
            .iter()
            .position(|elem| elem.eq_ignore_ascii_case(name))
    })
}

/// `ParseSetName`: the bits of the comma-separated elements, else a number of valid bits.
fn set_bits(column: &Column, names: &str) -> Result<u64, String> {
    if names.is_empty() {
        return Ok(0);
    }
    let mut bits = 0u64;
    let mut all_found = true;
    for name in names.split(',') {
        match element_position(column, name) {
            Some(position) if position < 64 => bits |= 1 << position,
            _ => all_found = false,
        }
    }
    if all_found {
        return Ok(bits);
    }
    match names.trim().parse::<u64>() {
        Ok(number) => set_value(column, number).map(|_| number),
        Err(_) => Err(format!(
            "{names:?} is not a subset of SET{:?}",
            column.elems
        )),
    }
}

/// A `BIT` origin default: the literal's bytes, big-endian. TiDB keeps the intact bytes in
/// `OriginDefaultValueBit`; the JSON string here loses bytes that are not UTF-8 (Go writes
/// U+FFFD for them), so a replacement character is refused rather than misread.
fn bit_default(text: &str) -> Result<u64, String> {
    if text.contains('\u{FFFD}') {
        return Err(format!(
            "{text:?} lost bytes that are not UTF-8 (needs OriginDefaultValueBit)"
        ));
    }
    let bytes = text.as_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let significant = &bytes[first..];
    if significant.len() > 8 {
        return Err(format!("{text:?} is wider than 64 bits"));
    }
    Ok(significant
        .iter()
        .fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
}

/// A NOT NULL column without an origin default (`getDefaultOrZeroValue`: the first enum
/// element, else `table.GetZeroValue`).
fn zero_value(column: &Column) -> Value {
    match column.tp {
        tp::ENUM if !column.elems.is_empty() => Value::Uint(1),
        tp::TINY | tp::SHORT | tp::INT24 | tp::LONG | tp::LONGLONG => integer(column, 0),
        tp::YEAR => Value::Int(0),
        tp::FLOAT | tp::DOUBLE => Value::Float(0.0),
        tp::NEWDECIMAL | tp::DECIMAL => Value::Text(
            Decimal::parse("0")
                .expect("0 is a decimal")
                .to_text(scale(column)),
        ),
        tp::STRING if column.flen > 0 && column.is_binary_string() => {
            Value::Bytes(vec![0; usize::try_from(column.flen).unwrap_or(0).min(255)])
        }
        tp::STRING
        | tp::VARCHAR
        | tp::VAR_STRING
        | tp::TINY_BLOB
        | tp::MEDIUM_BLOB
        | tp::LONG_BLOB
        | tp::BLOB => Value::Bytes(Vec::new()),
        tp::DURATION => Value::Text(time::duration_text(0, time::fsp(column.decimal))),
        tp::DATE | tp::NEWDATE => Value::Text(DateTime::default().date_text()),
        tp::DATETIME | tp::TIMESTAMP => {
            Value::Text(DateTime::default().datetime_text(time::fsp(column.decimal)))
        }
        tp::BIT | tp::SET | tp::ENUM => Value::Uint(0),
        tp::JSON => Value::Text("null".into()),
        _ => Value::Null,
    }
}
