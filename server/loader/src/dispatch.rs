//! Which worker applies a row, and which keys it touches.
//!
//! The worker is `crc32(db, table, key name, values of the row's identity) % workers`: the
//! identity is the current image's first unique key with non-NULL values (the primary key when
//! there is one), else all its written columns. CRC-32 is fixed forever, so the same row goes to
//! the same worker in every run: a worker's progress row then tells exactly which of the rows it
//! is given again were applied.
//!
//! A row's keys, for causality, are every usable unique key of each of its images (old and new
//! for an update), or all its written columns when it has none.

use std::hash::{DefaultHasher, Hash, Hasher};

use binlog_tidb::Value;

use crate::row_view::{Identity, RowView};
use crate::txn::RowKind;

/// Where a row goes and what it touches.
pub(crate) struct RowKeys {
    /// Stable hash of the row's identity; the worker is this modulo the worker count.
    pub dispatch: u32,
    /// Hashes of every key the row touches (collisions only cost a needless barrier).
    pub touched: Vec<u64>,
}

impl RowKeys {
    /// The keys of `view`'s row.
    pub fn of(view: &RowView<'_>) -> RowKeys {
        let current = view.current();
        let dispatch = crc32fast::hash(&key_bytes(view, &view.identity(current), current));
        let images: &[&[Value]] = match view.row.kind {
            RowKind::Update => &[&view.row.old, &view.row.new],
            RowKind::Insert | RowKind::Delete => &[view.current()],
        };
        let mut touched = Vec::new();
        for image in images {
            let before = touched.len();
            touched.extend(
                view.usable_keys(image)
                    .map(|key| local_hash(&key_bytes(view, &key, image))),
            );
            if touched.len() == before {
                touched.push(local_hash(&key_bytes(view, &view.identity(image), image)));
            }
        }
        RowKeys { dispatch, touched }
    }

    /// The worker, of `workers`, that applies the row.
    pub fn worker(&self, workers: usize) -> usize {
        self.dispatch as usize % workers
    }
}

/// `db`, table, key name (empty for all columns) and the values, each length-prefixed.
fn key_bytes(view: &RowView<'_>, identity: &Identity<'_>, image: &[Value]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let table = &view.row.table;
    let name = identity.key.map_or("", |key| key.name.as_str());
    for part in [table.db.as_bytes(), table.table.as_bytes(), name.as_bytes()] {
        push_part(&mut bytes, 0, part);
    }
    for &position in &identity.positions {
        match &image[position] {
            Value::Null => push_part(&mut bytes, 1, &[]),
            Value::Int(v) => push_part(&mut bytes, 2, &v.to_le_bytes()),
            Value::Uint(v) => push_part(&mut bytes, 3, &v.to_le_bytes()),
            Value::Float(v) => push_part(&mut bytes, 4, &v.to_bits().to_le_bytes()),
            Value::Bytes(v) => push_part(&mut bytes, 5, v),
            Value::Text(v) => push_part(&mut bytes, 6, v.as_bytes()),
        }
    }
    bytes
}

fn push_part(bytes: &mut Vec<u8>, tag: u8, part: &[u8]) {
    bytes.push(tag);
    bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
    bytes.extend_from_slice(part);
}

/// A 64-bit hash for this process only (causality keys are never stored).
fn local_hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::table_info::{TableInfo, UniqueKey};
    use crate::txn::{RowEvent, TableRef};

    fn row(kind: RowKind, old: Vec<Value>, new: Vec<Value>) -> RowEvent {
        let table = TableRef {
            db: "d".to_owned(),
            table: "t".to_owned(),
            columns: vec!["id".to_owned(), "u".to_owned()],
        };
        RowEvent {
            table: Arc::new(table),
            kind,
            old,
            new,
        }
    }

    fn keyed() -> TableInfo {
        TableInfo {
            generated: Default::default(),
            unique_keys: vec![
                UniqueKey {
                    name: "PRIMARY".to_owned(),
                    columns: vec!["id".to_owned()],
                },
                UniqueKey {
                    name: "uu".to_owned(),
                    columns: vec!["u".to_owned()],
                },
            ],
        }
    }

    /// The hash decides which worker's progress row accounts for a row: it must never change
    /// between versions, or a replay after an upgrade would apply rows twice.
    #[test]
    fn the_dispatch_hash_is_pinned() {
        let info = keyed();
        let insert = row(
            RowKind::Insert,
            vec![],
            vec![Value::Int(1), Value::Text("x".into())],
        );
        let keys = RowKeys::of(&RowView::new(&insert, &info, 1).unwrap());
        assert_eq!(keys.dispatch, 0x91d1_ce70, "{:#x}", keys.dispatch);
        let keyless = TableInfo::default();
        let keys = RowKeys::of(&RowView::new(&insert, &keyless, 1).unwrap());
        assert_eq!(keys.dispatch, 0x525a_14a6, "{:#x}", keys.dispatch);
    }

    /// Rows go by their primary key, whatever their other columns; a delete by its old image.
    #[test]
    fn rows_of_one_key_go_to_one_worker() {
        let info = keyed();
        let of = |row: &RowEvent| RowKeys::of(&RowView::new(row, &info, 1).unwrap());
        let insert = of(&row(
            RowKind::Insert,
            vec![],
            vec![Value::Int(1), Value::Int(5)],
        ));
        let update = of(&row(
            RowKind::Update,
            vec![Value::Int(1), Value::Int(5)],
            vec![Value::Int(1), Value::Int(6)],
        ));
        let delete = of(&row(
            RowKind::Delete,
            vec![Value::Int(1), Value::Int(6)],
            vec![],
        ));
        assert_eq!(insert.dispatch, update.dispatch);
        assert_eq!(insert.dispatch, delete.dispatch);
        // The update touches both images' keys: id 1, u 5 and u 6 (id 1 twice).
        assert_eq!(update.touched.len(), 4);
        assert!(update.touched.contains(&insert.touched[1]));
        assert!(update.touched.contains(&delete.touched[1]));
    }
}
