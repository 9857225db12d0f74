use std::sync::Arc;

use super::*;
use binlog_tidb::table::column_flag;

/// The transaction at commit TS 42 doing `body`.
fn txn(body: TxnBody) -> LoadTxn {
    LoadTxn {
        commit_ts: 42,
        body,
    }
}

fn table() -> (Arc<TableSchema>, Arc<TableRef>) {
    let mut generated = Column::new(6, 7, "g", tp::LONG, 0, "binary");
    generated.generated = true;
    let schema = Arc::new(TableSchema {
        id: 1,
        schema_version: 1,
        db: "shop".into(),
        name: "Items".into(),
        columns: vec![
            Column::new(0, 1, "id", tp::LONGLONG, column_flag::PRI_KEY, "binary"),
            Column::new(1, 2, "u", tp::LONGLONG, column_flag::UNSIGNED, "binary"),
            Column::new(2, 3, "name", tp::VARCHAR, 0, "utf8mb4"),
            Column::new(3, 4, "price", tp::NEWDECIMAL, 0, "binary"),
            Column::new(4, 5, "at", tp::TIMESTAMP, 0, "binary"),
            Column::new(5, 6, "raw", tp::BLOB, 0, "binary"),
            generated,
            Column::new(7, 8, "f", tp::DOUBLE, 0, "binary"),
        ],
        pk_is_handle: true,
        is_common_handle: false,
        primary_key: vec![0],
        unique_keys: Vec::new(),
    });
    let rows = Arc::new(TableRef {
        db: "shop".into(),
        table: "Items".into(),
        columns: ["id", "u", "name", "price", "at", "raw", "f"]
            .map(String::from)
            .to_vec(),
    });
    (schema, rows)
}

fn values(id: i64, name: &str) -> Vec<Value> {
    vec![
        Value::Int(id),
        Value::Uint(u64::MAX),
        Value::Bytes(name.as_bytes().to_vec()),
        Value::Text("-12.340".into()),
        Value::Text("2024-01-02 03:04:05.678".into()),
        Value::Null,
        Value::Float(-0.5),
    ]
}

#[test]
fn rows_round_trip_with_the_originals_column_layout() {
    let (schema, rows) = table();
    let event = |kind, old, new| RowEvent {
        table: rows.clone(),
        kind,
        old,
        new,
    };
    let events = vec![
        event(RowKind::Insert, vec![], values(1, "a")),
        event(RowKind::Update, values(1, "a"), values(1, "b")),
        event(RowKind::Delete, values(1, "b"), vec![]),
    ];
    let schema_of = |of: &Arc<TableRef>| Arc::ptr_eq(of, &rows).then(|| schema.clone());
    let payload = encode(&txn(TxnBody::Rows(events.clone())), schema_of).unwrap();
    assert_eq!(commit_ts(&payload).unwrap(), 42);

    // The layout the original reparo reads: one serialized `column` per writable column.
    let binlog = proto::Binlog::decode(&payload[..]).unwrap();
    assert_eq!(binlog.tp(), proto::BinlogType::Dml);
    let written = &binlog.dml_data.as_ref().unwrap().events;
    assert_eq!(
        written.iter().map(|e| e.tp()).collect::<Vec<_>>(),
        [
            proto::EventType::Insert,
            proto::EventType::Update,
            proto::EventType::Delete
        ]
    );
    assert_eq!(written[0].schema_name(), "shop");
    assert_eq!(written[0].table_name(), "Items");
    assert_eq!(
        written[0].row.len(),
        7,
        "the generated column is not written"
    );
    let first = proto::Column::decode(&written[0].row[0][..]).unwrap();
    assert_eq!(first.name(), "id");
    assert_eq!(first.tp(), [tp::LONGLONG]);
    assert_eq!(first.mysql_type(), "bigint");
    assert_eq!(
        first.value(),
        [8, 2],
        "EncodeValue(int64 1): varint flag, zigzag 1"
    );
    assert_eq!(first.changed_value, None);
    let name = proto::Column::decode(&written[1].row[2][..]).unwrap();
    assert_eq!(
        (name.value(), name.changed_value()),
        (&[2, 2, b'a'][..], &[2, 2, b'b'][..]),
        "an update: the old value, then the changed one"
    );

    let decoded = decode(&payload).unwrap();
    assert_eq!(decoded.commit_ts, 42);
    let TxnBody::Rows(back) = decoded.body else {
        panic!("rows expected");
    };
    assert_eq!(back.len(), 3);
    for (back, sent) in back.iter().zip(&events) {
        assert_eq!(
            (back.kind, &back.old, &back.new),
            (sent.kind, &sent.old, &sent.new)
        );
        assert_eq!(*back.table, *rows);
    }
    assert!(
        Arc::ptr_eq(&back[0].table, &back[2].table),
        "rows of one table share their names"
    );
}

#[test]
fn ddl_is_written_with_its_database_and_read_back() {
    let ddl = |db: &str, table: &str, query: &str| {
        TxnBody::Ddl(Ddl {
            db: db.into(),
            table: table.into(),
            query: query.into(),
        })
    };
    let cases = [
        (
            ddl("shop", "t", "CREATE TABLE t (a INT)"),
            "use `shop`; CREATE TABLE t (a INT);",
        ),
        (
            ddl("we`ird", "t", "DROP TABLE t"),
            "use `we``ird`; DROP TABLE t;",
        ),
        (
            ddl("shop", "", "CREATE DATABASE shop"),
            "CREATE DATABASE shop;",
        ),
    ];
    for (body, written) in cases {
        let payload = encode(&txn(body.clone()), |_| None).unwrap();
        let binlog = proto::Binlog::decode(&payload[..]).unwrap();
        assert_eq!(binlog.tp(), proto::BinlogType::Ddl);
        assert_eq!(binlog.ddl_query(), written.as_bytes());
        let TxnBody::Ddl(sent) = body else {
            unreachable!()
        };
        let TxnBody::Ddl(back) = decode(&payload).unwrap().body else {
            panic!("a DDL expected");
        };
        assert_eq!((back.db, back.query), (sent.db, sent.query), "{written}");
    }
}

#[test]
fn ddl_targets_are_found_as_the_original_reparo_finds_them() {
    let some = |db: &str, table: &str| (Some(db.to_owned()), table.to_owned());
    let none = |table: &str| (None, table.to_owned());
    let cases = [
        ("CREATE TABLE t (a INT)", none("t")),
        (
            "create table if not exists `d`.`t x` (a int)",
            some("d", "t x"),
        ),
        (
            "/*!40101 x */ ALTER TABLE d.t ADD COLUMN b INT",
            some("d", "t"),
        ),
        ("DROP TABLE IF EXISTS `a``b`", none("a`b")),
        ("TRUNCATE TABLE t", none("t")),
        ("truncate d.t", some("d", "t")),
        ("RENAME TABLE a TO d.b", some("d", "b")),
        ("CREATE UNIQUE INDEX i ON t (a)", none("t")),
        ("DROP INDEX i ON d.t", some("d", "t")),
        ("CREATE DATABASE IF NOT EXISTS `new`", some("new", "")),
        ("DROP SCHEMA old", some("old", "")),
        ("CREATE VIEW v AS SELECT 1", none("v")),
        ("FLASHBACK TABLE t", none("t")),
        ("ALTER USER u IDENTIFIED BY 'p'", none("")),
        ("", none("")),
        ("CREATE TABLE `unterminated", none("")),
    ];
    for (query, expected) in cases {
        assert_eq!(ddl_target(query), expected, "{query}");
    }
}

#[test]
fn damaged_payloads_are_errors_never_panics() {
    let garbage: &[&[u8]] = &[b"\xff\xff\xff", b"\x1a\x03\x0a\x01\xff"];
    for bytes in garbage {
        assert!(decode(bytes).is_err(), "{bytes:?}");
    }
    // A column whose value is cut short.
    let column = proto::Column {
        name: Some("a".into()),
        tp: Some(vec![tp::LONG]),
        value: Some(vec![2, 10, b'x']),
        ..Default::default()
    };
    let binlog = proto::Binlog {
        commit_ts: Some(7),
        dml_data: Some(proto::DmlData {
            events: vec![proto::Event {
                schema_name: Some("d".into()),
                table_name: Some("t".into()),
                row: vec![column.encode_to_vec()],
                ..Default::default()
            }],
        }),
        ..Default::default()
    };
    let error = decode(&binlog.encode_to_vec()).unwrap_err().to_string();
    assert!(
        error.contains("commit TS 7") && error.contains("column a of d.t"),
        "{error}"
    );
}
