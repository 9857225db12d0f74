use serde_json::{json, Value as Json};

use super::*;

fn column(id: i64, name: &str, offset: usize, tp: u8, flag: u32) -> Json {
    json!({"id": id, "name": {"O": name, "L": name.to_lowercase()}, "offset": offset,
           "origin_default": null, "origin_default_bit": null, "generated_expr_string": "",
           "generated_stored": false,
           "type": {"Tp": tp, "Flag": flag, "Flen": 11, "Decimal": 0, "Charset": "binary",
                    "Collate": "binary", "Elems": null, "Array": false},
           "state": 5, "hidden": false})
}

/// A table `(id INT PRIMARY KEY, <extra columns named c2, c3 ...>)`, partitioned when
/// `partitions` is not empty.
fn table(id: i64, name: &str, extra_columns: usize, partitions: &[i64]) -> Json {
    let mut cols = vec![column(1, "id", 0, 3, 3)];
    for offset in 1..=extra_columns {
        let column_id = offset as i64 + 1;
        cols.push(column(column_id, &format!("c{column_id}"), offset, 15, 0));
    }
    let partition = if partitions.is_empty() {
        Json::Null
    } else {
        let definitions: Vec<Json> = partitions
            .iter()
            .map(|id| json!({"id": id, "name": format!("p{id}")}))
            .collect();
        json!({"type": 2, "enable": true, "definitions": definitions})
    };
    json!({"id": id, "name": {"O": name, "L": name.to_lowercase()}, "cols": cols,
           "index_info": null, "pk_is_handle": true, "is_common_handle": false,
           "partition": partition, "state": 5})
}

fn job(id: i64, action: u8, schema_id: i64, table_id: i64, version: i64, binlog: Json) -> Job {
    let mut binlog = binlog;
    binlog["SchemaVersion"] = json!(version);
    serde_json::from_value(json!({"id": id, "type": action, "schema_id": schema_id,
        "table_id": table_id, "state": 6, "query": "-- DDL", "binlog": binlog}))
    .expect("test job parses")
}

fn create_schema(id: i64, version: i64, schema_id: i64, name: &str) -> Job {
    let db = json!({"id": schema_id, "db_name": {"O": name, "L": name}, "state": 5});
    job(
        id,
        action::CREATE_SCHEMA,
        schema_id,
        0,
        version,
        json!({"DBInfo": db}),
    )
}

fn with_table(id: i64, kind: u8, schema_id: i64, table_id: i64, version: i64, table: Json) -> Job {
    job(
        id,
        kind,
        schema_id,
        table_id,
        version,
        json!({"TableInfo": table}),
    )
}

fn columns_of(history: &SchemaHistory, table_id: i64, version: i64) -> Vec<String> {
    let shape = history.table(table_id, version).expect("table resolves");
    shape
        .columns
        .iter()
        .map(|column| column.name.clone())
        .collect()
}

fn shop() -> SchemaHistory {
    let mut history = SchemaHistory::new();
    history.apply(&create_schema(2, 10, 1000, "shop")).unwrap();
    history
        .apply(&with_table(
            4,
            action::CREATE_TABLE,
            1000,
            1001,
            12,
            table(1001, "t", 1, &[]),
        ))
        .unwrap();
    history
}

#[test]
fn every_version_of_a_table_stays_readable() {
    let mut history = shop();
    history
        .apply(&with_table(
            6,
            action::ADD_COLUMN,
            1000,
            1001,
            15,
            table(1001, "t", 2, &[]),
        ))
        .unwrap();
    history
        .apply(&with_table(
            8,
            action::DROP_COLUMN,
            1000,
            1001,
            18,
            table(1001, "t", 0, &[]),
        ))
        .unwrap();
    assert_eq!(columns_of(&history, 1001, 12), ["id", "c2"]);
    assert_eq!(
        columns_of(&history, 1001, 14),
        ["id", "c2"],
        "still the shape of version 12"
    );
    assert_eq!(columns_of(&history, 1001, 15), ["id", "c2", "c3"]);
    assert_eq!(columns_of(&history, 1001, 17), ["id", "c2", "c3"]);
    assert_eq!(columns_of(&history, 1001, 99), ["id"]);
    assert_eq!(history.table(1001, 15).unwrap().schema_version, 15);
    assert_eq!((history.schema_version(), history.max_job_id()), (18, 8));
}

#[test]
fn a_table_before_it_existed_is_an_error_naming_id_and_version() {
    let history = shop();
    let error = history.table(1001, 11).unwrap_err();
    assert!(matches!(
        error,
        Error::UnknownTable {
            table_id: 1001,
            schema_version: 11
        }
    ));
    assert_eq!(
        error.to_string(),
        "table ID 1001 is unknown at schema version 11"
    );
    assert!(history.table(4242, 12).is_err());
}

#[test]
fn a_job_that_changes_nothing_rows_need_shares_the_previous_shape() {
    let mut history = shop();
    history
        .apply(&with_table(6, 13, 1000, 1001, 15, table(1001, "t", 1, &[])))
        .unwrap();
    let before = history.table(1001, 12).unwrap();
    let after = history.table(1001, 15).unwrap();
    assert!(Arc::ptr_eq(&before, &after));
    assert_eq!(after.schema_version, 12);
}

#[test]
fn a_partition_id_resolves_to_its_table_while_it_exists() {
    let mut history = shop();
    history
        .apply(&with_table(
            6,
            action::CREATE_TABLE,
            1000,
            1010,
            14,
            table(1010, "p", 1, &[1011, 1012]),
        ))
        .unwrap();
    history
        .apply(&with_table(
            8,
            action::ADD_TABLE_PARTITION,
            1000,
            1010,
            16,
            table(1010, "p", 1, &[1011, 1012, 1013]),
        ))
        .unwrap();
    history
        .apply(&with_table(
            9,
            action::DROP_TABLE_PARTITION,
            1000,
            1010,
            18,
            table(1010, "p", 1, &[1012, 1013]),
        ))
        .unwrap();
    assert_eq!(history.table(1011, 14).unwrap().id, 1010);
    assert_eq!(history.table(1011, 17).unwrap().name, "p");
    assert!(history.table(1011, 18).is_err(), "dropped partition");
    assert!(history.table(1013, 15).is_err(), "not added yet");
    assert_eq!(history.table(1013, 16).unwrap().id, 1010);
    assert_eq!(history.table(1012, 30).unwrap().id, 1010);
}

#[test]
fn a_truncated_table_id_stops_resolving_and_the_new_one_starts() {
    let mut history = shop();
    history
        .apply(&with_table(
            6,
            action::TRUNCATE_TABLE,
            1000,
            1001,
            15,
            table(1005, "t", 1, &[]),
        ))
        .unwrap();
    assert_eq!(history.table(1001, 14).unwrap().id, 1001);
    assert!(history.table(1001, 15).is_err());
    assert!(history.table(1005, 14).is_err());
    assert_eq!(history.table(1005, 15).unwrap().id, 1005);
    // Later jobs name the new ID.
    history
        .apply(&with_table(
            7,
            action::ADD_COLUMN,
            1000,
            1005,
            16,
            table(1005, "t", 2, &[]),
        ))
        .unwrap();
    assert_eq!(columns_of(&history, 1005, 16).len(), 3);
}

#[test]
fn a_rename_changes_names_from_its_version_on() {
    let mut history = shop();
    history
        .apply(&create_schema(5, 13, 2000, "archive"))
        .unwrap();
    let renamed = with_table(
        6,
        action::RENAME_TABLE,
        2000,
        1001,
        15,
        table(1001, "t_old", 1, &[]),
    );
    history.apply(&renamed).unwrap();
    let before = history.table(1001, 14).unwrap();
    let after = history.table(1001, 15).unwrap();
    assert_eq!(before.qualified_name(), "shop.t");
    assert_eq!(after.qualified_name(), "archive.t_old");
    assert_eq!(
        history.ddl_target(&renamed),
        ("archive".to_owned(), "t_old".to_owned())
    );
}

#[test]
fn renaming_several_tables_moves_each_to_its_database() {
    let mut history = shop();
    history
        .apply(&create_schema(5, 13, 2000, "archive"))
        .unwrap();
    history
        .apply(&with_table(
            6,
            action::CREATE_TABLE,
            1000,
            1002,
            14,
            table(1002, "u", 0, &[]),
        ))
        .unwrap();
    let mut rename: Job = serde_json::from_value(json!({
        "id": 7, "type": action::RENAME_TABLES, "schema_id": 2000, "table_id": 1001, "state": 6,
        "raw_args": [[1000, 1000], [2000, 1000], [], [1001, 1002]],
        "binlog": {"SchemaVersion": 16, "MultipleTableInfos": [table(1001, "t2", 1, &[]), table(1002, "u2", 0, &[])]}
    }))
    .unwrap();
    history.apply(&rename).unwrap();
    assert_eq!(
        history.table(1001, 16).unwrap().qualified_name(),
        "archive.t2"
    );
    assert_eq!(history.table(1002, 16).unwrap().qualified_name(), "shop.u2");

    rename.id = 8;
    rename.rename_tables = None;
    rename.binlog.as_mut().unwrap().schema_version = 17;
    let error = history.apply(&rename).unwrap_err().to_string();
    assert!(
        error.contains("DDL job 8") && error.contains("raw_args"),
        "{error}"
    );
}

#[test]
fn drop_table_and_drop_database_end_their_ids_and_recovery_restores_them() {
    let mut history = shop();
    history
        .apply(&with_table(
            6,
            action::CREATE_TABLE,
            1000,
            1002,
            14,
            table(1002, "u", 0, &[]),
        ))
        .unwrap();
    let drop_table = job(7, action::DROP_TABLE, 1000, 1002, 15, json!({}));
    history.apply(&drop_table).unwrap();
    assert!(history.table(1002, 15).is_err());
    assert_eq!(history.table(1002, 14).unwrap().name, "u");
    assert_eq!(
        history.ddl_target(&drop_table),
        ("shop".to_owned(), "u".to_owned())
    );

    let drop_schema = job(8, action::DROP_SCHEMA, 1000, 0, 16, json!({}));
    history.apply(&drop_schema).unwrap();
    assert!(history.table(1001, 16).is_err());
    assert_eq!(
        history.ddl_target(&drop_schema),
        ("shop".to_owned(), String::new())
    );

    let db = json!({"id": 1000, "db_name": {"O": "shop", "L": "shop"}, "state": 5});
    history
        .apply(&job(
            9,
            action::RECOVER_SCHEMA,
            1000,
            0,
            17,
            json!({"DBInfo": db}),
        ))
        .unwrap();
    assert_eq!(history.table(1001, 17).unwrap().name, "t");
    assert!(history.table(1001, 16).is_err());

    history
        .apply(&with_table(
            10,
            action::RECOVER_TABLE,
            1000,
            1002,
            18,
            table(1002, "u", 0, &[]),
        ))
        .unwrap();
    assert_eq!(history.table(1002, 18).unwrap().name, "u");
}

#[test]
fn an_exchanged_partition_and_table_swap_ids() {
    let mut history = shop();
    history
        .apply(&with_table(
            6,
            action::CREATE_TABLE,
            1000,
            1010,
            14,
            table(1010, "p", 1, &[1011, 1012]),
        ))
        .unwrap();
    // Exchange partition 1011 of `p` with table `t` (1001): `p` now has 1001 as a partition,
    // `t` is now 1011.
    history
        .apply(&with_table(
            7,
            action::EXCHANGE_TABLE_PARTITION,
            1000,
            1001,
            15,
            table(1010, "p", 1, &[1001, 1012]),
        ))
        .unwrap();
    assert_eq!(history.table(1001, 14).unwrap().name, "t");
    assert_eq!(history.table(1001, 15).unwrap().name, "p");
    assert_eq!(history.table(1011, 14).unwrap().name, "p");
    let plain = history.table(1011, 15).unwrap();
    assert_eq!((plain.id, plain.name.as_str()), (1011, "t"));
}

#[test]
fn create_tables_creates_each_and_views_are_ignored() {
    let mut history = shop();
    let mut view = table(1003, "v", 0, &[]);
    view["view"] = json!({"view_select": "SELECT 1"});
    history
        .apply(&with_table(5, action::CREATE_VIEW, 1000, 1003, 13, view))
        .unwrap();
    assert!(history.table(1003, 13).is_err());
    let batch: Job = serde_json::from_value(json!({
        "id": 6, "type": action::CREATE_TABLES, "schema_id": 1000, "table_id": 0, "state": 4,
        "binlog": {"SchemaVersion": 14, "MultipleTableInfos": [table(1004, "a", 0, &[]), table(1005, "b", 0, &[])]}
    }))
    .unwrap();
    history.apply(&batch).unwrap();
    assert_eq!(history.table(1004, 14).unwrap().name, "a");
    assert_eq!(history.table(1005, 14).unwrap().name, "b");
}

#[test]
fn jobs_are_ignored_when_seen_again_or_unfinished_and_refused_when_too_late() {
    let mut history = shop();
    let add = with_table(
        6,
        action::ADD_COLUMN,
        1000,
        1001,
        15,
        table(1001, "t", 2, &[]),
    );
    history.apply(&add).unwrap();
    history.apply(&add).unwrap();
    let mut cancelled = with_table(
        7,
        action::ADD_COLUMN,
        1000,
        1001,
        16,
        table(1001, "t", 3, &[]),
    );
    cancelled.state = 5;
    history.apply(&cancelled).unwrap();
    let mut failed = with_table(
        8,
        action::ADD_COLUMN,
        1000,
        1001,
        0,
        table(1001, "t", 3, &[]),
    );
    failed.binlog.as_mut().unwrap().schema_version = 0;
    history.apply(&failed).unwrap();
    assert_eq!((history.schema_version(), history.max_job_id()), (15, 6));
    assert_eq!(columns_of(&history, 1001, 99).len(), 3);

    let late = with_table(
        9,
        action::ADD_COLUMN,
        1000,
        1001,
        14,
        table(1001, "t", 3, &[]),
    );
    let error = history.apply(&late).unwrap_err().to_string();
    assert!(
        error.contains("DDL job 9")
            && error.contains("14")
            && error.contains("15")
            && error.contains("too late"),
        "{error}"
    );
}

#[test]
fn an_older_job_on_tables_no_newer_job_touched_replays_in_place() {
    // Concurrent DDL: job 9 (version 14) finished after job 8 (version 15) was fetched.
    let mut history = shop();
    history
        .apply(&with_table(
            6,
            action::CREATE_TABLE,
            1000,
            1002,
            13,
            table(1002, "u", 0, &[]),
        ))
        .unwrap();
    history
        .apply(&with_table(
            8,
            action::ADD_COLUMN,
            1000,
            1001,
            15,
            table(1001, "t", 2, &[]),
        ))
        .unwrap();
    history
        .apply(&with_table(
            9,
            action::ADD_COLUMN,
            1000,
            1002,
            14,
            table(1002, "u", 1, &[]),
        ))
        .unwrap();
    assert_eq!((history.schema_version(), history.max_job_id()), (15, 9));
    assert_eq!(columns_of(&history, 1002, 13), ["id"]);
    assert_eq!(columns_of(&history, 1002, 14), ["id", "c2"]);
    assert_eq!(columns_of(&history, 1001, 14), ["id", "c2"]);
    assert_eq!(columns_of(&history, 1001, 15), ["id", "c2", "c3"]);
}

#[test]
fn a_job_on_a_table_the_history_lacks_is_an_error() {
    let mut history = shop();
    let error = history
        .apply(&with_table(
            6,
            action::ADD_COLUMN,
            1000,
            4242,
            15,
            table(4242, "x", 1, &[]),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("DDL job 6") && error.contains("4242"),
        "{error}"
    );
    let error = history
        .apply(&with_table(
            7,
            action::CREATE_TABLE,
            77,
            1009,
            16,
            table(1009, "x", 1, &[]),
        ))
        .unwrap_err()
        .to_string();
    assert!(error.contains("database 77"), "{error}");
}

#[test]
fn system_tables_go_into_the_mysql_database_no_job_created() {
    let mut history = SchemaHistory::new();
    history
        .apply(&with_table(
            3,
            action::CREATE_TABLE,
            1,
            5,
            2,
            table(5, "user", 1, &[]),
        ))
        .unwrap();
    assert_eq!(history.table(5, 2).unwrap().qualified_name(), "mysql.user");
}
