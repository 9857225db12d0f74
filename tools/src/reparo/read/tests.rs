use binlog_archive::binlog_file::encode_record;

use super::*;

/// A DDL binlog's payload at `commit_ts`.
fn payload(commit_ts: u64) -> Vec<u8> {
    let mut binlog = proto::Binlog {
        commit_ts: Some(commit_ts as i64),
        ddl_query: Some(format!("CREATE DATABASE `d{commit_ts}`;").into_bytes()),
        ..Default::default()
    };
    binlog.set_tp(proto::BinlogType::Ddl);
    binlog.encode_to_vec()
}

/// Writes file `index` of `dir` holding records at `commit_tss`, then `tail`.
fn write_file(dir: &Path, index: u64, commit_tss: &[u64], tail: &[u8]) -> PathBuf {
    let mut bytes = Vec::new();
    for &ts in commit_tss {
        encode_record(&payload(ts), &mut bytes);
    }
    bytes.extend_from_slice(tail);
    let path = dir.join(format!("binlog-{index:016}-20240101000000"));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn read_all(dir: &Path, start: u64, stop: u64) -> Result<Vec<u64>, ReparoError> {
    let mut reader = DirReader::open(dir, TsRange { start, stop })?;
    let mut seen = Vec::new();
    while let Some(record) = reader.next_record()? {
        seen.push(record.commit_ts());
    }
    Ok(seen)
}

#[test]
fn files_are_selected_by_their_first_commit_ts_as_the_original() {
    let files = |firsts: &[u64]| -> Vec<(PathBuf, u64)> {
        firsts
            .iter()
            .enumerate()
            .map(|(i, &ts)| (PathBuf::from(i.to_string()), ts))
            .collect()
    };
    let names = |paths: Vec<PathBuf>| -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    };
    let firsts = files(&[10, 20, 30, 40]);
    // The last file starting at or below the start, then those starting inside the range.
    assert_eq!(
        names(select_files(
            firsts.clone(),
            TsRange {
                start: 25,
                stop: 35
            }
        )),
        ["1", "2"]
    );
    assert_eq!(
        names(select_files(firsts.clone(), TsRange { start: 20, stop: 0 })),
        ["1", "2", "3"]
    );
    assert_eq!(
        names(select_files(firsts.clone(), TsRange { start: 0, stop: 0 })),
        ["0", "1", "2", "3"]
    );
    assert_eq!(
        names(select_files(firsts.clone(), TsRange { start: 50, stop: 0 })),
        ["3"]
    );
    assert_eq!(
        names(select_files(firsts.clone(), TsRange { start: 0, stop: 5 })),
        Vec::<String>::new()
    );
    // An empty file counts as starting at 0.
    assert_eq!(
        names(select_files(files(&[0, 20]), TsRange { start: 5, stop: 0 })),
        ["0", "1"]
    );
}

#[test]
fn records_are_read_in_order_within_the_range() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), 0, &[10, 11, 12], &[]);
    write_file(dir.path(), 1, &[20, 21], &[]);
    write_file(dir.path(), 2, &[30, 31], &[]);
    assert_eq!(
        read_all(dir.path(), 0, 0).unwrap(),
        [10, 11, 12, 20, 21, 30, 31]
    );
    assert_eq!(read_all(dir.path(), 11, 21).unwrap(), [11, 12, 20, 21]);
    assert_eq!(read_all(dir.path(), 25, 0).unwrap(), [30, 31]);
    assert_eq!(read_all(dir.path(), 40, 0).unwrap(), Vec::<u64>::new());
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(read_all(empty.path(), 0, 0).unwrap(), Vec::<u64>::new());
}

#[test]
fn a_torn_tail_of_the_newest_file_is_its_end() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), 0, &[10], &[]);
    let mut cut = Vec::new();
    encode_record(&payload(21), &mut cut);
    cut.truncate(cut.len() - 3);
    write_file(dir.path(), 1, &[20], &cut);
    assert_eq!(read_all(dir.path(), 0, 0).unwrap(), [10, 20]);
    // Zeros the file system had not filled in are a torn tail too.
    write_file(dir.path(), 1, &[20], &[0; 40]);
    assert_eq!(read_all(dir.path(), 0, 0).unwrap(), [10, 20]);
}

#[test]
fn damage_elsewhere_is_an_error_naming_file_and_offset_after_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cut = Vec::new();
    encode_record(&payload(12), &mut cut);
    cut.truncate(cut.len() - 3);
    let older = write_file(dir.path(), 0, &[10, 11], &cut);
    write_file(dir.path(), 1, &[20], &[]);
    let mut reader = DirReader::open(dir.path(), TsRange::default()).unwrap();
    assert_eq!(reader.next_record().unwrap().unwrap().commit_ts(), 10);
    assert_eq!(reader.next_record().unwrap().unwrap().commit_ts(), 11);
    let error = reader.next_record().unwrap_err();
    let offset = 2 * (payload(10).len() as u64 + 16);
    assert!(
        matches!(&error, ReparoError::Corrupt { path, offset: at } if *path == older && *at == offset),
        "{error}"
    );
    assert!(
        error.to_string().contains(&format!("at offset {offset}")),
        "{error}"
    );

    // A whole record with a bad CRC in the newest file is damage, not a torn tail.
    let dir = tempfile::tempdir().unwrap();
    let mut bad = Vec::new();
    encode_record(&payload(21), &mut bad);
    let last = bad.len() - 1;
    bad[last] ^= 0xFF;
    write_file(dir.path(), 0, &[20], &bad);
    let error = read_all(dir.path(), 0, 0).unwrap_err();
    assert!(matches!(error, ReparoError::Corrupt { .. }), "{error}");
}

#[test]
fn raw_tidb_binlogs_are_refused_with_how_to_get_pb_files() {
    let dir = tempfile::tempdir().unwrap();
    let tidb = binlog_node::proto::Binlog {
        tp: 2,
        start_ts: 400,
        commit_ts: 401,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    encode_record(&tidb.encode_to_vec(), &mut bytes);
    std::fs::write(
        dir.path().join("binlog-0000000000000000-20240101000000"),
        bytes,
    )
    .unwrap();
    let error = match DirReader::open(dir.path(), TsRange::default()) {
        Err(error) => error,
        Ok(_) => panic!("a raw TiDB binlog was accepted"),
    };
    assert!(
        matches!(
            error,
            ReparoError::TidbPayload {
                commit_ts: 401,
                offset: 0,
                ..
            }
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("tidb-status-addr") && text.contains("file-payload"),
        "{text}"
    );

    // Bytes that are neither are named as an undecodable payload.
    let mut bytes = Vec::new();
    encode_record(&[0xFF, 0xFF, 0xFF], &mut bytes);
    std::fs::write(
        dir.path().join("binlog-0000000000000000-20240101000000"),
        bytes,
    )
    .unwrap();
    let error = DirReader::open(dir.path(), TsRange::default())
        .err()
        .unwrap();
    assert!(matches!(error, ReparoError::Payload { .. }), "{error}");
}

#[test]
fn a_gap_in_the_file_indexes_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), 0, &[10], &[]);
    write_file(dir.path(), 2, &[30], &[]);
    let error = DirReader::open(dir.path(), TsRange::default())
        .err()
        .unwrap();
    assert!(error.to_string().contains("not contiguous"), "{error}");
}
