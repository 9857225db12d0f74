//! `binlog-engine`: the pump's storage engine. A segmented, CRC-checked, append-only log of
//! binlogs with a TS index, group-committed through `pwrite` (or io_uring), read through mmap.
//!
//! Module map:
//! - [`record`]: a record's kinds and byte layout; encoding in the caller, validation on read.
//! - [`segment`]: segment files: header, footer, statistics, the recovery scan.
//! - [`index`]: index entries, the active segment's lock-free index, `.idx` files, merged walks.
//! - [`sorter`]: the watermark rule of the original pump, snapshottable.
//! - [`writer`]: the group-commit writer thread that owns the active segment.
//! - [`log_io`], [`pwrite_io`], [`uring_io`]: the writer's I/O trait and its two backends.
//! - [`log_files`]: the segment set readers see, sealed-segment indexes, spare files.
//! - [`pull`]: `pull_commits`, the stream of commits with their prewrites.
//! - [`housekeeper`]: next-segment preparation, `.idx` writing, checkpoints, free space.
//! - [`engine`]: open, the public API, GC; [`shared`]: the state its threads share.
//! - [`recovery`]: checking sealed segments, replaying the sorter, cutting a torn tail.
//! - [`inspect`]: offline inspection and repair of segments and `.idx` files (`binlog-inspect`).
//! - [`meta`], [`data_dir`]: the meta file; the data dir lock and free space.
//! - [`config`], [`error`], [`metrics`]: configuration, the error type, metrics.
//!
//! On-disk layout under the data dir:
//! ```text
//! .lock                      flock held while open (holds the pid)
//! meta                       GC point and sorter checkpoint, replaced atomically
//! log/<20-digit id>.seg      segments
//! log/<20-digit id>.idx      sorted index of a sealed segment (rebuilt from it when missing)
//! log/spare-<n>              prepared files waiting to become the next segment
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod data_dir;
pub mod engine;
pub mod error;
pub mod housekeeper;
pub mod index;
pub mod inspect;
pub mod log_files;
pub mod log_io;
pub mod meta;
pub mod metrics;
pub mod pull;
pub mod pwrite_io;
pub mod record;
pub mod recovery;
pub mod segment;
pub mod shared;
pub mod sorter;
pub mod uring_io;
pub mod writer;

pub use config::{Config, IoBackend, Preallocate, ReadableSize};
pub use engine::{Engine, GcOutcome, StoredRecord};
pub use error::{Error, Result};
pub use index::Position;
pub use log_io::{IoFailure, LogIo, Written};
pub use metrics::MetricsSnapshot;
pub use pull::PulledBinlog;
pub use pwrite_io::PwriteIo;
pub use record::{Kind, Record};
pub use uring_io::UringIo;
