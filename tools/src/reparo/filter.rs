//! The replicate-* rules applied to one binlog, as the original's `filterBinlog`: a DDL is kept
//! or dropped by the database and table its statement names (its `use` prefix, or the name
//! written in it); a DML binlog keeps the events of the tables the rules let through, and is
//! dropped when none is left.

use binlog_archive::filter::TableFilter;
use binlog_archive::pb_binlog::{self, proto};
use binlog_loader::TxnBody;

use super::error::ReparoError;
use super::read::Record;

/// Applies `filter` to `record`'s binlog; false when nothing of it is left.
pub fn retain(filter: &TableFilter, record: &mut Record) -> Result<bool, ReparoError> {
    let binlog = &mut record.binlog;
    match binlog.tp() {
        proto::BinlogType::Ddl => {
            let txn =
                pb_binlog::from_message(binlog.clone()).map_err(|source| ReparoError::Binlog {
                    path: record.path.clone(),
                    offset: record.offset,
                    source,
                })?;
            let TxnBody::Ddl(ddl) = txn.body else {
                unreachable!("a DDL binlog decodes as a DDL");
            };
            Ok(!filter.skips(&ddl.db, &ddl.table))
        }
        proto::BinlogType::Dml => {
            let Some(data) = &mut binlog.dml_data else {
                return Ok(false);
            };
            data.events
                .retain(|event| !filter.skips(event.schema_name(), event.table_name()));
            Ok(!data.events.is_empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use binlog_archive::filter::TableName;

    use super::*;

    fn record(binlog: proto::Binlog) -> Record {
        Record {
            path: PathBuf::from("binlog-0000000000000000"),
            offset: 0,
            binlog,
        }
    }

    fn ddl(query: &str) -> Record {
        let mut binlog = proto::Binlog {
            commit_ts: Some(1),
            ddl_query: Some(query.as_bytes().to_vec()),
            ..Default::default()
        };
        binlog.set_tp(proto::BinlogType::Ddl);
        record(binlog)
    }

    fn dml(tables: &[(&str, &str)]) -> Record {
        let events = tables
            .iter()
            .map(|(db, table)| proto::Event {
                schema_name: Some((*db).into()),
                table_name: Some((*table).into()),
                ..Default::default()
            })
            .collect();
        let mut binlog = proto::Binlog {
            commit_ts: Some(2),
            dml_data: Some(proto::DmlData { events }),
            ..Default::default()
        };
        binlog.set_tp(proto::BinlogType::Dml);
        record(binlog)
    }

    #[test]
    fn events_and_ddl_are_kept_by_the_tables_they_name() {
        let do_tables = [TableName {
            db_name: "shop".into(),
            tbl_name: "~^it".into(),
        }];
        let ignore_dbs = ["tmp".to_owned()];
        let filter = TableFilter::from_rules(
            ("replicate-do-db", &["~^keep".to_owned()]),
            ("replicate-do-table", &do_tables),
            ("replicate-ignore-db", &ignore_dbs),
            ("replicate-ignore-table", &[]),
        )
        .unwrap();

        let mut mixed = dml(&[("shop", "items"), ("shop", "log"), ("keep_a", "t")]);
        assert!(retain(&filter, &mut mixed).unwrap());
        let kept: Vec<(&str, &str)> = mixed
            .binlog
            .dml_data
            .as_ref()
            .unwrap()
            .events
            .iter()
            .map(|event| (event.schema_name(), event.table_name()))
            .collect();
        assert_eq!(kept, [("shop", "items"), ("keep_a", "t")]);
        assert!(!retain(&filter, &mut dml(&[("shop", "log")])).unwrap());

        // A DDL by the `use` prefix or the name written in it.
        assert!(retain(
            &filter,
            &mut ddl("use `shop`; CREATE TABLE `items` (`id` INT);")
        )
        .unwrap());
        assert!(!retain(
            &filter,
            &mut ddl("use `shop`; CREATE TABLE `log` (`id` INT);")
        )
        .unwrap());
        assert!(retain(
            &filter,
            &mut ddl("use `other`; ALTER TABLE shop.items ADD c INT;")
        )
        .unwrap());
        assert!(retain(&filter, &mut ddl("CREATE DATABASE `keep_b`;")).unwrap());
        assert!(!retain(&filter, &mut ddl("CREATE DATABASE `tmp`;")).unwrap());
    }
}
