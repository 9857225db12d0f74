//! The drainer's checkpoint table: the original's schema and JSON, byte for byte.

use binlog_loader::{Checkpoint, CheckpointTable, LoaderError};

use crate::support::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_rows_hold_the_originals_json() {
    let (db, config) = start();
    let connection = &config.connection;
    let mut checkpoint = CheckpointTable::open(connection, "tidb_binlog", "checkpoint", 7)
        .await
        .unwrap();
    assert_eq!(checkpoint.load().await.unwrap(), None);
    checkpoint
        .save(412361808537191540, false, 57)
        .await
        .unwrap();
    assert_eq!(
        db.query("SELECT checkPoint FROM tidb_binlog.checkpoint WHERE clusterID = 7"),
        "{\"consistent\":false,\"commitTS\":412361808537191540,\"ts-map\":{},\"schema-version\":57}\n"
    );
    assert_eq!(
        db.query(
            "SELECT column_name, column_type, column_key FROM information_schema.columns \
             WHERE table_schema = 'tidb_binlog' AND table_name = 'checkpoint' ORDER BY ordinal_position"
        ),
        "clusterID\tbigint(20) unsigned\tPRI\ncheckPoint\tmediumtext\t\n"
    );
    // The schema version only grows.
    checkpoint.save(412361808537191541, true, 3).await.unwrap();
    let mut reopened = CheckpointTable::open(connection, "tidb_binlog", "checkpoint", 7)
        .await
        .unwrap();
    let expected = Checkpoint {
        commit_ts: 412361808537191541,
        consistent: true,
        schema_version: 57,
    };
    assert_eq!(reopened.load().await.unwrap(), Some(expected));

    // Cluster 0 takes the only row's cluster; with two rows it cannot choose.
    let mut unknown = CheckpointTable::open(connection, "tidb_binlog", "checkpoint", 0)
        .await
        .unwrap();
    assert_eq!(unknown.load().await.unwrap(), Some(expected));
    unknown.save(5, false, 58).await.unwrap();
    assert_eq!(
        db.query("SELECT clusterID FROM tidb_binlog.checkpoint"),
        "7\n"
    );
    let mut other = CheckpointTable::open(connection, "tidb_binlog", "checkpoint", 8)
        .await
        .unwrap();
    other.save(1, false, 1).await.unwrap();
    let error = CheckpointTable::open(connection, "tidb_binlog", "checkpoint", 0)
        .await
        .unwrap()
        .load()
        .await
        .unwrap_err();
    assert!(
        matches!(error, LoaderError::CheckpointAmbiguous { rows: 2, .. }),
        "{error}"
    );
}
