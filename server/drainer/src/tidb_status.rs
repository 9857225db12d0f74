//! A client of TiDB's status port (`:10080`) for the DDL history: `GET /ddl/history`, paged
//! (spec `real-cluster.md` §3.1; TiDB v8.1 `DDLHistoryJobHandler` and `ScanHistoryDDLJobs`):
//! - `?limit=N`: the newest N jobs, descending by ID;
//! - `?start_job_id=X&limit=N`: the jobs with ID ≤ X, descending, at most N;
//! - no parameters: every job at once (v8.1; capped at 1024 from v8.4), never used here.
//!
//! The requests go through [`TidbStatusClient`] (addresses tried in turn, TLS, the blocking
//! pool), shared with the pump's MVCC lookups.

use std::time::{Duration, Instant};

use binlog_node::tidb_status::TidbStatusClient;
use binlog_node::tls::Tls;
use binlog_node::{Error, Result};
use binlog_tidb::Job;

/// Jobs asked for per page (TiDB v8.4+ refuses more than 1024).
const PAGE_SIZE: usize = 1000;

/// How long to wait between two looks for a job not yet in the history.
const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// The largest answer read (a page of jobs with wide tables is tens of MiB).
const MAX_ANSWER_BYTES: u64 = 1 << 30;

/// The DDL history of the TiDB servers behind one or more status ports.
#[derive(Clone, Debug)]
pub struct TidbStatus {
    client: TidbStatusClient,
}

impl TidbStatus {
    /// A client of `addrs`, each `host:port`, `http://host:port` or `https://host:port`
    /// (without a scheme: `https` with `tls`).
    pub fn new(addrs: Vec<String>, tls: Option<Tls>) -> Result<TidbStatus> {
        Ok(TidbStatus {
            client: TidbStatusClient::new(&addrs, tls)?,
        })
    }

    /// The addresses asked, for messages.
    pub fn describe(&self) -> String {
        self.client.describe()
    }

    /// Every job with an ID above `job_id`, in the order the history applies them (by schema
    /// version), finished or not (the history skips those that changed nothing). Pages down
    /// from the newest job until a page reaches `job_id` or the oldest job.
    pub async fn jobs_after(&self, job_id: i64) -> Result<Vec<Job>> {
        let mut newer = Vec::new();
        let mut query = format!("limit={PAGE_SIZE}");
        loop {
            let page = self.history(&query).await?;
            let full = page.len() == PAGE_SIZE;
            let lowest = page.iter().map(|job| job.id).min();
            newer.extend(page.into_iter().filter(|job| job.id > job_id));
            match lowest {
                Some(lowest) if full && lowest > job_id.max(0) + 1 => {
                    query = format!("start_job_id={}&limit={PAGE_SIZE}", lowest - 1);
                }
                _ => break,
            }
        }
        newer.sort_by_key(|job| (job.schema_version(), job.id));
        newer.dedup_by_key(|job| job.id);
        Ok(newer)
    }

    /// Job `id`, looked for until it is in the history or `timeout` passes (a DDL binlog can
    /// arrive before its job reaches the history).
    pub async fn job(&self, id: i64, timeout: Duration) -> Result<Job> {
        let deadline = Instant::now() + timeout;
        loop {
            let page = self.history(&format!("start_job_id={id}&limit=1")).await?;
            if let Some(job) = page.into_iter().find(|job| job.id == id) {
                return Ok(job);
            }
            if Instant::now() >= deadline {
                return Err(Error::TidbStatus {
                    addr: self.describe(),
                    reason: format!("DDL job {id} is not in the DDL history after {timeout:?}"),
                });
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }

    /// `GET /ddl/history?<query>` from the first address that can be reached.
    async fn history(&self, query: &str) -> Result<Vec<Job>> {
        let body = self
            .client
            .get(&format!("/ddl/history?{query}"), MAX_ANSWER_BYTES)
            .await?;
        Job::list_from_json(&body).map_err(|e| Error::TidbStatus {
            addr: self.describe(),
            reason: format!("the answer to /ddl/history?{query} is not a DDL job list: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use binlog_testkit::tidb_jobs;
    use binlog_testkit::tidb_status::TidbStatusStandIn;

    use super::*;

    /// `count` create-table jobs: job `2 * n`, table `2 * n + 1`, schema version `n + 1`.
    fn many_jobs(count: i64) -> Vec<serde_json::Value> {
        let mut jobs = vec![tidb_jobs::create_schema(1, 1, 1000, "shop")];
        for n in 1..count {
            let table = tidb_jobs::table_info(
                2 * n + 1,
                &format!("t{n}"),
                vec![tidb_jobs::column_info(
                    1,
                    "id",
                    0,
                    tidb_jobs::mysql_type::LONG,
                    tidb_jobs::PK_FLAGS,
                )],
            );
            jobs.push(tidb_jobs::create_table(2 * n, n + 1, 1000, "shop", table));
        }
        jobs
    }

    #[tokio::test]
    async fn pages_through_the_whole_history_newer_than_a_job() {
        let stand_in = TidbStatusStandIn::start(many_jobs(2500));
        let client = TidbStatus::new(vec![stand_in.addr().to_owned()], None).unwrap();
        let all = client.jobs_after(0).await.unwrap();
        assert_eq!(all.len(), 2500);
        assert!(all
            .windows(2)
            .all(|pair| pair[0].schema_version() < pair[1].schema_version()));
        assert_eq!(
            stand_in.requests(),
            [
                "limit=1000",
                "start_job_id=2999&limit=1000",
                "start_job_id=999&limit=1000"
            ]
        );

        let newer = client.jobs_after(4000).await.unwrap();
        let ids: Vec<i64> = newer.iter().map(|job| job.id).collect();
        assert_eq!(ids, (2001..2500).map(|n| 2 * n).collect::<Vec<_>>());
        assert_eq!(stand_in.requests().len(), 4, "one page reached job 4000");
        assert!(client.jobs_after(4998).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_job_that_appears_late_is_waited_for_and_one_that_never_does_is_an_error() {
        let stand_in = TidbStatusStandIn::start(many_jobs(3));
        let client = TidbStatus::new(
            vec![
                "127.0.0.1:1".to_owned(),
                format!("http://{}/", stand_in.addr()),
            ],
            None,
        )
        .unwrap();
        assert_eq!(client.job(4, Duration::ZERO).await.unwrap().id, 4);

        let late = tidb_jobs::create_schema(10, 9, 2000, "late");
        let jobs = stand_in.job_list();
        let appender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            jobs.push(late);
        });
        let job = client.job(10, Duration::from_secs(10)).await.unwrap();
        assert_eq!((job.id, job.schema_version()), (10, 9));
        appender.join().unwrap();

        let error = client
            .job(7, Duration::from_millis(300))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("DDL job 7"), "{error}");
        assert!(error.contains(stand_in.addr()), "{error}");
    }

    #[tokio::test]
    async fn no_reachable_address_is_an_error_naming_them() {
        let client = TidbStatus::new(vec!["127.0.0.1:1".to_owned()], None).unwrap();
        let error = client.jobs_after(0).await.unwrap_err().to_string();
        assert!(
            error.contains("http://127.0.0.1:1/ddl/history?limit=1000"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_scripted_history_fetched_from_the_stand_in_replays() {
        use binlog_tidb::SchemaHistory;
        use tidb_jobs::{column_info, mysql_type, table_info, PK_FLAGS};

        let id = column_info(1, "id", 0, mysql_type::LONG, PK_FLAGS);
        let name = |offset| column_info(2, "name", offset, mysql_type::VARCHAR, 0);
        let orders = |table_id, columns| {
            let table = table_info(table_id, "orders", columns);
            let table = tidb_jobs::with_indexes(
                table,
                vec![tidb_jobs::index_info(
                    1,
                    "uk_name",
                    &[("name", 1)],
                    true,
                    false,
                )],
            );
            tidb_jobs::with_partitions(table, &[(table_id + 1, "p0"), (table_id + 2, "p1")])
        };
        let stand_in = TidbStatusStandIn::start(vec![
            tidb_jobs::create_schema(1, 10, 100, "shop"),
            tidb_jobs::create_table(2, 11, 100, "shop", table_info(110, "t", vec![id.clone()])),
            tidb_jobs::create_table(3, 12, 100, "shop", orders(120, vec![id.clone(), name(1)])),
            tidb_jobs::add_column(
                4,
                13,
                100,
                "shop",
                table_info(110, "t", vec![id.clone(), name(1)]),
            ),
            tidb_jobs::drop_column(5, 14, 100, "shop", table_info(110, "t", vec![id.clone()])),
            tidb_jobs::truncate_table(
                6,
                15,
                100,
                "shop",
                120,
                orders(130, vec![id.clone(), name(1)]),
            ),
            tidb_jobs::rename_table(7, 16, 100, "shop", table_info(110, "t2", vec![id.clone()])),
            tidb_jobs::drop_table(8, 17, 100, "shop", 110, "t2"),
        ]);
        let client = TidbStatus::new(vec![stand_in.addr().to_owned()], None).unwrap();
        let mut history = SchemaHistory::new();
        for job in client.jobs_after(0).await.unwrap() {
            history.apply(&job).unwrap();
        }
        assert_eq!((history.schema_version(), history.max_job_id()), (17, 8));
        assert_eq!(history.table(110, 13).unwrap().columns.len(), 2);
        assert_eq!(history.table(110, 14).unwrap().columns.len(), 1);
        assert_eq!(history.table(110, 16).unwrap().qualified_name(), "shop.t2");
        assert!(history.table(110, 17).is_err());
        let partition = history.table(121, 12).unwrap();
        assert_eq!((partition.id, partition.unique_keys.len()), (120, 1));
        assert!(history.table(121, 15).is_err(), "truncated away");
        assert_eq!(history.table(132, 15).unwrap().id, 130);
        let truncate = client.job(6, Duration::ZERO).await.unwrap();
        assert_eq!(
            history.ddl_target(&truncate),
            ("shop".to_owned(), "orders".to_owned())
        );
    }
}
