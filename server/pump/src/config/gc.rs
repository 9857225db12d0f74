//! The original's `gc`: how long binlogs are kept, as days or a Go duration.

use std::time::Duration;

use binlog_node::config::go_values::parse_go_duration;

/// Default of `gc`, in days.
pub(super) const DEFAULT_GC_DAYS: u64 = 7;
/// Longest `gc` in days: Go's `time.Duration` range, so that nanosecond arithmetic never overflows.
const MAX_GC_DAYS: u64 = 106_751;
/// Seconds in a day.
pub(super) const DAY_SECS: u64 = 24 * 3600;

/// The original's `gc`: digits are days, anything else a Go duration (`util.Duration`).
pub(super) fn parse_gc(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .filter(|&days| days <= MAX_GC_DAYS)
            .map(|days| Duration::from_secs(days * DAY_SECS))
            .ok_or_else(|| format!("gc of {text} days is longer than {MAX_GC_DAYS} days"));
    }
    parse_go_duration(text).map_err(|error| {
        format!("unsupported gc time {text}, etc: use 7 for 7 day, 7h for 7 hour: {error}")
    })
}

/// Serde for `gc`: an integer of days, or a string of days or a Go duration.
pub(super) mod gc_duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    use super::DAY_SECS;

    /// Whole days as the original's default is written (`"7"`), else whole seconds or nanos.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let text = if value.subsec_nanos() != 0 {
            format!("{}ns", value.as_nanos())
        } else if value.as_secs().is_multiple_of(DAY_SECS) {
            (value.as_secs() / DAY_SECS).to_string()
        } else {
            format!("{}s", value.as_secs())
        };
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(GcVisitor)
    }

    struct GcVisitor;

    impl Visitor<'_> for GcVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number of days, or a duration string such as \"30m\" or \"8h\"")
        }

        // The original turns an integer into its decimal text and parses that.
        fn visit_i64<E: de::Error>(self, days: i64) -> Result<Duration, E> {
            super::parse_gc(&days.to_string()).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, days: u64) -> Result<Duration, E> {
            super::parse_gc(&days.to_string()).map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            super::parse_gc(text).map_err(E::custom)
        }
    }
}
