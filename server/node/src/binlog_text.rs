//! A stored [`Binlog`] rendered for people: gogo's compact text form (the original pump's
//! `GET /debug/binlog/{ts}` body, byte for byte), the same content as JSON (`?format=json`), and
//! a one-line summary for the drainer's `print` destination and `binlog-inspect`.
//!
//! The compact text follows `gogo/protobuf@v1.3.2 proto/text.go` (`CompactTextString`, which is
//! what gogo's generated `String()` returns): fields in declaration order as `name:value`, each
//! followed by one space; enums by name, or by number when unknown; proto2 non-nullable scalars
//! always; bytes only when set, quoted by `writeString`; nested messages as `name:<...>`.
//! Unknown fields are not shown: prost drops them on decode, where gogo would print them last.

use prost::Message;
use serde_json::{json, Value};

use crate::proto::{Binlog, BinlogType, MutationType, PrewriteValue, TableMutation};

/// What looking a binlog's primary key up gave (the original's `GetMvccByEncodedKey` on TiKV;
/// here TiDB's `GET /mvcc/hex/{key}`): the MVCC record as TiDB's JSON, or why there is none.
pub type MvccLookup = std::result::Result<Value, String>;

/// The marker shown instead of a `prewrite_value` that does not decode as a [`PrewriteValue`].
const UNMARSHALLABLE: &str = "<Unmarshallable>";

/// Builds one message's compact text, field by field.
#[derive(Default)]
struct CompactText(String);

impl CompactText {
    /// A scalar (or an already-rendered value): `name:value `.
    fn field(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::fmt::Write as _;
        // Writing into a String cannot fail.
        let _ = write!(self.0, "{name}:{value} ");
    }

    /// A bytes value: `name:"escaped" `.
    fn bytes(&mut self, name: &str, value: &[u8]) {
        self.field(name, format_args!("\"{}\"", escape_bytes(value)));
    }

    /// A nested message: `name:<fields> `. The inner fields keep their own trailing spaces,
    /// so gogo's output reads `<a:1 >`.
    fn message(&mut self, name: &str, inner: &str) {
        self.field(name, format_args!("<{inner}>"));
    }
}

/// Escapes bytes as gogo's `writeString` does (without the quotes): `\n`, `\r`, `\t`, `\"` and
/// `\\` by name, other bytes outside 0x20..=0x7e as three octal digits, everything else as is.
/// Apostrophes stay bare, a documented divergence of Go from C++.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &c in bytes {
        match c {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(c)),
            _ => out.push_str(&format!("\\{c:03o}")),
        }
    }
    out
}

/// The name of a [`BinlogType`] number, `None` when unknown.
fn binlog_type_name(tp: i32) -> Option<&'static str> {
    BinlogType::try_from(tp).ok().map(|t| t.as_str_name())
}

/// The name of a [`MutationType`] number, `None` when unknown.
fn mutation_type_name(tp: i32) -> Option<&'static str> {
    MutationType::try_from(tp).ok().map(|t| t.as_str_name())
}

/// An enum as text: its name, or its number when unknown (gogo's `EnumName`).
fn enum_text(name: Option<&'static str>, number: i32) -> String {
    name.map_or_else(|| number.to_string(), str::to_owned)
}

/// The gogo compact text form of a binlog, byte-identical to the original's `binlog.String()`,
/// e.g. `tp:Commit start_ts:5 commit_ts:6 prewrite_key:"t\200" ddl_job_id:0 ddl_schema_state:0 `.
pub fn compact_text_binlog(b: &Binlog) -> String {
    let mut t = CompactText::default();
    t.field("tp", enum_text(binlog_type_name(b.tp), b.tp));
    t.field("start_ts", b.start_ts);
    t.field("commit_ts", b.commit_ts);
    // gogo omits a nil slice but prints an empty, non-nil one as `""`; prost's `Some(vec![])`
    // is that empty, non-nil slice (a zero-length field on the wire).
    if let Some(key) = &b.prewrite_key {
        t.bytes("prewrite_key", key);
    }
    if let Some(value) = &b.prewrite_value {
        t.bytes("prewrite_value", value);
    }
    if let Some(query) = &b.ddl_query {
        t.bytes("ddl_query", query);
    }
    t.field("ddl_job_id", b.ddl_job_id);
    t.field("ddl_schema_state", b.ddl_schema_state);
    t.0
}

/// The gogo compact text form of one table's mutations, as nested in a [`PrewriteValue`].
fn compact_text_table_mutation(m: &TableMutation) -> String {
    let mut t = CompactText::default();
    t.field("table_id", m.table_id);
    for row in &m.inserted_rows {
        t.bytes("inserted_rows", row);
    }
    for row in &m.updated_rows {
        t.bytes("updated_rows", row);
    }
    for id in &m.deleted_ids {
        t.field("deleted_ids", id);
    }
    for pk in &m.deleted_pks {
        t.bytes("deleted_pks", pk);
    }
    for row in &m.deleted_rows {
        t.bytes("deleted_rows", row);
    }
    for &tp in &m.sequence {
        t.field("sequence", enum_text(mutation_type_name(tp), tp));
    }
    t.0
}

/// The gogo compact text form of a decoded prewrite value, e.g.
/// `schema_version:3 mutations:<table_id:45 inserted_rows:"\001" sequence:Insert > `.
pub fn compact_text_prewrite_value(v: &PrewriteValue) -> String {
    let mut t = CompactText::default();
    t.field("schema_version", v.schema_version);
    for m in &v.mutations {
        t.message("mutations", &compact_text_table_mutation(m));
    }
    t.0
}

/// The binlog's prewrite value when it holds one: `None` when absent or empty (the original
/// tests `len(PrewriteValue) > 0`), `Some(Err(()))` when it does not decode.
fn decoded_prewrite_value(b: &Binlog) -> Option<Result<PrewriteValue, ()>> {
    let raw = b.prewrite_value.as_deref().filter(|v| !v.is_empty())?;
    Some(PrewriteValue::decode(raw).map_err(|_| ()))
}

/// The whole `GET /debug/binlog/{ts}` text body for a found binlog: its compact text; then, if
/// it has a prewrite value, `"\n\n PrewriteValue: \n"` and the value's compact text (or
/// `"\n\n PrewriteValue: <Unmarshallable>\n"` when it does not decode; the original ignores the
/// decode error and prints what gogo had decoded so far, which prost cannot reproduce); then
/// `mvcc`, the lookup of its [`primary_key`] when it has one: `"\n\n GetMvccByEncodedKey: \n"`
/// and the record, or the original's error line `GetMvccByEncodedKey failed: <reason>`, written
/// straight after the previous text as the original does. The record is TiDB's JSON (the
/// `MvccGetByKeyResponse` TiDB's status API returns), where the original printed the same
/// message in gogo's compact text: it comes over HTTP as JSON here, and re-rendering it would
/// drop the fields this build does not model.
pub fn debug_text(b: &Binlog, mvcc: Option<&MvccLookup>) -> String {
    let mut out = compact_text_binlog(b);
    match decoded_prewrite_value(b) {
        Some(Ok(v)) => {
            out.push_str("\n\n PrewriteValue: \n");
            out.push_str(&compact_text_prewrite_value(&v));
        }
        Some(Err(())) => {
            out.push_str("\n\n PrewriteValue: ");
            out.push_str(UNMARSHALLABLE);
            out.push('\n');
        }
        None => {}
    }
    match mvcc.filter(|_| primary_key(b).is_some()) {
        Some(Ok(record)) => {
            out.push_str("\n\n GetMvccByEncodedKey: \n");
            out.push_str(&record.to_string());
        }
        Some(Err(reason)) => {
            out.push_str("GetMvccByEncodedKey failed: ");
            out.push_str(reason);
        }
        None => {}
    }
    out
}

/// The key `/debug/binlog` looks up: the binlog's `prewrite_key` (the transaction's primary
/// key) when set and not empty, as the original tests `len(PrewriteKey) > 0`.
pub fn primary_key(b: &Binlog) -> Option<&[u8]> {
    b.prewrite_key.as_deref().filter(|k| !k.is_empty())
}

/// Bytes as JSON text: gogo's escaping without the quotes, so binary keys stay readable
/// (`t\200\000...`) and match the text form.
fn json_bytes(bytes: &[u8]) -> Value {
    Value::String(escape_bytes(bytes))
}

/// An enum as JSON: its name when known, its number otherwise.
fn json_enum(name: Option<&'static str>, number: i32) -> Value {
    name.map_or_else(|| Value::from(number), Value::from)
}

/// One table's mutations as JSON (see [`debug_json`]).
fn json_table_mutation(m: &TableMutation) -> Value {
    let rows = |rows: &[Vec<u8>]| Value::Array(rows.iter().map(|r| json_bytes(r)).collect());
    let sequence: Vec<Value> = m
        .sequence
        .iter()
        .map(|&tp| json_enum(mutation_type_name(tp), tp))
        .collect();
    json!({
        "table_id": m.table_id,
        "inserted_rows": rows(&m.inserted_rows),
        "updated_rows": rows(&m.updated_rows),
        "deleted_ids": m.deleted_ids,
        "deleted_pks": rows(&m.deleted_pks),
        "deleted_rows": rows(&m.deleted_rows),
        "sequence": sequence,
    })
}

/// The `/debug/binlog/{ts}?format=json` body: the same content as [`debug_text`], as
/// `{"tp","start_ts","commit_ts","prewrite_key","prewrite_value","ddl_query","ddl_job_id",
/// "ddl_schema_state","mvcc"}`.
///
/// - Enums (`tp`, `sequence` items) are names, or numbers when unknown.
/// - Bytes (`prewrite_key`, rows, `deleted_pks`) are strings escaped as in the text form
///   (printable ASCII as is, `\n` `\r` `\t` `\"` `\\`, other bytes `\ooo` octal), so a JSON
///   reader sees the same characters as the text form, with JSON's own backslash doubling.
/// - `ddl_query` is text (UTF-8, invalid sequences replaced by U+FFFD), as DDL is SQL.
/// - Absent bytes fields are `null`. `prewrite_value` is `null` when absent or empty, the
///   string `"<Unmarshallable>"` when it does not decode, otherwise
///   `{"schema_version","mutations":[{"table_id","inserted_rows":[..],"updated_rows":[..],
///   "deleted_ids":[..],"deleted_pks":[..],"deleted_rows":[..],"sequence":[..]}]}`.
/// - `mvcc` is `null` without a primary key, otherwise TiDB's MVCC record (the JSON object
///   [`debug_text`] prints) or the text form's error line.
pub fn debug_json(b: &Binlog, mvcc: Option<&MvccLookup>) -> Value {
    let prewrite_value = match decoded_prewrite_value(b) {
        Some(Ok(v)) => json!({
            "schema_version": v.schema_version,
            "mutations": v.mutations.iter().map(json_table_mutation).collect::<Vec<_>>(),
        }),
        Some(Err(())) => Value::String(UNMARSHALLABLE.to_owned()),
        None => Value::Null,
    };
    let mvcc = match mvcc.filter(|_| primary_key(b).is_some()) {
        Some(Ok(record)) => record.clone(),
        Some(Err(reason)) => Value::String(format!("GetMvccByEncodedKey failed: {reason}")),
        None => Value::Null,
    };
    json!({
        "tp": json_enum(binlog_type_name(b.tp), b.tp),
        "start_ts": b.start_ts,
        "commit_ts": b.commit_ts,
        "prewrite_key": b.prewrite_key.as_deref().map(json_bytes),
        "prewrite_value": prewrite_value,
        "ddl_query": b.ddl_query.as_deref().map(|q| String::from_utf8_lossy(q).into_owned()),
        "ddl_job_id": b.ddl_job_id,
        "ddl_schema_state": b.ddl_schema_state,
        "mvcc": mvcc,
    })
}

/// One readable line about a binlog, e.g.
/// `commit_ts=6 start_ts=5 tp=Commit ddl_job_id=7 ddl_query="create table t (a int)"` or
/// `commit_ts=0 start_ts=5 tp=Prewrite schema_version=3 tables=[45: 2 inserted 1 updated 0
/// deleted]`.
/// Fake binlogs end in `(fake)`; a prewrite value that does not decode shows as
/// `prewrite_value=<Unmarshallable>`. Rows are counted, not decoded: that needs the schema.
pub fn summary_line(b: &Binlog) -> String {
    let mut line = format!(
        "commit_ts={} start_ts={} tp={}",
        b.commit_ts,
        b.start_ts,
        enum_text(binlog_type_name(b.tp), b.tp)
    );
    let query = b.ddl_query.as_deref().filter(|q| !q.is_empty());
    if b.ddl_job_id > 0 || query.is_some() {
        line.push_str(&format!(" ddl_job_id={}", b.ddl_job_id));
        if let Some(q) = query {
            // Debug formatting quotes the query and escapes newlines, keeping it on one line.
            line.push_str(&format!(" ddl_query={:?}", String::from_utf8_lossy(q)));
        }
    }
    match decoded_prewrite_value(b) {
        Some(Ok(v)) => {
            let tables: Vec<String> = v
                .mutations
                .iter()
                .map(|m| {
                    let deleted = m.deleted_count();
                    format!(
                        "{}: {} inserted {} updated {} deleted",
                        m.table_id,
                        m.inserted_rows.len(),
                        m.updated_rows.len(),
                        deleted
                    )
                })
                .collect();
            line.push_str(&format!(
                " schema_version={} tables=[{}]",
                v.schema_version,
                tables.join(", ")
            ));
        }
        Some(Err(())) => {
            line.push_str(" prewrite_value=");
            line.push_str(UNMARSHALLABLE);
        }
        None => {}
    }
    if b.is_fake() {
        line.push_str(" (fake)");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed MVCC lookup.
    fn unreachable() -> MvccLookup {
        Err("no TiDB answered".to_owned())
    }

    fn commit_binlog() -> Binlog {
        Binlog {
            tp: BinlogType::Commit as i32,
            start_ts: 412518831338292471,
            commit_ts: 412518831548007863,
            prewrite_key: Some(b"t\x80\x00\x00\x00\x00\x00\x00\x05_r\x80".to_vec()),
            ..Binlog::default()
        }
    }

    fn two_table_value() -> PrewriteValue {
        PrewriteValue {
            schema_version: 31,
            mutations: vec![
                TableMutation {
                    table_id: 45,
                    inserted_rows: vec![b"\x08\x02".to_vec(), Vec::new()],
                    updated_rows: vec![b"u".to_vec()],
                    sequence: vec![
                        MutationType::Insert as i32,
                        MutationType::Update as i32,
                        MutationType::Insert as i32,
                    ],
                    ..TableMutation::default()
                },
                TableMutation {
                    table_id: 47,
                    deleted_ids: vec![9, -1],
                    deleted_pks: vec![b"pk".to_vec()],
                    deleted_rows: vec![b"d\"".to_vec()],
                    sequence: vec![
                        MutationType::DeleteId as i32,
                        MutationType::DeletePk as i32,
                        MutationType::DeleteRow as i32,
                        9,
                    ],
                    ..TableMutation::default()
                },
            ],
        }
    }

    #[test]
    fn spec_example() {
        assert_eq!(
            compact_text_binlog(&commit_binlog()),
            "tp:Commit start_ts:412518831338292471 commit_ts:412518831548007863 \
             prewrite_key:\"t\\200\\000\\000\\000\\000\\000\\000\\005_r\\200\" \
             ddl_job_id:0 ddl_schema_state:0 "
        );
    }

    #[test]
    fn default_binlog() {
        let b = Binlog::default();
        let text = "tp:Prewrite start_ts:0 commit_ts:0 ddl_job_id:0 ddl_schema_state:0 ";
        assert_eq!(compact_text_binlog(&b), text);
        assert_eq!(debug_text(&b, None), text);
    }

    #[test]
    fn escapes_every_special_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let escaped = escape_bytes(&all);
        let mut expected = String::new();
        for c in 0u8..=255 {
            expected.push_str(&match c {
                b'\n' => "\\n".to_owned(),
                b'\r' => "\\r".to_owned(),
                b'\t' => "\\t".to_owned(),
                b'"' => "\\\"".to_owned(),
                b'\\' => "\\\\".to_owned(),
                0x20..=0x7e => char::from(c).to_string(),
                _ => format!("\\{c:03o}"),
            });
        }
        assert_eq!(escaped, expected);
        // Spot checks against gogo's literal output.
        assert_eq!(
            escape_bytes(b"\x00\x07\x1f\x7f\x80\xff"),
            "\\000\\007\\037\\177\\200\\377"
        );
        assert_eq!(
            escape_bytes(b"a'b\"c\\d\ne\rf\tg "),
            "a'b\\\"c\\\\d\\ne\\rf\\tg "
        );
        assert_eq!(escape_bytes("é".as_bytes()), "\\303\\251");
    }

    #[test]
    fn empty_set_bytes_print_as_empty_quotes() {
        let b = Binlog {
            prewrite_key: Some(Vec::new()),
            prewrite_value: Some(Vec::new()),
            ddl_query: Some(Vec::new()),
            ..Binlog::default()
        };
        let text = "tp:Prewrite start_ts:0 commit_ts:0 prewrite_key:\"\" prewrite_value:\"\" \
                    ddl_query:\"\" ddl_job_id:0 ddl_schema_state:0 ";
        assert_eq!(compact_text_binlog(&b), text);
        // Empty key and value: neither the PrewriteValue section nor the MVCC line.
        assert_eq!(debug_text(&b, Some(&unreachable())), text);
    }

    #[test]
    fn unknown_enum_prints_as_number() {
        let b = Binlog {
            tp: 17,
            ..Binlog::default()
        };
        assert!(compact_text_binlog(&b).starts_with("tp:17 start_ts:0 "));
        assert_eq!(debug_json(&b, None)["tp"], json!(17));
        assert!(summary_line(&b).contains(" tp=17"));
    }

    #[test]
    fn prewrite_value_with_two_mutations() {
        assert_eq!(
            compact_text_prewrite_value(&two_table_value()),
            "schema_version:31 \
             mutations:<table_id:45 inserted_rows:\"\\010\\002\" inserted_rows:\"\" \
             updated_rows:\"u\" sequence:Insert sequence:Update sequence:Insert > \
             mutations:<table_id:47 deleted_ids:9 deleted_ids:-1 deleted_pks:\"pk\" \
             deleted_rows:\"d\\\"\" sequence:DeleteID sequence:DeletePK sequence:DeleteRow \
             sequence:9 > "
        );
        assert_eq!(
            compact_text_prewrite_value(&PrewriteValue::default()),
            "schema_version:0 "
        );
    }

    #[test]
    fn ddl_prewrite_debug_text() {
        let value = PrewriteValue {
            schema_version: 2,
            mutations: vec![],
        };
        let b = Binlog {
            tp: BinlogType::Prewrite as i32,
            start_ts: 5,
            prewrite_key: Some(b"k".to_vec()),
            prewrite_value: Some(value.encode_to_vec()),
            ddl_query: Some(b"create table t (a int)".to_vec()),
            ddl_job_id: 12,
            ddl_schema_state: 5,
            ..Binlog::default()
        };
        assert_eq!(
            debug_text(&b, Some(&unreachable())),
            "tp:Prewrite start_ts:5 commit_ts:0 prewrite_key:\"k\" prewrite_value:\"\\010\\002\" \
             ddl_query:\"create table t (a int)\" ddl_job_id:12 ddl_schema_state:5 \
             \n\n PrewriteValue: \nschema_version:2 \
             GetMvccByEncodedKey failed: no TiDB answered"
        );
        assert_eq!(
            summary_line(&b),
            "commit_ts=0 start_ts=5 tp=Prewrite ddl_job_id=12 \
             ddl_query=\"create table t (a int)\" schema_version=2 tables=[]"
        );
    }

    #[test]
    fn commit_debug_text_has_the_mvcc_part_only() {
        let b = commit_binlog();
        assert_eq!(
            debug_text(&b, Some(&unreachable())),
            format!(
                "{}GetMvccByEncodedKey failed: no TiDB answered",
                compact_text_binlog(&b)
            )
        );
        let record = json!({"info": {"writes": [{"start_ts": 5, "commit_ts": 6}]}});
        assert_eq!(
            debug_text(&b, Some(&Ok(record.clone()))),
            format!(
                "{}\n\n GetMvccByEncodedKey: \n{record}",
                compact_text_binlog(&b)
            )
        );
        assert_eq!(debug_json(&b, Some(&Ok(record.clone())))["mvcc"], record);
        // Not looked up (the caller has no key or no TiDB to ask): nothing is said.
        assert_eq!(debug_text(&b, None), compact_text_binlog(&b));
    }

    #[test]
    fn unmarshallable_prewrite_value() {
        // A length-delimited field 2 whose length runs past the end.
        let b = Binlog {
            prewrite_value: Some(vec![0x12, 0x05, 0x01]),
            ..Binlog::default()
        };
        assert_eq!(
            debug_text(&b, None),
            "tp:Prewrite start_ts:0 commit_ts:0 prewrite_value:\"\\022\\005\\001\" \
             ddl_job_id:0 ddl_schema_state:0 \n\n PrewriteValue: <Unmarshallable>\n"
        );
        assert_eq!(
            debug_json(&b, None)["prewrite_value"],
            json!("<Unmarshallable>")
        );
        assert!(summary_line(&b).ends_with(" prewrite_value=<Unmarshallable>"));
    }

    #[test]
    fn json_shape() {
        let b = Binlog {
            prewrite_value: Some(two_table_value().encode_to_vec()),
            ddl_query: Some(b"drop \xfftable".to_vec()),
            ..commit_binlog()
        };
        assert_eq!(
            debug_json(&b, Some(&unreachable())),
            json!({
                "tp": "Commit",
                "start_ts": 412518831338292471_i64,
                "commit_ts": 412518831548007863_i64,
                "prewrite_key": "t\\200\\000\\000\\000\\000\\000\\000\\005_r\\200",
                "prewrite_value": {
                    "schema_version": 31,
                    "mutations": [
                        {
                            "table_id": 45,
                            "inserted_rows": ["\\010\\002", ""],
                            "updated_rows": ["u"],
                            "deleted_ids": [],
                            "deleted_pks": [],
                            "deleted_rows": [],
                            "sequence": ["Insert", "Update", "Insert"],
                        },
                        {
                            "table_id": 47,
                            "inserted_rows": [],
                            "updated_rows": [],
                            "deleted_ids": [9, -1],
                            "deleted_pks": ["pk"],
                            "deleted_rows": ["d\\\""],
                            "sequence": ["DeleteID", "DeletePK", "DeleteRow", 9],
                        },
                    ],
                },
                "ddl_query": "drop \u{fffd}table",
                "ddl_job_id": 0,
                "ddl_schema_state": 0,
                "mvcc": "GetMvccByEncodedKey failed: no TiDB answered",
            })
        );
        assert_eq!(
            debug_json(&Binlog::default(), Some(&unreachable())),
            json!({
                "tp": "Prewrite",
                "start_ts": 0,
                "commit_ts": 0,
                "prewrite_key": null,
                "prewrite_value": null,
                "ddl_query": null,
                "ddl_job_id": 0,
                "ddl_schema_state": 0,
                "mvcc": null,
            })
        );
    }

    #[test]
    fn summary_lines() {
        let b = Binlog {
            tp: BinlogType::Prewrite as i32,
            start_ts: 5,
            prewrite_value: Some(two_table_value().encode_to_vec()),
            ..Binlog::default()
        };
        assert_eq!(
            summary_line(&b),
            "commit_ts=0 start_ts=5 tp=Prewrite schema_version=31 \
             tables=[45: 2 inserted 1 updated 0 deleted, 47: 0 inserted 0 updated 4 deleted]"
        );
        assert_eq!(
            summary_line(&Binlog::fake(9)),
            "commit_ts=9 start_ts=9 tp=Rollback (fake)"
        );
        let ddl = Binlog {
            tp: BinlogType::Commit as i32,
            ddl_query: Some(b"create table t\n(a int)".to_vec()),
            ddl_job_id: 3,
            ..Binlog::default()
        };
        assert_eq!(
            summary_line(&ddl),
            "commit_ts=0 start_ts=0 tp=Commit ddl_job_id=3 ddl_query=\"create table t\\n(a int)\""
        );
    }
}
