//! DDL: run in its database after everything before it, tolerated errors pass, others stop the
//! loader naming the query; table keys are read from the downstream and read again after a DDL.

use binlog_loader::{Loader, LoaderError};

use crate::support::{ddl, insert, int, load_all, rows, start, table, text, update, Dones};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_runs_in_its_database_and_tolerated_errors_pass() {
    let (db, config) = start();
    let t = table("d", "t", &["id", "v"]);
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    load_all(
        &mut loader,
        &dones,
        [
            ddl(10, "", "", "CREATE DATABASE d"),
            ddl(20, "d", "t", "CREATE TABLE t (id INT PRIMARY KEY, v INT)"),
            rows(30, vec![insert(&t, vec![int(1), int(1)])]),
            // Replayed DDL finds its work done: 1007, 1050, 1060, 1061, 1091 pass.
            ddl(40, "", "", "CREATE DATABASE d"),
            ddl(50, "d", "t", "CREATE TABLE t (id INT PRIMARY KEY, v INT)"),
            ddl(60, "d", "t", "ALTER TABLE t ADD COLUMN w INT NULL"),
            ddl(70, "d", "t", "ALTER TABLE t ADD COLUMN w INT NULL"),
            ddl(80, "d", "t", "ALTER TABLE t ADD INDEX iv (v)"),
            ddl(90, "d", "t", "ALTER TABLE t ADD INDEX iv (v)"),
            ddl(100, "d", "t", "ALTER TABLE t DROP INDEX nope"),
            rows(110, vec![insert(&t, vec![int(2), int(2)])]),
        ],
    )
    .await;
    loader.flush().await.unwrap();
    assert_eq!(
        db.query("SELECT id, v, w FROM d.t ORDER BY id"),
        "1\t1\tNULL\n2\t2\tNULL\n"
    );
    assert_eq!(
        dones.calls(),
        vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]
    );

    let query = "ALTER TABLE t ADD COLUMN";
    let error = loader
        .load(ddl(120, "d", "t", query), dones.done(120))
        .await
        .unwrap_err();
    let LoaderError::Ddl {
        commit_ts: 120,
        query: failed,
        server,
    } = &error
    else {
        panic!("not the DDL's error: {error}");
    };
    assert_eq!((failed.as_str(), server.code), (query, Some(1064)));
    let later = loader.load(rows(130, vec![]), dones.done(130)).await;
    assert_eq!(later.unwrap_err(), error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_come_from_the_downstream_and_are_read_again_after_a_ddl() {
    let (db, config) = start();
    db.query("CREATE DATABASE d; CREATE TABLE d.t (id INT, v VARCHAR(10)); INSERT INTO d.t VALUES (1, 'a'), (2, 'b')");
    let t = table("d", "t", &["id", "v"]);
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    load_all(
        &mut loader,
        &dones,
        [
            // No key downstream: all columns identify the row, a stale image matches nothing.
            rows(
                10,
                vec![update(
                    &t,
                    vec![int(1), text("stale")],
                    vec![int(1), text("x")],
                )],
            ),
            ddl(20, "d", "t", "ALTER TABLE t ADD PRIMARY KEY (id)"),
            // The primary key now identifies it.
            rows(
                30,
                vec![update(
                    &t,
                    vec![int(2), text("stale")],
                    vec![int(2), text("y")],
                )],
            ),
        ],
    )
    .await;
    loader.flush().await.unwrap();
    assert_eq!(db.query("SELECT * FROM d.t ORDER BY id"), "1\ta\n2\ty\n");

    let missing = table("d", "missing", &["id"]);
    let error = loader
        .load(
            rows(40, vec![insert(&missing, vec![int(1)])]),
            dones.done(40),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "table `d`.`missing` (transaction at commit TS 40) does not exist downstream"
    );
}
