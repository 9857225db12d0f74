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
    /// An integer of bytes or a size string. `""` is 0, as the original's `HumanizeBytes`
    /// reads an empty `stop-write-at-available-space`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct SizeVisitor;

        impl serde::de::Visitor<'_> for SizeVisitor {
            type Value = ReadableSize;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"10 GiB\" or \"42 MB\", or a number of bytes")
            }

            fn visit_i64<E: serde::de::Error>(
                self,
                bytes: i64,
            ) -> std::result::Result<Self::Value, E> {
                u64::try_from(bytes)
                    .map(ReadableSize)
                    .map_err(|_| E::custom(format!("size {bytes} is negative")))
            }

            fn visit_u64<E: serde::de::Error>(
                self,
                bytes: u64,
            ) -> std::result::Result<Self::Value, E> {
                Ok(ReadableSize(bytes))
            }

            fn visit_str<E: serde::de::Error>(
                self,
                text: &str,
            ) -> std::result::Result<Self::Value, E> {
                if text.is_empty() {
                    return Ok(ReadableSize(0));
                }
                text.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

/// Which I/O backend the writer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoBackend {
    /// The backend measured fastest: `pwrite` (see [`IoBackend::resolve`]; the choice and its
    /// reason are logged at open).
    Auto,
    /// io_uring (linked write + fdatasync in one submission); open fails if unavailable.
    IoUring,
    /// `pwrite` + `fdatasync`, portable.
    Pwrite,
}

impl IoBackend {
    /// The backend this setting runs: itself, or for `Auto` `pwrite`.
    ///
    /// `Auto` does not pick io_uring even where the kernel offers it: on ext4 (kernel 6.18) a
    /// buffered write submitted through io_uring is punted to an `iou-wrk` thread, and that
    /// hand-off per group costs more than the linked `fdatasync` saves. `engine-append`
    /// (benches/README.md, 2026-12-01) measured io_uring at 0.60-0.65x of `pwrite`'s records/s
    /// with 1 appender and 0.73-0.93x with 16 to 256 (issue 18: 0.57-0.64x and 0.83-1.05x).
    pub fn resolve(self) -> IoBackend {
        match self {
            IoBackend::Auto => IoBackend::Pwrite,
            chosen => chosen,
        }
    }
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

/// Engine configuration. Keys are kebab-case: the pump flattens this into its `[storage]` TOML
/// section, so every key here is a `[storage]` key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Data directory. Default `data.pump`. Not a key: the pump sets it from its `data-dir`, so
    /// that `[storage]` cannot name a second one.
    #[serde(skip)]
    pub dir: PathBuf,
    /// Acknowledge an append only once it is on disk (`fdatasync` per group). Default `true`.
    pub sync_log: bool,
    /// I/O backend. Default `auto`, which is `pwrite` (see [`IoBackend::resolve`]).
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

/// A duration as every config and command line here writes one: a Go duration (`"1h30m"`,
/// `"300ms"`, `"30s"`, see [`parse_go_duration`]) or a bare number of seconds (`"600"`,
/// `"1.5"`).
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs)
            .map_err(|error| format!("invalid duration {text:?}: {error}")),
        Err(_) => parse_go_duration(text),
    }
}

/// Parses a duration the way Go's `time.ParseDuration` does: `"30m"`, `"8h"`, `"1h30m"`,
/// `"500ms"`, `"1.5h"`, `"0"`; units `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`. Negative durations
/// are refused (nothing here uses them), as are values past Go's range (about 292 years).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u128); 9] = [
        ("ns", 1),
        ("us", 1_000),
        ("\u{b5}s", 1_000),
        ("\u{3bc}s", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("", 0),
    ];
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let limit = i64::MAX as u128;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => {
                let len = after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len());
                after.split_at(len)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, scale)| scale)
            .filter(|&scale| scale > 0)
            .ok_or_else(|| format!("time: unknown unit {unit:?} in duration {text:?}"))?;
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        // Digits past the 18th are below a nanosecond even in hours; Go drops them too.
        let fraction = &fraction[..fraction.len().min(18)];
        let fraction_nanos = if fraction.is_empty() {
            0
        } else {
            let digits: u128 = fraction.parse().map_err(|_| invalid())?;
            digits * scale / 10u128.pow(fraction.len() as u32)
        };
        total = whole
            .checked_mul(scale)
            .and_then(|nanos| nanos.checked_add(fraction_nanos))
            .and_then(|nanos| nanos.checked_add(total))
            .filter(|&nanos| nanos <= limit)
            .ok_or_else(invalid)?;
        rest = after;
    }
    if negative && total > 0 {
        return Err(format!("time: negative duration {text:?} is not allowed"));
    }
    // `total <= i64::MAX`, so it fits in u64.
    Ok(Duration::from_nanos(total as u64))
}

/// Serde for a duration given as an integer of seconds or a string [`parse_duration`] takes.
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
            Raw::Text(text) => super::parse_duration(&text).map_err(serde::de::Error::custom),
        }
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

    #[test]
    fn the_default_backend_is_pwrite() {
        assert_eq!(Config::default().io_backend, IoBackend::Auto);
        assert_eq!(IoBackend::Auto.resolve(), IoBackend::Pwrite);
        assert_eq!(IoBackend::IoUring.resolve(), IoBackend::IoUring);
        assert_eq!(IoBackend::Pwrite.resolve(), IoBackend::Pwrite);
        let auto: Config = toml::from_str("io-backend = \"auto\"").unwrap();
        assert_eq!(auto.io_backend, IoBackend::Auto);
    }

    #[test]
    fn go_durations() {
        let cases = [
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("30m", Duration::from_secs(1800)),
            ("8h", Duration::from_secs(8 * 3600)),
            ("1h30m", Duration::from_secs(5400)),
            ("500ms", Duration::from_millis(500)),
            ("1.5h", Duration::from_secs(5400)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("10us", Duration::from_micros(10)),
            ("10\u{b5}s", Duration::from_micros(10)),
            ("3ns", Duration::from_nanos(3)),
            ("+2m", Duration::from_secs(120)),
            ("2562047h", Duration::from_secs(2_562_047 * 3600)),
        ];
        for (text, value) in cases {
            assert_eq!(parse_go_duration(text), Ok(value), "{text}");
        }
        assert_eq!(
            parse_go_duration("7d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"7d\""
        );
        assert_eq!(
            parse_go_duration("5").unwrap_err(),
            "time: missing unit in duration \"5\""
        );
        for text in ["", "-", "h", ".h", "1h-2m", "-1h", "2562048h", "1 h"] {
            assert!(parse_go_duration(text).is_err(), "{text}");
        }
    }
    #[test]
    fn durations_are_go_durations_or_seconds() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("600"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("7d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes_deserialize_from_integers_and_strings() {
        #[derive(Deserialize)]
        struct Holder {
            size: ReadableSize,
        }
        let size =
            |text: &str| toml::from_str::<Holder>(&format!("size = {text}")).map(|h| h.size.0);
        assert_eq!(size("1024").unwrap(), 1024);
        assert_eq!(size("\"1MB\"").unwrap(), 1_000_000);
        assert_eq!(size("\"1MiB\"").unwrap(), 1 << 20);
        assert_eq!(size("\"\"").unwrap(), 0);
        assert!(size("-1").unwrap_err().to_string().contains("negative"));
    }
}
