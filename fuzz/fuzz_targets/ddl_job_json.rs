//! TiDB's `/ddl/history` answer on arbitrary bytes, as the drainer reads it: parsed into jobs,
//! each replayed into a schema history, and every table it then knows looked up at every
//! version seen. A parse or replay error is fine (the drainer stops, naming the job); a panic
//! is a bug.

#![no_main]

use binlog_tidb::job::Job;
use binlog_tidb::SchemaHistory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut jobs) = Job::list_from_json(data) else {
        return;
    };
    jobs.sort_by_key(Job::schema_version);
    let mut history = SchemaHistory::new();
    for job in &jobs {
        if history.apply(job).is_err() {
            return;
        }
        let _ = history.ddl_target(job);
        let _ = job.has_no_downstream_effect();
    }
    for job in &jobs {
        for id in [job.table_id, job.schema_id] {
            let _ = history.table(id, job.schema_version());
            let _ = history.table(id, history.schema_version());
        }
    }
});
