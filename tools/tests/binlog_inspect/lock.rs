//! A data dir locked by a running engine: only read-only reads are allowed.

use binlog_node::binlog_text::debug_text;

use super::fixture::*;
use super::run::*;

#[test]
fn a_held_lock_refuses_all_but_read_only_reads() {
    let f = Fixture::new();
    let engine = f.open().unwrap();
    let dir = f.arg();
    let dir = dir.as_str();
    let seg = f.seg(2).display().to_string();
    let key = f.written[5].key().to_string();
    let locked = format!(
        "binlog-inspect: error: data dir {dir} is locked by a running pump (pid {})",
        std::process::id()
    );
    let reads: [&[&str]; 6] = [
        &["ls", dir],
        &["dump", dir],
        &["get", dir, &key],
        &["verify", dir],
        &["stats", dir],
        &["verify", &seg],
    ];
    for args in reads {
        let run = inspect(args).exits(2);
        assert_eq!(
            run.stderr,
            format!("{locked}; use --read-only to read it anyway (the active segment may be mid-write)\n"),
            "{args:?}"
        );
        assert_eq!(run.stdout, "");
    }
    for args in [vec!["repair", dir], vec!["repair", "--apply", dir]] {
        let run = inspect(&args).exits(2);
        assert_eq!(
            run.stderr,
            format!("{locked}; stop it before repairing\n"),
            "{args:?}"
        );
    }

    // With --read-only every read command works around the lock.
    assert_eq!(
        inspect(&["ls", "--read-only", "--json", dir])
            .exits(0)
            .json(),
        f.expected_ls()
    );
    assert_eq!(dump(dir, &["--read-only"]), dump_lines(&f.written));
    assert_eq!(
        inspect(&["get", "--read-only", dir, &key]).ok(),
        debug_text(&f.written[5].binlog(), None) + "\n"
    );
    assert!(inspect(&["verify", "--read-only", dir])
        .ok()
        .starts_with("OK: "));
    assert_eq!(
        inspect(&["stats", "--read-only", "--json", dir])
            .exits(0)
            .json()["records"],
        f.written.len()
    );
    assert_eq!(
        inspect(&["dump", "--read-only", "--json", &seg])
            .exits(0)
            .json_lines(),
        dump_lines(f.in_segment(2))
    );
    drop(engine);
    inspect(&["ls", dir]).exits(0);
}
