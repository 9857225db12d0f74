//! `binlog-inspect dump`.

use binlog_engine::Kind;
use binlog_node::binlog_text::debug_json;

use super::fixture::*;
use super::run::*;

#[test]
fn dump_prints_records_at_their_offsets_filtered_and_decoded() {
    let f = Fixture::new();
    let dir = f.arg();
    assert_eq!(dump(&dir, &[]), dump_lines(&f.written));

    let of_kinds =
        |kinds: &[Kind]| dump_lines(f.written.iter().filter(|w| kinds.contains(&w.kind)));
    assert_eq!(
        dump(&dir, &["--kind", "commit,rollback"]),
        of_kinds(&[Kind::Commit, Kind::Rollback])
    );
    assert_eq!(
        dump(&dir, &["--kind", "fake", "--kind", "prewrite"]),
        of_kinds(&[Kind::Fake, Kind::Prewrite])
    );
    assert!(f.written.iter().any(|w| w.kind == Kind::Rollback));

    // A TS range catches rollbacks by their start TS (their commit TS, the engine's key, is 0).
    let (from, to) = (f.written[20].ts(), f.written[90].ts());
    let in_range: Vec<&Written> = f
        .written
        .iter()
        .filter(|w| (from..=to).contains(&w.ts()))
        .collect();
    assert!(in_range.iter().any(|w| w.kind == Kind::Rollback));
    assert_eq!(
        dump(
            &dir,
            &["--from-ts", &from.to_string(), "--to-ts", &to.to_string()]
        ),
        dump_lines(in_range.iter().copied())
    );
    assert_eq!(dump(&dir, &["--segment", "2"]), dump_lines(f.in_segment(2)));
    assert_eq!(
        dump(&f.seg(3).display().to_string(), &["--kind", "commit"]),
        dump_lines(
            f.in_segment(3)
                .into_iter()
                .filter(|w| w.kind == Kind::Commit)
        )
    );
    let missing = inspect(&["dump", &dir, "--segment", "99"]).exits(2);
    assert!(
        missing.stderr.contains("no segment 99 in"),
        "{}",
        missing.stderr
    );

    // One DML prewrite (updating and deleting rows too) and one DDL commit, as text with --decode.
    let prewrite = f
        .written
        .iter()
        .find(|w| {
            let (_, _, updated, deleted) = dml_shape(txn_of(w.start_ts));
            w.kind == Kind::Prewrite
                && w.binlog().prewrite_value.is_some()
                && updated > 0
                && deleted > 0
        })
        .unwrap();
    let (table, inserted, updated, deleted) = dml_shape(txn_of(prewrite.start_ts));
    let ts = prewrite.start_ts.to_string();
    let text = inspect(&[
        "dump",
        &dir,
        "--decode",
        "--kind",
        "prewrite",
        "--from-ts",
        &ts,
        "--to-ts",
        &ts,
    ])
    .ok();
    assert_eq!(
        text,
        format!(
            "segment={} offset={} kind=prewrite start_ts={ts} commit_ts=0 size={} crc=ok\n    \
             commit_ts=0 start_ts={ts} tp=Prewrite schema_version=1 tables=[{table}: {inserted} \
             inserted {updated} updated {deleted} deleted]\n",
            prewrite.segment(),
            prewrite.offset(),
            prewrite.payload.len()
        )
    );
    let ddl = f
        .written
        .iter()
        .find(|w| w.kind == Kind::Commit && w.binlog().ddl_query.is_some())
        .unwrap();
    let (start, commit) = (ddl.start_ts, ddl.commit_ts);
    let job = ddl.binlog().ddl_job_id;
    let text = inspect(&[
        "dump",
        &dir,
        "--decode",
        "--kind",
        "commit",
        "--from-ts",
        &commit.to_string(),
        "--to-ts",
        &commit.to_string(),
    ])
    .ok();
    assert_eq!(
        text,
        format!(
            "segment={} offset={} kind=commit start_ts={start} commit_ts={commit} size={} crc=ok\n    \
             commit_ts={commit} start_ts={start} tp=Commit ddl_job_id={job} ddl_query=\"CREATE TABLE t{job} (id BIGINT)\"\n",
            ddl.segment(),
            ddl.offset(),
            ddl.payload.len()
        )
    );

    // --decode --json: each line carries the binlog as /debug/binlog?format=json shows it.
    let decoded = dump(&dir, &["--decode", "--segment", "1"]);
    assert_eq!(decoded.len(), f.in_segment(1).len());
    for (line, w) in decoded.iter().zip(f.in_segment(1)) {
        let mut expected = w.dump_json();
        expected["binlog"] = debug_json(&w.binlog(), None);
        assert_eq!(line, &expected);
    }
    let line = &decoded[f
        .in_segment(1)
        .iter()
        .position(|w| w.offset() == prewrite.offset())
        .unwrap()];
    assert_eq!(line["binlog"]["tp"], "Prewrite");
    let mutation = &line["binlog"]["prewrite_value"]["mutations"][0];
    assert_eq!(mutation["table_id"], table);
    assert_eq!(
        mutation["inserted_rows"].as_array().unwrap().len(),
        inserted
    );
    assert_eq!(mutation["deleted_ids"].as_array().unwrap().len(), deleted);
}
