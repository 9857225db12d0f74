//! What the loader needs to know of a downstream table: which columns are generated (never
//! written) and its unique keys, primary key first. Read from the downstream's
//! `information_schema` (as the original: the upstream schema is not needed, so reparo loads the
//! same way), cached per table and dropped after a DDL on it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::db_error::DbError;
use crate::session::Timed;

const COLUMNS_SQL: &str = "SELECT column_name, extra FROM information_schema.columns \
                           WHERE table_schema = ? AND table_name = ?";
const UNIQUE_KEYS_SQL: &str = "SELECT index_name, seq_in_index, column_name \
                               FROM information_schema.statistics \
                               WHERE table_schema = ? AND table_name = ? AND non_unique = 0";

/// A unique key of a downstream table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UniqueKey {
    /// Index name (`PRIMARY` for the primary key).
    pub name: String,
    /// Its columns, in index order.
    pub columns: Vec<String>,
}

/// A downstream table's generated columns and unique keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TableInfo {
    /// Columns the server computes; rows never write them.
    pub generated: HashSet<String>,
    /// The primary key first, then the other unique keys by name: a stable order, so the same
    /// row is dispatched to the same worker in every run.
    pub unique_keys: Vec<UniqueKey>,
}

impl TableInfo {
    /// Reads a table's columns and keys; `None` when the downstream has no such table.
    async fn read(
        session: &mut Timed<'_>,
        db: &str,
        table: &str,
    ) -> Result<Option<TableInfo>, DbError> {
        let columns: Vec<(String, String)> = session.exec(COLUMNS_SQL, (db, table)).await?;
        if columns.is_empty() {
            return Ok(None);
        }
        let generated = columns
            .into_iter()
            .filter(|(_, extra)| extra.to_ascii_uppercase().contains("GENERATED"))
            .map(|(name, _)| name)
            .collect();
        let parts: Vec<(String, u32, String)> = session.exec(UNIQUE_KEYS_SQL, (db, table)).await?;
        let mut keys: BTreeMap<String, BTreeMap<u32, String>> = BTreeMap::new();
        for (index, position, column) in parts {
            keys.entry(index).or_default().insert(position, column);
        }
        let mut unique_keys: Vec<UniqueKey> = keys
            .into_iter()
            .map(|(name, columns)| UniqueKey {
                name,
                columns: columns.into_values().collect(),
            })
            .collect();
        // Primary first; the rest stay in name order (a stable sort).
        unique_keys.sort_by_key(|key| key.name != "PRIMARY");
        Ok(Some(TableInfo {
            generated,
            unique_keys,
        }))
    }
}

/// Table infos by (database, table), read on first use.
#[derive(Default)]
pub(crate) struct TableInfoCache {
    tables: HashMap<(String, String), Arc<TableInfo>>,
}

impl TableInfoCache {
    /// The table's info when cached.
    pub fn cached(&self, db: &str, table: &str) -> Option<Arc<TableInfo>> {
        self.tables.get(&(db.to_owned(), table.to_owned())).cloned()
    }

    /// Reads the table's info from the downstream and caches it; `None` when it has no such
    /// table (nothing is cached then).
    pub async fn load(
        &mut self,
        session: &mut Timed<'_>,
        db: &str,
        table: &str,
    ) -> Result<Option<Arc<TableInfo>>, DbError> {
        let Some(info) = TableInfo::read(session, db, table).await? else {
            return Ok(None);
        };
        if info.unique_keys.is_empty() {
            tracing::warn!(db, table, "table has no primary or unique key downstream: rows are matched on all their columns, which is slow");
        }
        let info = Arc::new(info);
        self.tables
            .insert((db.to_owned(), table.to_owned()), Arc::clone(&info));
        Ok(Some(info))
    }

    /// Forgets what a DDL may have changed: one table, or every table of the database when the
    /// DDL names none (`DROP DATABASE`).
    pub fn evict(&mut self, db: &str, table: &str) {
        if table.is_empty() {
            self.tables.retain(|(cached_db, _), _| cached_db != db);
        } else {
            self.tables.remove(&(db.to_owned(), table.to_owned()));
        }
    }
}
