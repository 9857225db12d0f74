//! `binlog-inspect verify` on clean and damaged data dirs (flipped bits, a damaged footer).

use binlog_engine::record::RECORD_HEADER_LEN;
use binlog_engine::segment::FOOTER_LEN;
use binlog_engine::Error;
use serde_json::{json, Value};

use super::fixture::*;
use super::run::*;

#[test]
fn verify_passes_a_clean_dir_and_a_single_segment() {
    let f = Fixture::new();
    let records = f.written.len();
    assert_eq!(
        inspect(&["verify", &f.arg()]).ok(),
        format!(
            "OK: {} segments, {} bytes, {records} records: no problems\n",
            f.ids().len(),
            f.segment_bytes()
        )
    );
    assert_eq!(
        inspect(&["verify", "--json", &f.arg()]).exits(0).json(),
        json!({
            "ok": true,
            "segments": f.ids().len(),
            "bytes": f.segment_bytes(),
            "records": records,
            "files": [],
            "notes": [],
        })
    );
    let seg = f.seg(2);
    assert_eq!(
        inspect(&["verify", &seg.display().to_string()]).ok(),
        format!(
            "OK: 1 segment, {} bytes, {} records: no problems\n",
            file_len(&seg),
            f.in_segment(2).len()
        )
    );
    let before = f.snapshot();
    assert_eq!(
        inspect(&["repair", "--apply", &f.arg()]).ok(),
        "nothing to repair: no problems found\n"
    );
    assert_eq!(f.snapshot(), before);
}

/// Flips a bit in the payload of `victim`; checks that `verify` reports exactly its offset,
/// that `dump` shows the damage there and every other record, and that `repair` changes
/// nothing, with or without `--apply` (the record is lost either way; nothing offline can
/// restore it). Returns the reason `verify` gave.
fn check_flipped_record(f: &Fixture, victim: &Written) -> String {
    let seg = f.seg(victim.segment());
    flip_bit(
        &seg,
        victim.offset() + (RECORD_HEADER_LEN + victim.payload.len() / 2) as u64,
    );

    let report = inspect(&["verify", "--json", &f.arg()]).exits(1).json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["records"], f.written.len() - 1);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report:#}");
    assert_eq!(files[0]["file"], json!(seg));
    assert_eq!(files[0]["first_bad_offset"], victim.offset());
    let problems = files[0]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report:#}");
    assert_eq!(problems[0]["offset"], victim.offset());
    assert_eq!(problems[0]["kind"], "record");
    let reason = problems[0]["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("record checksum mismatch, followed by valid records"),
        "{reason}"
    );

    let text = inspect(&["verify", &f.arg()]).exits(1).stdout;
    assert_eq!(
        text,
        format!(
            "{}: first bad offset {off}\n  offset {off} [record]: {reason}\nFAILED: {} segments, {} bytes, {} records: 1 problem in 1 file\n",
            seg.display(),
            f.ids().len(),
            f.segment_bytes(),
            f.written.len() - 1,
            off = victim.offset()
        )
    );

    let ls = inspect(&["ls", "--json", &f.arg()]).exits(0).json();
    let row = &ls["segments"][f
        .ids()
        .iter()
        .position(|&id| id == victim.segment())
        .unwrap()];
    assert_eq!(row["problems"], 1);
    assert_eq!(row["records"], f.in_segment(victim.segment()).len() - 1);

    let expected: Vec<Value> = f
        .in_segment(victim.segment())
        .into_iter()
        .map(|w| {
            if w.offset() == victim.offset() {
                json!({"segment": w.segment(), "offset": w.offset(), "crc": "bad", "fault": "record checksum mismatch"})
            } else {
                w.dump_json()
            }
        })
        .collect();
    assert_eq!(
        dump(&f.arg(), &["--segment", &victim.segment().to_string()]),
        expected
    );

    let before = f.snapshot();
    let dry = inspect(&["repair", &f.arg()]).exits(1).stdout;
    assert_eq!(
        dry,
        format!(
            "cannot repair offline: {} at offset {}: {reason}\ndry run: nothing changed; run with --apply to make 0 repairs\n",
            seg.display(),
            victim.offset()
        )
    );
    let applied = inspect(&["repair", "--apply", &f.arg()]).exits(1).stdout;
    assert!(
        applied.ends_with("0 repairs made; 1 problem left\n"),
        "{applied}"
    );
    assert_eq!(f.snapshot(), before, "repair changed files it cannot fix");
    reason
}

#[test]
fn a_flipped_bit_in_a_sealed_segment_is_reported_at_its_record() {
    let f = Fixture::new();
    let in_two = f.unique_in(2);
    let victim = in_two[in_two.len() / 2].clone();
    let reason = check_flipped_record(&f, &victim);
    assert!(
        reason.contains("reading it fails and pulls stop there"),
        "{reason}"
    );
    assert_eq!(
        inspect(&["ls", "--json", &f.arg()]).exits(0).json()["segments"][1]["index"],
        "unchecked"
    );

    // What the reason says: the pump opens the dir, then fails to read that very record.
    let engine = f
        .open()
        .expect("damage in a sealed segment is found on read");
    match engine.get(victim.key()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (f.seg(2), victim.offset()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_bit_in_the_active_segment_is_reported_at_its_record() {
    let f = Fixture::new();
    let active = f.unique_in(f.active_id());
    let victim = active[active.len() / 2].clone();
    let reason = check_flipped_record(&f, &victim);
    assert!(reason.contains("the pump refuses to open"), "{reason}");

    // What the reason says: the engine refuses, naming the same file and offset.
    match f.open() {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (f.seg(f.active_id()), victim.offset()));
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("the engine opened a dir with damage before the tail"),
    }
}

#[test]
fn a_damaged_footer_is_reported_at_its_offset() {
    let f = Fixture::new();
    let seg = f.seg(2);
    let footer_at = file_len(&seg) - FOOTER_LEN as u64;
    // The footer's record count.
    flip_bit(&seg, footer_at + 8);

    let reason = "footer checksum mismatch, but later segments exist (the pump refuses to open; \
                  skip-corrupt-records re-seals it)";
    assert_eq!(
        inspect(&["verify", "--json", &f.arg()]).exits(1).json()["files"],
        json!([{
            "file": seg,
            "first_bad_offset": footer_at,
            "problems": [{"offset": footer_at, "kind": "footer", "reason": reason}],
        }])
    );
    let ls = inspect(&["ls", "--json", &f.arg()]).exits(0).json();
    let row = &ls["segments"][1];
    assert_eq!(
        (&row["id"], &row["state"], &row["records"], &row["problems"]),
        (
            &json!(2),
            &json!("unsealed"),
            &json!(f.in_segment(2).len()),
            &json!(1)
        )
    );
    // The records themselves are intact.
    assert_eq!(
        dump(&f.arg(), &["--segment", "2"]),
        dump_lines(f.in_segment(2))
    );

    let before = f.snapshot();
    inspect(&["repair", "--apply", &f.arg()]).exits(1);
    assert_eq!(f.snapshot(), before, "repair changed files it cannot fix");
    match f.open() {
        Err(Error::Corruption { file, offset, .. }) => assert_eq!((file, offset), (seg, footer_at)),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("the engine opened a dir with an unsealed segment before the last"),
    }
}
