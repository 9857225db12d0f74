//! The SQL shapes, in normal and safe mode: inserts, updates and deletes by key or by all
//! columns, NULLs matched with `IS NULL`, quoted names, values of every kind, UTC timestamps.

use binlog_loader::{Loader, LoaderError};
use binlog_tidb::Value;

use crate::support::{delete, insert, int, load_all, rows, start, table, text, update, Dones};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_mode_inserts_updates_and_deletes_by_key() {
    let (db, config) = start();
    db.query(
        "CREATE DATABASE d; CREATE TABLE d.`we``ird` (id INT PRIMARY KEY, `v``al` VARCHAR(20), n INT NULL)",
    );
    let t = table("d", "we`ird", &["id", "v`al", "n"]);
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    load_all(
        &mut loader,
        &dones,
        [
            rows(
                10,
                vec![
                    insert(&t, vec![int(1), text("a"), int(7)]),
                    insert(&t, vec![int(2), text("b"), Value::Null]),
                    insert(&t, vec![int(3), text("c"), int(9)]),
                ],
            ),
            // The old image differs from the row in the non-key columns: the key alone matches.
            rows(
                20,
                vec![update(
                    &t,
                    vec![int(1), text("stale"), int(0)],
                    vec![int(1), text("a2"), Value::Null],
                )],
            ),
            rows(
                30,
                vec![delete(&t, vec![int(3), text("stale"), Value::Null])],
            ),
        ],
    )
    .await;
    loader.flush().await.unwrap();
    assert_eq!(
        db.query("SELECT * FROM d.`we``ird` ORDER BY id"),
        "1\ta2\tNULL\n2\tb\tNULL\n"
    );
    assert_eq!(dones.calls(), vec![10, 20, 30]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safe_mode_replaces_so_that_repeated_rows_leave_one() {
    let (db, mut config) = start();
    db.query("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, v INT); INSERT INTO d.t VALUES (1, 100)");
    config.safe_mode = true;
    let t = table("d", "t", &["id", "v"]);
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    load_all(
        &mut loader,
        &dones,
        [
            // Already there: REPLACE instead of a duplicate-key error.
            rows(10, vec![insert(&t, vec![int(1), int(1)])]),
            // Missing downstream: DELETE (nothing) then REPLACE creates it.
            rows(
                20,
                vec![update(&t, vec![int(2), int(0)], vec![int(2), int(2)])],
            ),
            rows(
                30,
                vec![update(&t, vec![int(1), int(1)], vec![int(3), int(3)])],
            ),
        ],
    )
    .await;
    loader.flush().await.unwrap();
    assert_eq!(db.query("SELECT * FROM d.t ORDER BY id"), "2\t2\n3\t3\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_are_matched_with_is_null_and_keyless_duplicates_keep_their_count() {
    let (db, mut config) = start();
    // One worker, every transaction alone.
    config.dispatch = false;
    db.query(
        "CREATE DATABASE d; CREATE TABLE d.k (a INT NULL, b VARCHAR(10) NULL); \
         CREATE TABLE d.u (a INT NULL, b INT NOT NULL, UNIQUE KEY ua (a))",
    );
    let k = table("d", "k", &["a", "b"]);
    let u = table("d", "u", &["a", "b"]);
    let x = || vec![int(1), text("x")];
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    load_all(
        &mut loader,
        &dones,
        [
            rows(
                10,
                vec![
                    insert(&k, x()),
                    insert(&k, x()),
                    insert(&k, x()),
                    insert(&k, vec![Value::Null, Value::Null]),
                    insert(&u, vec![Value::Null, int(1)]),
                    insert(&u, vec![Value::Null, int(2)]),
                    insert(&u, vec![int(5), int(5)]),
                ],
            ),
            rows(
                20,
                vec![
                    delete(&k, x()),
                    update(&k, x(), vec![int(1), text("y")]),
                    update(
                        &k,
                        vec![Value::Null, Value::Null],
                        vec![int(2), Value::Null],
                    ),
                    // The unique key is NULL in the old image: all columns identify the row.
                    update(&u, vec![Value::Null, int(2)], vec![Value::Null, int(3)]),
                    update(&u, vec![int(5), int(0)], vec![int(6), int(6)]),
                ],
            ),
        ],
    )
    .await;
    loader.flush().await.unwrap();
    assert_eq!(
        db.query("SELECT * FROM d.k ORDER BY a, b"),
        "1\tx\n1\ty\n2\tNULL\n"
    );
    assert_eq!(
        db.query("SELECT * FROM d.u ORDER BY b"),
        "NULL\t1\nNULL\t3\n6\t6\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_of_every_kind_arrive_exact_with_timestamps_in_utc() {
    let (db, mut config) = start();
    db.query(
        "CREATE DATABASE d; CREATE TABLE d.v (id BIGINT UNSIGNED PRIMARY KEY, i BIGINT, f DOUBLE, \
         dec_ DECIMAL(10,3), ts TIMESTAMP(3) NULL, dt DATETIME, b VARBINARY(10), j TEXT)",
    );
    // TiDB's session variables are unknown to MariaDB: they are skipped, not an error.
    config.db_type = binlog_loader::DbType::Tidb;
    config.connection.sql_mode = Some("STRICT_TRANS_TABLES".to_owned());
    config
        .connection
        .params
        .insert("foreign_key_checks".to_owned(), "0".to_owned());
    let t = table("d", "v", &["id", "i", "f", "dec_", "ts", "dt", "b", "j"]);
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    let row = vec![
        Value::Uint(u64::MAX),
        int(i64::MIN),
        Value::Float(0.5),
        text("-12.340"),
        text("2024-01-02 03:04:05.678"),
        text("2024-01-02 03:04:05"),
        Value::Bytes(vec![0, 0xff, b'`']),
        text(r#"{"a": 1}"#),
    ];
    load_all(&mut loader, &dones, [rows(10, vec![insert(&t, row)])]).await;
    loader.flush().await.unwrap();
    assert_eq!(
        db.query("SET time_zone = '+00:00'; SELECT id, i, f, dec_, ts, dt, HEX(b), j FROM d.v"),
        "18446744073709551615\t-9223372036854775808\t0.5\t-12.340\t2024-01-02 03:04:05.678\t\
         2024-01-02 03:04:05\t00FF60\t{\"a\": 1}\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_row_names_its_commit_ts_and_sql_and_stops_the_loader() {
    let (db, config) = start();
    db.query(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY); INSERT INTO d.t VALUES (1)",
    );
    let t = table("d", "t", &["id"]);
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    loader
        .load(rows(10, vec![insert(&t, vec![int(1)])]), dones.done(10))
        .await
        .unwrap();
    let error = loader.flush().await.unwrap_err();
    let LoaderError::Apply {
        commit_ts,
        sql,
        server,
    } = &error
    else {
        panic!("not an apply error: {error}");
    };
    assert_eq!(
        (*commit_ts, sql.as_str()),
        (10, "INSERT INTO `d`.`t` (`id`) VALUES (?)")
    );
    assert_eq!(server.code, Some(1062), "{server}");
    // It sticks: nothing after the failed transaction is applied.
    let again = loader
        .load(rows(20, vec![insert(&t, vec![int(2)])]), dones.done(20))
        .await;
    assert_eq!(again.unwrap_err(), error);
    assert!(dones.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_columns_are_left_to_the_downstream() {
    let (db, config) = start();
    db.query(
        "CREATE DATABASE d; CREATE TABLE d.g (id INT PRIMARY KEY, a INT, \
         twice INT AS (a * 2) VIRTUAL, thrice INT AS (a * 3) STORED)",
    );
    let t = table("d", "g", &["id", "a", "twice", "thrice"]);
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    load_all(
        &mut loader,
        &dones,
        [
            rows(10, vec![insert(&t, vec![int(1), int(1), int(2), int(3)])]),
            rows(
                20,
                vec![update(
                    &t,
                    vec![int(1), int(1), int(2), int(3)],
                    vec![int(1), int(5), int(10), int(15)],
                )],
            ),
        ],
    )
    .await;
    loader.flush().await.unwrap();
    assert_eq!(db.query("SELECT * FROM d.g"), "1\t5\t10\t15\n");
}
