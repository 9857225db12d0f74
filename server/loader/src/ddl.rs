//! Running a DDL downstream: `USE <db>` first when it names a database (not for `CREATE
//! DATABASE`, whose database does not exist yet: the original's `isCreateDatabaseDDL`), then the
//! statement,
//! tried again on transient errors (5 tries, 1 s apart). Errors saying the change is already
//! there (or the object already gone) pass with a warning, as in the original
//! (`pkg/sql.IgnoreDDLError`): a DDL replayed after a crash meets exactly those.

use crate::error::{LoaderError, Result};
use crate::session::{with_retries, Session, DDL_RETRY};
use crate::statement::quote_name;
use crate::txn::{creates_database, Ddl};

/// Server error codes of a DDL that finds its work done: 1007 database exists, 1008 database
/// to drop does not exist, 1049 unknown database, 1050 table exists, 1051 unknown table (drop),
/// 1054 unknown column, 1060 duplicate column, 1061 duplicate key name, 1091 can't drop a field
/// or key (check that it exists), 1146 table doesn't exist, 1176 key doesn't exist.
const TOLERATED_CODES: &[u16] = &[
    1007, 1008, 1049, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1176,
];

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
