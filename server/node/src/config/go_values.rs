//! Values written as the original's Go code reads them: bools and integers as Go's `strconv`
//! parses them, whole seconds, and the one grammar each for durations and byte sizes.
//!
//! The duration and size grammars live in [`binlog_engine::config`], because the engine's own
//! `[storage]` keys take them and the engine does not depend on this crate; they are re-exported
//! here so that every node and tool parses them from one place.

use std::time::Duration;

pub use binlog_engine::config::{parse_duration, parse_go_duration, ReadableSize};

/// Parses a bool the way Go's `strconv.ParseBool` does (`1`, `t`, `true`, `TRUE`, `True`, ...).
pub fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean {text:?}")),
    }
}

/// Parses an integer the way Go's `flag.Int` does (`strconv.ParseInt(s, 0, 64)`): an optional
/// sign, then decimal, `0x` hex, `0o` or leading-`0` octal, or `0b` binary, with `_` allowed
/// between digits.
pub fn parse_go_int(text: &str) -> Result<i64, String> {
    let invalid = || format!("invalid integer {text:?}");
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = match lower.get(..2) {
        Some("0x") if lower.len() > 2 => (16, &lower[2..]),
        Some("0o") if lower.len() > 2 => (8, &lower[2..]),
        Some("0b") if lower.len() > 2 => (2, &lower[2..]),
        _ if lower.starts_with('0') => (8, &lower[1..]),
        _ => (10, lower.as_str()),
    };
    if lower.is_empty() || !underscores_ok(&lower, radix == 16) {
        return Err(invalid());
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    // `from_str_radix` would accept a second sign.
    if !digits.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid());
    }
    let magnitude = if digits.is_empty() {
        0 // "0" alone
    } else {
        u64::from_str_radix(&digits, radix).map_err(|_| invalid())?
    };
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    i64::try_from(value).map_err(|_| format!("integer {text:?} is out of range"))
}

/// Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn underscores_ok(number: &str, hex: bool) -> bool {
    let bytes = number.as_bytes();
    let mut index = 0;
    // What came last: b'^' start, b'0' digit or base prefix, b'_' underscore, b'!' other.
    let mut last = b'^';
    if bytes.len() >= 2 && bytes[0] == b'0' && matches!(bytes[1], b'b' | b'o' | b'x') {
        index = 2;
        last = b'0';
    }
    for &byte in &bytes[index..] {
        if byte.is_ascii_digit() || (hex && (b'a'..=b'f').contains(&byte)) {
            last = b'0';
        } else if byte == b'_' {
            if last != b'0' {
                return false;
            }
            last = b'_';
        } else {
            if last == b'_' {
                return false;
            }
            last = b'!';
        }
    }
    last != b'_'
}

/// Whole seconds from a signed flag or TOML integer, within Go's `time.Duration` range (as the
/// original computes with it), so that timers never overflow adding it to an instant.
pub fn seconds(secs: i64) -> Result<Duration, String> {
    const MAX_SECS: i64 = i64::MAX / 1_000_000_000;
    match secs {
        ..0 => Err(format!("{secs} is negative: expected a number of seconds")),
        0..=MAX_SECS => Ok(Duration::from_secs(secs.unsigned_abs())),
        _ => Err(format!("{secs} seconds is longer than {MAX_SECS}")),
    }
}

/// Serde for a duration in whole seconds (a non-negative integer).
pub mod whole_seconds {
    use std::time::Duration;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Whole seconds, as an integer.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_secs())
    }

    /// A non-negative integer of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        super::seconds(i64::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bools_and_ints() {
        for text in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(text), Ok(true));
        }
        for text in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(text), Ok(false));
        }
        assert!(parse_go_bool("yes").is_err());
        assert!(parse_go_bool("").is_err());

        let cases = [
            ("0", 0),
            ("42", 42),
            ("-42", -42),
            ("+7", 7),
            ("0x1F", 31),
            ("0o17", 15),
            ("017", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (text, value) in cases {
            assert_eq!(parse_go_int(text), Ok(value), "{text}");
        }
        for text in [
            "",
            "-",
            "0x",
            "08",
            "1_",
            "_1",
            "1__0",
            "--1",
            "+-1",
            "1.5",
            "ten",
            "9223372036854775808",
        ] {
            assert!(parse_go_int(text).is_err(), "{text}");
        }
    }

    #[test]
    fn seconds_stay_within_go_durations() {
        assert_eq!(seconds(0), Ok(Duration::ZERO));
        assert_eq!(seconds(90), Ok(Duration::from_secs(90)));
        assert!(seconds(-1).is_err());
        assert!(seconds(9_223_372_037).is_err());
    }
}
