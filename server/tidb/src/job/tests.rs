use super::*;

/// A `CREATE TABLE` job as TiDB v8.1's `/ddl/history` writes it: every key, the ones the
/// history ignores included.
const CREATE_TABLE_JOB: &str = r#"{
  "id": 112, "type": 3, "schema_id": 110, "table_id": 111, "schema_name": "shop",
  "table_name": "orders", "state": 6, "warning": null, "err": null, "err_count": 0,
  "row_count": 0, "raw_args": [{"id": 111}, false, []], "schema_state": 5,
  "snapshot_ver": 0, "real_start_ts": 450000000000000001, "start_ts": 450000000000000000,
  "dependency_id": 0,
  "query": "CREATE TABLE orders (id BIGINT PRIMARY KEY, flags BIT(12) DEFAULT b'101', note VARCHAR(20), tags JSON, total DECIMAL(10,2) GENERATED ALWAYS AS (id * 2) VIRTUAL, UNIQUE KEY uk_note (note))",
  "binlog": {
    "SchemaVersion": 57,
    "DBInfo": null,
    "TableInfo": {
      "id": 111, "name": {"O": "Orders", "L": "orders"}, "charset": "utf8mb4",
      "collate": "utf8mb4_bin",
      "cols": [
        {"id": 1, "name": {"O": "id", "L": "id"}, "offset": 0, "origin_default": null,
         "origin_default_bit": null, "default": null, "default_bit": null,
         "default_is_expr": false, "generated_expr_string": "", "generated_stored": false,
         "dependences": null,
         "type": {"Tp": 8, "Flag": 4099, "Flen": 20, "Decimal": 0, "Charset": "binary",
                  "Collate": "binary", "Elems": null, "ElemsIsBinaryLit": null, "Array": false},
         "state": 5, "comment": "", "hidden": false, "change_state_info": null, "version": 2},
        {"id": 2, "name": {"O": "flags", "L": "flags"}, "offset": 1, "origin_default": "\u0000\u0005",
         "origin_default_bit": "AAU=", "default": "\u0000\u0005", "default_bit": "AAU=",
         "default_is_expr": false, "generated_expr_string": "", "generated_stored": false,
         "dependences": null,
         "type": {"Tp": 16, "Flag": 32, "Flen": 12, "Decimal": 0, "Charset": "binary",
                  "Collate": "binary", "Elems": null, "ElemsIsBinaryLit": null, "Array": false},
         "state": 5, "comment": "", "hidden": false, "change_state_info": null, "version": 2},
        {"id": 3, "name": {"O": "note", "L": "note"}, "offset": 2, "origin_default": "n/a",
         "origin_default_bit": null, "default": "n/a", "default_bit": null,
         "default_is_expr": false, "generated_expr_string": "", "generated_stored": false,
         "dependences": null,
         "type": {"Tp": 15, "Flag": 4, "Flen": 20, "Decimal": 0, "Charset": "utf8mb4",
                  "Collate": "utf8mb4_bin", "Elems": null, "ElemsIsBinaryLit": null, "Array": false},
         "state": 5, "comment": "", "hidden": false, "change_state_info": null, "version": 2},
        {"id": 4, "name": {"O": "tags", "L": "tags"}, "offset": 3, "origin_default": null,
         "origin_default_bit": null, "default": null, "default_bit": null,
         "default_is_expr": false, "generated_expr_string": "", "generated_stored": false,
         "dependences": null,
         "type": {"Tp": 8, "Flag": 128, "Flen": -1, "Decimal": 0, "Charset": "binary",
                  "Collate": "binary", "Elems": null, "ElemsIsBinaryLit": null, "Array": true},
         "state": 5, "comment": "", "hidden": false, "change_state_info": null, "version": 2},
        {"id": 5, "name": {"O": "total", "L": "total"}, "offset": 4, "origin_default": null,
         "origin_default_bit": null, "default": null, "default_bit": null,
         "default_is_expr": false, "generated_expr_string": "`id` * 2", "generated_stored": false,
         "dependences": {"id": {}},
         "type": {"Tp": 246, "Flag": 0, "Flen": 10, "Decimal": 2, "Charset": "binary",
                  "Collate": "binary", "Elems": null, "ElemsIsBinaryLit": null, "Array": false},
         "state": 5, "comment": "", "hidden": false, "change_state_info": null, "version": 2}
      ],
      "index_info": [
        {"id": 1, "idx_name": {"O": "uk_note", "L": "uk_note"}, "tbl_name": {"O": "", "L": ""},
         "idx_cols": [{"name": {"O": "note", "L": "note"}, "offset": 2, "length": -1}],
         "state": 5, "backfill_state": 0, "comment": "", "index_type": 1, "is_unique": true,
         "is_primary": false, "is_invisible": false, "is_global": false, "mv_index": false},
        {"id": 2, "idx_name": {"O": "uk_adding", "L": "uk_adding"}, "tbl_name": {"O": "", "L": ""},
         "idx_cols": [{"name": {"O": "id", "L": "id"}, "offset": 0, "length": -1}],
         "state": 3, "backfill_state": 0, "comment": "", "index_type": 1, "is_unique": true,
         "is_primary": false, "is_invisible": false, "is_global": false, "mv_index": false}
      ],
      "constraint_info": null, "fk_info": null, "state": 5, "pk_is_handle": true,
      "is_common_handle": false, "common_handle_version": 0, "comment": "", "auto_inc_id": 0,
      "auto_id_cache": 0, "auto_rand_id": 0, "max_col_id": 5, "max_idx_id": 2, "max_fk_id": 0,
      "max_cst_id": 0, "update_timestamp": 450000000000000002, "ShardRowIDBits": 0,
      "max_shard_row_id_bits": 0, "auto_random_bits": 0, "auto_random_range_bits": 0,
      "pre_split_regions": 0, "partition": null, "compression": "", "view": null,
      "sequence": null, "Lock": null, "version": 5, "tiflash_replica": null,
      "is_columnar": false, "temp_table_type": 0, "cache_table_status": 0,
      "policy_ref_info": null, "stats_options": null, "exchange_partition_info": null,
      "ttl_info": null, "revision": 1
    },
    "FinishedTS": 450000000000000003,
    "MultipleTableInfos": null
  },
  "version": 1, "reorg_meta": null, "multi_schema_info": null, "priority": 0, "seq_num": 9,
  "charset": "utf8mb4", "collate": "utf8mb4_bin", "involving_schema_info": null,
  "admin_operator": 0, "trace_info": {"connection_id": 3, "session_alias": ""}
}"#;

fn create_table_job() -> Job {
    serde_json::from_str(CREATE_TABLE_JOB).expect("the create-table job parses")
}

#[test]
fn reads_a_create_table_job_with_every_key_tidb_writes() {
    let job = create_table_job();
    assert_eq!(
        (job.id, job.action, job.schema_id, job.table_id, job.state),
        (112, action::CREATE_TABLE, 110, 111, job_state::SYNCED)
    );
    assert_eq!(
        (job.schema_name.as_str(), job.table_name.as_str()),
        ("shop", "orders")
    );
    assert!(job.query.starts_with("CREATE TABLE orders"));
    assert_eq!(job.schema_version(), 57);
    assert!(job.is_finished());
    assert_eq!(
        job.rename_tables, None,
        "a create's raw_args are not a rename's"
    );
    let info = job.binlog.as_ref().expect("binlog");
    assert_eq!(info.finished_ts, 450000000000000003);
    assert!(info.multiple_table_infos.is_empty(), "null reads as empty");
    let table = info.table_info.as_ref().expect("TableInfo");
    assert_eq!((table.id, table.name.0.as_str()), (111, "Orders"));
    assert_eq!(table.cols.len(), 5);
    assert_eq!(table.cols[2].field_type.charset, "utf8mb4");
    assert!(table.cols[0].field_type.elems.is_empty());
    assert_eq!(table.index_info[0].idx_cols[0].length, -1);
    assert!(!table.is_view_or_sequence());
    assert_eq!(table.physical_ids(), vec![111]);
}

#[test]
fn a_table_snapshot_becomes_the_shape_rows_need() {
    let job = create_table_job();
    let table = job.binlog.unwrap().table_info.unwrap();
    let shape = table.to_schema("shop", 57).expect("converts");
    assert_eq!((shape.id, shape.schema_version), (111, 57));
    assert_eq!((shape.db.as_str(), shape.name.as_str()), ("shop", "Orders"));
    assert!(shape.pk_is_handle && !shape.is_common_handle);
    assert_eq!(
        shape.primary_key,
        vec![0],
        "the PRI_KEY-flagged handle column"
    );
    assert_eq!(
        shape.unique_keys,
        vec![UniqueKey {
            name: "uk_note".into(),
            columns: vec![2]
        }],
        "only public unique indexes"
    );
    let flags = &shape.columns[1];
    assert_eq!(flags.tp, mysql_type::BIT);
    assert_eq!(
        flags.origin_default,
        Some(serde_json::json!(5)),
        "from origin_default_bit"
    );
    assert_eq!(
        shape.columns[2].origin_default,
        Some(serde_json::json!("n/a"))
    );
    assert_eq!(shape.columns[0].origin_default, None);
    assert_eq!(
        shape.columns[3].tp,
        mysql_type::JSON,
        "an array type reads as JSON"
    );
    assert!(shape.columns[4].generated && !shape.columns[3].generated);
    assert!(shape.columns.iter().all(|column| column.is_public()));
    assert_eq!(shape.columns[4].decimal, 2);
}

#[test]
fn a_common_handle_takes_its_primary_key_from_the_primary_index() {
    let mut table = create_table_job().binlog.unwrap().table_info.unwrap();
    table.pk_is_handle = false;
    table.is_common_handle = true;
    table.index_info[1].is_primary = true;
    table.index_info[1].state = schema_state::PUBLIC;
    table.index_info[1].idx_cols.push(IndexColumn {
        name: CiStr("note".into()),
        offset: 2,
        length: 10,
    });
    let shape = table.to_schema("shop", 60).unwrap();
    assert_eq!(shape.primary_key, vec![0, 2]);
    assert_eq!(
        shape.unique_keys.len(),
        1,
        "the primary index is not a unique key"
    );
}

#[test]
fn a_snapshot_that_does_not_fit_together_is_an_error_naming_the_table() {
    let mut table = create_table_job().binlog.unwrap().table_info.unwrap();
    table.index_info[0].idx_cols[0].offset = 9;
    let error = table.to_schema("shop", 57).unwrap_err().to_string();
    assert!(
        error.contains("table ID 111 at schema version 57"),
        "{error}"
    );
    assert!(error.contains("uk_note"), "{error}");

    let mut table = create_table_job().binlog.unwrap().table_info.unwrap();
    table.cols.swap(0, 1);
    let error = table.to_schema("shop", 57).unwrap_err().to_string();
    assert!(error.contains("offset"), "{error}");

    let mut table = create_table_job().binlog.unwrap().table_info.unwrap();
    table.cols[1].origin_default_bit = Some("not base64!".into());
    assert!(table.to_schema("shop", 57).is_err());
}

#[test]
fn a_name_reads_as_a_pair_or_a_bare_string() {
    let pair: CiStr = serde_json::from_str(r#"{"O": "P0", "L": "p0"}"#).unwrap();
    let bare: CiStr = serde_json::from_str(r#""P0""#).unwrap();
    assert_eq!(pair, CiStr("P0".into()));
    assert_eq!(bare, pair);
    assert_eq!(
        serde_json::to_value(&pair).unwrap(),
        serde_json::json!({"O": "P0", "L": "p0"})
    );
}

#[test]
fn partitions_give_physical_ids_only_when_enabled() {
    let mut table = create_table_job().binlog.unwrap().table_info.unwrap();
    table.partition = serde_json::from_value(serde_json::json!({
        "type": 1, "expr": "`id`", "columns": null, "enable": true, "is_empty_columns": false,
        "definitions": [
            {"id": 120, "name": "p0", "less_than": ["100"], "in_values": null, "policy_ref_info": null},
            {"id": 121, "name": {"O": "p1", "L": "p1"}, "less_than": ["MAXVALUE"], "in_values": null,
             "policy_ref_info": null}
        ],
        "adding_definitions": null, "dropping_definitions": null, "NewPartitionIDs": null,
        "states": null, "num": 2, "ddl_state": 0, "new_table_id": 0, "ddl_type": 0,
        "ddl_expr": "", "ddl_columns": null, "ddl_update_indexes": null
    }))
    .unwrap();
    assert_eq!(table.physical_ids(), vec![111, 120, 121]);
    table.partition.as_mut().unwrap().enable = false;
    assert_eq!(table.physical_ids(), vec![111]);
}

#[test]
fn a_database_job_and_an_unfinished_job() {
    let jobs = Job::list_from_json(
        br#"[
        {"id": 2, "type": 1, "schema_id": 1, "table_id": 0, "schema_name": "shop",
         "table_name": "", "state": 6, "query": "CREATE DATABASE shop", "raw_args": null,
         "binlog": {"SchemaVersion": 3, "DBInfo": {"id": 1, "db_name": {"O": "Shop", "L": "shop"},
           "charset": "utf8mb4", "collate": "utf8mb4_bin", "state": 5, "policy_ref_info": null},
           "TableInfo": null, "FinishedTS": 7, "MultipleTableInfos": null}},
        {"id": 3, "type": 7, "schema_id": 1, "table_id": 9, "state": 3, "query": "ALTER TABLE t ADD INDEX i (a)",
         "binlog": {"SchemaVersion": 0, "DBInfo": null, "TableInfo": null, "FinishedTS": 0,
           "MultipleTableInfos": null}}
    ]"#,
    )
    .unwrap();
    let db = jobs[0].binlog.as_ref().unwrap().db_info.as_ref().unwrap();
    assert_eq!((db.id, db.db_name.0.as_str()), (1, "Shop"));
    assert!(jobs[0].is_finished());
    assert!(!jobs[1].is_finished(), "rolled back, schema version 0");
}

#[test]
fn a_rename_of_several_tables_keeps_where_each_table_goes() {
    let job: Job = serde_json::from_value(serde_json::json!({
        "id": 40, "type": 47, "schema_id": 2, "table_id": 11, "state": 6, "query": "RENAME TABLE a.t1 TO b.t1, a.t2 TO a.t3",
        "raw_args": [[1, 1], [2, 1], [{"O": "t1", "L": "t1"}, {"O": "t3", "L": "t3"}], [11, 12],
                     [{"O": "a", "L": "a"}, {"O": "a", "L": "a"}], [{"O": "t1", "L": "t1"}, {"O": "t2", "L": "t2"}]],
        "binlog": {"SchemaVersion": 9, "DBInfo": null, "TableInfo": null, "FinishedTS": 1, "MultipleTableInfos": []}
    }))
    .unwrap();
    let args = job.rename_tables.clone().expect("rename args");
    assert_eq!(args.new_schema_ids, vec![2, 1]);
    assert_eq!(args.table_ids, vec![11, 12]);
    let again: Job = serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap();
    assert_eq!(again, job, "written back, it reads the same");
}

#[test]
fn a_job_written_back_reads_the_same() {
    let job = create_table_job();
    let written = serde_json::to_vec(&job).unwrap();
    let again: Job = serde_json::from_slice(&written).unwrap();
    assert_eq!(again, job);
    assert!(
        written.len() < CREATE_TABLE_JOB.len(),
        "only what the history needs is kept"
    );
}
