//! A client of TiDB's status port (`:10080`) for the DDL history: `GET /ddl/history`, paged
//! (spec `real-cluster.md` §3.1; TiDB v8.1 `DDLHistoryJobHandler` and `ScanHistoryDDLJobs`):
//! - `?limit=N`: the newest N jobs, descending by ID;
//! - `?start_job_id=X&limit=N`: the jobs with ID ≤ X, descending, at most N;
//! - no parameters: every job at once (v8.1; capped at 1024 from v8.4), never used here.
//!
//! HTTP through `ureq` (blocking, already the workspace's client) on tokio's blocking pool: a
//! few calls at start and one per DDL binlog do not need an async client. With `[security]`,
//! addresses without a scheme are `https://` (TiDB's `cluster-ssl-*` status port), and each
//! call reads the TLS files anew, so a rotated client certificate is used from the next call.
//! Each call tries the addresses in turn, from the last one that answered, when one cannot be
//! reached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use binlog_node::tls::{http_agent, url_with_scheme, Tls};
use binlog_node::{Error, Result};
use binlog_tidb::Job;

/// Jobs asked for per page (TiDB v8.4+ refuses more than 1024).
const PAGE_SIZE: usize = 1000;

/// How long one request may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long to wait between two looks for a job not yet in the history.
const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// The largest answer read (a page of jobs with wide tables is tens of MiB).
const MAX_ANSWER_BYTES: u64 = 1 << 30;

/// A client of the status ports of one or more TiDB servers.
#[derive(Clone, Debug)]
pub struct TidbStatus {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// `http(s)://host:port`, without a trailing slash.
    base_urls: Vec<String>,
    /// The address that answered last: tried first.
    preferred: AtomicUsize,
    /// `[security]`, for `https://` addresses.
    tls: Option<Tls>,
}

impl TidbStatus {
    /// A client of `addrs`, each `host:port`, `http://host:port` or `https://host:port`
    /// (without a scheme: `https` with `tls`).
    pub fn new(addrs: Vec<String>, tls: Option<Tls>) -> Result<TidbStatus> {
        let base_urls = addrs
            .iter()
            .map(|addr| {
                url_with_scheme(addr.trim_end_matches('/'), tls.as_ref(), "tidb-status-addr")
            })
            .collect::<Result<Vec<String>>>()?;
        Ok(TidbStatus {
            shared: Arc::new(Shared {
                base_urls,
                preferred: AtomicUsize::new(0),
                tls,
            }),
        })
    }

    /// The addresses asked, for messages.
    pub fn describe(&self) -> String {
        self.shared.base_urls.join(",")
    }

    /// Every job with an ID above `job_id`, in the order the history applies them (by schema
    /// version), finished or not (the history skips those that changed nothing). Pages down
    /// from the newest job until a page reaches `job_id` or the oldest job.
    pub async fn jobs_after(&self, job_id: i64) -> Result<Vec<Job>> {
        let mut newer = Vec::new();
        let mut query = format!("limit={PAGE_SIZE}");
        loop {
            let page = self.history(query).await?;
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
            let page = self.history(format!("start_job_id={id}&limit=1")).await?;
            if let Some(job) = page.into_iter().find(|job| job.id == id) {
                return Ok(job);
            }
            if Instant::now() >= deadline {
                return Err(Error::TidbStatus {
                    addr: self.shared.base_urls.join(", "),
                    reason: format!("DDL job {id} is not in the DDL history after {timeout:?}"),
                });
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }

    /// `GET /ddl/history?<query>` from the first address that can be reached.
    async fn history(&self, query: String) -> Result<Vec<Job>> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.history(&query))
            .await
            .map_err(|e| Error::TidbStatus {
                addr: self.shared.base_urls.join(", "),
                reason: format!("the request task failed: {e}"),
            })?
    }
}

impl Shared {
    fn history(&self, query: &str) -> Result<Vec<Job>> {
        let agent = http_agent(self.tls.as_ref(), REQUEST_TIMEOUT)?;
        let count = self.base_urls.len();
        let first = self.preferred.load(Ordering::Relaxed);
        let mut unreachable = Vec::new();
        for index in (0..count).map(|step| (first + step) % count) {
            let url = format!("{}/ddl/history?{query}", self.base_urls[index]);
            match get(&agent, &url) {
                Ok(answer) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return answer;
                }
                Err(e) => {
                    tracing::warn!(%url, error = %e, "TiDB status port unreachable");
                    unreachable.push(format!("{url}: {e}"));
                }
            }
        }
        Err(Error::TidbStatus {
            addr: self.base_urls.join(", "),
            reason: format!("no address answered: {}", unreachable.join("; ")),
        })
    }
}

/// One request: the outer error is a transport failure (try another address), the inner one an
/// answer that is not a job list.
fn get(agent: &ureq::Agent, url: &str) -> std::result::Result<Result<Vec<Job>>, ureq::Error> {
    let mut response = agent.get(url).call()?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()?;
    let refused = |reason: String| Error::TidbStatus {
        addr: url.to_owned(),
        reason,
    };
    if status != 200 {
        let text = String::from_utf8_lossy(&body);
        return Ok(Err(refused(format!("status {status}: {}", text.trim()))));
    }
    Ok(Job::list_from_json(&body)
        .map_err(|e| refused(format!("the answer is not a DDL job list: {e}"))))
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
