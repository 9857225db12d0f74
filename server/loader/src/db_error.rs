//! What the downstream (or the way to it) answered when a statement failed, and whether trying
//! again can help.

use std::future::Future;
use std::time::Duration;

/// Server error codes worth retrying: the statement may succeed on a later attempt.
///
/// MySQL/MariaDB: 1040 too many connections, 1053 server shutdown, 1205 lock wait timeout,
/// 1213 deadlock, 1927 connection killed (MariaDB). TiDB: 8002 and 8022 retryable transaction
/// conflicts, 8028 schema changed during the transaction, 9001 PD timeout, 9002 TiKV timeout,
/// 9003 TiKV busy, 9005 region unavailable, 9007 write conflict.
const TRANSIENT_CODES: &[u16] = &[
    1040, 1053, 1205, 1213, 1927, 8002, 8022, 8028, 9001, 9002, 9003, 9005, 9007,
];

/// A failed exchange with the downstream, kept as text so that it can be reported more than
/// once (a worker's failure answers every later call).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// The server's error code, when the server answered.
    pub code: Option<u16>,
    /// The server's message, or what went wrong on the way to it.
    pub message: String,
    /// Whether the connection was lost or the server asked to try again.
    pub transient: bool,
}

impl DbError {
    /// The server did not answer within `read_timeout`: the connection counts as lost.
    pub(crate) fn timed_out(read_timeout: Duration) -> DbError {
        DbError {
            code: None,
            message: format!("no answer within the read timeout ({read_timeout:?})"),
            transient: true,
        }
    }
}

impl From<mysql_async::Error> for DbError {
    fn from(error: mysql_async::Error) -> Self {
        let message = error.to_string();
        match &error {
            mysql_async::Error::Server(server) => DbError {
                code: Some(server.code),
                transient: TRANSIENT_CODES.contains(&server.code),
                message,
            },
            mysql_async::Error::Io(_) => DbError {
                code: None,
                message,
                transient: true,
            },
            mysql_async::Error::Driver(driver) => DbError {
                code: None,
                transient: matches!(
                    driver,
                    mysql_async::DriverError::ConnectionClosed
                        | mysql_async::DriverError::PacketOutOfOrder
                ),
                message,
            },
            mysql_async::Error::Other(_) | mysql_async::Error::Url(_) => DbError {
                code: None,
                message,
                transient: false,
            },
        }
    }
}

/// Runs one exchange with the server, giving up after `read_timeout`.
pub(crate) async fn timed<T>(
    read_timeout: Duration,
    exchange: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, DbError> {
    match tokio::time::timeout(read_timeout, exchange).await {
        Ok(result) => result.map_err(DbError::from),
        Err(_) => Err(DbError::timed_out(read_timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> DbError {
        DbError::from(mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "m".to_owned(),
            state: "HY000".to_owned(),
        }))
    }

    #[test]
    fn deadlocks_and_lost_connections_are_transient_other_errors_not() {
        assert!(server(1213).transient);
        assert!(server(1205).transient);
        assert!(!server(1062).transient);
        let lost = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(DbError::from(mysql_async::Error::from(lost)).transient);
        assert_eq!(server(1062).code, Some(1062));
    }

    #[tokio::test]
    async fn an_unanswered_exchange_times_out_as_a_lost_connection() {
        let never = std::future::pending::<Result<(), mysql_async::Error>>();
        let error = timed(Duration::from_millis(10), never).await.unwrap_err();
        assert!(error.transient && error.code.is_none(), "{error:?}");
    }
}
