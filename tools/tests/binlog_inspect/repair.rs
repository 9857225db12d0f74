//! `binlog-inspect repair`: torn tails, missing, corrupt and orphan indexes.

use std::fs;

use binlog_engine::record::RECORD_HEADER_LEN;
use binlog_engine::Kind;
use binlog_node::binlog_text::debug_text;
use serde_json::{json, Value};

use super::fixture::*;
use super::run::*;

/// Cuts the active segment `into_last` bytes into its last record; checks that `verify` flags
/// the torn tail there, that a dry run changes nothing, and that `repair --apply` makes the dir
/// verify clean with every other record still served by the tool and the engine.
fn check_torn_tail(into_last: u64) {
    let f = Fixture::new();
    let last = f.written.last().unwrap().clone();
    assert_eq!((last.kind, last.segment()), (Kind::Commit, f.active_id()));
    let seg = f.seg(f.active_id());
    let cut = last.offset() + into_last;
    assert!(cut < last.offset() + (RECORD_HEADER_LEN + last.payload.len()) as u64);
    truncate(&seg, cut);

    let report = inspect(&["verify", "--json", &f.arg()]).exits(1).json();
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report:#}");
    assert_eq!(files[0]["file"], json!(seg));
    assert_eq!(files[0]["first_bad_offset"], last.offset());
    assert_eq!(files[0]["problems"][0]["kind"], "torn-tail");
    let text = inspect(&["verify", &f.arg()]).exits(1).stdout;
    assert!(
        text.starts_with(&format!(
            "{}: first bad offset {}\n",
            seg.display(),
            last.offset()
        )),
        "{text}"
    );

    let before = f.snapshot();
    assert_eq!(
        inspect(&["repair", &f.arg()]).exits(1).stdout,
        format!(
            "would truncate {} from {cut} to {} bytes (drops the torn tail after the last valid record)\n\
             dry run: nothing changed; run with --apply to make 1 repair\n",
            seg.display(),
            last.offset()
        )
    );
    assert_eq!(f.snapshot(), before, "the dry run changed files");

    assert_eq!(
        inspect(&["repair", "--apply", &f.arg()]).ok(),
        format!(
            "done: truncate {} from {cut} to {} bytes (drops the torn tail after the last valid record)\n\
             1 repair made; 0 problems left\n",
            seg.display(),
            last.offset()
        )
    );
    assert_eq!(file_len(&seg), last.offset());
    assert!(inspect(&["verify", &f.arg()]).ok().starts_with("OK: "));

    let kept: Vec<&Written> = f.written[..f.written.len() - 1].iter().collect();
    assert_eq!(dump(&f.arg(), &[]), dump_lines(kept.iter().copied()));
    let samples = f.ids().into_iter().map(|id| f.unique_in(id)[0]);
    for w in samples.chain([kept[kept.len() - 1]]) {
        let run = inspect(&["get", &f.arg(), &w.key().to_string()]).exits(0);
        assert_eq!(run.stdout, debug_text(&w.binlog(), None) + "\n");
    }
    inspect(&["get", &f.arg(), &last.key().to_string()]).exits(1);
    f.assert_engine_reads(&kept);
    assert!(f.open().unwrap().get(last.key()).unwrap().is_none());
}

#[test]
fn repair_cuts_a_tail_torn_inside_a_record_header() {
    check_torn_tail(RECORD_HEADER_LEN as u64 - 12);
}

#[test]
fn repair_cuts_a_tail_torn_inside_a_payload() {
    check_torn_tail(RECORD_HEADER_LEN as u64 + 5);
}

#[test]
fn repair_rebuilds_missing_and_corrupt_indexes_and_removes_orphans() {
    let f = Fixture::new();
    let original = f.snapshot();
    fs::remove_file(f.idx(1)).unwrap();
    // The offset field of the third entry.
    flip_bit(&f.idx(3), 40 + 2 * 32 + 16);
    let orphan = f.idx(99);
    fs::copy(f.idx(2), &orphan).unwrap();

    let ls = inspect(&["ls", "--json", &f.arg()]).exits(0).json();
    let states: Vec<&Value> = ls["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["index"])
        .collect();
    assert_eq!(
        states[..4],
        [
            &json!("missing"),
            &json!("valid"),
            &json!("invalid"),
            &json!("valid")
        ]
    );

    let report = inspect(&["verify", "--json", &f.arg()]).exits(1).json();
    let files: Vec<(Value, Value, String)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            let problem = &file["problems"][0];
            assert_eq!(problem["kind"], "index");
            (
                file["file"].clone(),
                file["first_bad_offset"].clone(),
                problem["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                json!(f.idx(1)),
                json!(0),
                "index file is missing (the pump rebuilds it on first read)".to_owned()
            ),
            (
                json!(f.idx(3)),
                json!(0),
                "index file is invalid: entries checksum mismatch".to_owned()
            ),
            (
                json!(orphan),
                json!(0),
                "index file without a segment (the pump removes it at open)".to_owned()
            ),
        ]
    );

    let before = f.snapshot();
    assert_eq!(
        inspect(&["repair", &f.arg()]).exits(1).stdout,
        format!(
            "would remove {} (its segment is gone)\n\
             would rebuild {} from the {} records of its segment\n\
             would rebuild {} from the {} records of its segment\n\
             dry run: nothing changed; run with --apply to make 3 repairs\n",
            orphan.display(),
            f.idx(1).display(),
            f.in_segment(1).len(),
            f.idx(3).display(),
            f.in_segment(3).len()
        )
    );
    assert_eq!(f.snapshot(), before, "the dry run changed files");

    let applied = inspect(&["repair", "--apply", &f.arg()]).ok();
    assert!(
        applied.ends_with("3 repairs made; 0 problems left\n"),
        "{applied}"
    );
    assert!(!orphan.exists());
    assert_eq!(
        inspect(&["ls", "--json", &f.arg()]).exits(0).json(),
        f.expected_ls()
    );
    inspect(&["verify", &f.arg()]).exits(0);
    // Every commit of the first segment has its prewrite there too, so its rebuilt index is
    // the writer's own, byte for byte.
    assert_eq!(fs::read(f.idx(1)).unwrap(), original[&f.idx(1)]);
    f.assert_engine_reads(&f.written.iter().collect::<Vec<_>>());
}
