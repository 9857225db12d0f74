//! A row change read against its downstream table: which of its columns are written (generated
//! ones are not) and which columns identify it: its first unique key whose values are all
//! non-NULL (the primary key when it has one), or else all its written columns. Both the SQL
//! (the WHERE clause) and the dispatch to workers identify rows this way.

use binlog_tidb::Value;

use crate::error::{LoaderError, Result};
use crate::table_info::{TableInfo, UniqueKey};
use crate::txn::{RowEvent, RowKind};

/// The columns that identify a row in one of its images.
pub(crate) struct Identity<'a> {
    /// The unique key, `None` when the row is identified by all its written columns.
    pub key: Option<&'a UniqueKey>,
    /// Positions of the identifying columns in the row.
    pub positions: Vec<usize>,
}

/// A row change with its table's downstream info.
pub(crate) struct RowView<'a> {
    /// The row.
    pub row: &'a RowEvent,
    info: &'a TableInfo,
    /// Positions of the columns written (not generated downstream).
    written: Vec<usize>,
}

impl<'a> RowView<'a> {
    /// Checks that the row has one value per column in each image its kind needs.
    pub fn new(row: &'a RowEvent, info: &'a TableInfo, commit_ts: u64) -> Result<RowView<'a>> {
        let columns = row.table.columns.len();
        let images: &[&[Value]] = match row.kind {
            RowKind::Insert => &[&row.new],
            RowKind::Update => &[&row.old, &row.new],
            RowKind::Delete => &[&row.old],
        };
        if let Some(image) = images.iter().find(|image| image.len() != columns) {
            return Err(LoaderError::RowShape {
                db: row.table.db.clone(),
                table: row.table.table.clone(),
                kind: row.kind,
                commit_ts,
                values: image.len(),
                columns,
            });
        }
        let written = (0..columns)
            .filter(|&position| !info.generated.contains(&row.table.columns[position]))
            .collect();
        Ok(RowView { row, info, written })
    }

    /// The image the row has after the change (before it, for a delete): it decides the worker.
    pub fn current(&self) -> &'a [Value] {
        match self.row.kind {
            RowKind::Insert | RowKind::Update => &self.row.new,
            RowKind::Delete => &self.row.old,
        }
    }

    /// Positions of the written columns.
    pub fn written(&self) -> &[usize] {
        &self.written
    }

    /// The name of the column at a position.
    pub fn column(&self, position: usize) -> &'a str {
        &self.row.table.columns[position]
    }

    /// Every unique key whose columns the row lists and whose values in `image` are all
    /// non-NULL, in the table's key order.
    pub fn usable_keys(&self, image: &'a [Value]) -> impl Iterator<Item = Identity<'a>> + 'a {
        let row: &'a RowEvent = self.row;
        let info: &'a TableInfo = self.info;
        let columns = &row.table.columns;
        info.unique_keys.iter().filter_map(move |key| {
            let positions = key
                .columns
                .iter()
                .map(|column| columns.iter().position(|name| name == column))
                .collect::<Option<Vec<usize>>>()?;
            positions
                .iter()
                .all(|&position| !image[position].is_null())
                .then_some(Identity {
                    key: Some(key),
                    positions,
                })
        })
    }

    /// What identifies the row in `image`: its first usable unique key, else all written
    /// columns.
    pub fn identity(&self, image: &'a [Value]) -> Identity<'a> {
        self.usable_keys(image).next().unwrap_or_else(|| Identity {
            key: None,
            positions: self.written.clone(),
        })
    }
}
