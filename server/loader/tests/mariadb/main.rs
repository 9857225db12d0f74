//! The loader against a real MariaDB (Debian's `mariadbd`, started per test by the test kit):
//! SQL shapes, DDL, dispatch, exactly-once replays and the checkpoint table.

mod checkpoint;
mod ddl;
mod dispatch;
mod exactly_once;
mod statements;
mod support;
