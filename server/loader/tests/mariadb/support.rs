//! What every test needs: a MariaDB with a loader configuration for it, transactions built in a
//! line, `done` callbacks that count, and the table contents as text.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use binlog_loader::{
    ConnectionConfig, Ddl, LoadTxn, Loader, LoaderConfig, RowEvent, RowKind, TableRef, TxnBody,
};
use binlog_testkit::mariadb::{MariaDb, ROOT_PASSWORD};
use binlog_tidb::Value;

/// A fresh MariaDB and a loader configuration for it (4 workers, batches of 3 rows).
pub fn start() -> (MariaDb, LoaderConfig) {
    let db = MariaDb::start();
    let config = LoaderConfig {
        connection: ConnectionConfig {
            port: db.port(),
            password: ROOT_PASSWORD.to_owned(),
            ..ConnectionConfig::default()
        },
        worker_count: 4,
        txn_batch: 3,
        ..LoaderConfig::default()
    };
    (db, config)
}

/// A table reference.
pub fn table(db: &str, table: &str, columns: &[&str]) -> Arc<TableRef> {
    Arc::new(TableRef {
        db: db.to_owned(),
        table: table.to_owned(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
    })
}

/// An insert.
pub fn insert(table: &Arc<TableRef>, new: Vec<Value>) -> RowEvent {
    RowEvent {
        table: Arc::clone(table),
        kind: RowKind::Insert,
        old: vec![],
        new,
    }
}

/// An update.
pub fn update(table: &Arc<TableRef>, old: Vec<Value>, new: Vec<Value>) -> RowEvent {
    RowEvent {
        table: Arc::clone(table),
        kind: RowKind::Update,
        old,
        new,
    }
}

/// A delete.
pub fn delete(table: &Arc<TableRef>, old: Vec<Value>) -> RowEvent {
    RowEvent {
        table: Arc::clone(table),
        kind: RowKind::Delete,
        old,
        new: vec![],
    }
}

/// A transaction of rows.
pub fn rows(commit_ts: u64, rows: Vec<RowEvent>) -> LoadTxn {
    LoadTxn {
        commit_ts,
        body: TxnBody::Rows(rows),
    }
}

/// A DDL transaction.
pub fn ddl(commit_ts: u64, db: &str, table: &str, query: &str) -> LoadTxn {
    LoadTxn {
        commit_ts,
        body: TxnBody::Ddl(Ddl {
            db: db.to_owned(),
            table: table.to_owned(),
            query: query.to_owned(),
        }),
    }
}

/// `Value::Int`.
pub fn int(v: i64) -> Value {
    Value::Int(v)
}

/// `Value::Text`.
pub fn text(v: &str) -> Value {
    Value::Text(v.to_owned())
}

/// Counts the `done` calls of each commit TS, and their order.
#[derive(Clone, Default)]
pub struct Dones {
    calls: Arc<Mutex<Vec<u64>>>,
    total: Arc<AtomicUsize>,
}

impl Dones {
    /// A `done` for the transaction at `commit_ts`.
    pub fn done(&self, commit_ts: u64) -> Box<dyn FnOnce() + Send> {
        let (calls, total) = (Arc::clone(&self.calls), Arc::clone(&self.total));
        Box::new(move || {
            calls.lock().unwrap().push(commit_ts);
            total.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// The commit TSs whose `done` was called, in call order.
    pub fn calls(&self) -> Vec<u64> {
        self.calls.lock().unwrap().clone()
    }
}

/// Loads every transaction, each with a counted `done`.
pub async fn load_all(loader: &mut Loader, dones: &Dones, txns: impl IntoIterator<Item = LoadTxn>) {
    for txn in txns {
        let commit_ts = txn.commit_ts;
        loader
            .load(txn, dones.done(commit_ts))
            .await
            .unwrap_or_else(|e| panic!("load of {commit_ts} failed: {e}"));
    }
}
