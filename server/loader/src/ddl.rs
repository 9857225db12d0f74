//! Running a DDL downstream: `USE <db>` first when it names a database (not for `CREATE
//! DATABASE`, whose database does not exist yet: the original's `isCreateDatabaseDDL`), then the
//! statement,
//! tried again on transient errors (5 tries, 1 s apart). Errors saying the change is already
//! there (or the object already gone) pass with a warning, as in the original
//! (`pkg/sql.IgnoreDDLError`): a DDL replayed after a crash meets exactly those.

use crate::error::{LoaderError, Result};
use crate::session::{with_retries, Session, DDL_RETRY};
use crate::statement::quote_name;
use crate::txn::Ddl;

/// Server error codes of a DDL that finds its work done: 1007 database exists, 1008 database
/// to drop does not exist, 1049 unknown database, 1050 table exists, 1051 unknown table (drop),
/// 1054 unknown column, 1060 duplicate column, 1061 duplicate key name, 1091 can't drop a field
/// or key (check that it exists), 1146 table doesn't exist, 1176 key doesn't exist.
const TOLERATED_CODES: &[u16] = &[
    1007, 1008, 1049, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1176,
];

/// Whether `query` is `CREATE DATABASE` or `CREATE SCHEMA` (any case, after blanks and
/// `/* ... */` comments, such as TiDB's `/*T! ... */` ones).
fn creates_database(query: &str) -> bool {
    let mut rest = query.trim_start();
    while let Some(comment) = rest.strip_prefix("/*") {
        match comment.find("*/") {
            Some(end) => rest = comment[end + 2..].trim_start(),
            None => return false,
        }
    }
    let mut words = rest.split_whitespace().map(str::to_ascii_uppercase);
    words.next().as_deref() == Some("CREATE")
        && matches!(words.next().as_deref(), Some("DATABASE" | "SCHEMA"))
}

/// Runs the DDL committed at `commit_ts`.
pub(crate) async fn run(session: &mut Session, ddl: &Ddl, commit_ts: u64) -> Result<()> {
    let failed = |server| LoaderError::Ddl {
        commit_ts,
        query: ddl.query.clone(),
        server,
    };
    let result = with_retries!(session, &DDL_RETRY, |session, _attempt| {
        if !ddl.db.is_empty() && !creates_database(&ddl.query) {
            session
                .query_drop(&format!("USE {}", quote_name(&ddl.db)))
                .await
                .map_err(failed)?;
        }
        session.query_drop(&ddl.query).await.map_err(failed)
    });
    match result {
        Err(LoaderError::Ddl { server, .. })
            if server
                .code
                .is_some_and(|code| TOLERATED_CODES.contains(&code)) =>
        {
            tracing::warn!(commit_ts, query = %ddl.query, %server, "DDL finds its change already made; passing");
            Ok(())
        }
        Err(error) => Err(error),
        Ok(()) => {
            tracing::info!(commit_ts, query = %ddl.query, "DDL applied");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::creates_database;

    #[test]
    fn only_create_database_runs_without_use() {
        for query in [
            "CREATE DATABASE `shop`",
            "  create schema if not exists s",
            "/* a comment */ CREATE\tDATABASE d",
        ] {
            assert!(creates_database(query), "{query}");
        }
        for query in [
            "CREATE TABLE t (a INT)",
            "DROP DATABASE d",
            "ALTER DATABASE d CHARACTER SET utf8mb4",
            "/* unterminated CREATE DATABASE d",
            "",
        ] {
            assert!(!creates_database(query), "{query}");
        }
    }
}
