//! Engine configuration: kebab-case keys, documented defaults, and [`Config::sanitize`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::record::{RECORD_ALIGN, RECORD_HEADER_LEN};
use crate::segment::{FOOTER_LEN, SEGMENT_HEADER_LEN};

/// A byte count written like the original pump's humanized sizes (go-humanize's `ParseBytes`):
/// `"512MiB"`, `"10 GiB"`, `"42 MB"` (= 42 * 10^6), `"42 mib"` (= 44040192), `"1,000 kb"`, or a
/// plain integer of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadableSize(pub u64);

impl ReadableSize {
    /// `n` mebibytes.
    pub const fn mib(n: u64) -> ReadableSize {
        ReadableSize(n << 20)
    }

    /// `n` gibibytes.
    pub const fn gib(n: u64) -> ReadableSize {
        ReadableSize(n << 30)
    }
}

impl FromStr for ReadableSize {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        // go-humanize accepts thousands separators.
        let number: f64 = number.replace(',', "").parse().map_err(|_| {
            format!("invalid size {text:?}: expected a number with a unit such as \"512MiB\"")
        })?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" | "k" => 1_000,
            "mb" | "m" => 1_000_000,
            "gb" | "g" => 1_000_000_000,
            "tb" | "t" => 1_000_000_000_000,
            "pb" | "p" => 1_000_000_000_000_000,
            "eb" | "e" => 1_000_000_000_000_000_000,
            "kib" | "ki" => 1 << 10,
            "mib" | "mi" => 1 << 20,
            "gib" | "gi" => 1 << 30,
            "tib" | "ti" => 1 << 40,
            "pib" | "pi" => 1 << 50,
            "eib" | "ei" => 1 << 60,
            other => return Err(format!("invalid size {text:?}: unknown unit {other:?}")),
        };
        let bytes = number * multiplier as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
            return Err(format!("invalid size {text:?}: out of range"));
        }
        Ok(ReadableSize(bytes as u64))
    }
}

impl fmt::Display for ReadableSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] = [
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        for (unit, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ReadableSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ReadableSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bytes(bytes) => Ok(ReadableSize(bytes)),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Which I/O backend the writer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoBackend {
    /// io_uring when the kernel allows it, else `pwrite` (the reason is logged at open).
    Auto,
    /// io_uring (linked write + fdatasync in one submission); open fails if unavailable.
    IoUring,
    /// `pwrite` + `fdatasync`, portable.
    Pwrite,
}

/// How a new segment file's space is prepared before the writer uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preallocate {
    /// Write zeros over the whole file and sync it, so appends overwrite written blocks and each
    /// `fdatasync` flushes data only (no journal commit for extent conversion).
    ZeroFill,
    /// `fallocate` the file: cheap to prepare, but each `fdatasync` also commits the journal.
    Fallocate,
}

/// Engine configuration. Keys are kebab-case, as in the pump's `[storage]` TOML section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Data directory. Default `data.pump`.
    pub dir: PathBuf,
    /// Acknowledge an append only once it is on disk (`fdatasync` per group). Default `true`.
    pub sync_log: bool,
    /// I/O backend. Default `auto`.
    pub io_backend: IoBackend,
    /// Size at which the active segment is sealed and the next one started. Default 512 MiB.
    pub segment_size: ReadableSize,
    /// How new segment files are prepared. Default `zero-fill`.
    pub preallocate: Preallocate,
    /// Reuse segment files freed by GC instead of deleting them (their old records never
    /// validate: the CRC covers the segment id). Default `true`.
    pub recycle_segments: bool,
    /// Largest binlog payload accepted. Default 128 MiB.
    pub max_record_size: ReadableSize,
    /// Most bytes one group commit gathers before writing. Default 4 MiB.
    pub max_group_size: ReadableSize,
    /// GC keeps segments holding anything above `gc_ts - gc-prewrite-margin` so that prewrites of
    /// transactions committed after the GC point survive. Default 600 s (as the original).
    #[serde(with = "duration_secs")]
    pub gc_prewrite_margin: Duration,
    /// Appends (other than fake binlogs) fail while free space under `dir` is below this.
    /// Default 10 GiB, as the original.
    pub stop_write_at_available_space: ReadableSize,
    /// On open, skip corrupt records found before the tail instead of refusing to open.
    /// Default `false`.
    pub skip_corrupt_records: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            dir: PathBuf::from("data.pump"),
            sync_log: true,
            io_backend: IoBackend::Auto,
            segment_size: ReadableSize::mib(512),
            preallocate: Preallocate::ZeroFill,
            recycle_segments: true,
            max_record_size: ReadableSize::mib(128),
            max_group_size: ReadableSize::mib(4),
            gc_prewrite_margin: Duration::from_secs(600),
            stop_write_at_available_space: ReadableSize::gib(10),
            skip_corrupt_records: false,
        }
    }
}

/// Largest segment: record offsets are stored as `u32`.
pub const MAX_SEGMENT_SIZE: u64 = u32::MAX as u64 + 1 - (1 << 20);
/// Smallest segment, so that tests can roll often but a segment still holds a record.
pub const MIN_SEGMENT_SIZE: u64 = 4096;

impl Config {
    /// Checks every value and the relations between them.
    pub fn sanitize(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidConfig(message));
        if self.dir.as_os_str().is_empty() {
            return invalid("dir must not be empty".into());
        }
        let segment = self.segment_size.0;
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment) {
            return invalid(format!(
                "segment-size {} is out of range [{}, {}]",
                self.segment_size,
                ReadableSize(MIN_SEGMENT_SIZE),
                ReadableSize(MAX_SEGMENT_SIZE)
            ));
        }
        // Rounded down to the record alignment so that a record of this size, padding included,
        // always fits in an empty segment.
        let largest_payload = (segment
            - (SEGMENT_HEADER_LEN + FOOTER_LEN + RECORD_HEADER_LEN) as u64)
            / RECORD_ALIGN as u64
            * RECORD_ALIGN as u64;
        if self.max_record_size.0 == 0 || self.max_record_size.0 > largest_payload {
            return invalid(format!(
                "max-record-size {} must be between 1 byte and {largest_payload} bytes \
                 (segment-size {} less headers and footer)",
                self.max_record_size, self.segment_size
            ));
        }
        if self.max_group_size.0 == 0 || self.max_group_size.0 > u32::MAX as u64 {
            return invalid(format!(
                "max-group-size {} must be between 1 byte and 4GiB",
                self.max_group_size
            ));
        }
        Ok(())
    }

    /// The GC margin in TSO units (`ms << 18`).
    pub fn gc_margin_tso(&self) -> u64 {
        (self.gc_prewrite_margin.as_millis() as u64) << 18
    }
}

/// Serde for a duration given in whole seconds or as `"600s"`, `"10m"`, `"1h"`.
mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}s", value.as_secs()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Secs(secs) => Ok(Duration::from_secs(secs)),
            Raw::Text(text) => parse(&text).map_err(serde::de::Error::custom),
        }
    }

    fn parse(text: &str) -> Result<Duration, String> {
        let trimmed = text.trim();
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: expected e.g. \"600s\" or \"10m\""))?;
        let secs = match unit.trim() {
            "" | "s" => number,
            "m" => number * 60,
            "h" => number * 3600,
            other => return Err(format!("invalid duration {text:?}: unknown unit {other:?}")),
        };
        Ok(Duration::from_secs(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_the_original() {
        assert_eq!("42 MB".parse::<ReadableSize>().unwrap().0, 42_000_000);
        assert_eq!("42 mib".parse::<ReadableSize>().unwrap().0, 44_040_192);
        assert_eq!(
            "512MiB".parse::<ReadableSize>().unwrap(),
            ReadableSize::mib(512)
        );
        assert_eq!(
            "10 GiB".parse::<ReadableSize>().unwrap(),
            ReadableSize::gib(10)
        );
        assert_eq!("1,000 kb".parse::<ReadableSize>().unwrap().0, 1_000_000);
        assert_eq!("2 PiB".parse::<ReadableSize>().unwrap().0, 2 << 50);
        assert_eq!(
            "3e".parse::<ReadableSize>().unwrap().0,
            3_000_000_000_000_000_000
        );
        assert!("16 EiB".parse::<ReadableSize>().is_err());
        assert!("ten".parse::<ReadableSize>().is_err());
        assert!("5 parsecs".parse::<ReadableSize>().is_err());
        assert_eq!(ReadableSize::mib(512).to_string(), "512MiB");
    }

    #[test]
    fn toml_round_trip_and_strictness() {
        let config: Config = toml::from_str(
            "sync-log = false\nsegment-size = \"64MiB\"\ngc-prewrite-margin = \"10m\"\nio-backend = \"pwrite\"",
        )
        .unwrap();
        assert!(!config.sync_log);
        assert_eq!(config.segment_size, ReadableSize::mib(64));
        assert_eq!(config.gc_prewrite_margin, Duration::from_secs(600));
        assert_eq!(config.io_backend, IoBackend::Pwrite);
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), config);
        let unknown = toml::from_str::<Config>("sync_log = true").unwrap_err();
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
    }

    #[test]
    fn sanitize_rejects_inconsistent_values() {
        assert!(Config::default().sanitize().is_ok());
        let small = Config {
            segment_size: ReadableSize(100),
            ..Config::default()
        };
        assert!(small
            .sanitize()
            .unwrap_err()
            .to_string()
            .contains("segment-size"));
        let huge_record = Config {
            segment_size: ReadableSize::mib(1),
            max_record_size: ReadableSize::mib(1),
            ..Config::default()
        };
        assert!(huge_record
            .sanitize()
            .unwrap_err()
            .to_string()
            .contains("max-record-size"));
        assert_eq!(Config::default().gc_margin_tso(), 600_000 << 18);
    }
}
