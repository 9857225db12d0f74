//! `binlog-inspect get`.

use binlog_engine::Kind;
use binlog_node::binlog_text::{debug_json, debug_text};
use binlog_node::proto::BinlogType;

use super::fixture::*;
use super::run::*;

#[test]
fn get_prints_one_record_as_the_debug_binlog_route() {
    let f = Fixture::new();
    let dir = f.arg();
    // A DML prewrite (with rows), a commit and a fake binlog, past the first segment.
    let pick = |kind: Kind| {
        f.written
            .iter()
            .find(|w| {
                w.kind == kind
                    && w.segment() > 1
                    && (kind != Kind::Prewrite || w.binlog().prewrite_value.is_some())
            })
            .unwrap()
    };
    for w in [pick(Kind::Prewrite), pick(Kind::Commit), pick(Kind::Fake)] {
        let ts = w.key().to_string();
        let run = inspect(&["get", &dir, &ts]).exits(0);
        assert_eq!(run.stdout, debug_text(&w.binlog(), None) + "\n");
        assert!(run.stdout.starts_with(&format!(
            "tp:{}",
            BinlogType::try_from(w.binlog().tp).unwrap().as_str_name()
        )));
        assert_eq!(
            run.stderr,
            format!(
                "binlog {ts}: segment {} offset {}\n",
                w.segment(),
                w.offset()
            )
        );
        assert_eq!(
            inspect(&["get", "--json", &dir, &ts]).exits(0).json(),
            debug_json(&w.binlog(), None)
        );
    }
    let prewrite = pick(Kind::Prewrite);
    assert!(debug_text(&prewrite.binlog(), None)
        .contains("\n\n PrewriteValue: \nschema_version:1 mutations:<table_id:"));

    let missing = inspect(&["get", &dir, "5"]).exits(1);
    assert_eq!(missing.stdout, "");
    assert_eq!(missing.stderr, "fail read binlog by ts: 5: not found\n");

    // On a single segment only that segment's records are found.
    let seg = f.seg(prewrite.segment()).display().to_string();
    let ts = prewrite.key().to_string();
    assert_eq!(
        inspect(&["get", &seg, &ts]).ok(),
        debug_text(&prewrite.binlog(), None) + "\n"
    );
    let elsewhere = f.unique_in(prewrite.segment() + 1)[0].key().to_string();
    inspect(&["get", &seg, &elsewhere]).exits(1);
}
