//! Recovery at open: sealed segments are checked by their footer only, segments from the
//! sorter checkpoint on are replayed into the sorter, and the last unsealed segment becomes the
//! active one again, its torn tail (and only its tail) cut off.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, IoContext, Result};
use crate::index::{IndexEntry, Position};
use crate::log_files::{map_segment, ActiveSegment, ReadContext, SealedSegment};
use crate::segment::{
    check_header, decode_footer, encode_footer, encode_header, parse_segment_file_name,
    scan_records, segment_path, surviving_records, ScanEnd, SegmentStats, FOOTER_LEN,
    SEGMENT_HEADER_LEN,
};
use crate::sorter::Sorter;
use crate::writer::{index_record, open_active};

/// What a listing of a log dir finds: see [`scan_log_dir`].
#[derive(Debug, Default)]
pub struct LogDirListing {
    /// Ids of the `.seg` files, ascending.
    pub ids: Vec<u64>,
    /// `.idx` files whose segment is gone (GC removed it while its index was being written).
    pub orphan_indexes: Vec<PathBuf>,
}

/// Lists the segments and orphan indexes in `log_dir` without changing anything.
pub fn scan_log_dir(log_dir: &Path) -> Result<LogDirListing> {
    let mut ids = Vec::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(log_dir).context(|| format!("list {}", log_dir.display()))? {
        let entry = entry.context(|| format!("list {}", log_dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".seg") {
            let id = parse_segment_file_name(&name).ok_or_else(|| Error::Corruption {
                file: entry.path(),
                offset: 0,
                reason: "unexpected .seg file name (expected 20 digits)".into(),
            })?;
            ids.push(id);
        } else if let Some(id) = name
            .strip_suffix(".idx")
            .and_then(|digits| digits.parse::<u64>().ok())
        {
            indexes.push((id, entry.path()));
        }
    }
    ids.sort_unstable();
    let mut orphan_indexes: Vec<PathBuf> = indexes
        .into_iter()
        .filter(|(id, _)| ids.binary_search(id).is_err())
        .map(|(_, path)| path)
        .collect();
    orphan_indexes.sort();
    Ok(LogDirListing {
        ids,
        orphan_indexes,
    })
}

/// Ids of the `.seg` files in `log_dir`, ascending. Removes `.idx` files whose segment is gone
/// (GC removed it while its index was being written).
pub fn list_segments(log_dir: &Path) -> Result<Vec<u64>> {
    let listing = scan_log_dir(log_dir)?;
    for path in listing.orphan_indexes {
        fs::remove_file(&path).context(|| format!("remove orphan index {}", path.display()))?;
    }
    Ok(listing.ids)
}

/// The segment found active on disk: its file, reader view and statistics.
pub type RecoveredActive = (File, Arc<ActiveSegment>, SegmentStats);

/// What recovery found.
pub struct Recovered {
    /// Sealed segments, checked by footer, ascending.
    pub sealed: Vec<Arc<SealedSegment>>,
    /// The unsealed last segment, if there is one.
    pub active: Option<RecoveredActive>,
    /// With `active`: the sorter state just before its first record, to checkpoint so that the
    /// next recovery starts there.
    pub active_checkpoint: Option<Vec<u8>>,
}

/// Validates sealed segments by footer, replays segments from `replay_from` into `sorter`, and
/// recovers the last unsealed segment (truncating a torn tail) as the active one.
pub fn recover_segments(
    config: &Config,
    context: &ReadContext,
    ids: &[u64],
    replay_from: u64,
    sorter: &mut Sorter,
) -> Result<Recovered> {
    let replayed: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|&id| id >= replay_from)
        .collect();
    let contiguous =
        replayed.first() == Some(&replay_from) && replayed.windows(2).all(|w| w[1] == w[0] + 1);
    if !ids.is_empty() && !contiguous {
        return Err(Error::Corruption {
            file: segment_path(&context.log_dir, replay_from),
            offset: 0,
            reason: format!(
                "the sorter checkpoint replays segments from {replay_from} on, but the segments from there are {replayed:?}: one it needs is missing"
            ),
        });
    }
    let mut sealed = Vec::new();
    let mut active = None;
    let mut active_checkpoint = None;
    let mut emitted = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let is_last = i + 1 == ids.len();
        let path = segment_path(&context.log_dir, id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .context(|| format!("open segment {}", path.display()))?;
        let len = file
            .metadata()
            .context(|| format!("stat {}", path.display()))?
            .len();
        let replay = id >= replay_from;
        if replay {
            // What a killed process wrote may still sit in the page cache only: make it durable
            // before anything (a checkpoint, the next segment) is built on it.
            file.sync_data()
                .context(|| format!("sync {}", path.display()))?;
        }
        let map = map_segment(&path, &file, len)?;
        let corruption = |offset: u64, reason: String| Error::Corruption {
            file: path.clone(),
            offset,
            reason,
        };
        let footer = map
            .get(map.len().saturating_sub(FOOTER_LEN)..)
            .ok_or_else(|| "file too short".to_string())
            .and_then(|tail| decode_footer(tail, id, len));
        if let Err(reason) = check_header(&map, id) {
            if !(is_last && footer.is_err()) {
                return Err(corruption(0, reason));
            }
            // A spare renamed into place whose header never reached the disk holds nothing
            // acknowledged (the header is synced with the first group): start it afresh. Valid
            // records behind a bad header are damage, not that case.
            let survivors = surviving_records(&map, id);
            if let Some(at) = survivors.filter(|_| !context.skip_corrupt) {
                return Err(corruption(
                    0,
                    format!("{reason}, yet records that may have been acknowledged follow (at offset {at}); set skip-corrupt-records to keep them under a rewritten header"),
                ));
            }
            tracing::warn!(file = %path.display(), reason, "active segment has no valid header; rewriting it");
            file.write_all_at(&encode_header(id), 0)
                .context(|| format!("write header of {}", path.display()))?;
            if survivors.is_none() {
                // Leftovers of a first group that never completely reached the disk go too.
                file.set_len(SEGMENT_HEADER_LEN as u64)
                    .context(|| format!("truncate {}", path.display()))?;
            }
        }
        if is_last && footer.is_err() {
            active_checkpoint = Some(sorter.encode());
        }
        let mut feed = |record: &crate::record::RecordView<'_>,
                        offset: u64,
                        entries: Option<&mut Vec<IndexEntry>>| {
            let position = Position {
                segment_id: id,
                offset: offset as u32,
            };
            let entry = index_record(
                sorter,
                position,
                record.kind,
                record.start_ts,
                record.commit_ts,
                record.payload.len() as u32,
                &mut emitted,
                |_| None,
            );
            if let Some(entries) = entries {
                entries.push(entry);
            }
        };
        let sealed_segment = match footer {
            Ok(stats) => {
                if replay {
                    let outcome = scan_records(
                        &path,
                        &map,
                        stats.data_end as usize,
                        id,
                        false,
                        context.skip_corrupt,
                        |scanned| feed(&scanned.record, scanned.offset, None),
                    )?;
                    if outcome.data_end != stats.data_end && !context.skip_corrupt {
                        return Err(corruption(
                            outcome.data_end,
                            "invalid record inside a sealed segment".into(),
                        ));
                    }
                }
                Some((stats, map))
            }
            Err(reason) if !is_last => {
                if !context.skip_corrupt {
                    return Err(corruption(
                        len.saturating_sub(FOOTER_LEN as u64),
                        format!("{reason}, but later segments exist (set skip-corrupt-records to re-seal it from its valid records)"),
                    ));
                }
                let mut stats = SegmentStats::empty();
                let outcome =
                    scan_records(&path, &map, len as usize, id, false, true, |scanned| {
                        let record = &scanned.record;
                        stats.add_record(record);
                        if replay {
                            feed(record, scanned.offset, None);
                        }
                    })?;
                // Skipped stretches stay inside: the footer goes after the last valid record.
                stats.data_end = outcome.data_end;
                drop(map);
                tracing::warn!(file = %path.display(), reason, records = stats.record_count, "re-sealing a damaged segment from its valid records");
                file.write_all_at(&encode_footer(id, &stats), stats.data_end)
                    .and_then(|()| file.set_len(stats.data_end + FOOTER_LEN as u64))
                    .and_then(|()| file.sync_all())
                    .context(|| format!("re-seal {}", path.display()))?;
                let map = map_segment(&path, &file, stats.data_end + FOOTER_LEN as u64)?;
                Some((stats, map))
            }
            Err(_) => {
                drop(map);
                let (file, segment) = open_active(&path, id, config.segment_size.0)?;
                let mut stats = SegmentStats::empty();
                let mut entries = Vec::new();
                let outcome = scan_records(
                    &path,
                    &segment.map,
                    segment.map.len(),
                    id,
                    true,
                    context.skip_corrupt,
                    |scanned| {
                        let record = &scanned.record;
                        stats.add_record(record);
                        // The active segment is replayed whatever the checkpoint says.
                        feed(record, scanned.offset, Some(&mut entries));
                    },
                )?;
                // Skipped stretches count as used space: the next group goes after the last record.
                stats.data_end = outcome.data_end;
                if let ScanEnd::TornTail { fault, garbage_end } = outcome.end {
                    tracing::warn!(
                        file = %path.display(),
                        offset = outcome.data_end,
                        reason = fault.describe(),
                        "active segment ends in a torn or unused tail; appending from the last valid record"
                    );
                    if garbage_end > outcome.data_end {
                        // Leftovers of the torn group must never be read back as records.
                        let zeros = vec![0u8; (garbage_end - outcome.data_end) as usize];
                        file.write_all_at(&zeros, outcome.data_end)
                            .and_then(|()| file.sync_data())
                            .context(|| format!("clear torn tail of {}", path.display()))?;
                    }
                }
                segment.index.push_group(entries);
                active = Some((file, segment, stats));
                None
            }
        };
        if let Some((stats, map)) = sealed_segment {
            sealed.push(Arc::new(SealedSegment::new(
                id,
                path,
                Arc::new(map),
                stats,
                None,
            )));
        }
    }
    Ok(Recovered {
        sealed,
        active,
        active_checkpoint,
    })
}
