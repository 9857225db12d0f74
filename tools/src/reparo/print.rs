//! The `print` destination: each binlog as the original reparo prints it.
//!
//! ```text
//! DDL query: use `shop`; CREATE TABLE `items` (...);
//! schema: shop; table: items; type: Insert
//! id(bigint): 1
//! name(varchar): apple
//! schema: shop; table: items; type: Update
//! id(bigint): 1 => 1
//! name(varchar): apple => pear
//! ```
//!
//! Values are printed as Go's `fmt` prints the decoded datum (the original's
//! `formatValueToString`): text for the types the file holds as text (dates, times, decimals,
//! `VARCHAR`, `CHAR`, JSON), otherwise `%v`: numbers, `<nil>` for NULL, and other byte strings
//! (`TEXT`, `BLOB`, `VARBINARY`) as a list of byte values, `[104 105]`.

use std::io::Write;

use prost::Message;

use super::error::ReparoError;
use binlog_archive::pb_binlog::proto;
use binlog_tidb::codec::{Datum, Reader};
use binlog_tidb::table::mysql_type as tp;

/// Prints `binlog` to `out`.
pub fn print_binlog(binlog: &proto::Binlog, out: &mut impl Write) -> Result<(), ReparoError> {
    print(binlog, out).map_err(ReparoError::Output)
}

fn print(binlog: &proto::Binlog, out: &mut impl Write) -> std::io::Result<()> {
    match binlog.tp() {
        proto::BinlogType::Ddl => {
            let query = binlog.ddl_query.as_deref().unwrap_or_default();
            writeln!(out, "DDL query: {}", String::from_utf8_lossy(query))
        }
        proto::BinlogType::Dml => {
            for event in binlog.dml_data.iter().flat_map(|data| &data.events) {
                print_event(event, out)?;
            }
            Ok(())
        }
    }
}

fn print_event(event: &proto::Event, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "schema: {}; table: {}; type: {:?}",
        event.schema_name(),
        event.table_name(),
        event.tp()
    )?;
    for bytes in &event.row {
        // The original logs a column that does not decode and goes on with the next event.
        let column = match proto::Column::decode(&bytes[..]) {
            Ok(column) => column,
            Err(error) => {
                tracing::error!(%error, schema = event.schema_name(), table = event.table_name(), "print event failed: a column does not decode");
                return Ok(());
            }
        };
        let code = column.tp().first().copied().unwrap_or_default();
        let value = format_value(column.value(), code);
        write!(out, "{}({}): {value}", column.name(), column.mysql_type())?;
        if event.tp() == proto::EventType::Update {
            write!(out, " => {}", format_value(column.changed_value(), code))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// An encoded datum as the original prints it for a column of type `code`.
fn format_value(encoded: &[u8], code: u8) -> String {
    let datum = match Reader::new(encoded).datum() {
        Ok(datum) => datum,
        Err(error) => return format!("<undecodable: {error}>"),
    };
    let as_text = matches!(
        code,
        tp::DATE
            | tp::DATETIME
            | tp::NEWDATE
            | tp::TIMESTAMP
            | tp::DURATION
            | tp::NEWDECIMAL
            | tp::VARCHAR
            | tp::STRING
            | tp::JSON
    );
    match datum {
        Datum::Null => "<nil>".into(),
        Datum::Int(v) => v.to_string(),
        Datum::Uint(v) => v.to_string(),
        Datum::Float(v) => go_float(v),
        Datum::Bytes(bytes) if as_text => String::from_utf8_lossy(&bytes).into_owned(),
        Datum::Bytes(bytes) => {
            let values: Vec<String> = bytes.iter().map(u8::to_string).collect();
            format!("[{}]", values.join(" "))
        }
        other => format!("<{}>", other.kind()),
    }
}

/// A float as Go's `%v` prints it: the shortest digits that read back, with an exponent
/// (`1e+21`, `1.5e-05`) below 1e-4 and from 1e21 on.
fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponents are integers");
    if value != 0.0 && !(-4..21).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binlog_tidb::codec::encode_value;
    use binlog_tidb::Value;

    fn encoded(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(value, &mut out);
        out
    }

    fn column(name: &str, code: u8, type_name: &str, old: &Value, new: Option<&Value>) -> Vec<u8> {
        proto::Column {
            name: Some(name.into()),
            tp: Some(vec![code]),
            mysql_type: Some(type_name.into()),
            value: Some(encoded(old)),
            changed_value: new.map(encoded),
        }
        .encode_to_vec()
    }

    #[test]
    fn prints_ddl_and_rows_as_the_original() {
        let mut insert = proto::Event {
            schema_name: Some("shop".into()),
            table_name: Some("items".into()),
            row: vec![
                column("id", tp::LONGLONG, "bigint", &Value::Int(-7), None),
                column(
                    "name",
                    tp::VARCHAR,
                    "varchar",
                    &Value::Bytes(b"apple".to_vec()),
                    None,
                ),
                column(
                    "body",
                    tp::BLOB,
                    "text",
                    &Value::Bytes(b"hi".to_vec()),
                    None,
                ),
                column(
                    "price",
                    tp::NEWDECIMAL,
                    "decimal",
                    &Value::Text("1.50".into()),
                    None,
                ),
                column("ratio", tp::DOUBLE, "double", &Value::Float(0.00001), None),
                column("note", tp::VARCHAR, "varchar", &Value::Null, None),
                column("flags", tp::SET, "set", &Value::Uint(5), None),
            ],
            ..Default::default()
        };
        insert.set_tp(proto::EventType::Insert);
        let mut update = proto::Event {
            schema_name: Some("shop".into()),
            table_name: Some("items".into()),
            row: vec![column(
                "qty",
                tp::LONG,
                "int",
                &Value::Int(1),
                Some(&Value::Int(2)),
            )],
            ..Default::default()
        };
        update.set_tp(proto::EventType::Update);
        let mut dml = proto::Binlog {
            commit_ts: Some(5),
            dml_data: Some(proto::DmlData {
                events: vec![insert, update],
            }),
            ..Default::default()
        };
        dml.set_tp(proto::BinlogType::Dml);
        let mut ddl = proto::Binlog {
            commit_ts: Some(4),
            ddl_query: Some(b"use `shop`; CREATE TABLE `t` (`id` INT);".to_vec()),
            ..Default::default()
        };
        ddl.set_tp(proto::BinlogType::Ddl);

        let mut out = Vec::new();
        print_binlog(&ddl, &mut out).unwrap();
        print_binlog(&dml, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "DDL query: use `shop`; CREATE TABLE `t` (`id` INT);\n\
             schema: shop; table: items; type: Insert\n\
             id(bigint): -7\n\
             name(varchar): apple\n\
             body(text): [104 105]\n\
             price(decimal): 1.50\n\
             ratio(double): 1e-05\n\
             note(varchar): <nil>\n\
             flags(set): 5\n\
             schema: shop; table: items; type: Update\n\
             qty(int): 1 => 2\n"
        );
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        for (value, text) in [
            (0.0, "0"),
            (1.5, "1.5"),
            (-2.0, "-2"),
            (0.0001, "0.0001"),
            (0.000012, "1.2e-05"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.25e300, "1.25e+300"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_float(value), text, "{value}");
        }
    }
}
