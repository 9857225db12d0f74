//! One downstream connection that outlives transient failures: it is opened (and set up) on
//! first use, dropped after a transient error and opened again for the next attempt.
//!
//! Set-up of every new connection, in order: `sql_mode` (when configured), the configured
//! `params`, TiDB's variables (for a TiDB downstream, each only when the server knows it) and
//! last `time_zone = '+00:00'`.

use std::time::Duration;

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{ClientIdentity, Conn, OptsBuilder, Params, SslOpts};

use crate::config::{ConnectionConfig, DbType, DownstreamTls};
use crate::db_error::{timed, DbError};
use crate::error::{LoaderError, Result};

/// TiDB's session variables for a loader, set only when the server accepts them (older TiDBs
/// and MySQL do not know them).
const TIDB_SESSION: &[&str] = &[
    "SET SESSION tidb_txn_mode = 'optimistic'",
    "SET SESSION allow_auto_random_explicit_insert = 1",
    "SET SESSION tidb_placement_mode = 'ignore'",
];

/// Prepared statements each connection keeps: one per SQL shape (table, statement kind, NULLs
/// in the WHERE clause).
const STATEMENT_CACHE: usize = 256;

/// How often and how patiently a piece of work is tried.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Wait before the second try; it doubles for each further try.
    pub first_wait: Duration,
    /// The longest wait between tries.
    pub max_wait: Duration,
    /// Whether every error is retried, not only transient ones.
    pub any_error: bool,
}

/// Row batches and the progress table: transient errors only, 100 ms doubling up to 5 s,
/// about half a minute in all (a restarting server, a deadlock).
pub(crate) const ROW_RETRY: RetryPolicy = RetryPolicy {
    attempts: 12,
    first_wait: Duration::from_millis(100),
    max_wait: Duration::from_secs(5),
    any_error: false,
};

/// DDL: 5 tries 1 s apart (as the original), transient errors only.
pub(crate) const DDL_RETRY: RetryPolicy = RetryPolicy {
    attempts: 5,
    first_wait: Duration::from_secs(1),
    max_wait: Duration::from_secs(1),
    any_error: false,
};

impl RetryPolicy {
    fn wait_before(&self, retry: u32) -> Duration {
        self.first_wait
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.max_wait)
    }
}

/// Runs `$work` (an expression of type `Result<T>`, which may use `?`) on the session's
/// connection as `$timed`, trying again by `$policy` ([`Session::before_retry`]); `$attempt`
/// counts the tries before (0 first). A macro rather than a function taking an async closure:
/// the futures stay provably `Send`, so loaders and workers can be spawned.
macro_rules! with_retries {
    ($session:expr, $policy:expr, |$timed:ident, $attempt:ident| $work:expr) => {{
        let session: &mut $crate::session::Session = $session;
        let mut $attempt: u32 = 0;
        loop {
            let result = match session.timed().await {
                Ok(mut $timed) => async { $work }.await,
                Err(error) => Err(error),
            };
            match result {
                Ok(value) => break Ok(value),
                Err(error) => {
                    if let Err(error) = session.before_retry($policy, &mut $attempt, error).await {
                        break Err(error);
                    }
                }
            }
        }
    }};
}
pub(crate) use with_retries;

/// A connection and the read timeout every exchange on it obeys.
pub(crate) struct Timed<'a> {
    conn: &'a mut Conn,
    read_timeout: Duration,
}

impl Timed<'_> {
    /// Runs a statement without parameters (text protocol: DDL, `BEGIN`, `COMMIT`).
    pub async fn query_drop(&mut self, sql: &str) -> Result<(), DbError> {
        timed(self.read_timeout, self.conn.query_drop(sql)).await
    }

    /// Runs a prepared statement.
    pub async fn exec_drop(
        &mut self,
        sql: &str,
        params: impl Into<Params> + Send,
    ) -> Result<(), DbError> {
        timed(self.read_timeout, self.conn.exec_drop(sql, params)).await
    }

    /// Runs a prepared query and reads all its rows.
    pub async fn exec<T: FromRow + Send + 'static>(
        &mut self,
        sql: &str,
        params: impl Into<Params> + Send,
    ) -> Result<Vec<T>, DbError> {
        timed(self.read_timeout, self.conn.exec(sql, params)).await
    }
}

/// A downstream session, connected lazily.
pub(crate) struct Session {
    config: ConnectionConfig,
    db_type: DbType,
    conn: Option<Conn>,
}

impl Session {
    /// A session that connects on first use.
    pub fn new(config: ConnectionConfig, db_type: DbType) -> Session {
        Session {
            config,
            db_type,
            conn: None,
        }
    }

    /// The connection, opened (and set up) when there is none.
    pub async fn timed(&mut self) -> Result<Timed<'_>> {
        let read_timeout = self.config.read_timeout;
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        Ok(Timed {
            conn: self.conn.insert(conn),
            read_timeout,
        })
    }

    /// After try `attempt` failed with `error`: drops the connection when the failure was
    /// transient, then waits before the next try, or returns the error when `policy` allows
    /// no more.
    pub async fn before_retry(
        &mut self,
        policy: &RetryPolicy,
        attempt: &mut u32,
        error: LoaderError,
    ) -> Result<()> {
        if error.is_transient() {
            self.conn = None;
        }
        *attempt += 1;
        if *attempt >= policy.attempts || !(policy.any_error || error.is_transient()) {
            return Err(error);
        }
        let wait = policy.wait_before(*attempt);
        tracing::warn!(%error, attempt = *attempt, ?wait, "downstream failed; trying again");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    async fn connect(&self) -> Result<Conn> {
        check_params(&self.config)?;
        let config = &self.config;
        let failed = |server: DbError| LoaderError::Connect {
            addr: config.addr(),
            server,
        };
        let opts = OptsBuilder::default()
            .ip_or_hostname(config.host.clone())
            .tcp_port(config.port)
            .user(Some(config.user.clone()))
            .pass(Some(config.password.clone()))
            .prefer_socket(false)
            .stmt_cache_size(STATEMENT_CACHE)
            .ssl_opts(config.tls.as_ref().map(ssl_opts));
        let mut conn = timed(config.read_timeout, Conn::new(opts))
            .await
            .map_err(failed)?;
        let mut session = Timed {
            conn: &mut conn,
            read_timeout: config.read_timeout,
        };
        if let Some(sql_mode) = &config.sql_mode {
            session
                .exec_drop("SET SESSION sql_mode = ?", (sql_mode.as_str(),))
                .await
                .map_err(failed)?;
        }
        for (name, value) in &config.params {
            session
                .query_drop(&format!("SET SESSION {name} = {value}"))
                .await
                .map_err(failed)?;
        }
        if self.db_type == DbType::Tidb {
            for statement in TIDB_SESSION {
                if let Err(error) = session.query_drop(statement).await {
                    if error.transient {
                        return Err(failed(error));
                    }
                    tracing::debug!(statement, %error, "the downstream does not take a TiDB session variable");
                }
            }
        }
        session
            .query_drop("SET SESSION time_zone = '+00:00'")
            .await
            .map_err(failed)?;
        Ok(conn)
    }
}

/// mysql_async's TLS options for `tls`: only its CA trusted (no built-in web roots), the host
/// name checked, the client certificate presented when set.
fn ssl_opts(tls: &DownstreamTls) -> SslOpts {
    SslOpts::default()
        .with_root_certs(vec![tls.ca.clone().into()])
        .with_disable_built_in_roots(true)
        .with_client_identity(
            tls.identity
                .as_ref()
                .map(|(cert, key)| ClientIdentity::new(cert.clone().into(), key.clone().into())),
        )
}

/// Session variable names are written into `SET` statements: only plain names pass, and not
/// `time_zone`, which the loader fixes to UTC.
fn check_params(config: &ConnectionConfig) -> Result<()> {
    for name in config.params.keys() {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(LoaderError::InvalidParam {
                name: name.clone(),
                reason: "not a plain variable name",
            });
        }
        if name.eq_ignore_ascii_case("time_zone") {
            return Err(LoaderError::InvalidParam {
                name: name.clone(),
                reason: "sessions run in UTC ('+00:00'), as the timestamps they write arrive",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_param(name: &str) -> ConnectionConfig {
        let mut config = ConnectionConfig::default();
        config.params.insert(name.to_owned(), "1".to_owned());
        config
    }

    #[test]
    fn only_plain_variable_names_other_than_time_zone_are_set() {
        assert_eq!(check_params(&with_param("foreign_key_checks")), Ok(()));
        for name in ["a = 1; DROP TABLE t; SET b", "", "TIME_ZONE"] {
            let error = check_params(&with_param(name)).unwrap_err();
            assert!(
                matches!(&error, LoaderError::InvalidParam { name: rejected, .. } if rejected == name),
                "{error}"
            );
        }
    }

    #[test]
    fn waits_double_up_to_the_longest() {
        let waits: Vec<u64> = (1..=8)
            .map(|retry| ROW_RETRY.wait_before(retry).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }
}
