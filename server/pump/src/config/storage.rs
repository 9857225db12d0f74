//! `[storage]`: the original's keys, and the storage engine's own ([`binlog_engine::Config`],
//! flattened in so that every engine key is a `[storage]` key and the two cannot drift).

use serde::{Deserialize, Serialize};

/// Default of `[storage] slow_write_threshold`, in seconds, also used for values <= 0.
pub const DEFAULT_SLOW_WRITE_THRESHOLD: f64 = 1.0;

/// `[storage]`: the original's keys, then the storage engine's (every key of
/// [`binlog_engine::Config`] but its `dir`, which is `data-dir`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct StorageConfig {
    /// The original's KV channel capacity; there is no such channel here: accepted and ignored.
    /// Default none.
    #[serde(rename = "kv_chan_cap")]
    pub kv_chan_cap: Option<i64>,
    /// A storage write slower than this many seconds is logged; <= 0 means the default.
    /// Default 1.0.
    #[serde(rename = "slow_write_threshold")]
    pub slow_write_threshold: f64,
    /// `[storage.kv]`: the original's goleveldb tuning, accepted and ignored.
    pub kv: KvConfig,
    /// The engine's keys: `sync-log`, `stop-write-at-available-space` (the original's), then
    /// `io-backend`, `segment-size`, `gc-prewrite-margin`, ... (ours). Sizes are humanized
    /// bytes (`"42 MB"` = 42 * 10^6, `"42 mib"` = 44040192, `""` = 0) or an integer.
    #[serde(flatten)]
    pub engine: binlog_engine::Config,
}

impl Default for StorageConfig {
    fn default() -> StorageConfig {
        StorageConfig {
            kv_chan_cap: None,
            slow_write_threshold: DEFAULT_SLOW_WRITE_THRESHOLD,
            kv: KvConfig::default(),
            engine: binlog_engine::Config::default(),
        }
    }
}

impl StorageConfig {
    /// Dotted keys the file set that this build accepts but does not use: `kv_chan_cap` and
    /// the goleveldb tuning of `[storage.kv]`.
    pub fn ignored_keys(&self) -> Vec<String> {
        let kv = &self.kv;
        let kv_keys = [
            ("block-cache-capacity", kv.block_cache_capacity.is_some()),
            (
                "block-restart-interval",
                kv.block_restart_interval.is_some(),
            ),
            ("block-size", kv.block_size.is_some()),
            ("compaction-L0-trigger", kv.compaction_l0_trigger.is_some()),
            ("compaction-table-size", kv.compaction_table_size.is_some()),
            ("compaction-total-size", kv.compaction_total_size.is_some()),
            (
                "compaction-total-size-multiplier",
                kv.compaction_total_size_multiplier.is_some(),
            ),
            ("write-buffer", kv.write_buffer.is_some()),
            (
                "write-L0-pause-trigger",
                kv.write_l0_pause_trigger.is_some(),
            ),
            (
                "write-L0-slowdown-trigger",
                kv.write_l0_slowdown_trigger.is_some(),
            ),
        ];
        let chan = self.kv_chan_cap.map(|_| "storage.kv_chan_cap".to_owned());
        chan.into_iter()
            .chain(
                kv_keys
                    .into_iter()
                    .filter(|&(_, set)| set)
                    .map(|(key, _)| format!("storage.kv.{key}")),
            )
            .collect()
    }
}

/// `[storage.kv]`: the original's goleveldb options. There is no LevelDB here, so they are only
/// type-checked and reported by [`StorageConfig::ignored_keys`]. Every default is none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct KvConfig {
    /// Ignored (the original's default 8 MiB).
    pub block_cache_capacity: Option<i64>,
    /// Ignored (the original's default 16).
    pub block_restart_interval: Option<i64>,
    /// Ignored (the original's default 4 KiB).
    pub block_size: Option<i64>,
    /// Ignored (the original's default 8).
    #[serde(rename = "compaction-L0-trigger")]
    pub compaction_l0_trigger: Option<i64>,
    /// Ignored (the original's default 64 MiB).
    pub compaction_table_size: Option<i64>,
    /// Ignored (the original's default 512 MiB).
    pub compaction_total_size: Option<i64>,
    /// Ignored (the original's default 8.0).
    pub compaction_total_size_multiplier: Option<f64>,
    /// Ignored (the original's default 64 MiB).
    pub write_buffer: Option<i64>,
    /// Ignored (the original's default 24).
    #[serde(rename = "write-L0-pause-trigger")]
    pub write_l0_pause_trigger: Option<i64>,
    /// Ignored (the original's default 17).
    #[serde(rename = "write-L0-slowdown-trigger")]
    pub write_l0_slowdown_trigger: Option<i64>,
}
