//! Rows spread over workers by key; rows whose unique keys meet across workers wait for a
//! barrier, so they apply in upstream order.

use binlog_loader::Loader;

use crate::support::{insert, int, load_all, rows, start, table, update, Dones};

/// Swaps the unique values of pairs of rows (through a temporary value), each swap one
/// transaction: the second update takes the unique value the first freed, in another worker.
/// Rows of another table come first, so the workers' queues differ in length: without the
/// barrier the second update would often run first and fail on the duplicate.
/// Rows of another table before each swap.
const FILLER: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_keys_meeting_across_workers_apply_in_order() {
    let (db, mut config) = start();
    db.query(
        "CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, u INT NOT NULL, UNIQUE KEY uu (u)); \
         CREATE TABLE d.f (id INT PRIMARY KEY)",
    );
    config.worker_count = 4;
    config.txn_batch = 2;
    let t = table("d", "t", &["id", "u"]);
    let filler = table("d", "f", &["id"]);
    let mut unique: Vec<i64> = (0..8).map(|id| id * 10).collect();
    let mut txns = vec![rows(
        1,
        (0..8)
            .map(|id| insert(&t, vec![int(id), int(unique[id as usize])]))
            .collect(),
    )];
    let mut seed = 7u64;
    for commit_ts in 2..80u64 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let a = (seed >> 33) as usize % 8;
        let b = (a + 1 + (seed >> 40) as usize % 7) % 8;
        let (ua, ub, temp) = (unique[a], unique[b], 1000 + commit_ts as i64);
        let (ia, ib) = (a as i64, b as i64);
        let mut changes: Vec<_> = (0..FILLER)
            .map(|n| insert(&filler, vec![int((commit_ts * FILLER + n) as i64)]))
            .collect();
        changes.extend([
            update(&t, vec![int(ia), int(ua)], vec![int(ia), int(temp)]),
            update(&t, vec![int(ib), int(ub)], vec![int(ib), int(ua)]),
            update(&t, vec![int(ia), int(temp)], vec![int(ia), int(ub)]),
        ]);
        txns.push(rows(commit_ts, changes));
        unique.swap(a, b);
    }
    let mut loader = Loader::open(config).await.unwrap();
    let dones = Dones::default();
    load_all(&mut loader, &dones, txns).await;
    loader.flush().await.unwrap();
    let expected: String = unique
        .iter()
        .enumerate()
        .map(|(id, u)| format!("{id}\t{u}\n"))
        .collect();
    assert_eq!(db.query("SELECT id, u FROM d.t ORDER BY id"), expected);
    assert_eq!(dones.calls(), (1..80).collect::<Vec<u64>>());
}
